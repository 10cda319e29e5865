"""What the scheduler runs. Each job is a plain function over a Database and Config that calls the
domain for every audience; every step records its own job run (mailseg.runs), so `mailseg runs`
and the panel show each one. Jobs are idempotent: running one twice does no harm."""

from __future__ import annotations

import logging
from typing import Callable

from sqlalchemy import select

from ..config import Config
from ..db import Database
from ..models import Audience

log = logging.getLogger(__name__)

Job = Callable[[Database, Config], None]


def audience_ids(db: Database) -> list[int]:
    with db.session() as session:
        return list(session.scalars(select(Audience.id).order_by(Audience.id)))


def classify_all(db: Database, config: Config) -> None:
    """Classify every audience, then run its policies and sync its tags (each only if the step before succeeded)."""
    from ..engagement import classify_audience
    from ..settings import effective_config

    for audience_id in audience_ids(db):
        with db.session() as session:
            try:
                settings = effective_config(session, config).engagement
                result = classify_audience(session, audience_id, settings)
            except Exception:  # recorded as a failed run by classify_audience; go on with the next audience
                log.exception("classification of audience %s failed", audience_id)
                continue
        log.info("audience %s classified: %s changes", audience_id, result.changes)
        for step in FOLLOW_UPS:
            if not step(db, config, audience_id):
                break


# Steps run after a successful classification, in order: (db, config, audience_id) -> succeeded.
FOLLOW_UPS: list[Callable[[Database, Config, int], bool]] = []

JOBS: dict[str, Job] = {
    "classify": classify_all,
}


def run_job(name: str) -> None:
    """The entry point APScheduler stores (by reference, with the job's name as its argument)."""
    from .service import current_context

    db, config = current_context()
    JOBS[name](db, config)
