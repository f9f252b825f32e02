"""ed25519 signatures over a bundle's SHA256SUMS, so a site can require bundles its producer signed.

Keys are PEM files (PKCS#8 private, SubjectPublicKeyInfo public), the same form as
`openssl genpkey -algorithm ed25519` / `openssl pkey -pubout`; a signature is the raw 64 bytes
(`openssl pkeyutl -sign -rawin`). The `cryptography` package (extra "signing") is imported lazily.
"""

from __future__ import annotations

from pathlib import Path

from edge.errors import BundleError, import_extra


def _serialization():
    import_extra("cryptography", "signing")
    from cryptography.hazmat.primitives import serialization

    return serialization


def load_public_key(path: str | Path):
    serialization = _serialization()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    path = Path(path)
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise BundleError(f"signature key {path} cannot be read as a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise BundleError(f"signature key {path} is not an ed25519 public key")
    return key


def load_private_key(path: str | Path):
    serialization = _serialization()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = Path(path)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise BundleError(f"signing key {path} cannot be read as an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise BundleError(f"signing key {path} is not an ed25519 private key")
    return key


def sign(data: bytes, private_key: str | Path) -> bytes:
    return load_private_key(private_key).sign(data)


def verify(data: bytes, signature: bytes, public_key: str | Path, *, what: str) -> None:
    """Raise BundleError unless `signature` is the key's signature of `data` (`what` names the data)."""
    key = load_public_key(public_key)
    from cryptography.exceptions import InvalidSignature

    try:
        key.verify(signature, data)
    except InvalidSignature:
        raise BundleError(f"{what} is not signed by the key in {public_key}: refusing the bundle") from None


def generate_keypair(private_path: str | Path, public_path: str | Path) -> None:
    """A new ed25519 key pair; the private key file is created owner-only and never overwritten."""
    import os

    serialization = _serialization()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(private)
    Path(public_path).write_bytes(public)
