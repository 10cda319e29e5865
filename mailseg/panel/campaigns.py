"""Sent campaigns with human and machine opens and clicks, resend versions under their original,
and scheduled campaigns."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..policies.resend import CampaignNotFound, configure_resend
from ..reports.campaigns import PAGE_SIZE, scheduled_campaigns, sent_campaigns
from ..settings import audit
from ..timeutil import isoformat_utc, parse_datetime
from ..web import db_session
from .common import admin_required, current_audience, panel_blueprint

RESEND_MODES = {"on": True, "off": False, "rule": None}

blueprint = panel_blueprint("campaigns", __name__)


@blueprint.get("/campaigns")
def index():
    audience = current_audience()
    if audience is None:
        return render_template("campaigns.html", audience=None, campaigns=[], scheduled=[], older_url=None)
    try:
        before = parse_datetime(request.args["before"]) if request.args.get("before") else None
    except ValueError:
        abort(400, description=_("The “before” parameter is not a date and time: %(value)s",
                                 value=request.args["before"]))
    session = db_session()
    campaigns = sent_campaigns(session, audience.id, before=before)
    older_url = (url_for("campaigns.index", before=isoformat_utc(campaigns[-1].campaign.sent_at))
                 if len(campaigns) == PAGE_SIZE else None)
    return render_template("campaigns.html", audience=audience, campaigns=campaigns,
                           scheduled=scheduled_campaigns(session, audience.id), older_url=older_url)


@blueprint.post("/campaigns/<provider_id>/resend")
@admin_required
def set_resend(provider_id: str):
    """Switch resend to non-openers for one campaign: on, off, or follow resend.all_regular (audited)."""
    audience = current_audience()
    mode = request.form.get("mode")
    if audience is None or mode not in RESEND_MODES:
        abort(400, description=_("The resend mode must be on, off or rule."))
    session = db_session()
    try:
        before = configure_resend(session, audience.id, provider_id).resend_enabled
        configure_resend(session, audience.id, provider_id, enabled=RESEND_MODES[mode])
    except CampaignNotFound:
        abort(404, description=_("There is no campaign %(campaign)s in this audience.", campaign=provider_id))
    audit(session, current_user.email, "campaign", f"{provider_id}.resend_enabled", before, RESEND_MODES[mode])
    session.commit()
    messages = {"on": _("Resend to non-openers is on for %(campaign)s.", campaign=provider_id),
                "off": _("Resend to non-openers is off for %(campaign)s.", campaign=provider_id),
                "rule": _("Resend for %(campaign)s follows the rule (resend.all_regular).", campaign=provider_id)}
    flash(messages[mode], "success")
    return redirect(url_for("campaigns.index"))
