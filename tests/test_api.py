"""The JSON API (/api/v1): tokens and scopes, the OpenAPI document, POST /orders, GET /subscribers.
Every response is validated against the served OpenAPI 3.1 document."""

import json

import pytest
from openapi_spec_validator import validate
from sqlalchemy import func, select

from mailseg.models import ApiToken, Event
from mailseg.tokens import create_token, revoke_token
from mailseg.value import value_audience

from .factories import check_openapi, make_audience, make_subscriber, utc


@pytest.fixture
def shop(session):
    audience = make_audience(session)
    for email in ("anna@example.com", "li@example.com"):
        make_subscriber(session, audience, email)
    tokens = {name: create_token(session, name, scopes).token
              for name, scopes in (("shop", ["orders:write"]), ("crm", ["subscribers:read"]))}
    session.commit()
    return audience, tokens


def auth(token):
    return {"Authorization": f"Bearer {token}"}


def order(n, email="anna@example.com", **extra):
    return {"email": email, "order_id": f"o-{n}", "amount": 10 + n, "occurred_at": "2026-08-01T10:00:00Z", **extra}


def post_orders(client, token, body, **kwargs):
    response = client.post("/api/v1/orders", data=json.dumps(body) if not isinstance(body, bytes) else body,
                           headers={**auth(token), "Content-Type": "application/json"}, **kwargs)
    check_openapi(response, "/orders", "post")
    return response


