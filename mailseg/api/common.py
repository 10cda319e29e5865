"""What every API view shares: the blueprint, JSON errors, bearer-token scopes, JSON bodies."""

from __future__ import annotations

import functools
import logging
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from ..audiences import AudienceNotFound, find_audience
from ..models import ApiToken
from ..tokens import authenticate
from ..web import config, db_session

log = logging.getLogger(__name__)
blueprint = Blueprint("api", __name__, url_prefix="/api/v1")


class ApiError(Exception):
    """An error answered as {"error": {"status", "code", "message", "field"}}."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def error_body(status: int, code: str, message: str, field: str | None = None) -> dict:
    error: dict[str, Any] = {"status": status, "code": code, "message": message}
    if field is not None:
        error["field"] = field
    return {"error": error}


@blueprint.errorhandler(ApiError)
def _api_error(exc: ApiError):
    response = jsonify(error_body(exc.status, exc.code, exc.message, exc.field))
    response.status_code = exc.status
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="mailseg"'
    return response


@blueprint.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    code = {404: "not_found", 405: "method_not_allowed", 413: "body_too_large"}.get(exc.code or 500, "http_error")
    response = jsonify(error_body(exc.code or 500, code, exc.description or exc.name))
    response.status_code = exc.code or 500
    return response


@blueprint.errorhandler(Exception)
def _unexpected(exc: Exception):
    log.exception("API request %s %s failed", request.method, request.path)
    response = jsonify(error_body(500, "internal_error", "the server failed to answer; the error is logged"))
    response.status_code = 500
    return response


API_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def api_not_found(path: str):
    """What the catch-all below answers: a JSON 405 with the Allow header when an API view has the
    path with other methods (the catch-all matching first would otherwise make it a 404), else a
    JSON 404 for an unknown path."""
    allowed = allowed_methods()
    if allowed:
        response = _api_error(ApiError(405, "method_not_allowed", f"{request.method} is not allowed on "
                                       f"/api/v1/{path}; allowed: {', '.join(allowed)}"))
        response.headers["Allow"] = ", ".join(allowed)
        return response
    return _api_error(ApiError(404, "not_found", f"no API endpoint {request.method} /api/v1/{path}"))


def allowed_methods() -> list[str]:
    """The methods the API's views answer on the request's path (HEAD with GET, OPTIONS always)."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = []
    for method in API_METHODS:
        try:
            endpoint, _ = adapter.match(method=method)
        except HTTPException:
            continue
        if endpoint != "api.not_found":
            allowed.append(method)
    if "GET" in allowed:
        allowed.insert(allowed.index("GET") + 1, "HEAD")
    return allowed + ["OPTIONS"] if allowed else []


# Every path under /api/v1 no view has: answered by api_not_found (Flask's own 404/405 are HTML pages).
blueprint.add_url_rule("/<path:path>", "not_found", api_not_found, methods=list(API_METHODS))


def requires(scope: str):
    """The view needs a live bearer token holding `scope` (401 without one, 403 without the scope)."""
    def decorator(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            header = request.headers.get("Authorization", "")
            kind, _, token = header.partition(" ")
            if kind.lower() != "bearer" or not token.strip():
                raise ApiError(401, "unauthenticated", "send the header Authorization: Bearer <token> "
                                                       "(create one with `mailseg tokens add NAME`)")
            row = authenticate(db_session(), token.strip())
            if row is None:
                raise ApiError(401, "invalid_token", "the bearer token is unknown or revoked")
            if scope not in row.scopes:
                raise ApiError(403, "insufficient_scope", f"the token {row.name!r} lacks the scope {scope!r} "
                                                          f"(it has {', '.join(row.scopes) or 'none'})")
            g.api_token = row
            return view(*args, **kwargs)
        return wrapper
    return decorator


def current_token() -> ApiToken:
    return g.api_token


def json_body() -> dict:
    """The request's JSON object, within api.max_body_bytes; errors name what is wrong."""
    limit = config().api.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(413, "body_too_large", f"the body has {request.content_length} bytes; at most {limit} are "
                                              "accepted (api.max_body_bytes)")
    if not request.is_json:
        raise ApiError(415, "unsupported_media_type", "send the body as JSON with Content-Type: application/json")
    raw = request.stream.read(limit + 1)
    if len(raw) > limit:
        raise ApiError(413, "body_too_large", f"the body is larger than {limit} bytes (api.max_body_bytes)")
    import json

    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(400, "invalid_json", f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "the body must be a JSON object", field="")
    return body


def audience_id_for(name: Any, field: str = "audience") -> int:
    """The audience named (or the only one); an unknown name is a 404 naming the field."""
    if name is not None and not isinstance(name, str):
        raise ApiError(400, "invalid_field", "expected an audience name (a string)", field=field)
    try:
        return find_audience(db_session(), name).id
    except AudienceNotFound as exc:
        raise ApiError(404 if name else 400, "audience_not_found", str(exc), field=field) from None
