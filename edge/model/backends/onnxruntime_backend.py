"""onnxruntime on the CPU (the default) or on a GPU through onnxruntime-gpu's CUDA / TensorRT providers.

The whole graph (filter, Mel-dB, model, temperature) is one ONNX graph, so a GPU provider runs all of it.
On a GPU the input is bound once per batch (I/O binding: one host-to-device copy, the output fetched after
the run) instead of session.run's per-call staging. No GPU was available while this was written: the GPU
providers are exercised only by the tests marked `gpu`; the I/O-binding path is also tested on the CPU.
"""

from __future__ import annotations

import ctypes
import functools
import os
from pathlib import Path

import numpy as np

from edge.errors import BundleError, SpecError, import_extra
from edge.model.backends import REFERENCE_PRECISION, BackendBase, check_io_names
from edge.model.model_spec import ModelSpec

# edge backend name -> onnxruntime execution provider it runs on
PROVIDERS = {"onnxruntime": "CPUExecutionProvider", "onnxruntime-cuda": "CUDAExecutionProvider",
             "onnxruntime-trt": "TensorrtExecutionProvider"}
# Shared libraries a provider needs beyond onnxruntime's own (libcuda: the driver, i.e. a GPU is present).
_PROVIDER_LIBS = {"onnxruntime-cuda": ("libcuda.so.1",), "onnxruntime-trt": ("libcuda.so.1", "libnvinfer.so.10")}
_TRT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "eeg-edge" / "ort-trt"


def _libraries_load(names: tuple[str, ...]) -> bool:
    for name in names:
        try:
            ctypes.CDLL(name)
        except OSError:
            return False
    return True


def _cuda_devices() -> int:
    """CUDA devices the driver reports (0 without a driver or GPU), without any CUDA Python package."""
    try:
        libcuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return 0
    count = ctypes.c_int(0)
    if libcuda.cuInit(0) != 0 or libcuda.cuDeviceGetCount(ctypes.byref(count)) != 0:
        return 0
    return count.value


@functools.lru_cache(maxsize=1)
def usable_gpu_providers() -> frozenset[str]:
    """The GPU backends this machine can run: onnxruntime-gpu offers the provider, its libraries load and a CUDA
    device answers. Empty with the CPU onnxruntime (it offers neither provider)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return frozenset()
    offered = set(ort.get_available_providers())
    if not offered & {PROVIDERS["onnxruntime-cuda"], PROVIDERS["onnxruntime-trt"]} or _cuda_devices() == 0:
        return frozenset()
    if hasattr(ort, "preload_dlls"):  # onnxruntime-gpu >= 1.21: load CUDA/cuDNN from the nvidia-*-cu12 wheels
        ort.preload_dlls()
    return frozenset(name for name in ("onnxruntime-cuda", "onnxruntime-trt")
                     if PROVIDERS[name] in offered and _libraries_load(_PROVIDER_LIBS[name]))


def _providers(backend: str, precision: str) -> list:
    if backend == "onnxruntime":
        return ["CPUExecutionProvider"]
    cuda = ("CUDAExecutionProvider", {"device_id": 0})
    if backend == "onnxruntime-cuda":
        return [cuda, "CPUExecutionProvider"]
    _TRT_CACHE.mkdir(parents=True, exist_ok=True)  # engines built once per GPU and graph, outside the bundle
    trt = ("TensorrtExecutionProvider", {"device_id": 0, "trt_fp16_enable": precision == "fp16",
                                         "trt_engine_cache_enable": True, "trt_engine_cache_path": str(_TRT_CACHE)})
    return [trt, cuda, "CPUExecutionProvider"]


class OnnxRuntimeBackend(BackendBase):
    def __init__(self, model: Path, spec: ModelSpec, *, threads: int = 0, precision: str = REFERENCE_PRECISION,
                 provider: str = "onnxruntime", io_binding: bool | None = None) -> None:
        """`provider`: an edge backend name of PROVIDERS. `io_binding`: bind inputs once per batch (default: on a
        GPU provider only; on the CPU it is the same data path, kept for testing it here)."""
        if provider not in PROVIDERS:
            raise SpecError(f"onnxruntime backend must be one of {', '.join(PROVIDERS)}, got {provider!r}")
        ort = import_extra("onnxruntime", "gpu" if provider != "onnxruntime" else "cpu")
        self.name = provider
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads  # 0: onnxruntime picks one per physical core
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(str(model), options, providers=_providers(provider, precision))
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise BundleError(f"onnxruntime cannot load {model} ({str(exc).splitlines()[0]})") from None
        running = self.session.get_providers()[0]
        if running != PROVIDERS[provider]:  # onnxruntime falls back silently: never run elsewhere than asked
            raise BundleError(f"onnxruntime could not start {PROVIDERS[provider]} (it runs {running}); install the "
                              "GPU runtime (make install-gpu) or choose --backend onnxruntime")
        self.output_names = [o.name for o in self.session.get_outputs()]
        check_io_names(model.name, [i.name for i in self.session.get_inputs()], self.output_names, spec=spec)
        self.input_name, self.output_name = spec.input_name, spec.output_name
        self.precision = precision
        self.device = "cpu" if provider == "onnxruntime" else "cuda"
        self.io_binding = provider != "onnxruntime" if io_binding is None else io_binding

    @property
    def provider(self) -> str:
        return self.session.get_providers()[0]

    def infer(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if self.io_binding:
            return self._infer_bound(feed[self.input_name])
        outputs = self.session.run(self.output_names, feed)
        return dict(zip(self.output_names, outputs, strict=True))

    def _infer_bound(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """One copy of the batch onto the device, the graph on it, the probabilities back."""
        binding = self.session.io_binding()
        binding.bind_cpu_input(self.input_name, np.ascontiguousarray(batch, dtype=np.float32))
        binding.bind_output(self.output_name, self.device)
        self.session.run_with_iobinding(binding)
        return {self.output_name: binding.copy_outputs_to_cpu()[0]}

    def close(self) -> None:
        self.session = None
