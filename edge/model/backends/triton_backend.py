"""A Triton Inference Server as the backend (the ward-server layout): the runtime's batches go over gRPC.

The served model must be this bundle's: its config parameters carry the bundle id (hash of SHA256SUMS, so the
checksums and signature still cover what runs) and its tensor names must be the spec's. `calibrate triton-repo`
writes such a repository; scripts/triton_serve.py serves one through PyTriton. A timeout or an unreachable
server raises BackendUnavailable (the runtime turns it into per-window `backend_unavailable` statuses); the
identity is checked again before the first batch after an outage, so a server restarted with another model
never answers for this bundle.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from edge.config import TritonConfig
from edge.errors import BackendUnavailable, BundleError, SpecError, import_extra
from edge.model.backends import BackendBase, check_io_names
from edge.model.bundle import SPEC_FILE, bundle_id, sha256_file
from edge.model.model_spec import ModelSpec

BUNDLE_ID_PARAMETER = "eeg_edge_bundle_id"
SPEC_SHA256_PARAMETER = "eeg_edge_spec_sha256"
PRECISION_PARAMETER = "eeg_edge_precision"
_MAX_MESSAGE = 2**31 - 1  # tritonclient's own default; a batch of 32 windows is 26 MB
# gRPC retries a lost connection with a backoff growing to 120 s by default; a bedside must notice the server's
# return within seconds, so the backoff is capped.
_CHANNEL_ARGS = [("grpc.max_send_message_length", _MAX_MESSAGE), ("grpc.max_receive_message_length", _MAX_MESSAGE),
                 ("grpc.initial_reconnect_backoff_ms", 250), ("grpc.min_reconnect_backoff_ms", 250),
                 ("grpc.max_reconnect_backoff_ms", 1000)]


def served_identity(bundle: Path) -> dict[str, str]:
    """The parameters a served model carries to say which bundle it is."""
    return {BUNDLE_ID_PARAMETER: bundle_id(bundle), SPEC_SHA256_PARAMETER: sha256_file(bundle / SPEC_FILE)}


class TritonBackend(BackendBase):
    name = "triton"

    def __init__(self, bundle: Path, spec: ModelSpec, config: TritonConfig) -> None:
        grpc = import_extra("tritonclient.grpc", "triton")
        self.utils = import_extra("tritonclient.utils", "triton")
        self.config = config
        self.spec = spec
        self.expected = served_identity(bundle)
        self.headers = {"authorization": f"Bearer {self._token()}"} if config.token_file else None
        root = Path(config.ca_file).read_bytes() if config.ca_file else None
        self.client = grpc.InferenceServerClient(url=config.url, ssl=config.tls, root_certificates=root,
                                                 channel_args=_CHANNEL_ARGS)
        self.grpc = grpc
        self.verified = False
        try:
            self._verify()
        except BackendUnavailable as exc:  # the server may come up later: checked before the first batch
            print(f"edge: {exc}; windows get backend_unavailable until it answers", file=sys.stderr, flush=True)

    def _token(self) -> str:
        try:
            token = Path(self.config.token_file).read_text().strip()
        except OSError as exc:
            raise SpecError(f"cannot read the Triton token file {self.config.token_file} ({exc.strerror})") from None
        if not token:
            raise SpecError(f"the Triton token file {self.config.token_file} is empty")
        return token

    def _call(self, what: str, function, *args, **kwargs):
        try:
            return function(*args, headers=self.headers, client_timeout=self.config.timeout_s, **kwargs)
        except self.utils.InferenceServerException as exc:
            self.verified = False
            status = exc.status() or ""
            reason = str(exc.message() or exc).splitlines()[0]
            raise BackendUnavailable(f"Triton {self.config.url} model {self.config.model!r}: {what} failed "
                                     f"({status or 'error'}: {reason})") from None

    def _verify(self) -> None:
        """The served model is this bundle's graph: bundle id, spec hash and tensor names (BundleError if not)."""
        config = self._call("reading the model config", self.client.get_model_config, self.config.model,
                            as_json=True)["config"]
        parameters = {k: v.get("string_value", "") for k, v in config.get("parameters", {}).items()}
        for key, want in self.expected.items():
            if parameters.get(key) != want:
                raise BundleError(f"Triton model {self.config.model!r} at {self.config.url} serves {key} "
                                  f"{parameters.get(key)!r}, but the local bundle's is {want!r}: serve this bundle "
                                  "(calibrate triton-repo / scripts/triton_serve.py) or point --bundle at its bundle")
        check_io_names(f"Triton model {self.config.model!r}", [i["name"] for i in config.get("input", [])],
                       [o["name"] for o in config.get("output", [])], spec=self.spec)
        self.precision = parameters.get(PRECISION_PARAMETER) or self.precision  # what the server runs
        self.verified = True

    def infer(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if not self.verified:
            try:
                self._verify()
            except BundleError as exc:  # a server that came back with another model: no prediction from it
                raise BackendUnavailable(str(exc)) from None
        x = np.ascontiguousarray(feed[self.spec.input_name], dtype=np.float32)
        request = self.grpc.InferInput(self.spec.input_name, list(x.shape), "FP32")
        request.set_data_from_numpy(x)
        wanted = [self.grpc.InferRequestedOutput(self.spec.output_name)]
        result = self._call("inference", self.client.infer, self.config.model, [request], outputs=wanted)
        return {self.spec.output_name: np.asarray(result.as_numpy(self.spec.output_name), dtype=np.float32)}

    def close(self) -> None:
        self.client.close()
