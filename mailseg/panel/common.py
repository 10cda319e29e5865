"""What every panel page shares: login, CSRF, roles, the chosen audience, the client address."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from flask import Blueprint, abort, current_app, g, request, session
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import LoginManager, UserMixin, current_user, login_required
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import select

from ..accounts import session_user
from ..models import Audience
from ..values import text_problem
from ..web import config, db_session
from ..web.client_ip import client_ip

csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = lazy_gettext("Please log in to see this page.")
login_manager.login_message_category = "info"
login_manager.session_protection = "strong"


@dataclass
class PanelUser(UserMixin):
    id: int
    email: str
    role: str
    # The server-side session (mailseg.accounts.start_session): what the cookie carries.
    session_token: str = ""
    language: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def get_id(self) -> str:
        return self.session_token


@login_manager.user_loader
def _load_user(token: str) -> PanelUser | None:
    """The user of a session that has not ended (logout, password or role change end it)."""
    user = session_user(db_session(), token)
    return PanelUser(user.id, user.email, user.role, token, user.language) if user is not None else None


def panel_blueprint(name: str, import_name: str) -> Blueprint:
    """A blueprint whose every view needs a logged-in user and whose every POST needs a CSRF token."""
    blueprint = Blueprint(name, import_name)

    @blueprint.before_request
    @login_required
    def _guard():
        check_params()
        if request.method == "POST":
            check_csrf()

    return blueprint


def check_params() -> None:
    """400 for a query or form parameter that is no text at all (a NUL character, an unpaired
    surrogate): no panel parameter can hold one, and PostgreSQL refuses them."""
    for source in (request.args, request.form):
        for name, value in source.items(multi=True):
            problem = text_problem(name) or text_problem(value)
            if problem is not None:
                abort(400, description=_("Parameter %(name)s: %(problem)s", name=repr(name[:40]), problem=problem))
    for name, value in (request.view_args or {}).items():  # names in the path (/segments/<name>) too
        if isinstance(value, str) and (problem := text_problem(value)) is not None:
            abort(400, description=_("Parameter %(name)s: %(problem)s", name=repr(name[:40]), problem=problem))


def check_csrf() -> None:
    """Reject a POST without a valid token (400), unless CSRF is switched off (WTF_CSRF_ENABLED, tests)."""
    if current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf.protect()


def admin_required(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_admin:
            abort(403, description=_("Only admins can change this; ask an admin."))
        return view(*args, **kwargs)

    return wrapper


def audience_choices() -> list[Audience]:
    if "audience_choices" not in g:
        g.audience_choices = list(db_session().scalars(select(Audience).order_by(Audience.name)))
    return g.audience_choices


def current_audience() -> Audience | None:
    """The audience picked with ?audience=ID (remembered in the session), else the first one."""
    choices = {a.id: a for a in audience_choices()}
    requested = request.args.get("audience", type=int)
    if requested in choices:
        session["audience_id"] = requested
    chosen = choices.get(session.get("audience_id"))
    return chosen or next(iter(choices.values()), None)


def current_audience_id() -> int | None:
    audience = current_audience()
    return audience.id if audience is not None else None


def client_address() -> str:
    """The client's IP, by the one rule of web/client_ip.py (X-Forwarded-For only from a trusted proxy)."""
    return client_ip(request.remote_addr, request.headers.get("X-Forwarded-For"),
                     config().web.trusted_proxies) or "unknown"
