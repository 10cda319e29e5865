"""Small builders for test data."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from mailseg.models import Audience, Subscriber


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def make_audience(session, name: str = "main", list_id: str | None = "list1") -> Audience:
    audience = Audience(name=name, provider="mailchimp", provider_list_id=list_id)
    session.add(audience)
    session.flush()
    return audience


def make_subscriber(session, audience: Audience, email: str, *, status: str = "subscribed",
                    subscribed_at: datetime | None = None, **extra) -> Subscriber:
    sub = Subscriber(audience_id=audience.id, email=email, status=status,
                     subscribed_at=subscribed_at or utc(2025, 1, 1), **extra)
    session.add(sub)
    session.flush()
    return sub


def write_file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text.lstrip("\n"), encoding="utf-8")
    return path


def make_order(session, audience: Audience, email: str, at: datetime, amount, *, order_id: str | None = None,
               status: str | None = None, margin=None) -> None:
    """A purchase stored through the one ingest function (order_id defaults to a unique one)."""
    from decimal import Decimal
    from uuid import uuid4

    from mailseg.ingest.events import EventIn, store_events

    order = EventIn(type="purchase", occurred_at=at, source="import", email=email, amount=Decimal(str(amount)),
                    order_id=order_id or uuid4().hex, order_status=status,
                    margin=None if margin is None else Decimal(str(margin)))
    assert store_events(session, audience.id, [order]).received == 1


def simulated_buyers(session, audience: Audience, count: int, *, end: datetime, seed: int = 1,
                     prefix: str = "buyer") -> list[str]:
    """count customers whose purchases follow the BG/NBD story (Gamma purchase rates, a Beta dropout
    chance after each purchase) over the year before `end`, and spend the Gamma-Gamma story (amounts
    Gamma(p = 4, nu), nu ~ Gamma(q = 4, gamma = 60)): data both fits converge on."""
    import numpy as np

    rng = np.random.default_rng(seed)
    emails = []
    for n in range(count):
        email = f"{prefix}{n}@example.com"
        emails.append(email)
        make_subscriber(session, audience, email)
        rate, dropout, nu = rng.gamma(0.5, 1 / 20), rng.beta(1.0, 3.0), rng.gamma(4, 1 / 60)
        day = float(rng.integers(0, 180))
        while day < 365:
            at = end - timedelta(days=365) + timedelta(days=day, hours=int(rng.integers(0, 12)))
            make_order(session, audience, email, at, round(float(rng.gamma(4, 1 / nu)), 2))
            if rng.random() < dropout:
                break
            day += float(rng.exponential(1 / rate))
    session.commit()
    return emails


def check_openapi(response, path: str, method: str) -> None:
    """Validate a JSON API response against the operation's schema in the served OpenAPI document
    (JSON Schema 2020-12, as OpenAPI 3.1 uses): status code documented, body valid."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    from mailseg.api.openapi import document

    spec = document()
    operation = spec["paths"][path][method.lower()]
    assert str(response.status_code) in operation["responses"], \
        f"{method} {path}: status {response.status_code} is not documented"
    content = operation["responses"][str(response.status_code)]["content"]["application/json"]
    assert response.mimetype == "application/json"
    registry = Registry().with_resource("urn:mailseg-api", Resource.from_contents(
        {"$schema": "https://json-schema.org/draft/2020-12/schema", **spec}))
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": "urn:mailseg-api#response",
              **content["schema"]}
    schema = {"$ref": "urn:mailseg-api#" + content["schema"]["$ref"][1:]} if "$ref" in content["schema"] else schema
    Draft202012Validator(schema, registry=registry).validate(response.get_json())
