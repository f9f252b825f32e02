"""A tiny model registry (timm style): models register by name; create_model builds one from JSON kwargs.

Every registered model takes ``frontend: FrontEndConfig`` first, then keyword options that must be
JSON-serialisable (they are saved in spec.json as ``model_kwargs``).
"""

from __future__ import annotations

import inspect
import json
import typing
from collections.abc import Callable
from typing import Any, TypeVar

from torch import nn

from edge.config_io import coerce_json
from edge.errors import SpecError
from edge.model.model_spec import FrontEndConfig

_REGISTRY: dict[str, Callable[..., nn.Module]] = {}
Builder = TypeVar("Builder", bound=Callable[..., nn.Module])


def register_model(name: str) -> Callable[[Builder], Builder]:
    """Decorator: ``@register_model("mel2d") class Mel2d(nn.Module): ...``."""

    def decorate(builder: Builder) -> Builder:
        if name in _REGISTRY:
            raise SpecError(f"model {name!r} is registered twice")
        _REGISTRY[name] = builder
        return builder

    return decorate


def list_models() -> list[str]:
    return sorted(_REGISTRY)


def model_options(name: str) -> dict[str, Any]:
    """Keyword options of a registered model and their defaults."""
    params = inspect.signature(_lookup(name)).parameters
    return {k: p.default for k, p in params.items() if k != "frontend"}


def create_model(name: str, frontend: FrontEndConfig = FrontEndConfig(), **kwargs: Any) -> nn.Module:  # noqa: B008
    """Build registered model ``name``; unknown names or options raise SpecError listing the valid ones."""
    options = model_options(name)
    unknown = sorted(set(kwargs) - set(options))
    if unknown:
        raise SpecError(f"model {name!r} has no option(s) {', '.join(unknown)}; valid: {', '.join(options)}")
    try:
        json.dumps(kwargs)
    except TypeError as exc:
        raise SpecError(f"model {name!r} options must be JSON-serialisable (saved in spec.json): {exc}") from None
    hints = typing.get_type_hints(_lookup(name).__init__)
    kwargs = {key: coerce_json(hints.get(key, Any), value, f"{name}.{key}") for key, value in kwargs.items()}
    frontend.validate()
    return _REGISTRY[name](frontend=frontend, **kwargs)


def without_init_options(name: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """kwargs minus the options that only initialise weights (mel2d.pretrained, also inside ensemble members).

    Used when the weights come from a bundle: a pretrained file path saved in spec.json need not exist
    on the machine that loads the bundle.
    """
    strip = getattr(_lookup(name), "without_init_options", None)
    return strip(kwargs) if strip else dict(kwargs)


def _lookup(name: str) -> Callable[..., nn.Module]:
    if name not in _REGISTRY:
        raise SpecError(f"unknown model {name!r}; registered models: {', '.join(list_models())}")
    return _REGISTRY[name]
