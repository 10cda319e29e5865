"""The Flask application factory. Views are thin: they call domain functions with a session."""

from __future__ import annotations

import logging

from flask import Flask, g

from .config import Config, load_config
from .db import Database
from .ingest.queue import queue_from_config
from .paths import static_dir, templates_dir

log = logging.getLogger(__name__)


def create_app(config: Config | None = None, *, database: Database | None = None) -> Flask:
    config = config or load_config()
    app = Flask(__name__, template_folder=str(templates_dir()), static_folder=str(static_dir()))
    app.config["SECRET_KEY"] = config.web.secret_key or _ephemeral_secret()
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_SECURE"] = config.web.secure_cookies
    app.extensions["mailseg.config"] = config
    app.extensions["mailseg.db"] = database or Database(config.database.url, echo=config.database.echo)
    app.extensions["mailseg.tracking_queue"] = queue_from_config(config)
    app.extensions["mailseg.tracking_buffer"] = _tracking_buffer(config, app.extensions["mailseg.db"],
                                                                app.extensions["mailseg.tracking_queue"])
    from .web.headers import init_headers
    from .web.limits import BodyLimit
    from .web.sessions import PanelSessionInterface

    app.session_interface = PanelSessionInterface()

    init_headers(app, config)

    app.wsgi_app = BodyLimit(app.wsgi_app, app.url_map, config)
    # The body is bounded before Flask sees it; Werkzeug's per-field cap (500 kB) would refuse a
    # Mandrill batch that fits its limit.
    app.config["MAX_FORM_MEMORY_SIZE"] = None

    @app.teardown_appcontext
    def close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()

    from .forms.views import blueprint as signup_blueprint
    from .surveys.views import blueprint as survey_blueprint
    from .tracking.views import blueprint as tracking_blueprint
    from .web import blueprint as web_blueprint
    from .webhooks.views import blueprint as webhooks_blueprint

    app.register_blueprint(web_blueprint)
    app.register_blueprint(tracking_blueprint)
    app.register_blueprint(webhooks_blueprint)
    app.register_blueprint(survey_blueprint)
    app.register_blueprint(signup_blueprint)
    from .i18n import init_i18n
    from .panel import init_panel

    init_i18n(app)
    init_panel(app)
    from .api import init_api

    init_api(app)
    return app


def _tracking_buffer(config: Config, db: Database, queue):
    """The in-process write-behind of opens and clicks (in front of the queue when there is one),
    unless tracking.buffer_seconds is 0."""
    if not config.tracking.buffer_seconds:
        return None
    from .ingest.localbuffer import LocalBuffer

    return LocalBuffer(db, flush_seconds=config.tracking.buffer_seconds, queue=queue,
                       batch_size=config.tracking.queue_batch_size, flagging=config.flagging)


def _ephemeral_secret() -> str:
    import secrets

    log.warning("web.secret_key is not set: sessions will not survive a restart (set MAILSEG_WEB_SECRET_KEY)")
    return secrets.token_hex(32)
