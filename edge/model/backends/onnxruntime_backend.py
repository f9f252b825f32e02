"""onnxruntime on CPU: the default backend, running the bundle's graph of the precision calibrate chose."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edge.errors import BundleError
from edge.model.backends import REFERENCE_PRECISION, BackendBase, check_io_names
from edge.model.model_spec import ModelSpec


class OnnxRuntimeBackend(BackendBase):
    name = "onnxruntime"

    def __init__(self, model: Path, spec: ModelSpec, *, threads: int = 0,
                 precision: str = REFERENCE_PRECISION) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads  # 0: onnxruntime picks one per physical core
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            raise BundleError(f"onnxruntime cannot load {model} ({str(exc).splitlines()[0]})") from None
        self.output_names = [o.name for o in self.session.get_outputs()]
        check_io_names(model.name, [i.name for i in self.session.get_inputs()], self.output_names, spec=spec)
        self.precision = precision

    def infer(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        outputs = self.session.run(self.output_names, feed)
        return dict(zip(self.output_names, outputs, strict=True))

    def close(self) -> None:
        self.session = None
