"""GET /t/o/<token>.gif (open pixel) and GET /t/c/<token> (click redirect): verify, record, answer.

Recording appends the event to the worker's in-process buffer (mailseg.ingest.localbuffer), whose
thread pushes it in batches to Redis when tracking.queue_url is set (write-behind,
mailseg.ingest.queue) or stores it in batches otherwise; with tracking.buffer_seconds 0 each request
pushes (one RPUSH) or stores its own event. Clicks take the same path as opens, so a person's
redirect is as fast as a pixel and same-second link scans land in one batch, where the stateful
bot rules see them together."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, abort, redirect, request
from sqlalchemy.exc import IntegrityError

from ..ingest.events import EventIn, store_events
from ..ingest.queue import QueueUnavailable
from ..models import utcnow
from ..sqlutil import set_local
from ..web import config, db_session, tracking_buffer, tracking_queue
from ..web.client_ip import client_ip
from .recording import click_event, open_event
from .tokens import read_click_token, read_open_token

log = logging.getLogger(__name__)
blueprint = Blueprint("tracking", __name__)

# A 1x1 transparent GIF.
PIXEL = (b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\x00\x00\x00!\xf9\x04\x01\x00\x00\x00\x00"
         b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
NO_STORE = {"Cache-Control": "no-store, no-cache, must-revalidate, max-age=0, private",
            "Pragma": "no-cache", "Expires": "0"}
BAD_LINK_PAGE = ("<!doctype html><title>Invalid link</title>"
                 "<p>This link is not valid. It may have been copied incompletely.</p>")


def _secret() -> str:
    secret = config().tracking.secret
    if not secret:
        abort(404)  # tracking is off until a secret is configured
    return secret


def _record(make_event, token) -> None:
    """Queue the event (when a queue is configured and reachable) or store it now.

    HEAD requests are never a person reading or clicking (link checkers use them): not recorded."""
    if request.method == "HEAD":
        return
    event = make_event(token, at=utcnow(), user_agent=request.headers.get("User-Agent"),
                       ip=client_ip(request.remote_addr, request.headers.get("X-Forwarded-For"),
                                    config().web.trusted_proxies))
    buffer = tracking_buffer()
    if buffer is not None and buffer.push(token.audience_id, event):
        return
    queue = tracking_queue()
    if queue is not None:
        try:
            queue.push(token.audience_id, event)
            return
        except QueueUnavailable:
            pass  # logged by the queue; the event is stored directly instead
    _store_now(token.audience_id, event)


def _store_now(audience_id: int, event: EventIn) -> None:
    """A token for a subscriber or campaign deleted since must not break the answer."""
    session = db_session()
    # One open or click is worth less than an fsync per request: PostgreSQL may lose the last few
    # hundred milliseconds of them if the server itself crashes, never corrupts anything.
    set_local(session, "synchronous_commit", "off")
    try:
        store_events(session, audience_id, [event], flagging=config().flagging)
        session.commit()
    except IntegrityError:
        session.rollback()
        log.info("tracking event for a subscriber or campaign that no longer exists was not stored")


@blueprint.get("/t/o/<token>.gif")
def open_pixel(token: str):
    """Always the GIF (a broken image helps nobody); an open is recorded only for a valid token."""
    opened = read_open_token(_secret(), token)
    if opened is not None:
        _record(open_event, opened)
    return Response(PIXEL, mimetype="image/gif", headers=NO_STORE)


@blueprint.get("/t/c/<token>")
def click(token: str):
    """302 to the signed target; an unsigned or tampered token gets a plain 400 page, never a redirect."""
    clicked = read_click_token(_secret(), token)
    if clicked is None:
        return Response(BAD_LINK_PAGE, status=400, mimetype="text/html", headers=NO_STORE)
    _record(click_event, clicked)
    response = redirect(clicked.url, code=302)
    response.headers.update(NO_STORE)
    return response
