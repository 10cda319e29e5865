"""One-click survey answer links: GET shows a confirmation page and records nothing (mail security
scanners fetch every link); POST records the answer, once. Requests from known scanner user agents
and networks (the flagging rules) are never recorded."""

from __future__ import annotations

import logging

from flask import Blueprint, abort, render_template, request
from flask_babel import gettext as _
from sqlalchemy import select

from ..ingest.flagging import flag_event
from ..models import Subscriber, Survey, utcnow
from ..web import config, db_session
from ..web.client_ip import client_ip
from .links import read_answer_token
from .store import record_answer

log = logging.getLogger(__name__)
blueprint = Blueprint("survey_answer", __name__)


def _invalid():
    return render_template("survey_invalid.html"), 404


def _answer_page(survey: Survey, subscriber: Subscriber, chosen: str):
    """GET: the chosen answer pre-selected and a button; POST: record it (unless a scanner sent it)."""
    if request.method != "POST":  # GET and HEAD: scanners and link checkers fetch every link
        return render_template("survey_answer.html", survey=survey, chosen=chosen)
    answer = request.form.get("answer", chosen)
    if answer not in survey.answers:
        return render_template("survey_answer.html", survey=survey, chosen=chosen,
                               error=_("Choose one of the answers.")), 400
    user_agent = request.headers.get("User-Agent")
    ip = client_ip(request.remote_addr, request.headers.get("X-Forwarded-For"), config().web.trusted_proxies)
    flag = flag_event("click", user_agent, ip, config().flagging)
    if flag.is_machine:
        log.info("survey answer from a scanner not recorded (%s)", flag.reason)
        return render_template("survey_thanks.html", survey=survey, answer=answer), 202
    session = db_session()
    record_answer(session, survey, subscriber.id, answer, at=utcnow(), ip=ip, user_agent=user_agent)
    session.commit()
    return render_template("survey_thanks.html", survey=survey, answer=answer)


@blueprint.route("/s/<token>", methods=["GET", "POST"])
def signed_answer(token: str):
    """A signed per-subscriber link (mail mailseg renders)."""
    content = read_answer_token(config().tracking.secret, token)
    if content is None:
        return _invalid()
    session = db_session()
    survey = session.get(Survey, content.survey_id)
    subscriber = session.get(Subscriber, content.subscriber_id)
    if (survey is None or subscriber is None or subscriber.audience_id != content.audience_id
            or survey.audience_id != content.audience_id or content.answer not in survey.answers):
        return _invalid()
    return _answer_page(survey, subscriber, content.answer)


@blueprint.route("/s/m/<int:survey_id>/<answer>", methods=["GET", "POST"])
def mailchimp_answer(survey_id: int, answer: str):
    """A link with Mailchimp's *|UNIQID|* (?u=): the member's unique_email_id names the subscriber."""
    from ..values import is_id, text_problem

    if not is_id(survey_id) or text_problem(answer) is not None:
        abort(404)  # no survey can have that id or answer
    session = db_session()
    survey = session.get(Survey, survey_id)
    uniqid = (request.args.get("u") or "").strip()
    if survey is None or answer not in survey.answers or not uniqid or uniqid == "*|UNIQID|*":
        return _invalid()
    subscriber = session.scalar(select(Subscriber).where(Subscriber.audience_id == survey.audience_id,
                                                         Subscriber.unique_email_id == uniqid).limit(1))
    if subscriber is None:
        return _invalid()
    return _answer_page(survey, subscriber, answer)
