"""GET /api/v1/subscribers/{email}: status, engagement class, value, segments and the explanation."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal

from flask import jsonify, request

from ..engagement import SubscriberNotFound, explain_subscriber, find_subscriber_id
from ..models import Subscriber, SubscriberValue
from ..settings import effective_config
from ..value.explain import explain_value
from ..value.segments import value_tags
from ..web import config, db_session
from .common import ApiError, audience_id_for, blueprint, requires
from .openapi import COMMON_ERRORS, NULLABLE_INTEGER, NULLABLE_NUMBER, NULLABLE_STRING, add_path, add_schema, error_response

VALUE_FIELDS = ("frequency", "monetary", "recency_days", "r_score", "f_score", "m_score", "rfm_segment", "abc_class",
                "p_alive", "expected_orders", "expected_order_value", "clv", "quadrant", "as_of")

add_schema("Value", {
    "type": ["object", "null"], "additionalProperties": False, "required": list(VALUE_FIELDS),
    "description": "The last value run's result (null before the first one)",
    "properties": {
        "frequency": {"type": "integer"}, "monetary": {"type": "number"}, "recency_days": NULLABLE_INTEGER,
        "r_score": NULLABLE_INTEGER, "f_score": NULLABLE_INTEGER, "m_score": NULLABLE_INTEGER,
        "rfm_segment": {"type": "string"}, "abc_class": {"enum": ["A", "B", "C", None]},
        "p_alive": NULLABLE_NUMBER, "expected_orders": NULLABLE_NUMBER, "expected_order_value": NULLABLE_NUMBER,
        "clv": NULLABLE_NUMBER, "quadrant": NULLABLE_STRING, "as_of": {"type": "string"},
    },
})
add_schema("Subscriber", {
    "type": "object", "additionalProperties": False,
    "required": ["email", "status", "subscribed_at", "engagement_class", "class_since", "value", "segments",
                 "explanation"],
    "properties": {
        "email": {"type": "string"}, "status": {"type": "string"}, "subscribed_at": {"type": "string"},
        "engagement_class": NULLABLE_STRING, "class_since": NULLABLE_STRING,
        "value": {"$ref": "#/components/schemas/Value"},
        "segments": {"type": "array", "items": {"type": "string"},
                     "description": "the segments (tags) mailseg mirrors for this subscriber"},
        "explanation": {"type": "object", "required": ["engagement", "value"], "properties": {
            "engagement": {"type": "object", "description": "the class and the events behind it (as `mailseg explain`)"},
            "value": {"type": "object", "description": "orders, score cut points, segment rule, ABC position, CLV inputs"},
        }},
    },
})
add_path("/subscribers/{email}", "get", {
    "operationId": "getSubscriber",
    "summary": "One subscriber: status, engagement class, value, segments, explanation (scope subscribers:read)",
    "security": [{"bearer": ["subscribers:read"]}],
    "parameters": [
        {"name": "email", "in": "path", "required": True, "schema": {"type": "string"}},
        {"name": "audience", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "audience name (default: the only one)"},
    ],
    "responses": {
        "200": {"description": "The subscriber",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Subscriber"}}}},
        "400": error_response("Several audiences and none named"),
        "404": error_response("No such subscriber or audience"),
        **COMMON_ERRORS,
    },
})


def _plain(value):
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@blueprint.get("/subscribers/<path:email>")
@requires("subscribers:read")
def get_subscriber(email: str):
    """Bind the email and audience, read the subscriber, their value and both explanations."""
    session = db_session()
    audience_id = audience_id_for(request.args.get("audience"))
    try:
        subscriber_id = find_subscriber_id(session, audience_id, email)
    except SubscriberNotFound as exc:
        raise ApiError(404, "subscriber_not_found", str(exc), field="email") from None
    settings = effective_config(session, config())
    sub = session.get(Subscriber, subscriber_id)
    stored = session.get(SubscriberValue, subscriber_id)
    value = None if stored is None else {name: _plain(getattr(stored, name)) for name in VALUE_FIELDS}
    segments = [f"{settings.sync.tag_prefix}{sub.engagement_class}"] if sub.engagement_class else []
    if stored is not None:
        segments += value_tags(settings.sync.tag_prefix, settings.value.sync, stored.rfm_segment, stored.abc_class,
                               stored.quadrant)
    engagement = dataclasses.asdict(explain_subscriber(session, subscriber_id, settings.engagement))
    return jsonify(email=sub.email, status=sub.status, subscribed_at=sub.subscribed_at.isoformat(),
                   engagement_class=sub.engagement_class,
                   class_since=sub.class_since.isoformat() if sub.class_since else None,
                   value=value, segments=segments,
                   explanation={"engagement": _plain(engagement),
                                "value": explain_value(session, subscriber_id, settings.value).as_dict()})
