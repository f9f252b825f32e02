"""Serve a Triton model repository written by `calibrate triton-repo` through PyTriton's bundled tritonserver.

PyTriton's tritonserver has only the Python backend (no onnxruntime backend), so the repository's
1/model.onnx is bound to an onnxruntime function with the repository's names, shapes, max batch and
parameters (the bundle id edge checks). Runs in .venv-triton (make triton-venv: numpy < 2), on loopback:

    .venv-triton/bin/python scripts/triton_serve.py --repo REPO --model eeg_edge --grpc-port 8001 --http-port 8000

Prints READY on stdout once the model answers; stops on SIGTERM/SIGINT. An NGC Triton container serves the
same repository directly with its onnxruntime backend. `TritonServer` (stdlib only) runs this script in a child
process group for the tests and scripts/bench_triton.py.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRITON_PYTHON = ROOT / ".venv-triton" / "bin" / "python"  # make triton-venv
READY = "READY"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TritonServer:
    """This script in its own process group on loopback: start (wait for READY), kill (a crash), stop."""

    def __init__(self, repo: Path, model: str, *, workdir: Path, threads: int = 0) -> None:
        self.repo, self.model, self.workdir, self.threads = repo, model, workdir, threads
        self.grpc_port, self.http_port = free_port(), free_port()
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def start(self, timeout: float = 300.0) -> None:
        """Start the server and wait until its model answers (PyTriton takes seconds; a busy machine, minutes)."""
        self.starts += 1
        out = self.workdir / f"serve-{self.starts}.out"
        command = [str(TRITON_PYTHON), str(Path(__file__).resolve()), "--repo", str(self.repo), "--model",
                   self.model, "--grpc-port", str(self.grpc_port), "--http-port", str(self.http_port),
                   "--workspace", str(self.workdir / f"workspace-{self.starts}"), "--threads", str(self.threads)]
        with out.open("w") as stdout, (self.workdir / f"serve-{self.starts}.log").open("w") as log:
            self.proc = subprocess.Popen(command, stdout=stdout, stderr=log, start_new_session=True)
        deadline = time.monotonic() + timeout
        while READY not in out.read_text():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"triton_serve did not become ready (see {self.workdir}/serve-{self.starts}.log)")
            time.sleep(0.2)

    def _signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError):  # the script, tritonserver and its Python-backend stubs
            os.killpg(self.proc.pid, sig)

    def kill(self) -> None:
        """SIGKILL to the whole group: the server vanishes mid-stream, as in a crash."""
        if self.proc is not None:
            self._signal(signal.SIGKILL)
            self.proc.wait()
            # PyTriton's segments carry its pid; the Python backend's (psm_*, 1 MB) carry no owner and stay
            for leftover in Path("/dev/shm").glob(f"pytrtion{self.proc.pid}-*"):
                leftover.unlink(missing_ok=True)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self._signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill()
        self._signal(signal.SIGKILL)  # stubs that outlived the script

    def __enter__(self) -> TritonServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _read_config(path: Path):
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    return text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())


def _serve_parameters(parameters: dict[str, str]) -> None:
    """PyTriton's ModelConfig has no model parameters (it fills them with its own backend settings): add the
    repository's (bundle id, spec hash) to the config it generates, where edge reads them."""
    from pytriton.models.model import Model

    generate = Model._get_triton_model_config

    def with_parameters(self):
        config = generate(self)
        config.backend_parameters.update(parameters)
        return config

    Model._get_triton_model_config = with_parameters


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--grpc-port", type=int, default=8001)
    parser.add_argument("--http-port", type=int, default=8000)
    parser.add_argument("--workspace", type=Path, default=None, help="PyTriton's workspace (default: ~/.cache)")
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0: automatic)")
    args = parser.parse_args()
    model_dir = args.repo / args.model
    if not (model_dir / "config.pbtxt").is_file() or not (model_dir / "1" / "model.onnx").is_file():
        print(f"error: {model_dir} is not a model written by `calibrate triton-repo`", file=sys.stderr)
        return 2
    # The Python backend's stub links libpython; a pyenv (or any non-system) interpreter keeps it in its LIBDIR.
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    os.environ["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (libdir, os.environ.get("LD_LIBRARY_PATH")) if p)

    import numpy as np
    import onnxruntime as ort
    from pytriton.decorators import batch
    from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
    from pytriton.triton import Triton, TritonConfig

    config = _read_config(model_dir / "config.pbtxt")
    (inp,), (out,) = config.input, config.output
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    session = ort.InferenceSession(str(model_dir / "1" / "model.onnx"), options, providers=["CPUExecutionProvider"])

    @batch
    def infer(**inputs: np.ndarray) -> dict[str, np.ndarray]:
        return {out.name: session.run([out.name], {inp.name: inputs[inp.name].astype(np.float32)})[0]}

    _serve_parameters({key: value.string_value for key, value in config.parameters.items()})
    delay = config.dynamic_batching.max_queue_delay_microseconds
    model_config = ModelConfig(max_batch_size=config.max_batch_size,
                               batcher=DynamicBatcher(max_queue_delay_microseconds=delay))
    server = TritonConfig(grpc_address="127.0.0.1", grpc_port=args.grpc_port, http_address="127.0.0.1",
                          http_port=args.http_port, allow_metrics=False)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with Triton(config=server, workspace=args.workspace) as triton:
        triton.bind(model_name=args.model, infer_func=infer,
                    inputs=[Tensor(name=inp.name, dtype=np.float32, shape=tuple(inp.dims))],
                    outputs=[Tensor(name=out.name, dtype=np.float32, shape=tuple(out.dims))],
                    config=model_config, strict=True)
        triton.run()
        print(READY, flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
