"""Email platforms behind one interface (base.EmailPlatform). A second platform is a new module
plus one line in PLATFORMS."""

from __future__ import annotations

from typing import Callable

from ..config import Config
from .base import AuthenticationError, EmailPlatform, ProviderError

PlatformFactory = Callable[[], EmailPlatform]


def _mailchimp(config: Config) -> PlatformFactory:
    from .mailchimp import MailchimpPlatform

    MailchimpPlatform(config.mailchimp)  # fail early on missing settings, before any thread starts
    return lambda: MailchimpPlatform(config.mailchimp)


PLATFORMS: dict[str, Callable[[Config], PlatformFactory]] = {"mailchimp": _mailchimp}


def platform_factory(config: Config, provider: str = "mailchimp") -> PlatformFactory:
    """A function making one platform client per call (one per thread: clients are not shared)."""
    try:
        make = PLATFORMS[provider]
    except KeyError:
        raise ProviderError(f"no email platform named {provider!r} (known: {', '.join(PLATFORMS)})") from None
    return make(config)


__all__ = ["AuthenticationError", "EmailPlatform", "PlatformFactory", "ProviderError", "platform_factory"]
