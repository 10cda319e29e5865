"""Signed tracking tokens (itsdangerous, keyed by tracking.secret, one salt per kind of token).

An open token carries audience, subscriber and campaign; a click token adds the target URL and
whether it is the hidden honeypot link. A token of one kind never verifies as the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from itsdangerous import BadData, URLSafeSerializer

from ..values import is_id, is_subscriber_id

OPEN_SALT = "mailseg.tracking.open"
CLICK_SALT = "mailseg.tracking.click"


class TrackingDisabled(RuntimeError):
    """tracking.secret is not configured: no token can be made or trusted."""


@dataclass(frozen=True)
class OpenToken:
    audience_id: int
    subscriber_id: int
    campaign_id: int | None


@dataclass(frozen=True)
class ClickToken(OpenToken):
    url: str
    honeypot: bool = False


def is_safe_target(url: str) -> bool:
    """Only absolute http(s) URLs with a host and no whitespace or control characters are redirected to."""
    if not isinstance(url, str) or not url or any(ord(ch) <= 32 or ch == "\\" or ord(ch) == 127 for ch in url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range (99999) or not a number
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


@lru_cache(maxsize=16)
def _serializer(secret: str, salt: str) -> URLSafeSerializer:
    """One serializer per secret and salt: making one derives its key (an HMAC), once per pixel
    request before this was cached."""
    if not secret:
        raise TrackingDisabled("tracking.secret is not set")
    return URLSafeSerializer(secret, salt=salt)


def open_token(secret: str, token: OpenToken) -> str:
    return _serializer(secret, OPEN_SALT).dumps([token.audience_id, token.subscriber_id, token.campaign_id])


def click_token(secret: str, token: ClickToken) -> str:
    if not is_safe_target(token.url):
        raise ValueError(f"not an http(s) URL: {token.url!r}")
    payload = [token.audience_id, token.subscriber_id, token.campaign_id, token.url, int(token.honeypot)]
    return _serializer(secret, CLICK_SALT).dumps(payload)


def read_open_token(secret: str, text: str) -> OpenToken | None:
    payload = _load(secret, OPEN_SALT, text)
    if not _ids_ok(payload, 3):
        return None
    return OpenToken(*payload)


def read_click_token(secret: str, text: str) -> ClickToken | None:
    """The click token's content, or None when it is unsigned, tampered or its target is not http(s)."""
    payload = _load(secret, CLICK_SALT, text)
    if not _ids_ok(payload, 5) or not is_safe_target(payload[3]) or payload[4] not in (0, 1):
        return None
    return ClickToken(payload[0], payload[1], payload[2], payload[3], bool(payload[4]))


def _load(secret: str, salt: str, text: str):
    if not secret:
        return None
    try:
        return _serializer(secret, salt).loads(text)
    except (BadData, ValueError, TypeError):
        return None


def _ids_ok(payload, length: int) -> bool:
    if not isinstance(payload, list) or len(payload) != length:
        return False
    audience_id, subscriber_id, campaign_id = payload[:3]
    ids = (audience_id,) + (() if campaign_id is None else (campaign_id,))
    return all(is_id(v) for v in ids) and is_subscriber_id(subscriber_id)
