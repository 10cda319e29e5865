"""Sent campaigns with human and machine opens and clicks, resend versions under their original,
and scheduled campaigns."""

from __future__ import annotations

from flask import abort, render_template, request, url_for

from ..reports.campaigns import PAGE_SIZE, scheduled_campaigns, sent_campaigns
from ..timeutil import isoformat_utc, parse_datetime
from ..web import db_session
from .common import current_audience, panel_blueprint

blueprint = panel_blueprint("campaigns", __name__)


@blueprint.get("/campaigns")
def index():
    audience = current_audience()
    if audience is None:
        return render_template("campaigns.html", audience=None, campaigns=[], scheduled=[], older_url=None)
    try:
        before = parse_datetime(request.args["before"]) if request.args.get("before") else None
    except ValueError as exc:
        abort(400, description=str(exc))
    session = db_session()
    campaigns = sent_campaigns(session, audience.id, before=before)
    older_url = (url_for("campaigns.index", before=isoformat_utc(campaigns[-1].campaign.sent_at))
                 if len(campaigns) == PAGE_SIZE else None)
    return render_template("campaigns.html", audience=audience, campaigns=campaigns,
                           scheduled=scheduled_campaigns(session, audience.id), older_url=older_url)
