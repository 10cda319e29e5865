"""Template filters and error pages of the panel."""

from __future__ import annotations

from datetime import datetime

from flask import Flask, render_template
from werkzeug.exceptions import HTTPException


def thousands(value: int | None) -> str:
    return f"{value or 0:,}"


def percent(value: float | None) -> str:
    return f"{(value or 0) * 100:.1f}%"


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


def day(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else "—"


def _error_page(exc: HTTPException):
    return render_template("error.html", code=exc.code, name=exc.name, description=exc.description), exc.code


def init_filters(app: Flask) -> None:
    for function in (thousands, percent, when, day):
        app.add_template_filter(function)
    for code in (400, 403, 404, 429):
        app.register_error_handler(code, _error_page)
