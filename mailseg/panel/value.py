"""The Value page: R x F heatmap, RFM segments, ABC Pareto, CLV distribution and top customers,
quadrants, segment transitions; all from mailseg.reports.value."""

from __future__ import annotations

from datetime import timedelta

from flask import render_template

from ..models import utcnow
from ..reports import value as reports
from ..web import db_session
from .common import current_audience, panel_blueprint

blueprint = panel_blueprint("value", __name__)
TRANSITION_DAYS = 30


@blueprint.get("/value")
def index():
    audience = current_audience()
    session = db_session()
    if audience is None or not reports.has_values(session, audience.id):
        status = reports.model_status(session, audience.id) if audience is not None else None
        return render_template("value.html", audience=audience, empty=True, status=status)
    segments, prospects = reports.segment_table(session, audience.id)
    moves = reports.segment_transitions(session, audience.id, utcnow() - timedelta(days=TRANSITION_DAYS))
    move_names = sorted({name for pair in moves for name in pair})
    return render_template(
        "value.html", audience=audience, empty=False, grid=reports.rf_grid(session, audience.id),
        segments=segments, prospects=prospects, abc=reports.abc_summary(session, audience.id),
        pareto=reports.pareto(session, audience.id), histogram=reports.clv_histogram(session, audience.id),
        top=reports.top_customers(session, audience.id), quadrants=reports.quadrants(session, audience.id),
        moves=moves, move_names=move_names, days=TRANSITION_DAYS, status=reports.model_status(session, audience.id))
