"""Parity gates: how far each conversion step may move the model's probabilities before that precision is rejected."""

from __future__ import annotations

from dataclasses import dataclass

from edge.errors import SpecError


@dataclass(frozen=True)
class Gates:
    # onnxruntime fp32 must reproduce torch: only float reassociation differences are allowed.
    fp32_max_abs_diff: float = 1e-4
    # Every other precision (fp16, int8, TensorRT) against onnxruntime fp32 on the same windows.
    max_mean_kl: float = 0.01
    min_argmax_agreement: float = 0.98
    # Kaggle KL to the expert votes may get worse by at most this much (held-out windows).
    max_kaggle_kl_degradation: float = 0.02
    # int8 must run most of the classifier's conv FLOPs in int8 to be worth shipping.
    min_int8_conv_share: float = 0.7
    # On the real segments (a dozen windows: one flip is 8 %), the agreement gate counts only the windows where
    # fp32 is decided: its top class leads the runner-up by more than this probability. Below it, swapping the
    # two classes takes a shift of 0.025 each, a KL of ~0.002 on that window (a fifth of max_mean_kl), so such a
    # flip says nothing the KL gate, which still covers every window, does not. Held-out windows: every window.
    real_decisive_margin: float = 0.05

    def validate(self) -> Gates:
        for name in ("fp32_max_abs_diff", "max_mean_kl", "max_kaggle_kl_degradation"):
            if not getattr(self, name) >= 0:
                raise SpecError(f"gate {name} must be >= 0, got {getattr(self, name)!r}")
        for name in ("min_argmax_agreement", "min_int8_conv_share", "real_decisive_margin"):
            if not 0 <= getattr(self, name) <= 1:
                raise SpecError(f"gate {name} must be in [0, 1], got {getattr(self, name)!r}")
        return self


@dataclass(frozen=True)
class GateResult:
    name: str
    runner: str
    data: str  # which windows: held-out, real, or graph (a property of the file)
    value: float
    limit: float
    at_least: bool = False  # True: value must be >= limit; False: <= limit (NaN fails either way)

    @property
    def passed(self) -> bool:
        return self.value >= self.limit if self.at_least else self.value <= self.limit

    def line(self) -> str:
        verdict = "pass" if self.passed else "FAIL"
        relation = ">=" if self.at_least else "<="
        return f"{verdict}  {self.runner:<18} {self.data:<8} {self.name:<24} {self.value:.3g} {relation} {self.limit:g}"
