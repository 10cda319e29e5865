"""The dashboard: the audience by class now and over time, recent transitions, what happens next,
last runs. Nothing here scans the audience: figures that need a full pass (the frequency cap, the
next actions) come from what the last classification stored (mailseg.policies.outlook)."""

from __future__ import annotations

from datetime import timedelta

from flask import render_template

from ..i18n import label
from ..models import utcnow
from ..policies.outlook import ENABLED_BY, describe, latest_outlook, segment_words
from ..reports.dashboard import class_counts, class_series, last_runs, next_runs, transitions
from ..web import db_session
from .common import current_audience, panel_blueprint

blueprint = panel_blueprint("dashboard", __name__)
TRANSITION_DAYS = 30


@blueprint.get("/")
def index():
    audience = current_audience()
    session = db_session()
    if audience is None:
        return render_template("dashboard.html", audience=None, counts=[], series=None, moves=None,
                               runs=last_runs(session, None), scheduled=next_runs(session), days=TRANSITION_DAYS)
    moves = transitions(session, audience.id, utcnow() - timedelta(days=TRANSITION_DAYS))
    outlook = latest_outlook(session, audience.id)
    series = class_series(session, audience.id)
    return render_template("dashboard.html", audience=audience, counts=class_counts(session, audience.id),
                           cap=outlook.cap if outlook else None, outlook=outlook, describe=describe, segment_words=segment_words,
                           enabled_by=ENABLED_BY,
                           series=series, series_names={name: label(name) for name in series.datasets}, moves=moves,
                           runs=last_runs(session, audience.id), scheduled=next_runs(session), days=TRANSITION_DAYS)
