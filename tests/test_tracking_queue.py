"""Write-behind of pixel opens and clicks through a Redis list: round trip, a drainer that dies
between take and acknowledge, Redis down (direct write), the drain lock and the worker command."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
import redis
from click.testing import CliRunner
from sqlalchemy import delete

from mailseg.cli import main
from mailseg.cli.runtime import Runtime
from mailseg.ingest.drain import drain, start_drainer_thread
from mailseg.ingest.events import EventIn, store_events
from mailseg.ingest.queue import EventQueue, decode, encode
from mailseg.models import Audience, Subscriber
from mailseg.tracking import OpenToken
from mailseg.tracking.rewrite import click_url, open_url
from mailseg.tracking.views import PIXEL

from .conftest import IN_CI
from .factories import T0, client_for, events, subscriber, tracked_recipient

SECRET = "test-tracking-secret"
BASE = "https://track.example.com"
REDIS_URL = os.environ.get("MAILSEG_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
UNREACHABLE = "redis://127.0.0.1:1/0"  # nothing listens on port 1: connection refused at once


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        message = f"Redis at {REDIS_URL} is not reachable ({exc}): the tracking queue tests need it"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return REDIS_URL


@pytest.fixture
def queue_name(redis_url):
    """A key prefix of this test's own, so parallel workers never share lists or locks."""
    name = f"mailseg-test:{uuid.uuid4().hex}"
    yield name
    EventQueue(redis_url, name).delete_all()


@pytest.fixture
def queued(config, redis_url, queue_name):
    return config.replace(tracking={"queue_url": redis_url, "queue_name": queue_name, "queue_batch_size": 2})


@pytest.fixture
def recipient(session):
    return tracked_recipient(session)


def _open(client, recipient, agent="Thunderbird/115"):
    response = client.get(urlsplit(open_url(BASE, SECRET, recipient)).path, headers={"User-Agent": agent},
                          environ_base={"REMOTE_ADDR": "198.51.100.4"})
    assert response.status_code == 200 and response.data == PIXEL
    return response


def test_events_survive_encoding():
    event = EventIn(type="click", occurred_at=T0, source="click", subscriber_id=3, campaign_id=None,
                    url="https://shop.example/é", user_agent="UA", ip="2001:db8::1", amount=Decimal("1.50"),
                    machine_reason="honeypot", sent_at=T0)
    assert decode(encode(7, event)) == (7, event)


def test_pixel_and_click_answer_at_once_and_the_drainer_stores_them(queued, database, session, recipient):
    client = client_for(queued, database)
    queue = EventQueue(queued.tracking.queue_url, queued.tracking.queue_name)
    _open(client, recipient)
    _open(client, recipient, agent="Mozilla/5.0")  # Apple's proxy: flagged when stored
    link = urlsplit(click_url(BASE, SECRET, recipient, "https://shop.example/sale")).path
    honeypot = urlsplit(click_url(BASE, SECRET, recipient, BASE + "/", honeypot=True)).path
    assert client.get(link).headers["Location"] == "https://shop.example/sale"
    assert client.get(honeypot).status_code == 302
    assert client.head(urlsplit(open_url(BASE, SECRET, recipient)).path).status_code == 200  # not recorded
    assert events(session) == [] and queue.pending_count() == 4

    result = drain(database, queue, batch_size=queued.tracking.queue_batch_size, flagging=queued.flagging)

    assert (result.batches, result.stored.inserted, queue.pending_count(), queue.unacknowledged()) == (2, 4, 0, [])
    opens = events(session, type="open")
    assert [(e.source, e.user_agent, e.ip, e.machine_reason) for e in opens] == [
        ("pixel", "Thunderbird/115", "198.51.100.4", None), ("pixel", "Mozilla/5.0", "198.51.100.4", "apple_mpp_user_agent")]
    clicks = events(session, type="click")
    assert {(e.url, e.machine_reason) for e in clicks} == {
        ("https://shop.example/sale", "honeypot_companion"), (BASE + "/", "honeypot")}
    assert all(e.subscriber_id == recipient.subscriber_id and e.campaign_id == recipient.campaign_id
               for e in opens + clicks)


def test_a_batch_taken_by_a_drainer_that_died_is_stored_once_by_the_next(queued, database, session, recipient):
    client = client_for(queued, database)
    queue = EventQueue(queued.tracking.queue_url, queued.tracking.queue_name)
    for agent in ("A/1", "B/1", "C/1"):
        _open(client, recipient, agent)
    # A drainer took two events, stored and committed them, and died before acknowledging.
    taken = queue.take(2)
    store_events(session, recipient.audience_id, [decode(raw)[1] for raw in taken])
    session.commit()
    assert queue.unacknowledged() == taken and queue.pending_count() == 1

    result = drain(database, queue, batch_size=10)

    assert (result.stored.inserted, result.stored.duplicates) == (1, 2)
    assert sorted(e.user_agent for e in events(session, type="open")) == ["A/1", "B/1", "C/1"]
    assert queue.unacknowledged() == [] and queue.pending_count() == 0


