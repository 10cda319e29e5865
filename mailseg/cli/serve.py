"""`mailseg serve`: the development web server."""

from __future__ import annotations

import click

from .runtime import Runtime, fails_cleanly, pass_runtime


@click.command()
@click.option("--host", help="Address to bind (default: web.host).")
@click.option("--port", type=int, help="Port (default: web.port).")
@pass_runtime
@fails_cleanly
def serve(rt: Runtime, host: str | None, port: int | None) -> None:
    """Run the web app with Flask's development server (use gunicorn in production, see README)."""
    from ..app import create_app

    from ..web.accesslog import MaskingRequestHandler

    app = create_app(rt.config, database=rt.migrated_db())
    app.run(host=host or rt.config.web.host, port=port or rt.config.web.port, debug=False, use_reloader=False,
            request_handler=MaskingRequestHandler)
