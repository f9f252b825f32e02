"""Errors a user can act on. The CLIs print them as one line and exit non-zero; anything else is a bug."""


class EegEdgeError(Exception):
    """Base class: the message names the problem and what to do about it."""


class SpecError(EegEdgeError, ValueError):
    """A contract or config value is invalid."""


class BundleError(EegEdgeError):
    """A model bundle is missing, incomplete or tampered with."""


class DataError(EegEdgeError, ValueError):
    """Input data (files, streams, tables) violates the contract."""


class BackendUnavailable(EegEdgeError):
    """A remote backend (Triton) did not answer in time: the batch's windows are not predicted, the run goes on."""


class MissingExtraError(EegEdgeError, ImportError):
    """An optional dependency is not installed."""


def import_extra(module: str, extra: str):
    """Import an optional dependency lazily, or raise an error that names the extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"{module} is not installed ({exc}); install it with: pip install -c constraints.txt 'eeg-edge[{extra}]'"
        ) from None
