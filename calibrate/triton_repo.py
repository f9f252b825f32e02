"""`calibrate triton-repo`: a bundle as a standard Triton model repository (the ward-server layout).

REPO/NAME/config.pbtxt + REPO/NAME/1/model.onnx: platform onnxruntime_onnx, dynamic batching, the spec's
tensor names and shapes, and the bundle id and spec hash as parameters, which `edge run --backend triton`
checks before it trusts the server. The ONNX file is a verified precision's graph (fp16 where calibrate
verified it, as onnxruntime's GPU providers run it; --precision fp32 for bit-parity with the CPU backend).
Triton's TensorRT accelerator for the onnxruntime backend is left as a commented block: enabling it makes
Triton build TensorRT engines from the graph on the server's GPU (docs/deploy.md). Only edge is imported.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from edge.errors import SpecError
from edge.model.backends import chosen_precision, verified_precisions
from edge.model.backends.triton_backend import PRECISION_PARAMETER, served_identity
from edge.model.bundle import PRECISION_FILES, atomic_write, load_spec

_ACCELERATOR = """\
# Optional, on a GPU server: let onnxruntime hand the graph to TensorRT (engines built at load, cached by Triton).
# optimization {{ execution_accelerators {{ gpu_execution_accelerator: [ {{ name: "tensorrt"
#   parameters {{ key: "precision_mode" value: "{mode}" }}
#   parameters {{ key: "max_workspace_size_bytes" value: "1073741824" }} }} ] }} }}
"""


@dataclass(frozen=True)
class TritonRepo:
    path: Path  # REPO/NAME
    precision: str
    parameters: dict[str, str]


def _parameter(key: str, value: str) -> str:
    return f'parameters {{ key: "{key}" value: {{ string_value: "{value}" }} }}\n'


def config_text(name: str, *, input_name: str, output_name: str, input_dims: tuple[int, ...], classes: int,
                max_batch: int, queue_delay_us: int, parameters: dict[str, str], precision: str) -> str:
    """config.pbtxt (protobuf text format) of one model."""
    dims = ", ".join(str(d) for d in input_dims)
    return (f'name: "{name}"\nplatform: "onnxruntime_onnx"\nmax_batch_size: {max_batch}\n'
            f'input [ {{ name: "{input_name}" data_type: TYPE_FP32 dims: [ {dims} ] }} ]\n'
            f'output [ {{ name: "{output_name}" data_type: TYPE_FP32 dims: [ {classes} ] }} ]\n'
            f"dynamic_batching {{ max_queue_delay_microseconds: {queue_delay_us} }}\n"
            + "".join(_parameter(k, v) for k, v in parameters.items())
            + _ACCELERATOR.format(mode="FP16" if precision == "fp16" else "FP32"))


def write_triton_repo(bundle: str | Path, out: str | Path, *, name: str = "eeg_edge", precision: str | None = None,
                      max_batch: int = 32, queue_delay_us: int = 2000) -> TritonRepo:
    """Write REPO/NAME from the (verified) bundle; refuses an unverified precision or an existing model dir."""
    bundle, out = Path(bundle), Path(out)
    spec = load_spec(bundle)  # verifies SHA256SUMS: the repository is made from what the checksums cover
    if not name or not all(c.isalnum() or c in "_-" for c in name):
        raise SpecError(f"--name must be letters, digits, '_' or '-', got {name!r}")
    if max_batch < 1 or queue_delay_us < 0:
        raise SpecError(f"--max-batch must be >= 1 and the queue delay >= 0, got {max_batch} and {queue_delay_us}")
    precision = precision or chosen_precision(bundle, "onnxruntime-cuda")
    verified = verified_precisions(bundle)
    if precision not in verified:
        raise SpecError(f"precision {precision!r} is not verified for {bundle} (verified: {', '.join(verified)}); "
                        "choose one of those or run `calibrate verify`")
    model_dir = out / name
    if model_dir.exists():
        raise SpecError(f"{model_dir} already exists; remove it or choose another --out / --name")
    parameters = {**served_identity(bundle), PRECISION_PARAMETER: precision}
    (model_dir / "1").mkdir(parents=True)
    shutil.copyfile(bundle / PRECISION_FILES[precision], model_dir / "1" / "model.onnx")
    _, channels, samples = spec.input_shape
    atomic_write(model_dir / "config.pbtxt", config_text(
        name, input_name=spec.input_name, output_name=spec.output_name, input_dims=(channels, samples),
        classes=len(spec.contract.classes), max_batch=max_batch, queue_delay_us=queue_delay_us,
        parameters=parameters, precision=precision))
    return TritonRepo(model_dir, precision, parameters)
