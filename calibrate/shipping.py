"""Which precisions ship and which one each edge backend runs, decided from the parity report.

A precision whose runner fails a gate is rejected: its graph is removed from the bundle and its
figures are recorded. On the CPU (onnxruntime) edge runs the verified precision that measured fastest,
and a lower precision only if it beat fp32 by SPEED_MARGIN in the same verify run (int8 QDQ graphs are
often slower on x86: onnxruntime quantizes and dequantizes around each kernel). TensorRT builds fp16 by
default (INT8 grouped and depthwise convolutions are often slower than FP16 there, NVIDIA/TensorRT
issue 4529); int8 only on request and only once verified.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from calibrate.verify import HELD_OUT, ParityReport
from edge.model.backends import REFERENCE_PRECISION
from edge.model.bundle import PRECISION_FILES

SPEED_MARGIN = 0.95  # a lower precision must take at most 95 % of fp32's time per window on the CPU
TENSORRT_DEFAULT = "fp16"


@dataclass(frozen=True)
class PrecisionPlan:
    verified: tuple[str, ...]  # onnxruntime precisions that passed every gate
    rejected: dict[str, list[dict]]  # precision -> the gates it failed
    chosen: dict[str, str]  # edge backend -> precision it runs (tensorrt: the one `calibrate build` builds)
    cpu_ms_per_window: dict[str, float]  # onnxruntime, held-out windows, per precision

    def to_dict(self) -> dict:
        return asdict(self)

    def lines(self) -> list[str]:
        ms = self.cpu_ms_per_window
        cpu = self.chosen.get("onnxruntime")
        out = [f"verified: {', '.join(self.verified) or 'none'}"]
        out += [f"rejected: {p} ({'; '.join(_gate_text(g) for g in gates)})" for p, gates in self.rejected.items()]
        if cpu:
            timing = ", ".join(f"{p} {ms[p]:.1f}" for p in self.verified if p in ms)
            out.append(f"onnxruntime (CPU) will run {cpu} ({PRECISION_FILES[cpu]}; ms/window here: {timing})")
            out.append(f"tensorrt will build {self.chosen['tensorrt']} (`calibrate build`, deploy/build_engine.sh)")
        return out


def _gate_text(gate: dict) -> str:
    relation = ">=" if gate["at_least"] else "<="
    return f"{gate['name']} on {gate['data']} {gate['value']:.3g}, needs {relation} {gate['limit']:g}"


def plan_precisions(report: ParityReport, *, tensorrt_built: str | None = None) -> PrecisionPlan:
    """Verdicts from the onnxruntime runners; ``tensorrt_built`` is the precision of a verified engine, if any."""
    verified, rejected, ms = [], {}, {}
    for precision in PRECISION_FILES:
        runner = f"onnxruntime:{precision}"
        gates = [g for g in report.gates if g.runner == runner]
        result = report.result(runner, HELD_OUT)
        if result is None:
            continue
        ms[precision] = result.ms_per_window
        failed = [asdict(g) for g in gates if not g.passed]
        if failed:
            rejected[precision] = failed
        else:
            verified.append(precision)
    chosen: dict[str, str] = {}
    if REFERENCE_PRECISION in verified:
        limit = SPEED_MARGIN * ms[REFERENCE_PRECISION]
        faster = [p for p in verified if p != REFERENCE_PRECISION and ms[p] <= limit]
        chosen["onnxruntime"] = min(faster, key=ms.__getitem__) if faster else REFERENCE_PRECISION
        default = TENSORRT_DEFAULT if TENSORRT_DEFAULT in verified else REFERENCE_PRECISION
        chosen["tensorrt"] = tensorrt_built if tensorrt_built in verified else default
    return PrecisionPlan(tuple(verified), rejected, chosen, ms)
