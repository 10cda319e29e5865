"""POST /api/v1/orders: a batch of up to 1,000 orders, idempotent on order_id, a result per order."""

from __future__ import annotations

from flask import jsonify

from ..ingest.orders import MAX_BATCH, store_orders
from ..web import config, db_session
from .common import ApiError, audience_id_for, blueprint, json_body, requires
from .openapi import COMMON_ERRORS, add_path, add_schema, error_response

add_schema("Order", {
    "type": "object", "required": ["email", "order_id", "amount", "occurred_at"], "additionalProperties": False,
    "properties": {
        "email": {"type": "string", "description": "the customer: a subscriber of the audience"},
        "order_id": {"type": "string", "maxLength": 100, "description": "the shop's id: the same order is stored once"},
        "amount": {"type": ["number", "string"], "description": "order total, >= 0"},
        "occurred_at": {"type": "string", "description": "ISO-8601; without a zone: UTC"},
        "margin": {"type": ["number", "string", "null"], "description": "contribution (default value.margin_rate x amount)"},
        "status": {"type": ["string", "null"], "description": "cancelled and refunded orders do not count; a later "
                                                             "cancelled/refunded copy of a stored order cancels it"},
    },
})
add_schema("OrderResult", {
    "type": "object", "required": ["index", "order_id", "status", "errors"], "additionalProperties": False,
    "properties": {
        "index": {"type": "integer"},
        "order_id": {"type": ["string", "null"]},
        "status": {"enum": ["created", "duplicate", "unknown_email", "invalid"]},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["field", "message"], "additionalProperties": False,
            "properties": {"field": {"type": "string"}, "message": {"type": "string"}}}},
    },
})
add_schema("OrdersResult", {
    "type": "object", "required": ["results", "created", "duplicates", "failed"], "additionalProperties": False,
    "properties": {
        "results": {"type": "array", "items": {"$ref": "#/components/schemas/OrderResult"}},
        "created": {"type": "integer"}, "duplicates": {"type": "integer"}, "failed": {"type": "integer"},
    },
})
add_path("/orders", "post", {
    "operationId": "postOrders",
    "summary": f"Store a batch of up to {MAX_BATCH} orders (scope orders:write)",
    "description": "Each order is checked and stored on its own: the answer is 207 with one result per order "
                   "(created, duplicate, unknown_email or invalid with the fields at fault). Sending the same "
                   "batch again stores nothing new.",
    "security": [{"bearer": ["orders:write"]}],
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["orders"], "additionalProperties": False,
        "properties": {"audience": {"type": "string", "description": "audience name (default: the only one)"},
                       "orders": {"type": "array", "minItems": 1, "maxItems": MAX_BATCH,
                                  "items": {"$ref": "#/components/schemas/Order"}}}}}}},
    "responses": {
        "207": {"description": "One result per order",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/OrdersResult"}}}},
        "400": error_response("The body is not a JSON object with an orders array of 1 to 1,000 items"),
        "404": error_response("No such audience"),
        "413": error_response("The body is larger than api.max_body_bytes"),
        "415": error_response("The body is not JSON"),
        **COMMON_ERRORS,
    },
})


@blueprint.post("/orders")
@requires("orders:write")
def post_orders():
    """Bind the batch, check its shape, store the orders, answer one result each."""
    body = json_body()
    unknown = sorted(set(body) - {"orders", "audience"})
    if unknown:
        raise ApiError(400, "invalid_field", f"unknown field {unknown[0]!r} (expected orders, audience)", field=unknown[0])
    orders = body.get("orders")
    if not isinstance(orders, list) or not orders:
        raise ApiError(400, "invalid_field", "expected a non-empty array of orders", field="orders")
    if len(orders) > MAX_BATCH:
        raise ApiError(400, "too_many_orders", f"{len(orders)} orders; send at most {MAX_BATCH} per request",
                       field="orders")
    audience_id = audience_id_for(body.get("audience"))
    session = db_session()
    outcomes = store_orders(session, audience_id, orders, flagging=config().flagging)
    session.commit()
    results = [{"index": o.index, "order_id": o.order_id, "status": o.status,
                "errors": [{"field": e.field, "message": e.message} for e in o.errors]} for o in outcomes]
    response = jsonify(results=results, created=sum(o.status == "created" for o in outcomes),
                       duplicates=sum(o.status == "duplicate" for o in outcomes),
                       failed=sum(o.status in ("invalid", "unknown_email") for o in outcomes))
    response.status_code = 207
    return response
