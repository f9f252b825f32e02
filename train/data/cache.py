"""On-disk cache of decoded signal: one .npy memmap per split plus a .npz of per-row metadata.

Both files are written under temporary names and renamed into place, metadata last, so a killed
build leaves no file that ``exists()`` would accept; the temporary files of a build whose process is
gone are removed by the next build of the same folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from edge.contract import KAGGLE_LOOKAHEAD_S
from edge.errors import DataError
from train.data.columns import csv_path, eeg_dir

CACHE_FORMAT = 2  # bump when the stored layout or the gap-filling policy changes (2: one span per recording)
META_FIELDS: tuple[str, ...] = ("row_spans", "targets", "total_votes", "patient_ids", "eeg_ids", "label_ids",
                                "offsets_s", "nan_counts", "pad_samples")
OPTIONAL_META: frozenset[str] = frozenset({"targets", "total_votes"})  # absent for the test split


def cache_key(data_dir: Path, split: str, margin: int, lookahead_s: float = KAGGLE_LOOKAHEAD_S) -> str:
    """Hash of the csv bytes, every EEG file's name/size/mtime, the margin, lookahead and the cache format."""
    where = f"margin={margin}" if lookahead_s == KAGGLE_LOOKAHEAD_S else f"margin={margin} lookahead={lookahead_s:g}"
    digest = hashlib.sha256(f"format={CACHE_FORMAT} split={split} {where}\n".encode())
    digest.update(csv_path(data_dir, split).read_bytes())
    folder = eeg_dir(data_dir, split)
    if folder.is_dir():
        with os.scandir(folder) as entries:
            for entry in sorted((e for e in entries if e.name.endswith(".parquet")), key=lambda e: e.name):
                stat = entry.stat()
                digest.update(f"{entry.name} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:20]


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


class WindowCache:
    def __init__(self, folder: Path, data_dir: Path, split: str, key: str, *, variant: str = "") -> None:
        self.folder = folder
        # One prefix per dataset, split and window placement (``variant``: margin, lookahead): a build
        # evicts only older versions of its own windows, never those of a run beside it with another
        # lookahead, which may be about to open them.
        dataset = hashlib.sha256(str(Path(data_dir).resolve()).encode()).hexdigest()[:8]
        self.prefix = f"windows-{split}-{dataset}-{variant + '-' if variant else ''}"
        self.signals_path = folder / f"{self.prefix}{key}.npy"
        self.meta_path = folder / f"{self.prefix}{key}.meta.npz"

    def exists(self) -> bool:
        return self.signals_path.is_file() and self.meta_path.is_file()

    @contextlib.contextmanager
    def writing(self) -> Iterator[tuple[Path, Callable[[dict], None]]]:
        """Yield (temporary signals path, finish(meta)); only finish() puts files in place."""
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp_signals = self.folder / f".{self.signals_path.name}.{os.getpid()}.tmp"
        tmp_meta = self.folder / f".{self.meta_path.name}.{os.getpid()}.tmp"

        def finish(meta: dict) -> None:
            with tmp_meta.open("wb") as fh:
                np.savez(fh, **{k: v for k, v in meta.items() if v is not None})
            os.replace(tmp_signals, self.signals_path)
            os.replace(tmp_meta, self.meta_path)
            self._remove_stale()

        try:
            yield tmp_signals, finish
        finally:
            tmp_signals.unlink(missing_ok=True)
            tmp_meta.unlink(missing_ok=True)

    def _remove_stale(self) -> None:
        """Free the disk space of older versions of this split and of builds killed before finishing."""
        keep = {self.signals_path.name, self.meta_path.name}
        for path in self.folder.glob(f"{self.prefix}*"):
            if path.name not in keep:
                path.unlink(missing_ok=True)
        for path in self.folder.glob(f".{self.prefix}*.tmp"):
            pid = path.name.rsplit(".", 2)[-2]
            if pid.isdigit() and not _process_alive(int(pid)):
                path.unlink(missing_ok=True)

    def load(self) -> tuple[np.ndarray, dict]:
        signals = np.load(self.signals_path, mmap_mode="r")
        with np.load(self.meta_path) as stored:
            meta = {name: stored.get(name) for name in META_FIELDS}
        missing = [n for n, v in meta.items() if v is None and n not in OPTIONAL_META]
        if missing:  # a file from a foreign or older writer: rebuilding is the only fix
            raise DataError(f"window cache {self.meta_path} lacks {', '.join(missing)}; delete it to rebuild")
        return signals, meta
