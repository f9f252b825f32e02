"""The model bundle on disk: spec.json, weights, ONNX/engine files, reports and SHA256SUMS.

train writes a bundle, calibrate extends it, edge loads it. Every file is listed in SHA256SUMS and
edge refuses a bundle whose files do not match. Writes are atomic (temp file + rename) so a crash
never leaves a half-written artefact in place of a good one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from edge.errors import BundleError
from edge.model.model_spec import ModelSpec

SPEC_FILE = "spec.json"
WEIGHTS_FILE = "weights.safetensors"
ONNX_FILE = "model.onnx"
ONNX_INT8_FILE = "model.int8.onnx"
ONNX_FP16_FILE = "model.fp16.onnx"
# The graph each precision runs from: calibrate writes and verifies them, edge runs the one chosen per backend.
PRECISION_FILES = {"fp32": ONNX_FILE, "fp16": ONNX_FP16_FILE, "int8": ONNX_INT8_FILE}
CALIBRATION_FILE = "calibration.json"  # calibrate's record, including the verified precision per backend
CALIBRATION_PNG_FILE = "calibration.png"
SUMS_FILE = "SHA256SUMS"
SIGNATURE_FILE = "SHA256SUMS.sig"  # optional ed25519 signature of SHA256SUMS (edge.model.signing)
_CONTROL_FILES = (SUMS_FILE, SIGNATURE_FILE)


def engine_file(gpu_name: str) -> str:
    """TensorRT engines are specific to one GPU model: the name says which."""
    safe = "".join(ch if ch.isalnum() else "_" for ch in gpu_name.lower()).strip("_")
    return f"model.{safe}.engine"


@contextlib.contextmanager
def atomic_target(path: str | Path) -> Iterator[Path]:
    """Yield a hidden temp path beside ``path`` for any writer; on success it replaces ``path``, on
    failure it is removed, so ``path`` is always either the old file or the complete new one. The temp
    name keeps ``path``'s suffix, for writers that check it by extension (e.g. onnx)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.stem}.{secrets.token_hex(6)}.tmp{path.suffix}"
    # O_EXCL: never an existing file; mode 0666 minus the process umask, applied by the kernel (no umask flip,
    # which would race other threads): bundle files are meant to be shared, unlike mkstemp's 0600.
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
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
    with os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as fh:  # never through a symlink
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _bundle_names(bundle: Path) -> list[str]:
    """Every name in the bundle directory. A bundle holds plain files only: a sub-directory, a symlink or a
    hidden file is refused, so nothing outside the bundle is ever read or hashed."""
    names = []
    with os.scandir(bundle) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                raise BundleError(f"bundle {bundle} holds the hidden file {entry.name}; a bundle holds plain files "
                                  "only: remove it (a leftover of an interrupted write)")
            if entry.is_symlink() or not entry.is_file(follow_symlinks=False):
                what = "a symlink" if entry.is_symlink() else "not a plain file"
                raise BundleError(f"bundle entry {entry.name} is {what}; a bundle holds plain files only")
            names.append(entry.name)
    return sorted(names)


def _read_control(bundle: Path, name: str) -> bytes | None:
    """SHA256SUMS or its signature, if present (a plain file, never through a symlink)."""
    try:
        with os.fdopen(os.open(bundle / name, os.O_RDONLY | os.O_NOFOLLOW), "rb") as fh:
            return fh.read()
    except FileNotFoundError:
        return None
    except OSError:
        raise BundleError(f"bundle {bundle}: {name} is not a plain file; refusing the bundle") from None


def _is_plain_name(name: str) -> bool:
    return bool(name) and not name.startswith(".") and not any(c in name for c in "/\\\0")


def write_checksums(bundle: str | Path) -> Path:
    """(Re)write SHA256SUMS over every file in the bundle (sha256sum -c compatible). A signature of the
    previous SHA256SUMS no longer holds and is removed: sign again (`calibrate sign`)."""
    bundle = Path(bundle)
    names = [n for n in _bundle_names(bundle) if n not in _CONTROL_FILES]
    lines = [f"{sha256_file(bundle / name)}  {name}\n" for name in names]
    (bundle / SIGNATURE_FILE).unlink(missing_ok=True)
    return atomic_write(bundle / SUMS_FILE, "".join(lines))


HEX = frozenset("0123456789abcdef")


