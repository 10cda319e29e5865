"""Subscribers by address ("subscribers by email"): found by their key in one statement per batch,
planned as a join with the keys even on a table never analyzed; a job that filled a table refreshes its
statistics (PostgreSQL), so the steps after a first pull are not planned for an empty table."""

from __future__ import annotations

import pytest
from sqlalchemy import event, insert, select

from mailseg.models import Audience, Subscriber
from mailseg.providers.mailchimp import MailchimpPlatform
from mailseg.sqlutil import planned_rows, refresh_statistics
from mailseg.subscribers.lookup import subscriber_ids_by_email, subscribers_by_email
from mailseg.sync.pull import pull_audience

from .factories import LIST_ID, make_audience, make_subscriber


def test_found_by_address_in_their_own_audience_only(session):
    main, other = make_audience(session, "main"), make_audience(session, "other", list_id="list2")
    ann = make_subscriber(session, main, "ann@example.org", status="unsubscribed")
    make_subscriber(session, other, "bob@example.org")
    session.commit()
    found = subscribers_by_email(session, main.id, ["ann@example.org", "bob@example.org", "cy@example.org"],
                                 Subscriber.__table__.c.status)
    assert {email: (row.id, row.status) for email, row in found.items()} == {
        "ann@example.org": (ann.id, "unsubscribed")}
    assert subscriber_ids_by_email(session, main.id, [" ANN@example.org ", None, ""]) == {"ann@example.org": ann.id}


def test_lookup_joins_the_keys_on_a_table_never_analyzed(session, database):
    if database.dialect != "postgresql":
        pytest.skip("PostgreSQL's planner")
    audience = make_audience(session)
    session.execute(insert(Subscriber), [{"audience_id": audience.id, "email": f"s{i:05d}@example.org",
                                          "status": "subscribed", "merge_fields": {}, "tags": []}
                                         for i in range(20_000)])
    session.commit()
    assert planned_rows(session, "subscribers") <= 0  # no statistics: the case a first pull leaves
    issued = []

    def keep(conn, cursor, statement, parameters, context, executemany):
        if "FROM subscribers" in statement:
            issued.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", keep)
    try:
        emails = [f"s{i:05d}@example.org" for i in range(0, 20_000, 20)]
        assert len(subscriber_ids_by_email(session, audience.id, emails)) == 1000
    finally:
        event.remove(database.engine, "before_cursor_execute", keep)
    (statement, parameters), = issued
    connection = session.connection()
    plans = []
    for mode in ("force_custom_plan", "force_generic_plan"):  # psycopg prepares a statement run five times
        connection.exec_driver_sql(f"SET plan_cache_mode = {mode}")
        plans.append("\n".join(connection.exec_driver_sql("EXPLAIN " + statement, parameters).scalars()))
    connection.exec_driver_sql("RESET plan_cache_mode")
    plan = "\n".join(plans)
    # a join with the unnested keys (probes, or one hash): no row compared with the whole array, and
    # not the audience through the (audience_id, email) index
    assert all("Hash Join" in p or "Nested Loop" in p for p in plans), plan[:2000]
    assert "ANY" not in plan and "audience" not in plan, plan[:2000]


def test_statistics_refreshed_after_a_job_filled_a_table(session, database, mailchimp_config, fake_mailchimp):
    fake_mailchimp.add_members(LIST_ID, [f"m{i}@example.org" for i in range(120)])
    audience = Audience(name="default", provider_list_id=LIST_ID)
    session.add(audience)
    session.commit()
    pull_audience(session, audience, mailchimp_config, MailchimpPlatform(mailchimp_config.mailchimp))
    if database.dialect != "postgresql":
        assert refresh_statistics(session, {"subscribers": 120}) == []  # SQLite plans without them
        return
    assert planned_rows(session, "subscribers") == 120  # the first pull analyzed what it filled
    assert refresh_statistics(session, {"subscribers": 50 + 12}) == []  # autovacuum's rule: not yet
    assert refresh_statistics(session, {"subscribers": 50 + 13}) == ["subscribers"]
    assert session.scalar(select(Subscriber.id).limit(1)) is not None
