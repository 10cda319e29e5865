"""GET/POST /api/v1/segments and GET /api/v1/segments/{name}/members (keyset pages).

Each handler: bind -> validate -> call the domain (mailseg.segments) -> respond. Never translated."""

from __future__ import annotations

from flask import jsonify, request

from ..models import Segment, utcnow
from ..segments import RuleError, SegmentNotFound, add_segment, get_segment, list_segments, refresh_segment
from ..segments.members import member_page
from ..segments.store import mirrored_tag
from ..settings import effective_config
from ..timeutil import isoformat_utc
from ..values import is_subscriber_id
from ..web import config, db_session
from .common import ApiError, audience_id_for, blueprint, json_body, requires
from .openapi import COMMON_ERRORS, NULLABLE_INTEGER, NULLABLE_STRING, add_path, add_schema, error_response

PAGE_MAX = 1000
AUDIENCE_PARAMETER = {"name": "audience", "in": "query", "required": False, "schema": {"type": "string"},
                      "description": "audience name (default: the only one)"}

add_schema("Segment", {
    "type": "object", "additionalProperties": False,
    "required": ["name", "description", "rule", "sync", "tag", "members", "last_evaluated_at", "as_of"],
    "properties": {
        "name": {"type": "string"}, "description": NULLABLE_STRING,
        "rule": {"type": "object", "description": "the rule (see the README: Rule segments)"},
        "sync": {"type": "boolean"}, "tag": {**NULLABLE_STRING, "description": "the platform tag when synced"},
        "members": {**NULLABLE_INTEGER, "description": "members at the last evaluation (null before one)"},
        "last_evaluated_at": NULLABLE_STRING, "as_of": NULLABLE_STRING,
    },
})
add_schema("RuleErrors", {
    "type": "object", "required": ["error", "errors"], "additionalProperties": False,
    "properties": {"error": {"type": "object", "required": ["status", "code", "message"],
                             "properties": {"status": {"type": "integer"}, "code": {"type": "string"},
                                            "message": {"type": "string"}}},
                   "errors": {"type": "array", "items": {"type": "string"},
                              "description": "every problem of the rule with its path, e.g. all[2].op: ..."}},
})
add_schema("SegmentList", {
    "type": "object", "required": ["segments"], "additionalProperties": False,
    "properties": {"segments": {"type": "array", "items": {"$ref": "#/components/schemas/Segment"}}}})
# Subscriber ids are 63-bit keys: as JSON numbers they would lose digits in JavaScript (2^53), so the
# API writes them as decimal strings, like the `after` cursor that takes them back.
SUBSCRIBER_ID = {"type": "string", "pattern": "^[0-9]{1,19}$",
                 "description": "The subscriber's 63-bit key as a decimal string"}
add_schema("SegmentMembers", {
    "type": "object", "required": ["segment", "members", "next"], "additionalProperties": False,
    "properties": {"segment": {"type": "string"}, "next": {**NULLABLE_STRING, "description": "after= of the next page"},
                   "members": {"type": "array", "items": {
                       "type": "object", "additionalProperties": False,
                       "required": ["id", "email", "status", "engagement_class", "joined_at"],
                       "properties": {"id": SUBSCRIBER_ID, "email": {"type": "string"},
                                      "status": {"type": "string"}, "engagement_class": NULLABLE_STRING,
                                      "joined_at": {"type": "string"}}}}}})
add_path("/segments", "get", {
    "operationId": "listSegments", "summary": "Every segment of the audience (scope segments:read)",
    "security": [{"bearer": ["segments:read"]}], "parameters": [AUDIENCE_PARAMETER],
    "responses": {"200": {"description": "The segments", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/SegmentList"}}}},
        "400": error_response("A bad audience parameter"), "404": error_response("No such audience"),
        **COMMON_ERRORS},
})
add_path("/segments", "post", {
    "operationId": "createSegment",
    "summary": "Save a segment (validated) and evaluate it now unless evaluate is false (scope segments:write)",
    "security": [{"bearer": ["segments:write"]}], "parameters": [AUDIENCE_PARAMETER],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["name", "rule"],
        "properties": {"name": {"type": "string"}, "rule": {"type": "object"}, "sync": {"type": "boolean"},
                       "tag": {"type": "string"}, "description": {"type": "string"}, "evaluate": {"type": "boolean"}}}}}},
    "responses": {"201": {"description": "The segment", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Segment"}}}},
        "400": error_response("Not JSON, or a field of the wrong type"),
        "404": error_response("No such audience"), "409": error_response("A segment of that name exists"),
        "413": error_response("Body too large"), "415": error_response("Not application/json"),
        "422": {"description": "The rule or name is refused", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/RuleErrors"}}}},
        **COMMON_ERRORS},
})
add_path("/segments/{name}/members", "get", {
    "operationId": "segmentMembers",
    "summary": "Members as of the last evaluation, by subscriber id, in keyset pages (scope segments:read)",
    "security": [{"bearer": ["segments:read"]}],
    "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}, AUDIENCE_PARAMETER,
                   {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer"},
                    "description": f"1 to {PAGE_MAX}, default 100"},
                   {"name": "after", "in": "query", "required": False, "schema": {"type": "string"},
                    "description": "`next` of the previous page"}],
    "responses": {"200": {"description": "One page", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/SegmentMembers"}}}},
        "400": error_response("A bad limit or after"), "404": error_response("No such segment or audience"),
        **COMMON_ERRORS},
})


