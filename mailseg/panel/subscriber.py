"""One subscriber: profile, merge fields, tags, class and its history, timeline, campaigns received."""

from __future__ import annotations

from flask import abort, render_template, request
from flask_babel import gettext as _

from ..engagement import explain_subscriber
from ..engagement.explain import EVIDENCE_LIMIT
from ..models import utcnow
from ..policies.outlook import policies_run_at, subscriber_outlook
from ..reports.subscriber import (FOLDED_CAMPAIGNS, FOLDED_EVENTS, TIMELINE_LIMIT, campaigns_received, class_history,
                                  event_count, find_subscriber, timeline)
from ..settings import effective_config
from ..value.explain import explain_value
from ..values import MAX_SUBSCRIBER_ID
from ..web import config, db_session
from .common import panel_blueprint

blueprint = panel_blueprint("subscriber", __name__)


@blueprint.get(f"/subscribers/<int(max={MAX_SUBSCRIBER_ID}):subscriber_id>")
def show(subscriber_id: int):
    session = db_session()
    subscriber = find_subscriber(session, subscriber_id)
    if subscriber is None:
        abort(404, description=_("There is no such subscriber."))
    explanation = None
    settings = effective_config(session, config())
    if subscriber.status == "subscribed" or subscriber.engagement_class:
        evidence = TIMELINE_LIMIT if request.args.get("evidence") == "all" else EVIDENCE_LIMIT
        explanation = explain_subscriber(session, subscriber_id, settings.engagement, limit=evidence)
    next_steps = subscriber_outlook(session, subscriber_id, settings, utcnow(), policies_run_at(session))
    received = campaigns_received(session, subscriber_id)
    shown = len(received) if request.args.get("campaigns") == "all" else FOLDED_CAMPAIGNS
    events = timeline(session, subscriber_id, TIMELINE_LIMIT if request.args.get("events") == "all" else FOLDED_EVENTS)
    return render_template("subscriber.html", subscriber=subscriber, events=events,
                           events_total=event_count(session, subscriber_id), history=class_history(session, subscriber_id),
                           received=received[:shown], received_total=len(received), explanation=explanation,
                           next_steps=next_steps, value=explain_value(session, subscriber_id, settings.value))
