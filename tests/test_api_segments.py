"""GET/POST /api/v1/segments and the members' keyset pages, with bearer tokens and scopes."""

from __future__ import annotations

import hashlib

import pytest

from mailseg.models import ApiToken

from . import factories


def _token(session, name: str, scopes: list[str]) -> dict:
    raw = f"msk_test_{name}"
    session.add(ApiToken(name=name, token_hash=hashlib.sha256(raw.encode()).hexdigest(), prefix=raw[:12], scopes=scopes))
    session.commit()
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture
def audience(session):
    made = factories.make_audience(session, "main", list_id=None)
    for i in range(7):
        factories.make_subscriber(session, made, f"p{i}@example.com", merge_fields={"city": "Kyiv" if i % 2 else "Lviv"})
    session.commit()
    return made


def test_create_list_and_page_members(client, session, audience):
    auth = _token(session, "rw", ["segments:read", "segments:write"])
    rule = {"field": "merge.city", "op": "=", "value": "kyiv"}
    created = client.post("/api/v1/segments", json={"name": "kyiv", "rule": rule, "sync": True}, headers=auth)
    assert created.status_code == 201
    assert created.json["members"] == 3 and created.json["tag"] == "mailseg:seg:kyiv"
    listed = client.get("/api/v1/segments", headers=auth).json["segments"]
    assert [(s["name"], s["members"], s["rule"]) for s in listed] == [("kyiv", 3, rule)]
    first = client.get("/api/v1/segments/kyiv/members?limit=2", headers=auth).json
    assert [m["email"] for m in first["members"]] == ["p1@example.com", "p3@example.com"] and first["next"]
    second = client.get(f"/api/v1/segments/kyiv/members?limit=2&after={first['next']}", headers=auth).json
    assert [m["email"] for m in second["members"]] == ["p5@example.com"] and second["next"] is None


def test_bad_requests_get_clear_json_errors(client, session, audience):
    auth = _token(session, "rw", ["segments:read", "segments:write"])
    bad = client.post("/api/v1/segments", json={"name": "x", "rule": {"field": "clv", "op": "contains", "value": "1"}},
                      headers=auth)
    assert bad.status_code == 422
    assert bad.json["errors"] == ["op: 'contains' does not apply to number field 'clv' (use one of: =, !=, <, <=, >, "
                                  ">=, between, in, not_in, is_empty, is_not_empty)"]
    assert client.post("/api/v1/segments", data="nope", headers=auth).status_code == 400
    ok = {"name": "all", "rule": {"field": "email", "op": "is_not_empty"}}
    assert client.post("/api/v1/segments", json=ok, headers=auth).status_code == 201
    assert client.post("/api/v1/segments", json=ok, headers=auth).status_code == 409
    assert client.get("/api/v1/segments/ghost/members", headers=auth).status_code == 404
    assert client.get("/api/v1/segments/all/members?limit=0", headers=auth).status_code == 400
    assert client.get("/api/v1/segments/all/members?after=x", headers=auth).status_code == 400
    assert client.get("/api/v1/segments?audience=nope", headers=auth).status_code == 404


def test_tokens_and_scopes(client, session, audience):
    reader = _token(session, "ro", ["segments:read"])
    assert client.get("/api/v1/segments").status_code == 401
    assert client.get("/api/v1/segments", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/api/v1/segments", headers=reader).status_code == 200
    denied = client.post("/api/v1/segments", json={"name": "a", "rule": {}}, headers=reader)
    assert denied.status_code == 403 and "segments:write" in denied.json["error"]
