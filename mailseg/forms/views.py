"""The hosted sign-up form /f/<form> (also the embeddable iframe with ?embed=1) and the confirmation
link /f/<form>/confirm/<token> (GET shows a button, POST confirms: scanners fetch links)."""

from __future__ import annotations

import logging

from flask import Blueprint, render_template, request
from flask_babel import gettext as _
from sqlalchemy import select

from ..models import Audience, SignupForm, utcnow
from ..values import text_problem
from ..web import config, db_session
from ..web.client_ip import client_ip
from .submit import confirm_submission, form_token, read_confirmation_token, submit_signup

log = logging.getLogger(__name__)
blueprint = Blueprint("signup", __name__)

# The domain's messages, shown next to their field in the reader's language.
MESSAGES = {
    "Enter your email address.": lambda: _("Enter your email address."),
    "This is not a valid email address.": lambda: _("This is not a valid email address."),
    "Please agree, so we may send you our emails.": lambda: _("Please agree, so we may send you our emails."),
    "Choose from the list.": lambda: _("Choose from the list."),
    "Choose one of the answers.": lambda: _("Choose one of the answers."),
    "Something went wrong; please submit the form again.": lambda: _("Something went wrong; please submit the form again."),
    "This form is not valid any more; reload the page and try again.":
        lambda: _("This form is not valid any more; reload the page and try again."),
    "That was very fast; please check the form and submit it again.":
        lambda: _("That was very fast; please check the form and submit it again."),
    "This address was signed up several times just now; try again in an hour.":
        lambda: _("This address was signed up several times just now; try again in an hour."),
}


def _form(name: str) -> SignupForm | None:
    if text_problem(name) is not None:  # a name no form can have (a NUL...): not found, never a database error
        return None
    return db_session().scalar(select(SignupForm).where(SignupForm.name == name))


def _secret() -> str:
    return config().web.secret_key or config().tracking.secret


@blueprint.route("/f/<name>", methods=["GET", "POST"])
def signup(name: str):
    form = _form(name)
    embed = request.args.get("embed") == "1"
    if form is None or not _secret():
        return render_template("survey_invalid.html", embed=embed), 404
    if request.method != "POST":
        token = form_token(_secret(), form.id, utcnow())
        return render_template("signup_form.html", form=form, token=token, values={}, errors={}, embed=embed)
    data = {key: request.form.get(key, "") for key in ("email", "first_name", "consent", "answer", "website",
                                                        "form_token")}
    data["interests"] = request.form.getlist("interests")
    session = db_session()
    ip = client_ip(request.remote_addr, request.headers.get("X-Forwarded-For"), config().web.trusted_proxies)
    result = submit_signup(session, form, data, secret=_secret(), settings=config().forms, now=utcnow(), ip=ip,
                           user_agent=request.headers.get("User-Agent"))
    if not result.ok:
        session.rollback()
        errors = {key: MESSAGES.get(message, lambda m=message: m)() for key, message in result.errors.items()}
        token = data["form_token"] if "form" not in result.errors else form_token(_secret(), form.id, utcnow())
        return render_template("signup_form.html", form=form, token=token, values=data, errors=errors,
                               embed=embed), 400
    session.commit()
    _ask_mailchimp(form, result)
    return render_template("signup_thanks.html", form=form, embed=embed)


def _ask_mailchimp(form: SignupForm, result) -> None:
    """With Mailchimp configured, the member is created pending: Mailchimp sends its double opt-in mail."""
    settings = config()
    if not settings.mailchimp.api_key:
        return
    from ..providers import platform_factory

    audience = db_session().get(Audience, form.audience_id)
    list_id = audience.provider_list_id or settings.mailchimp.list_id
    try:
        refused = platform_factory(settings, audience.provider)().add_pending_member(list_id, result.email,
                                                                                   result.merge_fields)
    except Exception:  # noqa: BLE001 - the sign-up is stored; the next pull or a retry brings it to Mailchimp
        log.exception("sign-up of %s could not be sent to Mailchimp", result.email)
        return
    if refused:
        log.warning("Mailchimp refused sign-up of %s: %s", result.email, refused)


@blueprint.route("/f/<name>/confirm/<token>", methods=["GET", "POST"])
def confirm(name: str, token: str):
    form = _form(name)
    submission_id = read_confirmation_token(_secret(), token) if form is not None and _secret() else None
    if submission_id is None:
        return render_template("survey_invalid.html"), 404
    if request.method != "POST":
        return render_template("signup_confirm.html", form=form)
    session = db_session()
    if confirm_submission(session, submission_id, utcnow()) is None:
        return render_template("survey_invalid.html"), 404
    session.commit()
    return render_template("signup_thanks.html", form=form, confirmed=True)
