"""Orders from other systems (the JSON API, Mailchimp e-commerce): each order checked field by field
and stored through store_events, with a result per order."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Sequence

from sqlalchemy.orm import Session

from ..config import FlaggingConfig
from ..models import normalise_email
from ..timeutil import parse_datetime
from ..subscribers.lookup import subscriber_ids_by_email
from .events import EventIn, store_events
from .importing import EMAIL_PATTERN, check_order_fields

MAX_BATCH = 1000
ORDER_FIELDS = frozenset(("email", "order_id", "amount", "occurred_at", "margin", "status"))


@dataclass
class FieldError:
    field: str
    message: str


@dataclass
class OrderOutcome:
    index: int
    order_id: str | None
    # created | duplicate (already stored: nothing changed, or a cancellation applied) | unknown_email | invalid
    status: str
    errors: list[FieldError] = field(default_factory=list)


def parse_order(item: Any, index: int, *, where: str = "orders", source: str = "api") -> EventIn | list[FieldError]:
    """One order object -> EventIn, or the errors naming each bad field (e.g. orders[3].amount)."""
    prefix = f"{where}[{index}]"
    if not isinstance(item, dict):
        return [FieldError(prefix, "expected an object")]
    errors = [FieldError(f"{prefix}.{name}", "unknown field") for name in item if name not in ORDER_FIELDS]
    values: dict[str, Any] = {}
    for name in ("email", "order_id", "occurred_at"):
        raw = item.get(name)
        if not isinstance(raw, str) or not raw.strip():
            errors.append(FieldError(f"{prefix}.{name}", "required: a non-empty string"))
        else:
            values[name] = raw.strip()
    if "email" in values and not EMAIL_PATTERN.match(normalise_email(values["email"])):
        errors.append(FieldError(f"{prefix}.email", f"not an email address: {values['email']!r}"))
    if "occurred_at" in values:
        try:
            values["occurred_at"] = parse_datetime(values["occurred_at"])
        except ValueError as exc:
            errors.append(FieldError(f"{prefix}.occurred_at", str(exc)))
    for name, required in (("amount", True), ("margin", False)):
        raw = item.get(name)
        if raw is None and not required:
            continue
        number = _number(raw)
        if number is None:
            errors.append(FieldError(f"{prefix}.{name}", "required: a number" if raw is None else f"not a number: {raw!r}"))
        else:
            values[name] = number
    status = item.get("status")
    if status is not None and not isinstance(status, str):
        errors.append(FieldError(f"{prefix}.status", "expected a string such as paid, pending, cancelled or refunded"))
    if not errors:
        problem = check_order_fields("purchase", values["amount"], values["order_id"], status, values.get("margin"))
        if problem:
            errors.append(FieldError(f"{prefix}.{problem[0]}", problem[1]))
    if errors:
        return errors
    return EventIn(type="purchase", occurred_at=values["occurred_at"], source=source, email=normalise_email(values["email"]),
                   amount=values["amount"], order_id=values["order_id"], margin=values.get("margin"), order_status=status)


def _number(raw: Any) -> Decimal | None:
    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        return None
    try:
        number = Decimal(str(raw).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def store_orders(session: Session, audience_id: int, items: Sequence[Any], *, source: str = "api",
                 flagging: FlaggingConfig | None = None) -> list[OrderOutcome]:
    """Check and store a batch of orders (the good ones even if some are bad) in the caller's
    transaction; idempotent: an order stored before is reported as a duplicate."""
    outcomes: list[OrderOutcome] = []
    good: list[tuple[int, EventIn]] = []
    for index, item in enumerate(items):
        parsed = parse_order(item, index, source=source)
        if isinstance(parsed, list):
            order_id = item.get("order_id") if isinstance(item, dict) and isinstance(item.get("order_id"), str) else None
            outcomes.append(OrderOutcome(index, order_id, "invalid", parsed))
        else:
            outcomes.append(OrderOutcome(index, parsed.order_id, "pending"))
            good.append((index, parsed))
    known = subscriber_ids_by_email(session, audience_id, (event.email for _, event in good))
    for index, event in good:
        event.subscriber_id = known.get(event.email or "")
        if event.subscriber_id is None:
            outcomes[index].status = "unknown_email"
            outcomes[index].errors = [FieldError(f"orders[{index}].email", f"no subscriber {event.email} in this audience")]
    storable = [(index, event) for index, event in good if event.subscriber_id is not None]
    if storable:
        result = store_events(session, audience_id, [event for _, event in storable], flagging=flagging)
        for (index, _), key in zip(storable, result.event_keys):
            outcomes[index].status = "created" if key in result.inserted_keys else "duplicate"
    # The same order twice in one batch: the first copy is "created", the others "duplicate".
    seen: set[str] = set()
    for index, event in storable:
        if event.order_id in seen and outcomes[index].status == "created":
            outcomes[index].status = "duplicate"
        seen.add(event.order_id or "")
    return outcomes
