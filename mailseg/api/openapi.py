"""The OpenAPI 3.1 document of /api/v1. Endpoint modules add their paths with add_path and their
schemas with add_schema at import; tests validate every response against the result."""

from __future__ import annotations

import copy
from typing import Any

from ..models import API_SCOPES

NULLABLE_NUMBER = {"type": ["number", "null"]}
NULLABLE_INTEGER = {"type": ["integer", "null"]}
NULLABLE_STRING = {"type": ["string", "null"]}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object", "required": ["error"], "additionalProperties": False,
        "properties": {"error": {
            "type": "object", "required": ["status", "code", "message"], "additionalProperties": False,
            "properties": {
                "status": {"type": "integer"},
                "code": {"type": "string", "description": "machine-readable, e.g. invalid_field, insufficient_scope"},
                "message": {"type": "string"},
                "field": {"type": "string", "description": "the field at fault, e.g. orders[3].amount"},
            }}},
    },
}
_PATHS: dict[str, dict[str, Any]] = {}


def error_response(description: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


COMMON_ERRORS = {
    "401": error_response("No bearer token, or an unknown or revoked one"),
    "403": error_response("The token lacks the scope this operation needs"),
}


def add_schema(name: str, schema: dict) -> None:
    _SCHEMAS[name] = schema


def add_path(path: str, method: str, operation: dict) -> None:
    _PATHS.setdefault(path, {})[method.lower()] = operation


def document(server_url: str = "/api/v1") -> dict:
    """The whole OpenAPI 3.1 document."""
    return {
        "openapi": "3.1.0",
        "info": {"title": "mailseg API", "version": "1.0.0",
                 "description": "Orders in, subscribers with their engagement class, value and segments out. "
                                "Authenticate with `Authorization: Bearer <token>` (`mailseg tokens add NAME "
                                "--scope ...`). Errors are JSON objects naming the field at fault (the Error "
                                "schema); a path answers a method it does not list here with 405 and an Allow "
                                "header, an unknown path with 404."},
        "servers": [{"url": server_url}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": f"scopes: {', '.join(API_SCOPES)}"}},
            "schemas": copy.deepcopy(_SCHEMAS),
        },
        "security": [{"bearer": []}],
        "paths": copy.deepcopy(_PATHS),
    }
