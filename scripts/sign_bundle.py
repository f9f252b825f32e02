"""Sign model bundles so a site can require signed ones (`edge run --require-signature PUBLIC.pem`).

    python scripts/sign_bundle.py keygen signing-key.pem signing-key.pub.pem   # once, on the producer side
    python scripts/sign_bundle.py sign BUNDLE --key signing-key.pem            # after train fit / calibrate

`sign` verifies the bundle's SHA256SUMS first, then writes SHA256SUMS.sig (raw ed25519 signature).
Rewriting SHA256SUMS (any calibrate step) removes the signature: sign again afterwards.
"""

from __future__ import annotations

import argparse
import sys

from edge.errors import EegEdgeError
from edge.model.bundle import sign_bundle
from edge.model.signing import generate_keypair


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    keygen = commands.add_parser("keygen", help="new ed25519 key pair (the private file is never overwritten)")
    keygen.add_argument("private")
    keygen.add_argument("public")
    sign = commands.add_parser("sign", help="sign a bundle's SHA256SUMS")
    sign.add_argument("bundle")
    sign.add_argument("--key", required=True, help="PEM ed25519 private key")
    args = parser.parse_args(argv)
    try:
        if args.command == "keygen":
            generate_keypair(args.private, args.public)
            print(f"wrote {args.private} (keep it private) and {args.public} (give it to the sites)")
        else:
            print(f"wrote {sign_bundle(args.bundle, args.key)}")
    except (EegEdgeError, OSError) as exc:
        print(f"sign_bundle: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
