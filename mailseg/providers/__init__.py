"""Email platforms behind one interface (base.EmailPlatform). A second platform is a new module
plus one line in PLATFORMS."""

from __future__ import annotations

from functools import lru_cache
from typing import Callable

from ..config import Config
from .base import AuthenticationError, EmailPlatform, ProviderError

PlatformFactory = Callable[[], EmailPlatform]


def _mailchimp(config: Config) -> PlatformFactory:
    from .mailchimp import MailchimpPlatform

    MailchimpPlatform(config.mailchimp)  # fail early on missing settings, before any thread starts
    return lambda: MailchimpPlatform(config.mailchimp)


@lru_cache(maxsize=4)
def _sandbox_database(url: str):
    from ..db import Database

    return Database(url)


def _sandbox(config: Config) -> PlatformFactory:
    from ..sandbox.platform import make_factory

    return make_factory(_sandbox_database(config.database.url), config.sandbox)


PLATFORMS: dict[str, Callable[[Config], PlatformFactory]] = {"mailchimp": _mailchimp, "sandbox": _sandbox}


def platform_configured(config: Config) -> bool:
    """Whether policies, sync and pull have a platform to talk to: the sandbox, or a Mailchimp API key."""
    return config.platform.kind == "sandbox" or bool(config.mailchimp.api_key)


def platform_factory(config: Config, provider: str | None = None) -> PlatformFactory:
    """A function making one platform client per call (one per thread: clients are not shared).
    `[platform] kind = "sandbox"` puts every audience on the sandbox; otherwise the audience's provider."""
    name = "sandbox" if config.platform.kind == "sandbox" else (provider or config.platform.kind)
    try:
        make = PLATFORMS[name]
    except KeyError:
        raise ProviderError(f"no email platform named {name!r} (known: {', '.join(PLATFORMS)})") from None
    return make(config)


__all__ = ["AuthenticationError", "EmailPlatform", "PlatformFactory", "ProviderError", "platform_configured",
           "platform_factory"]