def test_a_batch_taken_but_never_stored_is_not_lost(queued, database, session, recipient):
    client = client_for(queued, database)
    queue = EventQueue(queued.tracking.queue_url, queued.tracking.queue_name)
    for agent in ("A/1", "B/1"):
        _open(client, recipient, agent)
    queue.take(2)  # and the drainer died before storing anything
    assert queue.pending_count() == 0

    assert drain(database, queue, batch_size=10).stored.inserted == 2
    assert len(events(session, type="open")) == 2


def test_one_drainer_at_a_time(queued, database, recipient):
    queue = EventQueue(queued.tracking.queue_url, queued.tracking.queue_name)
    with queue.drain_lock() as lease:
        assert lease is not None
        assert drain(database, queue, batch_size=10).busy
    assert not drain(database, queue, batch_size=10).busy


def test_events_of_a_deleted_subscriber_are_dropped_and_the_rest_stored(queued, database, session, recipient):
    client = client_for(queued, database)
    queue = EventQueue(queued.tracking.queue_url, queued.tracking.queue_name)
    other = subscriber(session, session.get(Audience, recipient.audience_id), "gone@example.com")
    session.commit()
    _open(client, recipient)
    _open(client, OpenToken(recipient.audience_id, other.id, recipient.campaign_id))
    session.execute(delete(Subscriber).where(Subscriber.id == other.id))
    session.commit()

    result = drain(database, queue, batch_size=10)

    assert (result.stored.inserted, result.orphaned, queue.unacknowledged()) == (1, 1, [])
    assert [e.subscriber_id for e in events(session)] == [recipient.subscriber_id]


def test_redis_down_stores_directly_and_still_answers_the_gif(config, database, session, recipient, caplog):
    client = client_for(config, database, tracking={"queue_url": UNREACHABLE})
    with caplog.at_level(logging.WARNING, logger="mailseg.ingest.queue"):
        _open(client, recipient, "A/1")
        _open(client, recipient, "B/1")  # within the retry pause: no second connection attempt
        link = urlsplit(click_url(BASE, SECRET, recipient, "https://shop.example/x")).path
        assert client.get(link).status_code == 302
    assert [e.type for e in events(session)] == ["open", "open", "click"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "storing opens and clicks directly" in warnings[0]


def test_ingest_worker_once_drains_and_refuses_without_a_queue(queued, config, database, session, recipient):
    _open(client_for(queued, database), recipient)
    runner = CliRunner()
    result = runner.invoke(main, ["ingest-worker", "--once"], obj=Runtime(_config=queued, _database=database))
    assert result.exit_code == 0 and "stored 1 events" in result.output
    assert len(events(session, type="open")) == 1
    result = runner.invoke(main, ["ingest-worker", "--once"], obj=Runtime(_config=config, _database=database))
    assert result.exit_code != 0 and "tracking.queue_url is not set" in result.output


def test_the_drainer_thread_stores_while_it_runs_and_stops_when_told(queued, database, session, recipient):
    stop = threading.Event()
    thread = start_drainer_thread(database, queued.replace(tracking={"queue_flush_seconds": 0.02}), stop)
    try:
        _open(client_for(queued, database), recipient)
        deadline = time.monotonic() + 10
        while not events(session, type="open") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(events(session, type="open")) == 1
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


def test_a_buffering_worker_pushes_its_batch_in_one_round_trip(queued, database, session, recipient):
    """With tracking.buffer_seconds the worker's buffer thread hands the queue whole batches: the
    requests answer without touching Redis, the batch arrives in order, the drainer stores it."""
    app = client_for(queued, database, tracking={"queue_url": queued.tracking.queue_url,
                                                 "queue_name": queued.tracking.queue_name,
                                                 "queue_batch_size": 1000, "buffer_seconds": 10})
    queue = EventQueue(queued.tracking.queue_url, queued.tracking.queue_name)
    buffer = app.application.extensions["mailseg.tracking_buffer"]
    for agent in ("A/1", "B/1", "C/1"):
        _open(app, recipient, agent)
    assert buffer.pending() == 3 and queue.pending_count() == 0

    buffer.flush()

    assert (buffer.pending(), buffer.queued, queue.pending_count()) == (0, 3, 3)
    assert [decode(raw)[1].user_agent for raw in queue.redis.lrange(queue.pending, 0, -1)] == ["A/1", "B/1", "C/1"]
    assert events(session) == []
    drain(database, queue, batch_size=1000)
    assert sorted(e.user_agent for e in events(session, type="open")) == ["A/1", "B/1", "C/1"]


def test_a_buffered_batch_is_stored_directly_when_redis_is_down(config, database, session, recipient):
    app = client_for(config, database, tracking={"queue_url": UNREACHABLE, "buffer_seconds": 10})
    buffer = app.application.extensions["mailseg.tracking_buffer"]
    _open(app, recipient, "A/1")
    _open(app, recipient, "B/1")

    buffer.flush()

    assert buffer.queued == 0 and buffer.pending() == 0
    assert sorted(e.user_agent for e in events(session, type="open")) == ["A/1", "B/1"]
