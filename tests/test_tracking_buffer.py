"""Without Redis, opens and clicks are stored in batches by each web worker's buffer thread: the
pixel answers without a transaction of its own, nothing answered is lost on a graceful stop, and a
database that cannot keep up makes requests store their own events (bounded memory)."""

import time

from mailseg.app import create_app
from mailseg.ingest import localbuffer
from mailseg.tracking import open_token

from .factories import events, tracked_recipient


def _app(config, database, seconds=0.2):
    app = create_app(config.replace(tracking={"buffer_seconds": seconds}), database=database)
    app.config["TESTING"] = True
    return app


def test_pixel_opens_are_stored_in_batches_by_the_buffer_thread(config, database, session):
    token = tracked_recipient(session)
    app = _app(config, database)
    buffer = app.extensions["mailseg.tracking_buffer"]
    client = app.test_client()
    path = f"/t/o/{open_token('test-tracking-secret', token)}.gif"
    for _ in range(5):
        assert client.get(path, headers={"User-Agent": "Mozilla/5.0 (X11) Firefox/128"}).status_code == 200
    deadline = time.monotonic() + 10
    while buffer.pending() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.1)
    stored = events(session, type="open")
    assert len(stored) >= 1 and buffer.result.stored.received == 5  # same-second duplicates dedupe
    assert buffer.pending() == 0


def test_a_flush_stores_what_waits_and_back_pressure_bounds_memory(config, database, session, monkeypatch):
    token = tracked_recipient(session)
    app = _app(config, database, seconds=10)  # the thread would wait 10 s: flush() is the graceful stop
    buffer = app.extensions["mailseg.tracking_buffer"]
    monkeypatch.setattr(localbuffer, "MAX_PENDING", 3)
    client = app.test_client()
    for n in range(5):
        click = f"/t/o/{open_token('test-tracking-secret', token)}.gif"
        client.get(click, headers={"User-Agent": f"agent {n}"})
    # three waited in the buffer; the fourth and fifth requests stored their own opens
    assert buffer.pending() == 3 and len(events(session, type="open")) == 2
    buffer.flush()
    assert buffer.pending() == 0 and len(events(session, type="open")) == 5


def test_buffer_off_and_with_a_queue(config, database):
    assert _app(config, database, seconds=0).extensions["mailseg.tracking_buffer"] is None
    queued = create_app(config.replace(tracking={"queue_url": "redis://127.0.0.1:6379/12", "buffer_seconds": 0.2}),
                        database=database)
    buffer = queued.extensions["mailseg.tracking_buffer"]  # in front of the queue: batches go to Redis
    assert buffer is not None and buffer.queue is queued.extensions["mailseg.tracking_queue"]
