"""The building blocks of the typed configuration (mailseg.config): the error naming a key, and
`setting`, a config key with its default and rules. A module of its own so the config sections can
live in more than one file."""

from __future__ import annotations

from dataclasses import field
from typing import Any, Callable


class ConfigError(ValueError):
    """Invalid configuration; the message names the key."""


def setting(default: Any, *, min: float | None = None, max: float | None = None,
            choices: tuple | None = None, secret: bool = False, check: Callable[[Any], Any] | None = None) -> Any:
    """A config key with its default and rules; `check` raises ValueError explaining a bad value."""
    rules = {"min": min, "max": max, "choices": choices, "secret": secret, "check": check}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=rules)
    return field(default=default, metadata=rules, repr=not secret)
