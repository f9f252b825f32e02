"""TensorRT 10/11 runner: name-bound tensors, set_input_shape, execute_async_v3, buffers allocated once.

TensorRT is not installed on the development machines, so this module is exercised only where it
imports (tests marked `trt`); everything else in edge runs without it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.errors import BundleError, EegEdgeError, import_extra
from edge.model.backends import REFERENCE_PRECISION, BackendBase, check_io_names
from edge.model.model_spec import ModelSpec


def _cudart():
    """cuda-python's runtime module (its import path moved in cuda-python 12.6)."""
    import_extra("cuda", "trt")
    try:
        from cuda.bindings import runtime
    except ImportError:
        from cuda import cudart as runtime
    return runtime


def _check(result):
    err, *rest = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise EegEdgeError(f"CUDA call failed with error {err}")
    return rest[0] if len(rest) == 1 else rest


def gpu_name() -> str | None:
    """Name of CUDA device 0, or None without CUDA (then no engine can be used)."""
    try:
        cudart = _cudart()
        props = _check(cudart.cudaGetDeviceProperties(0))
    except (EegEdgeError, ImportError):
        return None
    name = props.name
    return (name.decode() if isinstance(name, bytes) else str(name)).rstrip("\x00")


class TensorRTBackend(BackendBase):
    name = "tensorrt"

    def __init__(self, engine_path: Path, spec: ModelSpec, *, precision: str = REFERENCE_PRECISION) -> None:
        trt = import_extra("tensorrt", "trt")
        self.precision = precision  # of the graph the engine was built from (calibration.json)
        self.cudart = _cudart()
        self.logger = trt.Logger(trt.Logger.WARNING)
        self.runtime = trt.Runtime(self.logger)
        self.engine = self.runtime.deserialize_cuda_engine(engine_path.read_bytes())
        if self.engine is None:
            raise BundleError(f"TensorRT cannot deserialize {engine_path}: rebuild it on this device "
                              "(engines depend on the GPU and TensorRT version)")
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        by_mode = {mode: [n for n in names if self.engine.get_tensor_mode(n) == mode]
                   for mode in (trt.TensorIOMode.INPUT, trt.TensorIOMode.OUTPUT)}
        check_io_names(engine_path.name, by_mode[trt.TensorIOMode.INPUT], by_mode[trt.TensorIOMode.OUTPUT], spec=spec)
        self.context = self.engine.create_execution_context()
        self.stream = _check(self.cudart.cudaStreamCreate())
        self.input_name, self.output_name = spec.input_name, spec.output_name
        # The optimisation profile's max shape bounds every call: allocate device buffers for it once.
        _, _, max_shape = self.engine.get_tensor_profile_shape(self.input_name, 0)
        self.max_batch = int(max_shape[0])
        self.device: dict[str, int] = {}
        self.host: dict[str, np.ndarray] = {}
        for i in range(self.engine.num_io_tensors):
            name = self.engine.get_tensor_name(i)
            dtype = np.dtype(trt.nptype(self.engine.get_tensor_dtype(name)))
            shape = list(self.engine.get_tensor_shape(name))
            shape[0] = self.max_batch
            self.host[name] = np.empty(shape, dtype=dtype)
            self.device[name] = int(_check(self.cudart.cudaMalloc(self.host[name].nbytes)))
            self.context.set_tensor_address(name, self.device[name])

    def infer(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        x = np.ascontiguousarray(feed[self.input_name], dtype=self.host[self.input_name].dtype)
        batch = x.shape[0]
        if batch > self.max_batch:
            raise EegEdgeError(f"batch {batch} exceeds the engine's profile maximum {self.max_batch}")
        h2d, d2h = self.cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, self.cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        self.context.set_input_shape(self.input_name, x.shape)
        _check(self.cudart.cudaMemcpyAsync(self.device[self.input_name], x.ctypes.data, x.nbytes, h2d, self.stream))
        if not self.context.execute_async_v3(self.stream):
            raise EegEdgeError("TensorRT execute_async_v3 failed")
        out = self.host[self.output_name][:batch]
        _check(self.cudart.cudaMemcpyAsync(out.ctypes.data, self.device[self.output_name], out.nbytes, d2h,
                                           self.stream))
        _check(self.cudart.cudaStreamSynchronize(self.stream))
        return {self.output_name: out.astype(np.float32, copy=True)}

    def close(self) -> None:
        for pointer in self.device.values():
            self.cudart.cudaFree(pointer)
        self.device.clear()
        self.cudart.cudaStreamDestroy(self.stream)
