"""Log in and out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from ..accounts import authenticate, end_session, set_language, start_session
from ..i18n import LANGUAGES, SESSION_KEY
from ..web import config, db_session
from .common import PanelUser, check_csrf, check_params, client_address

blueprint = Blueprint("auth", __name__)


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    """Show the form; on POST check the password under the per-address rate limit."""
    if request.method == "GET":
        if current_user.is_authenticated:
            return redirect(url_for("dashboard.index"))
        return render_template("login.html", email="", error=None)
    check_params()
    check_csrf()
    email = request.form.get("email", "")
    result = authenticate(db_session(), email, request.form.get("password", ""), address=client_address(),
                          attempts_per_minute=config().web.login_attempts_per_minute)
    if result.rate_limited:
        return render_template("login.html", email=email,
                               error=_("Too many failed attempts from your address. Wait a minute and try again.")), 429
    if result.user is None:
        return render_template("login.html", email=email, error=_("Wrong email or password.")), 401
    user = result.user
    if user.language is None and session.get(SESSION_KEY) in LANGUAGES:  # chosen on the login page
        set_language(db_session(), user.id, session[SESSION_KEY], allowed=LANGUAGES)
    elif user.language:
        session[SESSION_KEY] = user.language
    token = start_session(db_session(), user.id)
    db_session().commit()
    login_user(PanelUser(user.id, user.email, user.role, token, user.language))
    return redirect(_safe_next(request.args.get("next")))


@blueprint.post("/logout")
@login_required
def logout():
    check_csrf()
    session = db_session()
    end_session(session, current_user.session_token)
    session.commit()
    logout_user()
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


@blueprint.post("/language")
def language():
    """Switch the panel language: saved on the user (kept across devices and sessions), and in the
    session before logging in."""
    check_csrf()
    chosen = request.form.get("language", "")
    if chosen not in LANGUAGES:
        abort(400, description=_("Choose one of the offered languages."))
    session[SESSION_KEY] = chosen
    if current_user.is_authenticated:
        set_language(db_session(), current_user.id, chosen, allowed=LANGUAGES)
        db_session().commit()
    return redirect(_safe_next(request.form.get("next")))


def _safe_next(target: str | None) -> str:
    """Only a path on this site: never redirect a login to another host; nothing with control
    characters (CR/LF would split the Location header) or that does not even parse as a URL."""
    if target and target.isprintable() and "\\" not in target:
        try:
            parts = urlsplit(target)
        except ValueError:
            return url_for("dashboard.index")
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//"):
            return target
    return url_for("dashboard.index")
