"""Small artefacts for tests and benchmarks, made without torch: a tiny ONNX bundle and synthetic EEG; and
where the real EEG of a development checkout lives (`shared_data_dir`).

The bundle's graph genuinely depends on where in the window the data is (one feature per pair per
second), so parity checks between the live and offline paths are meaningful. onnx is imported lazily.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from edge.contract import CHANNELS, CLASSES, KAGGLE_LOOKAHEAD_S, SAMPLE_RATE_HZ, WINDOW_SAMPLES, montage_matrix
from edge.model.bundle import ONNX_FILE, save_spec, write_checksums
from edge.model.model_spec import ModelSpec
from edge.sinks import Sink

SHARED_ENV = "EEG_EDGE_SHARED"  # the shared folder, when it is not ../shared beside the repository
BLOCK = SAMPLE_RATE_HZ  # one-second blocks: the output depends on where in the window the data is


def shared_data_dir() -> Path:
    """The real EEG beside a development checkout: $EEG_EDGE_SHARED/data, else ../shared/data (read its
    MANIFEST.md). It may be absent (a fresh clone, an installed package): callers check before use."""
    root = os.environ.get(SHARED_ENV)
    return (Path(root) if root else Path(__file__).resolve().parents[1].parent / "shared") / "data"


# Heads that make a bundle the load-time probe must refuse (edge.model.output_check): a graph ending in logits,
# integer output, the wrong number of classes, an extra axis, a batch fixed at 1.
BAD_HEADS = ("logits", "int64", "three_classes", "extra_axis", "batch_one")


def write_test_onnx(path: Path, seed: int = 0, *, head: str = "probs") -> None:
    """eeg [B,20,T] -> montage MatMul -> |x| mean per 1 s block -> log - 3 -> dense -> softmax -> probs [B,6].
    `head`: "probs", or one of BAD_HEADS (what the model then outputs as "probs")."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    montage = montage_matrix()
    pairs, blocks = montage.shape[0], WINDOW_SAMPLES // BLOCK
    weights = (rng.standard_normal((pairs * blocks, len(CLASSES))) * 0.05).astype(np.float32)
    inits = [
        numpy_helper.from_array(montage, "montage"),
        numpy_helper.from_array(np.array([0, pairs, blocks, BLOCK], dtype=np.int64), "blocks_shape"),
        numpy_helper.from_array(np.array([0, pairs * blocks], dtype=np.int64), "flat_shape"),
        numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one"),
        numpy_helper.from_array(np.array(3.0, dtype=np.float32), "typical_log_level"),
        numpy_helper.from_array(weights, "dense"),
    ]
    nodes = [
        helper.make_node("MatMul", ["montage", "eeg"], ["bipolar"]),
        helper.make_node("Reshape", ["bipolar", "blocks_shape"], ["blocked"]),
        helper.make_node("Abs", ["blocked"], ["magnitude"]),
        helper.make_node("ReduceMean", ["magnitude"], ["level"], axes=[3], keepdims=0),
        helper.make_node("Add", ["level", "one"], ["level1"]),
        helper.make_node("Log", ["level1"], ["log_level"]),
        helper.make_node("Sub", ["log_level", "typical_log_level"], ["centred"]),
        helper.make_node("Reshape", ["centred", "flat_shape"], ["features"]),
        helper.make_node("MatMul", ["features", "dense"], ["logits"]),
    ]
    batch: str | int = 1 if head == "batch_one" else "batch"
    out_type, out_shape = TensorProto.FLOAT, [batch, len(CLASSES)]
    if head == "logits":
        nodes.append(helper.make_node("Identity", ["logits"], ["probs"]))
    else:
        nodes.append(helper.make_node("Softmax", ["logits"], ["p" if head in BAD_HEADS[1:4] else "probs"], axis=1))
    if head == "int64":
        nodes.append(helper.make_node("Cast", ["p"], ["probs"], to=TensorProto.INT64))
        out_type = TensorProto.INT64
    elif head == "three_classes":
        inits += [numpy_helper.from_array(np.array([v], dtype=np.int64), name)
                  for name, v in (("zero", 0), ("three", 3), ("axis1", 1))]
        nodes.append(helper.make_node("Slice", ["p", "zero", "three", "axis1"], ["probs"]))
        out_shape = [batch, 3]
    elif head == "extra_axis":
        inits.append(numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"))
        nodes.append(helper.make_node("Unsqueeze", ["p", "axis2"], ["probs"]))
        out_shape = [batch, len(CLASSES), 1]
    graph = helper.make_graph(
        nodes, "test-onnx",
        [helper.make_tensor_value_info("eeg", TensorProto.FLOAT, [batch, len(CHANNELS), WINDOW_SAMPLES])],
        [helper.make_tensor_value_info("probs", out_type, out_shape)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def build_test_bundle(directory: Path, *, head: str = "probs", lookahead_s: float = KAGGLE_LOOKAHEAD_S) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    write_test_onnx(directory / ONNX_FILE, head=head)
    save_spec(directory, ModelSpec(model="test-onnx", lookahead_s=lookahead_s))
    write_checksums(directory)
    return directory


def synthetic_eeg(seconds: float, rate: float = SAMPLE_RATE_HZ, seed: int = 0) -> np.ndarray:
    """[n, 20] float32 microvolts: per-channel rhythms with slowly changing amplitude, plus noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    freqs = rng.uniform(1.0, 12.0, len(CHANNELS))
    amplitude = 20 + 15 * np.sin(2 * np.pi * t[:, None] / rng.uniform(7, 40, len(CHANNELS)))
    data = amplitude * np.sin(2 * np.pi * freqs * t[:, None]) + rng.normal(0, 5, (len(t), len(CHANNELS)))
    return data.astype(np.float32)


def write_parquet(path: Path, data: np.ndarray, columns: tuple[str, ...] = CHANNELS) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({name: data[:, i] for i, name in enumerate(columns)}), path)
    return path


class ListSink(Sink):
    """A sink that keeps every record in a list (records stay readable after close)."""

    def __init__(self) -> None:
        self.records: list[dict] = []

    def write(self, record: dict) -> None:
        self.records.append(record)

    def close(self) -> None:
        """Nothing to release: the records stay readable."""



# How a misbehaving model answers for the windows marked by a common offset above 1 mV (tests of the run-time
# output check: a bundle that passed its load-time probe and then misbehaves on some inputs).
MISBEHAVIOURS = ("logits", "int64", "shape [B, 3]", "shape [B, 6, 1]", "raises")


def misbehaving(outputs: Callable[[np.ndarray], np.ndarray], how: str) -> Callable[[np.ndarray], np.ndarray]:
    """Wrap Engine.outputs: batches holding a marked window come back as `how` (one of MISBEHAVIOURS)."""

    def answer(windows: np.ndarray) -> np.ndarray:
        out = outputs(windows)
        marked = windows.mean(axis=(1, 2)) > 1000
        if not marked.any():
            return out
        if how == "raises":
            raise RuntimeError("CUDA error: an illegal memory access\nmore detail")
        if how == "logits":
            out[marked] = np.log(out[marked]) + 3
            return out
        return {"int64": out.astype(np.int64), "shape [B, 3]": out[:, :3], "shape [B, 6, 1]": out[:, :, None]}[how]

    return answer
