"""Bearer-token check for /api/v1 (tokens of the api_tokens table, stored as SHA-256 hashes).

One function, so the lead can point it at issue 13's mailseg/tokens.py `authenticate` at merge."""

from __future__ import annotations

import functools
import hashlib

from flask import g, jsonify, request
from sqlalchemy import select

from ..models import ApiToken
from ..web import db_session


def api_error(status: int, message: str, **extra):
    response = jsonify({"error": message, **extra})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="mailseg"'
    return response


def token_required(scope: str):
    """The view needs `Authorization: Bearer <token>` of a live token holding `scope`."""

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            header = request.headers.get("Authorization", "")
            kind, _, token = header.partition(" ")
            if kind.lower() != "bearer" or not token.strip():
                return api_error(401, "missing bearer token (Authorization: Bearer <token>)")
            digest = hashlib.sha256(token.strip().encode()).hexdigest()
            row = db_session().scalar(select(ApiToken).where(ApiToken.token_hash == digest))
            if row is None or row.revoked_at is not None:
                return api_error(401, "unknown or revoked token")
            if scope not in (row.scopes or []):
                return api_error(403, f"this token lacks the scope {scope!r}")
            g.api_token = row
            return view(*args, **kwargs)

        return wrapper

    return decorate
