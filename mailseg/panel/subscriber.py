"""One subscriber: profile, merge fields, tags, class and its history, timeline, campaigns received."""

from __future__ import annotations

from flask import abort, render_template

from ..engagement import explain_subscriber
from ..reports.subscriber import campaigns_received, class_history, find_subscriber, timeline
from ..settings import effective_config
from ..value.explain import explain_value
from ..web import config, db_session
from .common import panel_blueprint

blueprint = panel_blueprint("subscriber", __name__)


@blueprint.get("/subscribers/<int:subscriber_id>")
def show(subscriber_id: int):
    session = db_session()
    subscriber = find_subscriber(session, subscriber_id)
    if subscriber is None:
        abort(404, description="No such subscriber.")
    explanation = None
    settings = effective_config(session, config())
    if subscriber.status == "subscribed" or subscriber.engagement_class:
        explanation = explain_subscriber(session, subscriber_id, settings.engagement)
    return render_template("subscriber.html", subscriber=subscriber, events=timeline(session, subscriber_id),
                           history=class_history(session, subscriber_id),
                           received=campaigns_received(session, subscriber_id), explanation=explanation,
                           value=explain_value(session, subscriber_id, settings.value))
