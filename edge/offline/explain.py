"""`edge explain`: occlusion sensitivity of one window over (bipolar pair x 2 s block), run through the engine.

How a pair is occluded. The model takes referential channels and forms the bipolar pairs inside its
graph, and the pairs are not independent: the left temporal and parasagittal chains both run Fp1 -> O1,
so their pairs sum to the same Fp1 - O1 (likewise on the right). No change of the electrodes can flatten
one pair and leave every other pair as it was; zeroing a pair by shifting electrodes moves its signal
into another pair instead of removing it. So occluding pair (a, b) replaces those of a and b that belong
to its chain only (every electrode except the chain ends the chains share: Fp1/Fp2/O1/O2) by the linear
interpolation along the chain between the nearest electrodes kept. What the pair still carries is then
a smooth spatial gradient from electrodes outside it; the local activity at its electrodes is gone, none
of it is moved elsewhere, and pairs outside the chain are untouched. The neighbouring pair that shares a
replaced electrode is smoothed too: the map resolves about one electrode.

Each block fades in and out over RAMP_S at its edges (adjacent masks sum to 1), so the edit adds no step
the model could read as a sharp transient. Attribution = p(class | window) - p(class | occluded window):
positive where hiding the signal lowers the class's probability.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from edge.chain.signal_chain import Window
from edge.config import ChainConfig
from edge.contract import (
    CENTRAL_CHAIN,
    CHANNELS,
    CLASSES,
    MONTAGE_CHAINS,
    SAMPLE_RATE_HZ,
    WINDOW_SAMPLES,
    montage_pairs,
)
from edge.errors import DataError
from edge.model.engine import Engine
from edge.offline.explain_plot import Explanation
from edge.offline.predict import file_windows

BLOCK_S = 2.0
RAMP_S = 0.2
BATCH = 32  # occluded windows per engine call (25 MB of float32)


def montage_chains(montage: str) -> list[tuple[str, ...]]:
    """The chains of `montage` in montage_pairs order."""
    chains = list(MONTAGE_CHAINS.values())
    return [*chains, CENTRAL_CHAIN] if montage == "double_banana_central" else chains


def occlusion_operators(montage: str) -> np.ndarray:
    """[pairs, 20, 20] matrices D_k: window + D_k @ window is the window with pair k occluded (module docstring)."""
    chains = montage_chains(montage)
    shared = {e for e in CHANNELS if sum(e in chain for chain in chains) > 1}
    index = {c: i for i, c in enumerate(CHANNELS)}
    operators = []
    for chain in chains:
        for i in range(len(chain) - 1):
            replaced = [j for j in (i, i + 1) if chain[j] not in shared]
            kept = [j for j in range(len(chain)) if j not in replaced]
            op = np.zeros((len(CHANNELS), len(CHANNELS)))
            for j in replaced:
                left = max((k for k in kept if k < j), default=None)
                right = min((k for k in kept if k > j), default=None)
                if left is None or right is None:  # a free chain end (the central chain): copy the nearest kept one
                    op[index[chain[j]], index[chain[right if left is None else left]]] = 1.0
                else:
                    op[index[chain[j]], index[chain[left]]] = (right - j) / (right - left)
                    op[index[chain[j]], index[chain[right]]] = (j - left) / (right - left)
                op[index[chain[j]], index[chain[j]]] -= 1.0
            operators.append(op)
    assert len(operators) == len(montage_pairs(montage))  # chain order is montage_pairs order
    return np.stack(operators)


def block_masks(samples: int, block_s: float = BLOCK_S, ramp_s: float = RAMP_S) -> np.ndarray:
    """[blocks, samples] weights in [0, 1]: 1 inside each block, linear ramps of ramp_s across its inner edges."""
    block = round(block_s * SAMPLE_RATE_HZ)
    if block < 1 or samples % block:
        raise DataError(f"--block {block_s} s must divide the {samples / SAMPLE_RATE_HZ:g} s window")
    t = np.arange(samples) + 0.5
    ramp = max(ramp_s * SAMPLE_RATE_HZ, 1e-9)
    masks = []
    for start in range(0, samples, block):
        lo = -np.inf if start == 0 else start  # the window's own edges are not block edges
        hi = np.inf if start + block == samples else start + block
        masks.append(np.clip(np.minimum(t - lo, hi - t) / ramp + 0.5, 0.0, 1.0))
    return np.stack(masks)


def occluded_batches(window: np.ndarray, deltas: np.ndarray, masks: np.ndarray) -> Iterator[np.ndarray]:
    """The occluded windows in (pair, block) order, BATCH at a time, as float32 [B, 20, samples]."""
    # float32 throughout and one broadcast multiply-add per batch: building the copies in float64 took a
    # third of the map's time
    window, deltas, masks = (np.asarray(a, dtype=np.float32) for a in (window, deltas, masks))
    pair, block = np.divmod(np.arange(len(deltas) * len(masks)), len(masks))
    for start in range(0, len(pair), BATCH):
        k, b = pair[start:start + BATCH], block[start:start + BATCH]
        batch = masks[b][:, None, :] * deltas[k]
        batch += window
        yield batch


def occlusion_map(engine: Engine, window: np.ndarray, *, block_s: float = BLOCK_S) -> tuple[np.ndarray, np.ndarray]:
    """(probs [classes] of the window, drops [pairs, blocks, classes] = probs - probs with (pair, block) hidden)."""
    window = np.asarray(window, dtype=np.float64)
    deltas = occlusion_operators(engine.spec.frontend.montage) @ window  # [pairs, 20, samples]
    masks = block_masks(window.shape[1], block_s)
    probs = engine.predict(window[None].astype(np.float32))[0].astype(np.float64)
    occluded = np.concatenate([engine.predict(batch) for batch in occluded_batches(window, deltas, masks)])
    drops = probs - occluded.astype(np.float64).reshape(len(deltas), len(masks), -1)
    return probs, drops


def first_window(path: str | Path, *, offset_s: float, montage: str, allow_missing: bool = False) -> np.ndarray:
    """The window starting `offset_s` into the file, after the same chain as `edge run` (map, units, sanitise)."""
    events = file_windows(path, ChainConfig(), offset_s=offset_s, allow_missing=allow_missing, montage=montage)
    for event in events:
        if isinstance(event, Window):
            return event.data
        raise DataError(f"{path} @ {offset_s} s is not valid EEG ({event.kind}: {event.message}); "
                        "pick another --offset")
    raise DataError(f"{path} is shorter than one {WINDOW_SAMPLES / SAMPLE_RATE_HZ:.0f} s window after offset "
                    f"{offset_s} s; pass a smaller --offset")


def require_class(target: str | None) -> None:
    if target is not None and target not in CLASSES:
        raise DataError(f"--class must be one of {', '.join(CLASSES)}, got {target!r}")


def target_index(probs: np.ndarray, target: str | None) -> int:
    """The class to explain: `target`, or the predicted class when None."""
    require_class(target)
    return int(np.argmax(probs)) if target is None else CLASSES.index(target)


def explain_file(path: str | Path, engine: Engine, *, offset_s: float = 0.0, target: str | None = None,
                 block_s: float = BLOCK_S, allow_missing: bool = False) -> Explanation:
    """Occlusion map of the window at `offset_s` for class `target` (default: the predicted class)."""
    montage = engine.spec.frontend.montage
    require_class(target)  # fail before the occlusion runs
    window = first_window(path, offset_s=offset_s, montage=montage, allow_missing=allow_missing)
    probs, drops = occlusion_map(engine, window, block_s=block_s)
    c = target_index(probs, target)
    return Explanation(source=Path(path).name, offset_s=offset_s, window=window, montage=montage,
                       probs=probs, target=c, pair_time=drops[:, :, c],
                       method=f"occlusion (pair x {block_s:g} s block, chain interpolation): drop in "
                              f"p({CLASSES[c]}) when the block is hidden")
