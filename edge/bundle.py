"""The model bundle on disk: spec.json, weights, ONNX/engine files, reports and SHA256SUMS.

train writes a bundle, calibrate extends it, edge loads it. Every file is listed in SHA256SUMS and
edge refuses a bundle whose files do not match. Writes are atomic (temp file + rename) so a crash
never leaves a half-written artefact in place of a good one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from edge.errors import BundleError
from edge.spec import ModelSpec

SPEC_FILE = "spec.json"
WEIGHTS_FILE = "weights.safetensors"
ONNX_FILE = "model.onnx"
ONNX_INT8_FILE = "model.int8.onnx"
SUMS_FILE = "SHA256SUMS"


_UMASK = os.umask(0)
os.umask(_UMASK)


def engine_file(gpu_name: str) -> str:
    """TensorRT engines are specific to one GPU model: the name says which."""
    safe = "".join(ch if ch.isalnum() else "_" for ch in gpu_name.lower()).strip("_")
    return f"model.{safe}.engine"


@contextlib.contextmanager
def atomic_target(path: str | Path) -> Iterator[Path]:
    """Yield a hidden temp path beside ``path`` for any writer; on success it replaces ``path``, on
    failure it is removed, so ``path`` is always either the old file or the complete new one. The temp
    name keeps ``path``'s suffix, for writers that check it (torch.export.save wants ".pt2")."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}")
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes 0600; bundle files are meant to be shared
        os.close(fd)
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path: str | Path, data: bytes | str) -> Path:
    payload = data.encode() if isinstance(data, str) else data
    with atomic_target(path) as tmp, tmp.open("wb") as fh:
        fh.write(payload)
        fh.flush()
        os.fsync(fh.fileno())
    return Path(path)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _bundle_files(bundle: Path) -> list[Path]:
    return sorted(
        p for p in bundle.rglob("*") if p.is_file() and p.name != SUMS_FILE and not p.name.startswith(".")
    )


def write_checksums(bundle: str | Path) -> Path:
    """(Re)write SHA256SUMS over every file in the bundle (sha256sum -c compatible)."""
    bundle = Path(bundle)
    lines = [f"{sha256_file(p)}  {p.relative_to(bundle).as_posix()}\n" for p in _bundle_files(bundle)]
    return atomic_write(bundle / SUMS_FILE, "".join(lines))


def read_checksums(bundle: Path) -> dict[str, str]:
    sums = bundle / SUMS_FILE
    if not sums.is_file():
        raise BundleError(f"{bundle} has no {SUMS_FILE}; rebuild the bundle with `train fit` / `calibrate run`")
    table = {}
    for number, line in enumerate(sums.read_text().splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64:
            raise BundleError(f"{sums}:{number} is not a 'sha256  file' line; the bundle is corrupt")
        table[name] = digest
    return table


def verify_checksums(bundle: str | Path) -> None:
    """Raise BundleError naming the first file that is missing, changed or unlisted."""
    bundle = Path(bundle)
    table = read_checksums(bundle)
    for name, digest in table.items():
        path = bundle / name
        if not path.is_file():
            raise BundleError(f"bundle file {name} listed in {SUMS_FILE} is missing from {bundle}")
        if sha256_file(path) != digest:
            raise BundleError(f"bundle file {name} does not match its SHA256SUMS entry: refusing a tampered bundle")
    unlisted = [p.relative_to(bundle).as_posix() for p in _bundle_files(bundle)]
    extra = sorted(set(unlisted) - set(table))
    if extra:
        raise BundleError(f"bundle file(s) {', '.join(extra)} are not in {SUMS_FILE}: refusing an unverified bundle")


def bundle_id(bundle: str | Path) -> str:
    """Short content hash of the whole bundle (hash of SHA256SUMS): the model id in every prediction."""
    return hashlib.sha256((Path(bundle) / SUMS_FILE).read_bytes()).hexdigest()[:12]


def load_spec(bundle: str | Path, verify: bool = True) -> ModelSpec:
    bundle = Path(bundle)
    if not bundle.is_dir():
        raise BundleError(f"bundle directory {bundle} does not exist; train one with `train fit --out {bundle}`")
    if verify:
        verify_checksums(bundle)
    spec_path = bundle / SPEC_FILE
    if not spec_path.is_file():
        raise BundleError(f"{bundle} has no {SPEC_FILE}; it is not an eeg-edge bundle")
    return ModelSpec.read(spec_path)


def save_spec(bundle: str | Path, spec: ModelSpec) -> Path:
    spec.validate()
    return atomic_write(Path(bundle) / SPEC_FILE, spec.to_json() + "\n")
