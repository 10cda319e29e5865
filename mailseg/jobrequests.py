"""Jobs asked for in the panel ("sync now", "dry run"). The request only queues them; the
scheduler picks pending requests up (picked_up_at) and runs them outside the web request."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import JobRequest, utcnow

REQUESTABLE_JOBS = ("sync", "classify", "pull")


def request_job(session: Session, job: str, *, requested_by: str, audience_id: int | None = None,
                options: dict[str, Any] | None = None) -> JobRequest:
    if job not in REQUESTABLE_JOBS:
        raise ValueError(f"job must be one of {', '.join(REQUESTABLE_JOBS)}, got {job!r}")
    request = JobRequest(job=job, audience_id=audience_id, options=options or {}, requested_by=requested_by,
                         requested_at=utcnow())
    session.add(request)
    session.flush()
    return request


def pending_requests(session: Session, *, job: str | None = None) -> list[JobRequest]:
    stmt = select(JobRequest).where(JobRequest.picked_up_at.is_(None)).order_by(JobRequest.requested_at, JobRequest.id)
    if job is not None:
        stmt = stmt.where(JobRequest.job == job)
    return list(session.scalars(stmt))


def recent_requests(session: Session, *, job: str | None = None, limit: int = 20) -> list[JobRequest]:
    stmt = select(JobRequest).order_by(JobRequest.requested_at.desc(), JobRequest.id.desc()).limit(limit)
    if job is not None:
        stmt = stmt.where(JobRequest.job == job)
    return list(session.scalars(stmt))


def claim_request(session: Session, request_id: int, *, run_id: int | None = None) -> bool:
    """Mark a request picked up; False when another scheduler process got there first."""
    from sqlalchemy import update

    claimed = session.execute(update(JobRequest).where(JobRequest.id == request_id, JobRequest.picked_up_at.is_(None))
                              .values(picked_up_at=utcnow(), run_id=run_id))
    return claimed.rowcount == 1
