"""Citus (docs/SCALING.md): `mailseg db distribute`, the heavy statements executed on the shards
(read from EXPLAIN), and classify / value / segments giving on Citus what they give on one PostgreSQL.

The Citus tests run when MAILSEG_TEST_CITUS_URL is set (tests/conftest.py), skipped otherwise."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Iterator

import psycopg
import pytest
from sqlalchemy import event, select, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ClauseElement, Executable

from mailseg.config import Config
from mailseg.db import Database
from mailseg.distribute import DistributeError, distribute, is_distributed
from mailseg.engagement.classify import classify_audience, stage_changes_query
from mailseg.engagement.rules import window_counts
from mailseg.engagement.window import window_bounds
from mailseg.models import Subscriber, SubscriberStatusChange, SubscriberValue
from mailseg.segments import add_segment, refresh_segment
from mailseg.segments.compiler import members_query
from mailseg.segments import store as segment_store
from mailseg.segments.grammar import parse_rule
from mailseg.sqlutil import drop_staging
from mailseg.subscribers.status import StatusChange, change_statuses
from mailseg.value import run as value_run
from mailseg.value.run import value_audience
from mailseg.value.sql import lookback_totals
from mailseg.value.totals import ORDER_TOTALS, order_totals_select

from .conftest import _truncate_postgres
from .factories import AS_OF, make_audience, make_event, make_order, make_subscriber

SIX_CONDITIONS = {"all": [
    {"field": "engagement_class", "op": "in", "value": ["active", "semi_active"]},
    {"field": "rfm_segment", "op": "in", "value": ["at_risk", "cant_lose_them", "lost"]},
    {"field": "merge.city", "op": "=", "value": "kyiv"},
    {"event": "click", "url_contains": "pricing", "within_days": 90, "count": {"op": ">=", "value": 1}},
    {"not": {"field": "tags", "op": "contains", "value": "vip"}},
    {"field": "subscribed_at", "op": "before", "value": "2026-08-01"},
]}


class Explain(Executable, ClauseElement):
    inherit_cache = False

    def __init__(self, query) -> None:
        self.query = query


@compiles(Explain)
def _compile_explain(element: Explain, compiler, **kw) -> str:
    return f"EXPLAIN {compiler.process(element.query, **kw)}"


def test_distribute_names_what_is_missing_and_runs_again(database):
    if is_distributed(database):
        again = distribute(database)  # idempotent: nothing left to do
        assert again.distributed == [] and again.reference == [] and "events" in again.already
        return
    with pytest.raises(DistributeError) as refused:
        distribute(database)
    expected = "cannot be distributed" if database.dialect == "sqlite" else "has no citus extension"
    assert expected in str(refused.value) and "docs/SCALING.md" in str(refused.value)


@pytest.fixture
def citus(citus_url):
    db = Database(citus_url)
    _truncate_postgres(db)
    yield db
    db.dispose()


def _fill(session) -> int:
    """A few subscribers of every kind: engaged, lapsed, buyers, a vip, one unsubscribed."""
    audience = make_audience(session)
    for n in range(24):
        email = f"p{n:02d}@example.org"
        sub = make_subscriber(session, audience, email, subscribed_at=AS_OF - timedelta(days=400 - n))
        sub.merge_fields = {"city": "kyiv" if n % 2 else "lviv"}
        sub.tags = ["vip"] if n % 7 == 0 else []
        for k in range(n % 5):
            make_event(session, sub.id, "send", AS_OF - timedelta(days=10 + 9 * k))
            make_event(session, sub.id, "open", AS_OF - timedelta(days=9 + 9 * k))
        if n % 3 == 0:
            make_event(session, sub.id, "click", AS_OF - timedelta(days=5), url="https://shop.example/pricing")
        for k in range(n % 4):
            make_order(session, audience, email, AS_OF - timedelta(days=20 + 40 * k), Decimal(10 + n), order_id=f"o{n}-{k}")
        if n == 23:
            sub.status = "unsubscribed"
    session.commit()
    return audience.id


def _plan(session, query) -> str:
    return "\n".join(session.execute(Explain(query)).scalars())


def _assert_pushed_down(plan: str, shards: int) -> None:
    """Executed as one task per shard on the workers: no intermediate result pulled to the coordinator
    (a "Distributed Subplan") and no repartition of rows between nodes."""
    assert plan.splitlines()[0].lstrip().startswith("Custom Scan (Citus Adaptive)"), plan
    assert f"Task Count: {shards}" in plan, plan
    assert "Subplan" not in plan and "repartition" not in plan.lower(), plan


def test_the_heavy_statements_run_on_each_shard(citus):
    config = Config()
    with citus.session() as session:
        audience_id = _fill(session)
        shards = session.execute(Explain(select(Subscriber.id))).scalars().all()
        shard_count = int(next(line for line in shards if "Task Count" in line).split(":")[1])
        window_start, as_of = window_bounds(AS_OF, config.engagement.window_months)
        window = window_counts(audience_id, window_start, as_of, config.engagement)
        _assert_pushed_down(_plan(session, stage_changes_query(audience_id, window_start, as_of, config.engagement,
                                                               window)), shard_count)
        # the value run's build of the order totals and its lookback aggregate beside them
        _assert_pushed_down(_plan(session, order_totals_select(session, audience_id)), shard_count)
        lookback = lookback_totals(session, ORDER_TOTALS, audience_id, AS_OF - timedelta(days=365), AS_OF)
        _assert_pushed_down(_plan(session, lookback), shard_count)
        members = members_query(parse_rule(SIX_CONDITIONS), audience_id, AS_OF, config.engagement)
        _assert_pushed_down(_plan(session, members), shard_count)


def test_status_changes_of_many_subscribers_in_one_call(citus):
    """The rows of a batch lie on many shards, where SELECT ... FOR UPDATE is refused: the batch is
    locked, changed and recorded all the same (a sunset policy or an import changes thousands at once)."""
    with citus.session() as session:
        audience_id = _fill(session)
        ids = session.scalars(select(Subscriber.id).where(Subscriber.audience_id == audience_id,
                                                          Subscriber.status == "subscribed")
                              .order_by(Subscriber.id).limit(12)).all()
        changes = [StatusChange(sid, "cleaned", AS_OF - timedelta(days=n), "test") for n, sid in enumerate(ids)]
        assert change_statuses(session, changes) == 12
        session.commit()
        assert set(session.scalars(select(Subscriber.status).where(Subscriber.id.in_(ids)))) == {"cleaned"}
        recorded = session.execute(select(SubscriberStatusChange.subscriber_id, SubscriberStatusChange.to_status)
                                   .where(SubscriberStatusChange.subscriber_id.in_(ids))).all()
        assert sorted(recorded) == sorted((sid, "cleaned") for sid in ids)
        assert change_statuses(session, changes) == 0  # already cleaned: nothing applied twice


@contextmanager
def _writes_to(db: Database, tables: tuple[str, ...]) -> Iterator[list[tuple[str, str]]]:
    """(table, SQL with its parameters bound) of every INSERT INTO / DELETE FROM one of `tables`
    that the code runs."""
    writes: list[tuple[str, str]] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        words = statement.split(None, 3)
        if len(words) > 2 and (words[0], words[1]) in (("INSERT", "INTO"), ("DELETE", "FROM")) and words[2] in tables:
            writes.append((words[2], psycopg.ClientCursor(cursor.connection).mogrify(statement, parameters)))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield writes
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def _explain_kept(session, writes: list[tuple[str, str]], staging: tuple[str, ...]) -> dict[str, list[str]]:
    """The plans of the recorded writes, read after the job committed with its staging tables kept
    (Citus refuses an EXPLAIN inside the value run's transaction: it already wrote a reference table
    locally), then the staging tables dropped."""
    plans: dict[str, list[str]] = {}
    for name, sql in writes:
        plans.setdefault(name, []).append("\n".join(session.execute(text(f"EXPLAIN {sql}")).scalars()))
    drop_staging(session, *staging)
    session.commit()
    return plans


def test_value_staging_and_segment_evaluation_run_on_each_shard(citus, monkeypatch):
    """The value run's order totals build, changed rows, stored values, and a segment evaluation
    (staging, members in and out) execute as one task per shard: the staging tables are distributed
    and co-located with the subscribers (the computed figures reach theirs by COPY, row by row to its
    shard). Through the coordinator: the history rows (their ids come from a sequence, and Citus
    evaluates nextval() on the coordinator): their SELECT runs per shard, and only the changed rows
    travel."""
    config = Config()
    keep = lambda session, *names: None  # noqa: E731  (the staging tables stay until explained)
    monkeypatch.setattr(value_run, "drop_staging", keep)
    monkeypatch.setattr(segment_store, "drop_staging", keep)
    with citus.session() as session:
        audience_id = _fill(session)
        shard_count = int(next(line for line in session.execute(Explain(select(Subscriber.id))).scalars()
                               if "Task Count" in line).split(":")[1])
        classify_audience(session, audience_id, config.engagement, as_of=AS_OF)
        segment = add_segment(session, audience_id, "six", SIX_CONDITIONS)
        session.commit()
        value_pushed = ("order_totals", "value_changed", "subscriber_values")
        through_coordinator = ("value_changes", "segment_changes")
        with _writes_to(citus, value_pushed + through_coordinator) as writes:
            value_audience(session, audience_id, config.value, as_of=AS_OF)
        plans = _explain_kept(session, writes, ("value_changed", "value_computed"))
        segment_pushed = ("segment_staging", "segment_members")
        # the first evaluation: members join; a year later: members leave (DELETE ... NOT EXISTS)
        for as_of in (AS_OF, AS_OF + timedelta(days=365)):
            with _writes_to(citus, segment_pushed + through_coordinator) as writes:
                refresh_segment(session, segment, config.engagement, as_of=as_of)
                session.commit()
            for name, found in _explain_kept(session, writes, ("segment_staging",)).items():
                plans.setdefault(name, []).extend(found)
    assert set(plans) == set(value_pushed + segment_pushed + through_coordinator), sorted(plans)
    assert any(plan.startswith("Custom Scan") and "Delete" in plan for plan in plans["segment_members"]), \
        plans["segment_members"]
    for name in value_pushed + segment_pushed:
        for plan in plans[name]:
            _assert_pushed_down(plan, shard_count)
    for name in through_coordinator:
        for plan in plans[name]:
            assert "INSERT/SELECT method: pull to coordinator" in plan and f"Task Count: {shard_count}" in plan, plan


def test_classification_staging_and_current_classes_run_on_each_shard(citus, monkeypatch):
    """A first classification stages everyone's change in a distributed table filled on each shard and
    writes the current classes from it per shard; only the history rows (sequence ids, nextval() on
    the coordinator) pass through it. A year later the classes move again: the same, with UPDATE and
    DELETE forms not recorded here (tests/test_classification.py checks their results)."""
    from mailseg.engagement import classify as classify_module

    config = Config()
    monkeypatch.setattr(classify_module, "drop_staging", lambda session, *names: None)
    with citus.session() as session:
        audience_id = _fill(session)
        shard_count = int(next(line for line in session.execute(Explain(select(Subscriber.id))).scalars()
                               if "Task Count" in line).split(":")[1])
        pushed, through_coordinator = ("classify_staging", "subscriber_classes"), ("class_changes",)
        with _writes_to(citus, pushed + through_coordinator) as writes:
            classify_audience(session, audience_id, config.engagement, as_of=AS_OF)
        plans = _explain_kept(session, writes, ("classify_staging",))
    assert set(plans) == set(pushed + through_coordinator), sorted(plans)
    for name in pushed:
        for plan in plans[name]:
            _assert_pushed_down(plan, shard_count)
    for plan in plans["class_changes"]:
        assert "INSERT/SELECT method: pull to coordinator" in plan and f"Task Count: {shard_count}" in plan, plan


def _results(db: Database) -> dict:
    """Classify, value and a 6-condition segment on the same data; the outcome per e-mail."""
    config = Config()
    with db.session() as session:
        audience_id = _fill(session)
        classify_audience(session, audience_id, config.engagement, as_of=AS_OF)
        value_audience(session, audience_id, config.value, as_of=AS_OF)
        segment = add_segment(session, audience_id, "six", SIX_CONDITIONS)
        session.commit()
        refresh_segment(session, segment, config.engagement, as_of=AS_OF)
        session.commit()
        rows = session.execute(
            select(Subscriber.email, Subscriber.engagement_class, SubscriberValue.rfm_segment, SubscriberValue.frequency,
                   SubscriberValue.monetary, SubscriberValue.r_score, SubscriberValue.abc_class)
            .join(SubscriberValue, SubscriberValue.subscriber_id == Subscriber.id, isouter=True)).all()
        members = set(session.scalars(
            select(Subscriber.email).where(Subscriber.id.in_(select(members_query(
                parse_rule(SIX_CONDITIONS), audience_id, AS_OF, config.engagement).subquery().c.id)))))
    return {"subscribers": {row[0]: tuple(row[1:]) for row in rows}, "members": members}


def test_citus_gives_what_one_postgresql_gives(citus, postgres_url):
    single = Database(postgres_url)
    _truncate_postgres(single)
    try:
        expected = _results(single)
    finally:
        single.dispose()
    got = _results(citus)
    assert got == expected
    assert {c for c, *_ in expected["subscribers"].values()} >= {"active", "inactive"} and expected["members"]


def test_distribute_without_workers_says_how_to_register_them(citus_url):
    """A database with citus on the coordinator alone: no worker registered in it."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"mailseg_citus_lone_{uuid.uuid4().hex[:8]}"
    server = make_url(citus_url)
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    lone = create_engine(server.set(database=name), isolation_level="AUTOCOMMIT")
    with lone.connect() as conn:
        conn.execute(text("CREATE EXTENSION citus"))
    lone.dispose()
    db = Database(server.set(database=name).render_as_string(hide_password=False))
    try:
        with pytest.raises(DistributeError, match="no active workers: register them .*citus_add_node"):
            distribute(db)
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
