"""Request body limits, enforced while the body is read (chunked bodies too), so a 50 MB POST
never enters a worker's memory: 413 once the route's limit is passed.

A WSGI middleware in front of Flask, because Werkzeug's own `max_content_length` does not do it:
for a body without Content-Length it silently stops reading at the limit and hands the view a
truncated body. Here a declared Content-Length over the limit is refused before anything is read;
a body without one (chunked; gunicorn and the development server decode the chunks) is read up to
limit + 1 bytes — one byte more is a 413 — and otherwise handed on with its now-known length.
"""

from __future__ import annotations

import io
from typing import Callable, Iterable

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map

from ..config import Config

# Endpoint -> the config key of its limit (section, key); every other route uses web.max_body_bytes.
ENDPOINT_LIMITS = {
    "webhooks.mandrill_events": ("mandrill", "webhook_max_body_bytes"),
    "webhooks.mandrill_check": ("mandrill", "webhook_max_body_bytes"),
    "webhooks.mailchimp_event": ("mailchimp", "webhook_max_body_bytes"),
    "webhooks.mailchimp_check": ("mailchimp", "webhook_max_body_bytes"),
}
# Blueprint -> the config key of the limit of all its routes.
BLUEPRINT_LIMITS = {"api": ("api", "max_body_bytes")}
API_PREFIX = "/api/"
READ_CHUNK = 64 * 1024


def body_limit(config: Config, endpoint: str | None) -> int:
    endpoint = endpoint or ""
    default = BLUEPRINT_LIMITS.get(endpoint.split(".", 1)[0], ("web", "max_body_bytes"))
    section, key = ENDPOINT_LIMITS.get(endpoint, default)
    return getattr(getattr(config, section), key)


class BodyLimit:
    """WSGI middleware: the route's body limit (found through the app's URL map) for every request."""

    def __init__(self, app: Callable, url_map: Map, config: Config) -> None:
        self.app, self.url_map, self.config = app, url_map, config
        # The smallest limit of any route: a body within it needs no route lookup (the pixel path).
        self.floor = min(body_limit(config, endpoint)
                         for endpoint in [None, *ENDPOINT_LIMITS, *(f"{bp}.any" for bp in BLUEPRINT_LIMITS)])

    def _limit(self, environ: dict) -> int:
        try:
            endpoint, _ = self.url_map.bind_to_environ(environ).match()
        except HTTPException:  # no such route or method: the panel's limit
            endpoint = None
        return body_limit(self.config, endpoint)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        declared = environ.get("CONTENT_LENGTH", "").strip()
        if declared:
            if not declared.isdigit():
                return _refuse(start_response, "400 Bad Request", "Content-Length is not a number\n")
            if int(declared) > self.floor and int(declared) > (limit := self._limit(environ)):
                return _too_large(environ, start_response, limit)
        elif environ.get("wsgi.input_terminated"):
            stream = environ["wsgi.input"]
            body = _read_at_most(stream, self.floor + 1)
            if len(body) > self.floor:
                limit = self._limit(environ)
                body += _read_at_most(stream, limit + 1 - len(body))
                if len(body) > limit:
                    return _too_large(environ, start_response, limit)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            del environ["wsgi.input_terminated"]
        return self.app(environ, start_response)


def _read_at_most(stream, size: int) -> bytes:
    body = bytearray()
    while len(body) < size:
        chunk = stream.read(min(READ_CHUNK, size - len(body)))
        if not chunk:
            break
        body += chunk
    return bytes(body)


def _too_large(environ: dict, start_response: Callable, limit: int) -> list[bytes]:
    message = f"request body too large: this address accepts at most {limit} bytes"
    if environ.get("PATH_INFO", "").startswith(API_PREFIX):  # the JSON API answers in its own error shape
        import json

        from ..api.common import error_body

        return _refuse(start_response, "413 Request Entity Too Large",
                       json.dumps(error_body(413, "body_too_large", message)), "application/json")
    return _refuse(start_response, "413 Request Entity Too Large", message + "\n")


def _refuse(start_response: Callable, status: str, text: str,
            content_type: str = "text/plain; charset=utf-8") -> list[bytes]:
    # The rest of the body is never read here (the server drains or drops it, in bounded chunks).
    body = text.encode()
    start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
    return [body]
