"""mailseg's JSON API for other systems (a shop, a CRM) under /api/v1.

Every endpoint: bind (JSON body or path) -> validate (errors name the field) -> call the domain ->
respond with JSON the OpenAPI document (openapi.py, served at /api/v1/openapi.json) describes.
Authentication: `Authorization: Bearer <token>` with a token from `mailseg tokens add`, and the scope
the endpoint names. To add an endpoint: a module here with its views on `blueprint` (decorated with
`requires(scope)`) and its operations added to the document with `openapi.add_path` — see orders.py.
"""

from __future__ import annotations

from flask import Flask

from .common import blueprint


def init_api(app: Flask) -> None:
    from . import orders, segments, spec_view, subscribers  # noqa: F401  (they register their views)

    app.register_blueprint(blueprint)
