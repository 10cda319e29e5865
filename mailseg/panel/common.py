"""What every panel page shares: login, CSRF, roles, the chosen audience, the client address."""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass

from flask import Blueprint, abort, current_app, g, request, session
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from flask_login import LoginManager, UserMixin, current_user, login_required
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import select

from ..accounts import get_user
from ..models import Audience
from ..web import config, db_session

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
    language: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@login_manager.user_loader
def _load_user(user_id: str) -> PanelUser | None:
    user = get_user(db_session(), int(user_id))
    return PanelUser(user.id, user.email, user.role, user.language) if user is not None else None


def panel_blueprint(name: str, import_name: str) -> Blueprint:
    """A blueprint whose every view needs a logged-in user and whose every POST needs a CSRF token."""
    blueprint = Blueprint(name, import_name)

    @blueprint.before_request
    @login_required
    def _guard():
        if request.method == "POST":
            check_csrf()

    return blueprint


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
    """The client's IP; X-Forwarded-For is believed only from a configured trusted proxy."""
    remote = request.remote_addr or "unknown"
    trusted = set(config().web.trusted_proxies)
    if remote not in trusted:
        return remote
    for hop in reversed(request.headers.get("X-Forwarded-For", "").split(",")):
        hop = hop.strip()
        if hop and hop not in trusted and _is_ip(hop):
            return hop
    return remote


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
