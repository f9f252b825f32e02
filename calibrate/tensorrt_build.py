"""Build a TensorRT engine from the bundle's ONNX graph (TensorRT 10/11 Python API), or print the trtexec equivalent.

The network is strongly typed (`--stronglyTyped`): every layer runs in the type the ONNX graph gives
it, so the engine computes what calibrate verified on that graph. fp16 (the default) builds
model.fp16.onnx, whose front end stays float32 where fp16 measured worse; int8 builds model.int8.onnx,
INT8 from its explicit Q/DQ nodes (implicit calibrators are deprecated since 10.1 and gone in 11), the
nodes calibrate kept float in float32; fp32 builds model.onnx. A precision is built only when
calibration.json lists it as verified. One optimization profile covers batch min..max, tuned for opt. The timing cache
makes rebuilds on the same GPU take seconds instead of minutes. Engines are specific to one GPU
model and TensorRT version, so they are built on the target (a Jetson: deploy/build_engine.sh).
"""

from __future__ import annotations

import dataclasses
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

from edge.errors import BundleError, EegEdgeError, SpecError, import_extra
from edge.model.backends import chosen_precision, verified_precisions
from edge.model.bundle import PRECISION_FILES, atomic_write, engine_file
from edge.model.model_spec import ModelSpec

PRECISIONS = tuple(PRECISION_FILES)
STRONGLY_TYPED_FLAG = "--stronglyTyped"


@dataclass(frozen=True)
class BuildConfig:
    precision: str | None = None  # the graph PRECISION_FILES[precision], built as typed; None: calibrate's choice
    min_batch: int = 1
    opt_batch: int = 8
    max_batch: int = 16
    workspace_mib: int = 1024

    def validate(self) -> BuildConfig:
        if self.precision is not None and self.precision not in PRECISIONS:
            raise SpecError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if not 1 <= self.min_batch <= self.opt_batch <= self.max_batch:
            raise SpecError(f"batch sizes must satisfy 1 <= min <= opt <= max, got "
                            f"{self.min_batch}, {self.opt_batch}, {self.max_batch}")
        if self.workspace_mib <= 0:
            raise SpecError(f"workspace must be > 0 MiB, got {self.workspace_mib}")
        return self

    @property
    def onnx_file(self) -> str:
        if self.precision is None:
            raise SpecError("no precision chosen yet: use BuildConfig.for_bundle(bundle)")
        return PRECISION_FILES[self.precision]

    def for_bundle(self, bundle: str | Path) -> BuildConfig:
        """This config with the precision resolved (None: the one calibrate chose for TensorRT), once verified."""
        self.validate()
        precision = self.precision or chosen_precision(Path(bundle), "tensorrt")
        verified = verified_precisions(Path(bundle))
        if precision not in verified:
            raise BundleError(f"{precision} has not passed calibrate's parity gates for {bundle} (verified: "
                              f"{', '.join(verified)}); run `calibrate run` or build one of those")
        return dataclasses.replace(self, precision=precision)


@dataclass(frozen=True)
class ProfileShapes:
    input_name: str
    min: tuple[int, ...]
    opt: tuple[int, ...]
    max: tuple[int, ...]

    @staticmethod
    def _text(shape: tuple[int, ...]) -> str:
        return "x".join(map(str, shape))

    def trtexec_flags(self) -> list[str]:
        return [f"--{kind}Shapes={self.input_name}:{self._text(getattr(self, kind))}" for kind in ("min", "opt", "max")]


@dataclass(frozen=True)
class BuildResult:
    engine: str
    timing_cache: str
    gpu: str
    precision: str
    tensorrt: str
    profile: ProfileShapes
    seconds: float


def profile_shapes(spec: ModelSpec, config: BuildConfig) -> ProfileShapes:
    config.validate()
    _, channels, samples = spec.input_shape
    return ProfileShapes(spec.input_name, (config.min_batch, channels, samples), (config.opt_batch, channels, samples),
                         (config.max_batch, channels, samples))


def timing_cache_file(gpu_name: str) -> str:
    return engine_file(gpu_name).removesuffix(".engine") + ".timing.cache"


def trtexec_command(bundle: str | Path, spec: ModelSpec, config: BuildConfig, *, gpu_name: str) -> list[str]:
    """The trtexec call that builds the same engine as build_engine (for a Jetson without the Python API)."""
    bundle = Path(bundle)
    return ["trtexec", f"--onnx={bundle / config.onnx_file}", STRONGLY_TYPED_FLAG,
            *profile_shapes(spec, config).trtexec_flags(),
            f"--memPoolSize=workspace:{config.workspace_mib}M",
            f"--timingCacheFile={bundle / timing_cache_file(gpu_name)}",
            f"--saveEngine={bundle / engine_file(gpu_name)}"]


def trtexec_text(command: list[str]) -> str:
    return " ".join(shlex.quote(part) for part in command)


def cuda_device_name() -> str:
    from edge.model.backends.tensorrt_backend import gpu_name

    name = gpu_name()
    if name is None:
        raise EegEdgeError("no CUDA GPU is visible (or cuda-python is missing); build the engine on the target device")
    return name


def build_engine(bundle: str | Path, spec: ModelSpec, config: BuildConfig, *,
                 gpu_name: str | None = None) -> BuildResult:
    """Parse the ONNX graph, build and serialize the engine and its timing cache into the bundle (atomic).

    ``gpu_name`` names the engine file; by default the CUDA device's own name.
    """
    trt = import_extra("tensorrt", "trt")
    config = config.for_bundle(bundle)
    gpu_name = gpu_name or cuda_device_name()
    bundle = Path(bundle)
    onnx_path = bundle / config.onnx_file
    if not onnx_path.is_file():
        raise EegEdgeError(f"{onnx_path} is missing; run `calibrate run --bundle {bundle}` first")
    start = time.perf_counter()
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    # explicit batch is the only mode since TensorRT 10; strongly typed: the graph's types, no precision flags
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i).desc()) for i in range(parser.num_errors))
        raise EegEdgeError(f"TensorRT cannot parse {onnx_path.name}: {errors}")
    builder_config = builder.create_builder_config()
    builder_config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, config.workspace_mib << 20)
    shapes = profile_shapes(spec, config)
    profile = builder.create_optimization_profile()
    profile.set_shape(shapes.input_name, shapes.min, shapes.opt, shapes.max)
    builder_config.add_optimization_profile(profile)
    cache_path = bundle / timing_cache_file(gpu_name)
    cache = builder_config.create_timing_cache(cache_path.read_bytes() if cache_path.is_file() else b"")
    builder_config.set_timing_cache(cache, ignore_mismatch=False)
    serialized = builder.build_serialized_network(network, builder_config)
    if serialized is None:
        raise EegEdgeError(f"TensorRT failed to build an engine from {onnx_path.name}; see the log above")
    engine_path = atomic_write(bundle / engine_file(gpu_name), bytes(serialized))
    atomic_write(cache_path, bytes(builder_config.get_timing_cache().serialize()))
    return BuildResult(str(engine_path), str(cache_path), gpu_name, config.precision, trt.__version__, shapes,
                       time.perf_counter() - start)
