"""Error pages of the panel (the locale-aware number and date filters are in mailseg.i18n)."""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as L_
from werkzeug.exceptions import HTTPException

NAMES = {400: L_("Bad request"), 403: L_("Not allowed"), 404: L_("Not found"), 429: L_("Too many requests")}


def _error_page(exc: HTTPException):
    """The error in the panel's language; werkzeug's own English description only when the view gave none."""
    from ..web.sessions import SESSIONLESS_PREFIXES

    if request.path.startswith(SESSIONLESS_PREFIXES):
        # Webhooks and tracking answer machines, without a session: a plain sentence, not the panel page.
        return f"{exc.description}\n", exc.code, {"Content-Type": "text/plain; charset=utf-8"}
    description = exc.description
    if description == type(exc).description:
        description = _("The address is wrong or the page is gone.") if exc.code == 404 else None
    return render_template("error.html", code=exc.code, name=NAMES.get(exc.code, exc.name),
                           description=description or ""), exc.code


def init_filters(app: Flask) -> None:
    for code in (400, 403, 404, 429):
        app.register_error_handler(code, _error_page)
