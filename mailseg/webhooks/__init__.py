"""Provider webhooks, one module per provider: verify the request, normalise it to EventIn, store it
through mailseg.ingest.events.store_events. Nothing here imports Flask; views.py is the thin layer."""


class WebhookError(ValueError):
    """The request body is malformed; the message names the problem (answered with 400)."""


def clean_text(value: object, max_length: int | None = None) -> str | None:
    """A string field as the database can hold it: NULs and lone surrogates (valid JSON escapes, not
    storable text) removed; too long or not a string -> None."""
    if not isinstance(value, str):
        return None
    value = value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "").strip()
    if not value or (max_length is not None and len(value) > max_length):
        return None
    return value
