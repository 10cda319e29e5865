"""Log in and out."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..accounts import authenticate, end_session, start_session
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
                               error="Too many failed attempts from your address. Wait a minute and try again."), 429
    if result.user is None:
        return render_template("login.html", email=email, error="Wrong email or password."), 401
    session = db_session()
    token = start_session(session, result.user.id)
    session.commit()
    login_user(PanelUser(result.user.id, result.user.email, result.user.role, token))
    return redirect(_safe_next(request.args.get("next")))


@blueprint.post("/logout")
@login_required
def logout():
    check_csrf()
    session = db_session()
    end_session(session, current_user.session_token)
    session.commit()
    logout_user()
    flash("You are logged out.")
    return redirect(url_for("auth.login"))


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
