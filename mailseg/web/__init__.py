"""Request helpers shared by every blueprint, and the health check (the panel lives in mailseg.panel)."""

from __future__ import annotations

from flask import Blueprint, current_app, g, jsonify
from sqlalchemy.orm import Session

from ..config import Config
from ..db import Database

blueprint = Blueprint("web", __name__)


def config() -> Config:
    return current_app.extensions["mailseg.config"]


def database() -> Database:
    return current_app.extensions["mailseg.db"]


def tracking_queue():
    """The write-behind queue of opens and clicks, or None when they are stored in the request."""
    return current_app.extensions["mailseg.tracking_queue"]


def tracking_buffer():
    """The in-process write-behind of opens and clicks (no queue configured), or None."""
    return current_app.extensions.get("mailseg.tracking_buffer")


def db_session() -> Session:
    """The request's session, closed (and rolled back if uncommitted) at teardown."""
    if "db_session" not in g:
        g.db_session = database().session()
    return g.db_session


@blueprint.get("/healthz")
def health():
    from sqlalchemy import text

    db_session().execute(text("SELECT 1"))
    return jsonify(status="ok")
