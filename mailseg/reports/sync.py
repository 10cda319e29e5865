"""Sync runs as the panel shows them, and the webhook URLs to paste into the providers."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..config import Config, mask
from ..tracking.rewrite import public_base_url
from ..models import JobRun

TAG_COUNTS = ("added", "removed", "failed")


@dataclass(frozen=True)
class SyncRun:
    run: JobRun
    # tag -> {added, removed, failed}
    tags: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class WebhookUrls:
    mailchimp: str
    mailchimp_configured: bool
    mandrill: str
    mandrill_configured: bool
    base: str
    pixel: str
    click: str


def sync_runs(session: Session, audience_id: int | None, limit: int = 10) -> list[SyncRun]:
    stmt = select(JobRun).where(JobRun.job == "sync").order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(limit)
    if audience_id is not None:
        stmt = stmt.where(or_(JobRun.audience_id == audience_id, JobRun.audience_id.is_(None)))
    return [SyncRun(run, per_tag(run.summary or {})) for run in session.scalars(stmt)]


def per_tag(summary: dict) -> dict[str, dict[str, int]]:
    """The per-tag counts of a sync summary: under "tags", or tag entries at the top level."""
    candidates = summary.get("tags") if isinstance(summary.get("tags"), dict) else summary
    return {tag: {k: counts.get(k, 0) for k in TAG_COUNTS} for tag, counts in sorted(candidates.items())
            if isinstance(counts, dict) and any(k in counts for k in TAG_COUNTS)}


def webhook_urls(config: Config, *, reveal: bool, served_at: str | None = None) -> WebhookUrls:
    """URLs built from web.public_url, else the address the app is served on (Mandrill's from
    mandrill.webhook_url when set, since it signs over that exact string). The Mailchimp secret is
    masked unless `reveal`."""
    base = public_base_url(config, served_at)
    secret = config.mailchimp.webhook_secret
    shown = (secret if reveal else mask(secret)) if secret else "<mailchimp.webhook_secret>"
    return WebhookUrls(mailchimp=f"{base}/webhooks/mailchimp/{shown}", mailchimp_configured=bool(secret),
                       mandrill=config.mandrill.webhook_url or f"{base}/webhooks/mandrill",
                       mandrill_configured=bool(config.mandrill.webhook_key), base=base,
                       pixel=f"{base}/t/o/<token>.gif", click=f"{base}/t/c/<token>")
