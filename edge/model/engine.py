"""A verified bundle plus one backend: windows [B, channels, samples] -> probabilities [B, classes].

The backend runs the precision calibrate verified and chose for it (calibration.json, checksummed with
the rest of the bundle): e.g. int8 on the CPU only where it measured faster than fp32. At load the
bundle is probed: a reference input at batch 1 and 2 must give probability distributions
(edge.model.output_check), else the bundle is refused in one line. Every batch is checked the same way:
a window whose output is not a distribution gets a problem, never a prediction.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.config import TritonConfig
from edge.errors import BackendUnavailable, BundleError, EegEdgeError
from edge.model.backends import Backend, chosen_precision, open_backend, resolve_backend
from edge.model.bundle import bundle_id, load_spec
from edge.model.model_spec import ModelSpec
from edge.model.output_check import CheckedOutput, check_output, first_problem

PROBE_BATCHES = (1, 2)  # 2: a graph whose batch is fixed at 1 is refused at load, not at the first busy hop
PROBE_SCALE_UV = 20.0  # the reference input: seeded noise of a typical EEG amplitude


class Engine:
    def __init__(self, bundle: str | Path, backend: str = "auto", threads: int = 0, *,
                 public_key: str | Path | None = None, triton: TritonConfig | None = None) -> None:
        """`public_key`: refuse the bundle unless its SHA256SUMS carries this ed25519 key's signature.
        `triton`: the server of backend "triton"."""
        self.bundle = Path(bundle)
        self.spec: ModelSpec = load_spec(self.bundle, public_key=public_key)  # verifies SHA256SUMS first
        self.model_id = bundle_id(self.bundle)
        backend = resolve_backend(self.bundle, backend)
        self.precision = chosen_precision(self.bundle, backend)
        self.backend: Backend = open_backend(self.bundle, self.spec, backend, threads=threads, precision=self.precision,
                                             triton=triton)
        self.max_batch = getattr(self.backend, "max_batch", None)
        try:
            self._probe()
        except BaseException:
            self.backend.close()
            raise

    def _probe(self) -> None:
        rng = np.random.default_rng(0)
        for rows in PROBE_BATCHES:
            windows = rng.normal(0.0, PROBE_SCALE_UV, (rows, *self.spec.input_shape[1:])).astype(np.float32)
            try:
                checked = self._checked(windows, self.spec.output_shape[1])  # as a whole: no rerun
            except BackendUnavailable:
                return  # a remote server that is down now: every batch is still checked once it answers
            problem = first_problem(checked)
            if problem is not None:
                raise BundleError(f"bundle {self.bundle} refused: on a reference input of batch {rows}, its model "
                                  f"{problem}; it must output [batch, classes] float32 probabilities")

    def describe(self) -> str:
        """Which backend, precision and (onnxruntime) execution provider run the model: for stderr and sys-info."""
        provider = getattr(self.backend, "provider", None)
        where = f", {provider}" if provider else ""
        if self.backend.name == "triton":
            where = f", {self.backend.config.model!r} at {self.backend.config.url}"
        return f"backend {self.backend.name} ({self.backend.precision}{where})"

    def predict(self, windows: np.ndarray) -> np.ndarray:
        """Probabilities [B, classes] float32; a window whose output failed the check holds NaN (`probabilities`
        says why)."""
        return self.probabilities(windows).probs

    def probabilities(self, windows: np.ndarray) -> CheckedOutput:
        """The checked output of every window, in batches of at most the backend's max_batch. A batch that fails as
        a whole (the backend raised, or a wrong type or shape) is run again window by window, so one stream's
        poison never costs another stream its windows; it raises only BackendUnavailable (a remote server's
        outage), never the model's faults."""
        expected = self.spec.input_shape[1:]
        if windows.ndim != 3 or tuple(windows.shape[1:]) != expected:
            raise EegEdgeError(f"engine input must be [batch, {expected[0]}, {expected[1]}], got {windows.shape}")
        classes = self.spec.output_shape[1]
        step = self.max_batch or len(windows) or 1
        parts = []
        for i in range(0, len(windows), step):
            batch = windows[i:i + step]
            part = self._checked(batch, classes)
            if part.whole_batch and len(batch) > 1:
                part = CheckedOutput.concat([self._checked(batch[k:k + 1], classes) for k in range(len(batch))],
                                            classes)
            parts.append(part)
        return CheckedOutput.concat(parts, classes)

    def _checked(self, batch: np.ndarray, classes: int) -> CheckedOutput:
        try:
            output = self.outputs(batch)
        except BackendUnavailable:
            raise  # not the model's fault: the caller reports the outage (backend_unavailable), not bad output
        except Exception as exc:  # onnxruntime / TensorRT raise their own types
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            return CheckedOutput.failed(len(batch), classes, f"backend failed on a batch of {len(batch)} ({first})")
        return check_output(output, rows=len(batch), classes=classes, name=f"output {self.spec.output_name!r}")

    def outputs(self, batch: np.ndarray) -> np.ndarray | None:
        """The spec's output as the backend gives it for one batch (None when absent): unchecked."""
        feed = {self.spec.input_name: np.ascontiguousarray(batch, dtype=np.float32)}
        output = self.backend.infer(feed).get(self.spec.output_name)
        return None if output is None else np.asarray(output)

    def close(self) -> None:
        self.backend.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
