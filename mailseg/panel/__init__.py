"""The marketers' web panel: one thin view module per page area, domain queries in mailseg.reports,
mailseg.settings, mailseg.accounts and mailseg.jobrequests."""

from __future__ import annotations

from flask import Flask

from .common import csrf, login_manager
from .filters import init_filters


def init_panel(app: Flask) -> None:
    config = app.extensions["mailseg.config"]
    # CSRF is checked by the panel's blueprints only: webhooks and tracking endpoints post without a token.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.config["REMEMBER_COOKIE_HTTPONLY"] = True
    app.config["REMEMBER_COOKIE_SAMESITE"] = "Lax"
    app.config["REMEMBER_COOKIE_SECURE"] = config.web.secure_cookies
    csrf.init_app(app)
    login_manager.init_app(app)

    from . import audience, auth, campaigns, dashboard, experiments, segments, settings, subscriber, surveys, sync, value

    for module in (auth, dashboard, audience, subscriber, campaigns, value, segments, surveys, experiments, settings,
                   sync):
        app.register_blueprint(module.blueprint)
    app.context_processor(_page_context)
    init_filters(app)


def _page_context() -> dict:
    from ..web import config
    from .common import audience_choices, current_audience_id

    return {"audience_choices": audience_choices, "current_audience_id": current_audience_id,
            "simulated_audience": config().platform.kind == "sandbox"}
