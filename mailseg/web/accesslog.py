"""Access logs without secrets, and no version in the Server header: the Mailchimp webhook secret is a path segment
(/webhooks/mailchimp/<secret>), so every access log line mailseg's servers write masks it —
the development server of `mailseg serve` (MaskingRequestHandler) and gunicorn run with the
shipped configuration, mailseg/gunicorn_conf.py (MaskingGunicornLogger)."""

from __future__ import annotations

import re

from werkzeug.serving import WSGIRequestHandler

SECRET_PATH = re.compile(r"(/webhooks/mailchimp/)[^/?#\s\"]+")
MASK = "****"


def mask_secrets(text: str) -> str:
    """The text with every webhook secret path segment replaced by ****."""
    return SECRET_PATH.sub(r"\g<1>" + MASK, text) if "/webhooks/mailchimp/" in text else text


class MaskingRequestHandler(WSGIRequestHandler):
    """Werkzeug's development-server handler: logs the request line with secrets masked, and
    answers "Server: mailseg" instead of announcing Werkzeug's and Python's versions."""

    def version_string(self) -> str:
        return "mailseg"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path, line = self.path, self.requestline  # Werkzeug logs the path, else the request line
        self.path, self.requestline = mask_secrets(path), mask_secrets(line)
        try:
            super().log_request(code, size)
        finally:
            self.path, self.requestline = path, line


try:  # gunicorn is installed with mailseg, but the development server must not need it
    from gunicorn.glogging import Logger as _GunicornLogger
except ImportError:  # pragma: no cover
    _GunicornLogger = object  # type: ignore[assignment,misc]


class MaskingGunicornLogger(_GunicornLogger):  # type: ignore[misc,valid-type]
    """gunicorn's logger with the request line, path and referer of access log atoms masked."""

    def atoms(self, resp, req, environ, request_time):  # noqa: D401 - gunicorn's signature
        atoms = super().atoms(resp, req, environ, request_time)
        for key in ("r", "U", "f"):
            if isinstance(atoms.get(key), str):
                atoms[key] = mask_secrets(atoms[key])
        return atoms
