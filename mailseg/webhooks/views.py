"""POST /webhooks/mandrill and POST /webhooks/mailchimp/<secret>: verify, parse, store, answer fast.

Both fail closed: without a configured key or secret nothing is stored (Mandrill 403/404,
Mailchimp 404). Every POST is one transaction.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, request

from ..ingest.events import StoreResult
from ..models import utcnow
from ..web import config, db_session
from . import WebhookError, mailchimp, mandrill
from .forms import parse_urlencoded

blueprint = Blueprint("webhooks", __name__, url_prefix="/webhooks")


def _bad_request(exc: WebhookError):
    return Response(f"{exc}\n", status=400, mimetype="text/plain")


@blueprint.route("/mandrill", methods=["GET", "HEAD"])
def mandrill_check():
    """Mandrill checks the URL with HEAD before it will add a webhook."""
    return Response("ok\n", mimetype="text/plain")


@blueprint.post("/mandrill")
def mandrill_events():
    settings = config().mandrill
    if not settings.webhook_url:
        abort(404)  # the signature cannot be checked without the URL Mandrill signs
    params = _form_params()
    given = request.headers.get(mandrill.SIGNATURE_HEADER)
    genuine = mandrill.signed_with(settings.webhook_key, settings.webhook_url, params, given)
    if not genuine and not mandrill.signed_with(mandrill.TEST_KEY, settings.webhook_url, params, given):
        return Response("signature does not match\n", status=403, mimetype="text/plain")
    try:
        batch = mandrill.parse_events(next((value for name, value in params if name == "mandrill_events"), None))
    except WebhookError as exc:
        return _bad_request(exc)
    if not genuine and batch.total:
        return Response("signature does not match\n", status=403, mimetype="text/plain")
    session = db_session()
    stored = mandrill.store_batch(session, batch, flagging=config().flagging)
    session.commit()
    return jsonify(received=batch.total, **_counts(stored), ignored=dict(batch.ignored),
                   invalid=batch.invalid_count, invalid_samples=batch.invalid)


def _form_params() -> list[tuple[str, str]]:
    """The POST fields in order; url-encoded bodies, as Mandrill sends them, are decoded by the fast
    decoder, anything else by Werkzeug. A body over mandrill.webhook_max_body_bytes is a 413 while
    it is read (mailseg.web.limits)."""
    if request.mimetype == "application/x-www-form-urlencoded":
        return parse_urlencoded(request.get_data(cache=False))
    return list(request.form.items(multi=True))


def _counts(stored: StoreResult) -> dict:
    return {"stored": stored.inserted, "duplicates": stored.duplicates, "machine": stored.machine,
            "reflagged": stored.reflagged, "unknown_recipients": stored.unknown,
            "status_changes": stored.status_changes}


def _check_secret(secret: str) -> None:
    if not mailchimp.secret_accepted(secret, config().mailchimp, utcnow()):
        abort(404)


@blueprint.route("/mailchimp/<secret>", methods=["GET", "HEAD"])
def mailchimp_check(secret: str):
    """Mailchimp validates a new webhook URL with a GET."""
    _check_secret(secret)
    return Response("ok\n", mimetype="text/plain")


@blueprint.post("/mailchimp/<secret>")
def mailchimp_event(secret: str):
    _check_secret(secret)
    try:
        hook = mailchimp.parse_hook(request.form.items(multi=True))
        session = db_session()
        result = mailchimp.handle_hook(session, hook, flagging=config().flagging)
    except WebhookError as exc:
        return _bad_request(exc)
    session.commit()
    body = {"type": result.type, "outcome": result.outcome}
    if result.events is not None:
        body.update(_counts(result.events))
    return jsonify(body)