def _parse_checksums(data: bytes, where: str) -> dict[str, str]:
    """`sha256sum` lines: 64 hex digits (either case: a digest is a number, normalised to lower case), two
    spaces, a plain file name, LF line ends. CR is refused, not stripped: the signature covers these exact
    bytes, and a file name could end in CR; rewrite a CRLF file with `train`/`calibrate` or dos2unix."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BundleError(f"{where} is not UTF-8 text (byte {exc.start}); the bundle is corrupt") from None
    table: dict[str, str] = {}
    for number, line in enumerate(text.split("\n"), 1):
        if not line and number > text.count("\n"):
            break  # the newline that ends the last line
        if "\r" in line:
            raise BundleError(f"{where}:{number} ends in CR (a Windows line end); SHA256SUMS lines end in LF only: "
                              "convert it (dos2unix) and sign again, or rewrite it with `calibrate run`")
        digest, sep, name = line.partition("  ")
        digest = digest.lower()
        if not sep or len(digest) != 64 or not set(digest) <= HEX:
            raise BundleError(f"{where}:{number} is not a 'sha256  file' line; the bundle is corrupt")
        if not _is_plain_name(name) or name in _CONTROL_FILES or name in table:
            raise BundleError(f"{where}:{number} lists {name!r}; entries must be distinct plain file names inside "
                              "the bundle (no paths, no hidden files): refusing the bundle")
        table[name] = digest
    return table


def _sums_bytes(bundle: Path) -> bytes:
    data = _read_control(bundle, SUMS_FILE)
    if data is None:
        raise BundleError(f"{bundle} has no {SUMS_FILE}; rebuild the bundle with `train fit` / `calibrate run`")
    return data


def read_checksums(bundle: Path) -> dict[str, str]:
    return _parse_checksums(_sums_bytes(bundle), str(bundle / SUMS_FILE))


def verify_checksums(bundle: str | Path, *, public_key: str | Path | None = None) -> None:
    """Raise BundleError naming the first file that is missing, changed or unlisted; with `public_key`,
    also unless SHA256SUMS carries that key's signature (the very bytes then checked)."""
    bundle = Path(bundle)
    data = _sums_bytes(bundle)
    if public_key is not None:
        from edge.model.signing import verify

        signature = _read_control(bundle, SIGNATURE_FILE)
        if signature is None:
            raise BundleError(f"bundle {bundle} is not signed (no {SIGNATURE_FILE}) and signed bundles are required "
                              f"(key {public_key}); sign it with `calibrate sign`")
        verify(data, signature, public_key, what=f"{SUMS_FILE} of {bundle}")
    table = _parse_checksums(data, str(bundle / SUMS_FILE))
    present = set(_bundle_names(bundle))
    for name, digest in table.items():
        if name not in present:
            raise BundleError(f"bundle file {name} listed in {SUMS_FILE} is missing from {bundle}")
        if sha256_file(bundle / name) != digest:
            raise BundleError(f"bundle file {name} does not match its SHA256SUMS entry: refusing a tampered bundle")
    extra = sorted(present - set(table) - set(_CONTROL_FILES))
    if extra:
        raise BundleError(f"bundle file(s) {', '.join(extra)} are not in {SUMS_FILE}: refusing an unverified bundle")


def sign_bundle(bundle: str | Path, private_key: str | Path) -> Path:
    """Write SIGNATURE_FILE: the key's ed25519 signature of the bundle's (verified) SHA256SUMS."""
    from edge.model.signing import sign

    bundle = Path(bundle)
    verify_checksums(bundle)
    return atomic_write(bundle / SIGNATURE_FILE, sign(_sums_bytes(bundle), private_key))


def bundle_id(bundle: str | Path) -> str:
    """Short content hash of the whole bundle (hash of SHA256SUMS): the model id in every prediction."""
    return hashlib.sha256((Path(bundle) / SUMS_FILE).read_bytes()).hexdigest()[:12]


def load_spec(bundle: str | Path, verify: bool = True, *, public_key: str | Path | None = None) -> ModelSpec:
    bundle = Path(bundle)
    if not bundle.is_dir():
        raise BundleError(f"bundle directory {bundle} does not exist; train one with `train fit --out {bundle}`")
    if verify:
        verify_checksums(bundle, public_key=public_key)
    spec_path = bundle / SPEC_FILE
    if not spec_path.is_file():
        raise BundleError(f"{bundle} has no {SPEC_FILE}; it is not an eeg-edge bundle")
    return ModelSpec.read(spec_path)


def save_spec(bundle: str | Path, spec: ModelSpec) -> Path:
    spec.validate()
    return atomic_write(Path(bundle) / SPEC_FILE, spec.to_json() + "\n")
