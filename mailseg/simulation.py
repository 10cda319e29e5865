"""`mailseg simulate --weeks N`: the scheduled chain run day by day with an advancing clock, against
the sandbox platform, so policies act, subscribers react, and experiments close.

Every simulated day at 10:00 UTC takes ONE snapshot of the effective configuration (file + panel
settings), as the scheduler's jobs do (scheduler.jobs.snapshot), and runs for the audience, with that
snapshot and the day's moment as as_of: delivery (the sandbox's clock moves to the moment: hidden
states drift, scheduled campaigns and due campaign-plan occurrences go out) -> pull -> the
scheduler's chain in its order (classify, then jobs.follow_ups: value, segments, policies, sync,
uplift verdicts; the outlook last). Each step is the scheduler's Step:
(db, config, audience_id, *, as_of) -> bool.
"""

from __future__ import annotations

import time as clock
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from .config import Config
from .db import Database
from .models import Audience, CampaignPlan, SandboxList
from .progress import Progress
from .scheduler import jobs

DAY = timedelta(days=1)
DAILY_AT = timedelta(hours=10)
ChainStep = Callable[..., bool]


class SimulationError(RuntimeError):
    pass


def delivery_step(db: Database, config: Config, audience_id: int, *, as_of: datetime) -> bool:
    """The platform's side of the day: the sandbox clock moves to as_of (delivering what was
    scheduled), then the campaign plans' occurrences due since the last day go out. `config` is the
    day's snapshot."""
    from .policies.plans import run_occurrence
    from .providers import platform_factory
    from .sandbox import world
    from .schedules import make_trigger

    with db.session() as session:
        list_id = _list_id(session, audience_id, config)
        previous = session.scalar(select(SandboxList.clock).where(SandboxList.id == list_id))
        world.set_clock(session, list_id, as_of, config.sandbox)
        session.commit()
        since = previous or as_of - DAY
        for plan in session.scalars(select(CampaignPlan).where(CampaignPlan.audience_id == audience_id)).all():
            trigger = make_trigger(plan.cadence, plan.timezone)
            fire = trigger.get_next_fire_time(None, since + timedelta(seconds=1))
            while fire is not None and fire <= as_of:
                run_occurrence(session, plan.id, config, platform_factory(config), now=fire)
                fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return True


def _list_id(session: Session, audience_id: int, config: Config) -> str:
    from .sync.classes import provider_list_id

    return provider_list_id(session.get(Audience, audience_id), config)


def chain(config: Config) -> list[tuple[str, ChainStep]]:
    """The day's steps by name: the platform's delivery, the pull, then the scheduler's chain for this
    configuration (classify, its follow-ups, the outlook last, as jobs.run_chain runs them)."""
    steps = [delivery_step, jobs.pull_step, jobs.classify_step, *jobs.follow_ups(config), jobs.outlook_step]
    return [(step.__name__.removesuffix("_step"), step) for step in steps]


@dataclass
class SimulationReport:
    start: datetime
    end: datetime
    days: int = 0
    seconds: dict[str, float] = field(default_factory=dict)  # step -> total seconds
    week_seconds: list[float] = field(default_factory=list)

    @property
    def total_seconds(self) -> float:
        return sum(self.seconds.values())

    def shares(self) -> dict[str, float]:
        total = self.total_seconds or 1.0
        return {name: spent / total for name, spent in self.seconds.items()}


def next_moment(db: Database, audience_id: int, config: Config) -> datetime:
    """The first simulated day: the day after the sandbox clock (or after now when it has none).
    `config` is an effective configuration (a snapshot)."""
    with db.session() as session:
        clock_now = session.scalar(select(SandboxList.clock).where(
            SandboxList.id == _list_id(session, audience_id, config)))
    base = clock_now or datetime.now(timezone.utc)
    return datetime.combine(base.date(), datetime.min.time(), tzinfo=timezone.utc) + DAY + DAILY_AT


def simulate(db: Database, config: Config, audience_id: int, *, weeks: int, start: datetime | None = None,
             step_days: int = 1, progress: Progress | None = None,
             after_step: Callable[[str, datetime], None] | None = None) -> SimulationReport:
    """Run the chain every `step_days` days for `weeks` weeks from `start` (default: the day after
    the sandbox clock), one configuration snapshot per simulated day. `after_step(name, as_of)` runs
    after each step, outside its timing (a benchmark's stand-in for autovacuum). Stops with
    SimulationError naming the step and day that failed."""
    if config.platform.kind != "sandbox":
        raise SimulationError("simulate runs against the sandbox platform: set [platform] kind = \"sandbox\" "
                              "(or MAILSEG_PLATFORM_KIND=sandbox)")
    moment = start or next_moment(db, audience_id, jobs.snapshot(db, config)[0])
    report = SimulationReport(moment, moment)
    week_started, week_spent = 0, 0.0
    for day in range(0, weeks * 7, step_days):
        as_of = moment + timedelta(days=day)
        today, _ = jobs.snapshot(db, config)  # the day's effective configuration, for every step
        for name, step in chain(today):
            began = clock.perf_counter()
            ok = step(db, today, audience_id, as_of=as_of)
            spent = clock.perf_counter() - began
            report.seconds[name] = report.seconds.get(name, 0.0) + spent
            week_spent += spent
            if not ok:
                raise SimulationError(f"step {name} failed on simulated day {as_of:%Y-%m-%d} (see `mailseg runs`)")
            if after_step is not None:
                after_step(name, as_of)
        report.days += 1
        report.end = as_of
        if (day + step_days) // 7 > week_started:
            report.week_seconds.append(week_spent)
            week_started, week_spent = (day + step_days) // 7, 0.0
        if progress is not None:
            progress.advance(step_days)
    return report
