"""Sync and webhooks: last sync runs per tag, "sync now" / "dry run" queued for the scheduler,
and the webhook URLs to paste into Mailchimp and Mandrill."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..jobrequests import pending_requests, recent_requests, request_job
from ..reports.sync import sync_runs, webhook_urls
from ..scheduler.jobs import mailchimp_configured
from ..web import config, db_session
from .common import admin_required, current_audience, panel_blueprint

blueprint = panel_blueprint("sync", __name__)


@blueprint.get("/sync")
def index():
    session = db_session()
    audience = current_audience()
    return render_template("sync.html", audience=audience,
                           runs=sync_runs(session, audience.id if audience else None),
                           pending=pending_requests(session, job="sync"), requests=recent_requests(session, job="sync"),
                           webhooks=webhook_urls(config(), reveal=current_user.is_admin, served_at=request.host_url),
                           mailchimp_ready=mailchimp_configured(config()))


@blueprint.post("/sync/requests")
@admin_required
def queue():
    """Queue a sync (or a dry run); the scheduler runs it, not this request."""
    audience = current_audience()
    dry_run = request.form.get("mode") == "dry_run"
    if not dry_run and not mailchimp_configured(config()):
        flash(_("Mailchimp is not configured, so a sync cannot run: set mailchimp.api_key, mailchimp.server and "
                "mailchimp.list_id. A dry run works without it."), "error")
        return redirect(url_for("sync.index"))
    session = db_session()
    request_job(session, "sync", requested_by=current_user.email, audience_id=audience.id if audience else None,
                options={"dry_run": dry_run})
    session.commit()
    flash(_("Dry run queued.") if dry_run else _("Sync queued."), "success")
    return redirect(url_for("sync.index"))
