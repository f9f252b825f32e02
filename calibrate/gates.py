"""Parity gates: how far each conversion step may move the model's probabilities before calibrate fails."""

from __future__ import annotations

from dataclasses import dataclass

from edge.errors import SpecError


@dataclass(frozen=True)
class Gates:
    # onnxruntime fp32 must reproduce torch: only float reassociation differences are allowed.
    fp32_max_abs_diff: float = 1e-4
    # Quantized backends (onnxruntime int8, TensorRT) against onnxruntime fp32 on the same windows.
    int8_mean_kl: float = 0.01
    # Kaggle KL to the expert votes may get worse by at most this much.
    int8_kaggle_kl_degradation: float = 0.02

    def validate(self) -> None:
        for name in ("fp32_max_abs_diff", "int8_mean_kl", "int8_kaggle_kl_degradation"):
            if not getattr(self, name) >= 0:
                raise SpecError(f"gate {name} must be >= 0, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class GateResult:
    name: str
    backend: str
    value: float
    limit: float

    @property
    def passed(self) -> bool:
        return self.value <= self.limit

    def line(self) -> str:
        verdict = "pass" if self.passed else "FAIL"
        return f"{verdict}  {self.backend:<10} {self.name:<26} {self.value:.3g} <= {self.limit:g}"