def _segment_json(segment: Segment, tag_prefix: str) -> dict:
    return {"name": segment.name, "description": segment.description, "rule": segment.rule, "sync": segment.sync,
            "tag": mirrored_tag(segment, tag_prefix) if segment.sync else None,
            "members": segment.member_count if segment.last_evaluated_at else None,
            "last_evaluated_at": isoformat_utc(segment.last_evaluated_at) or None,
            "as_of": isoformat_utc(segment.last_as_of) or None}


def _segment(audience_id: int, name: str) -> Segment:
    try:
        return get_segment(db_session(), audience_id, name)
    except SegmentNotFound as exc:
        raise ApiError(404, "segment_not_found", exc.args[0], field="name") from None


@blueprint.get("/segments")
@requires("segments:read")
def segments_index():
    """Every segment of the audience (?audience=NAME, default the only one)."""
    audience_id = audience_id_for(request.args.get("audience"))
    prefix = config().sync.tag_prefix
    return jsonify({"segments": [_segment_json(s, prefix) for s in list_segments(db_session(), audience_id)]})


@blueprint.post("/segments")
@requires("segments:write")
def segments_create():
    """{"name", "rule", "sync"?, "tag"?, "description"?, "evaluate"? (default true)} -> 201 and the segment."""
    body = json_body()
    for key, kind, required in (("name", str, True), ("rule", dict, True), ("sync", bool, False),
                                ("tag", str, False), ("description", str, False), ("evaluate", bool, False)):
        if (required and key not in body) or (key in body and not isinstance(body[key], kind)):
            raise ApiError(400, "invalid_field", f"{key}: expected {'an object' if kind is dict else kind.__name__}",
                           field=key)
    session = db_session()
    audience_id = audience_id_for(request.args.get("audience"))
    settings = effective_config(session, config())
    try:
        segment = add_segment(session, audience_id, body["name"], body["rule"], sync=body.get("sync", False),
                              tag=body.get("tag"), description=body.get("description"),
                              tag_prefix=settings.sync.tag_prefix)
    except RuleError as exc:
        session.rollback()
        if any("exists already" in e for e in exc.errors):
            raise ApiError(409, "segment_exists", exc.errors[0], field="name") from None
        response = jsonify({"error": {"status": 422, "code": "invalid_rule", "message": "; ".join(exc.errors)},
                            "errors": exc.errors})
        response.status_code = 422
        return response
    if body.get("evaluate", True):
        refresh_segment(session, segment, settings.engagement, as_of=utcnow())
    session.commit()
    return jsonify(_segment_json(segment, settings.sync.tag_prefix)), 201


@blueprint.get("/segments/<name>/members")
@requires("segments:read")
def segment_members(name: str):
    """Members as of the last evaluation, by subscriber id: ?limit=N (<= 1000) and ?after=<next of the last page>."""
    try:
        limit = int(request.args.get("limit", 100))
    except ValueError:
        raise ApiError(400, "invalid_field", "limit: a whole number", field="limit") from None
    if not 1 <= limit <= PAGE_MAX:
        raise ApiError(400, "invalid_field", f"limit: 1 to {PAGE_MAX}", field="limit")
    after = request.args.get("after") or None
    if after is not None and not (after.isascii() and after.isdigit() and is_subscriber_id(int(after))):
        raise ApiError(400, "invalid_field", "after: the `next` value of the previous page", field="after")
    segment = _segment(audience_id_for(request.args.get("audience")), name)
    rows = member_page(db_session(), segment.id, after=int(after) if after else None, limit=limit)
    members = [{"id": str(r.subscriber_id), "email": r.email, "status": r.status, "engagement_class": r.engagement_class,
                "joined_at": isoformat_utc(r.joined_at)} for r in rows]
    return jsonify({"segment": name, "members": members,
                    "next": str(rows[-1].subscriber_id) if len(rows) == limit else None})
