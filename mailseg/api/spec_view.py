"""GET /api/v1/openapi.json: the document, without authentication."""

from __future__ import annotations

from flask import jsonify, request

from .common import blueprint
from .openapi import document


@blueprint.get("/openapi.json")
def openapi_document():
    return jsonify(document(request.script_root + "/api/v1"))
