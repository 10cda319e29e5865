"""GET/POST /api/v1/segments and GET /api/v1/segments/<name>/members (keyset pages).

Each handler: bind -> validate -> call the domain (mailseg.segments) -> respond. Never translated."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from ..audiences import AudienceNotFound, find_audience
from ..models import Segment, utcnow
from ..segments import RuleError, SegmentNotFound, add_segment, get_segment, list_segments, refresh_segment
from ..segments.members import member_page
from ..segments.store import mirrored_tag
from ..settings import effective_config
from ..timeutil import isoformat_utc
from ..web import config, db_session
from .auth import api_error, token_required

blueprint = Blueprint("api_segments", __name__, url_prefix="/api/v1")
PAGE_MAX = 1000


def _segment_json(segment: Segment, tag_prefix: str) -> dict:
    return {"name": segment.name, "description": segment.description, "rule": segment.rule, "sync": segment.sync,
            "tag": mirrored_tag(segment, tag_prefix) if segment.sync else None,
            "members": segment.member_count if segment.last_evaluated_at else None,
            "last_evaluated_at": isoformat_utc(segment.last_evaluated_at) or None,
            "as_of": isoformat_utc(segment.last_as_of) or None}


def _audience_id():
    return find_audience(db_session(), request.args.get("audience")).id


@blueprint.errorhandler(AudienceNotFound)
@blueprint.errorhandler(SegmentNotFound)
def _not_found(exc):
    return api_error(404, str(exc.args[0]))


@blueprint.get("/segments")
@token_required("segments:read")
def segments_index():
    """Every segment of the audience (?audience=NAME, default the only one)."""
    prefix = config().sync.tag_prefix
    return jsonify({"segments": [_segment_json(s, prefix) for s in list_segments(db_session(), _audience_id())]})


@blueprint.post("/segments")
@token_required("segments:write")
def segments_create():
    """{"name", "rule", "sync"?, "tag"?, "description"?, "evaluate"? (default true)} -> 201 and the segment."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return api_error(400, "the body must be a JSON object")
    sync = body.get("sync", False)
    if not isinstance(body.get("name"), str) or "rule" not in body or not isinstance(sync, bool):
        return api_error(400, 'expected {"name": text, "rule": {...}, "sync": true|false}')
    session = db_session()
    audience_id = _audience_id()
    settings = effective_config(session, config())
    try:
        segment = add_segment(session, audience_id, body["name"], body["rule"], sync=sync,
                              tag=body.get("tag") if isinstance(body.get("tag"), str) else None,
                              description=body.get("description") if isinstance(body.get("description"), str) else None,
                              tag_prefix=settings.sync.tag_prefix)
    except RuleError as exc:
        session.rollback()
        status = 409 if any("exists already" in e for e in exc.errors) else 422
        return api_error(status, "the segment cannot be saved", errors=exc.errors)
    if body.get("evaluate", True):
        refresh_segment(session, segment, settings.engagement, as_of=utcnow())
    session.commit()
    return jsonify(_segment_json(segment, settings.sync.tag_prefix)), 201


@blueprint.get("/segments/<name>/members")
@token_required("segments:read")
def segment_members(name: str):
    """Members as of the last evaluation, by subscriber id: ?limit=N (<= 1000) and ?after=<next of the last page>."""
    try:
        limit = int(request.args.get("limit", 100))
        after = int(request.args["after"]) if request.args.get("after") else None
    except ValueError:
        return api_error(400, "limit and after are whole numbers")
    if not 1 <= limit <= PAGE_MAX:
        return api_error(400, f"limit is 1 to {PAGE_MAX}")
    segment = get_segment(db_session(), _audience_id(), name)
    rows = member_page(db_session(), segment.id, after=after, limit=limit)
    members = [{"id": r.subscriber_id, "email": r.email, "status": r.status, "engagement_class": r.engagement_class,
                "joined_at": isoformat_utc(r.joined_at)} for r in rows]
    return jsonify({"segment": name, "members": members,
                    "next": str(rows[-1].subscriber_id) if len(rows) == limit else None})