def test_the_openapi_document_is_valid_openapi_3_1(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"] == "3.1.0" and {"/orders", "/subscribers/{email}"} <= set(spec["paths"])
    validate(spec)


def test_orders_are_stored_with_a_result_each_and_a_replay_stores_nothing(client, session, shop):
    _, tokens = shop
    body = {"orders": [order(1), order(2, email="li@example.com", margin=3.5, status="paid"),
                       order(3, email="nobody@example.com"), order(4, amount="ten"), order(1)]}
    first = post_orders(client, tokens["shop"], body)
    assert first.status_code == 207
    data = first.get_json()
    assert [r["status"] for r in data["results"]] == ["created", "created", "unknown_email", "invalid", "duplicate"]
    assert data["results"][3]["errors"] == [{"field": "orders[3].amount", "message": "not a number: 'ten'"}]
    assert data["results"][2]["errors"][0]["field"] == "orders[2].email"
    assert (data["created"], data["duplicates"], data["failed"]) == (2, 1, 2)
    again = post_orders(client, tokens["shop"], body).get_json()
    assert [r["status"] for r in again["results"]] == ["duplicate", "duplicate", "unknown_email", "invalid", "duplicate"]
    assert session.scalar(select(func.count()).select_from(Event).where(Event.type == "purchase")) == 2


def test_a_refund_sent_later_cancels_the_order(client, session, shop):
    _, tokens = shop
    post_orders(client, tokens["shop"], {"orders": [order(7)]})
    result = post_orders(client, tokens["shop"], {"orders": [order(7, status="refunded")]}).get_json()
    assert result["results"][0]["status"] == "duplicate"
    session.expire_all()
    assert session.scalar(select(Event.order_status).where(Event.order_id == "o-7")) == "refunded"


@pytest.mark.parametrize("body, status, field", [
    ({"orders": []}, 400, "orders"),
    ({"orders": "x"}, 400, "orders"),
    ({"orders": [order(1)], "extra": 1}, 400, "extra"),
    ({"orders": [order(n) for n in range(1001)]}, 400, "orders"),
    ({"orders": [order(1)], "audience": "nope"}, 404, "audience"),
    ([1, 2], 400, ""),
])
def test_bad_batches_get_json_errors_naming_the_field(client, shop, body, status, field):
    _, tokens = shop
    response = post_orders(client, tokens["shop"], body)
    assert response.status_code == status
    assert response.get_json()["error"]["field"] == field


def test_item_errors_name_every_field(client, shop):
    _, tokens = shop
    bad = {"email": "not-an-email", "amount": -1, "occurred_at": "2026-02-30", "colour": "red"}
    result = post_orders(client, tokens["shop"], {"orders": [bad]}).get_json()["results"][0]
    assert result["status"] == "invalid"
    assert {e["field"] for e in result["errors"]} == {"orders[0].colour", "orders[0].order_id", "orders[0].email",
                                                     "orders[0].occurred_at"}


def test_not_json_too_large_and_broken_bodies(client, app, shop):
    _, tokens = shop
    not_json = client.post("/api/v1/orders", data="x", headers={**auth(tokens["shop"]), "Content-Type": "text/plain"})
    check_openapi(not_json, "/orders", "post")
    assert not_json.status_code == 415
    broken = post_orders(client, tokens["shop"], b"{not json")
    assert broken.status_code == 400 and broken.get_json()["error"]["code"] == "invalid_json"
    huge = post_orders(client, tokens["shop"], {"orders": [order(1, status="x" * 3_000_000)]})
    assert huge.status_code == 413


def test_tokens_scopes_and_revocation(client, session, shop):
    _, tokens = shop
    missing = client.post("/api/v1/orders", json={"orders": [order(1)]})
    check_openapi(missing, "/orders", "post")
    assert missing.status_code == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = post_orders(client, "msk_made-up", {"orders": [order(1)]})
    assert wrong.status_code == 401 and wrong.get_json()["error"]["code"] == "invalid_token"
    scope = post_orders(client, tokens["crm"], {"orders": [order(1)]})
    assert scope.status_code == 403 and "orders:write" in scope.get_json()["error"]["message"]
    revoke_token(session, "shop")
    session.commit()
    revoked = post_orders(client, tokens["shop"], {"orders": [order(1)]})
    assert revoked.status_code == 401
    stored = session.scalars(select(ApiToken.token_hash)).all()
    assert tokens["shop"] not in stored and all(len(h) == 64 for h in stored)


def test_get_subscriber_with_value_segments_and_explanation(client, session, shop):
    audience, tokens = shop
    post_orders(client, tokens["shop"], {"orders": [order(1), order(2, occurred_at="2026-08-10T10:00:00Z")]})
    value_audience(session, audience.id, __import__("mailseg.config", fromlist=["Config"]).Config().value,
                   as_of=utc(2026, 8, 31))
    response = client.get("/api/v1/subscribers/Anna@Example.com", headers=auth(tokens["crm"]))
    check_openapi(response, "/subscribers/{email}", "get")
    assert response.status_code == 200
    data = response.get_json()
    assert data["value"]["frequency"] == 2 and data["value"]["rfm_segment"] == "lost"
    assert "mailseg:rfm:lost" in data["segments"] and "mailseg:abc:A" in data["segments"]
    assert data["explanation"]["value"]["scores"][0]["letter"] == "R"
    assert "rule" in data["explanation"]["engagement"]
    prospect = client.get("/api/v1/subscribers/li@example.com", headers=auth(tokens["crm"]))
    check_openapi(prospect, "/subscribers/{email}", "get")
    assert prospect.get_json()["value"]["rfm_segment"] == "prospect"


def test_unknown_subscriber_and_unknown_paths_are_json_404s(client, shop):
    _, tokens = shop
    response = client.get("/api/v1/subscribers/ghost@example.com", headers=auth(tokens["crm"]))
    check_openapi(response, "/subscribers/{email}", "get")
    assert response.status_code == 404 and response.get_json()["error"]["field"] == "email"
    scope = client.get("/api/v1/subscribers/anna@example.com", headers=auth(tokens["shop"]))
    check_openapi(scope, "/subscribers/{email}", "get")
    assert scope.status_code == 403
    nowhere = client.get("/api/v1/nowhere")
    assert nowhere.status_code == 404 and nowhere.get_json()["error"]["code"] == "not_found"


def test_tokens_cli_shows_the_token_once_and_revokes(cli, session):
    created = cli("tokens", "add", "shop", "--scope", "orders:write")
    assert created.exit_code == 0
    token = created.stdout.strip()
    assert token.startswith("msk_")
    listed = cli("tokens", "list").output
    assert "shop" in listed and token not in listed and "orders:write" in listed
    assert cli("tokens", "add", "shop").exit_code == 1
    assert cli("tokens", "revoke", "shop").exit_code == 0
    assert "revoked" in cli("tokens", "list").output
    assert cli("tokens", "revoke", "nope").exit_code == 1


def test_a_method_a_path_does_not_have_is_a_json_405_with_allow_everywhere(client, shop):
    """Every path of the OpenAPI document answers each method it does not document with a JSON 405
    naming the documented ones (the document and the routes agree); unknown paths stay 404s."""
    from jsonschema import Draft202012Validator

    from mailseg.api.openapi import document

    _, tokens = shop
    spec = document()
    error_schema = spec["components"]["schemas"]["Error"]
    examples = {"{email}": "anna@example.com", "{name}": "x"}
    for path, operations in spec["paths"].items():
        url = "/api/v1" + path
        for placeholder, value in examples.items():
            url = url.replace(placeholder, value)
        documented = {method.upper() for method in operations}
        for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - documented:
            response = client.open(url, method=method, headers=auth(tokens["shop"]))
            assert response.status_code == 405, (method, path, response.status_code)
            assert response.mimetype == "application/json"
            Draft202012Validator(error_schema).validate(response.get_json())
            assert response.get_json()["error"]["code"] == "method_not_allowed"
            allow = {m.strip() for m in response.headers["Allow"].split(",")}
            assert allow - {"HEAD", "OPTIONS"} == documented, (path, allow)
    assert client.delete("/api/v1/nowhere").status_code == 404
