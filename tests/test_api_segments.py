"""GET/POST /api/v1/segments and the members' keyset pages, with bearer tokens and scopes; every
response is validated against the served OpenAPI document."""

from __future__ import annotations

import pytest

from mailseg.tokens import create_token

from . import factories
from .factories import check_openapi


def _auth(session, name: str, scopes: list[str]) -> dict:
    token = create_token(session, name, scopes).token
    session.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def audience(session):
    made = factories.make_audience(session, "main", list_id=None)
    for i in range(7):
        factories.make_subscriber(session, made, f"p{i}@example.com", merge_fields={"city": "Kyiv" if i % 2 else "Lviv"})
    session.commit()
    return made


def _get(client, url, headers, path):
    response = client.get(url, headers=headers)
    check_openapi(response, path, "get")
    return response


def _post(client, body, headers):
    response = client.post("/api/v1/segments", json=body, headers=headers)
    check_openapi(response, "/segments", "post")
    return response


def test_create_list_and_page_members(client, session, audience):
    auth = _auth(session, "rw", ["segments:read", "segments:write"])
    rule = {"field": "merge.city", "op": "=", "value": "kyiv"}
    created = _post(client, {"name": "kyiv", "rule": rule, "sync": True}, auth)
    assert created.status_code == 201
    assert created.json["members"] == 3 and created.json["tag"] == "mailseg:seg:kyiv"
    listed = _get(client, "/api/v1/segments", auth, "/segments").json["segments"]
    assert [(s["name"], s["members"], s["rule"]) for s in listed] == [("kyiv", 3, rule)]
    first = _get(client, "/api/v1/segments/kyiv/members?limit=2", auth, "/segments/{name}/members").json
    # pages in subscriber-key order (keys are hashes of audience and e-mail, not the order of sign-up)
    assert len(first["members"]) == 2 and first["next"]
    assert [int(m["id"]) for m in first["members"]] == sorted(int(m["id"]) for m in first["members"])
    second = _get(client, f"/api/v1/segments/kyiv/members?limit=2&after={first['next']}", auth,
                  "/segments/{name}/members").json
    assert len(second["members"]) == 1 and second["next"] is None
    assert int(second["members"][0]["id"]) > int(first["members"][-1]["id"])
    assert first["next"] == first["members"][-1]["id"]  # ids are decimal strings: exact in JavaScript too
    assert sorted(m["email"] for m in first["members"] + second["members"]) == [
        "p1@example.com", "p3@example.com", "p5@example.com"]


def test_bad_requests_get_clear_json_errors(client, session, audience):
    auth = _auth(session, "rw", ["segments:read", "segments:write"])
    bad = _post(client, {"name": "x", "rule": {"field": "clv", "op": "contains", "value": "1"}}, auth)
    assert bad.status_code == 422
    assert bad.json["errors"] == ["op: 'contains' does not apply to number field 'clv' (use one of: =, !=, <, <=, >, "
                                  ">=, between, in, not_in, is_empty, is_not_empty)"]
    wrong_type = _post(client, {"name": "x", "rule": [1]}, auth)
    assert wrong_type.status_code == 400 and wrong_type.json["error"]["field"] == "rule"
    ok = {"name": "all", "rule": {"field": "email", "op": "is_not_empty"}}
    assert _post(client, ok, auth).status_code == 201
    assert _post(client, ok, auth).status_code == 409
    members = "/segments/{name}/members"
    assert _get(client, "/api/v1/segments/ghost/members", auth, members).status_code == 404
    assert _get(client, "/api/v1/segments/all/members?limit=0", auth, members).status_code == 400
    assert _get(client, "/api/v1/segments/all/members?after=x", auth, members).status_code == 400
    assert _get(client, "/api/v1/segments?audience=nope", auth, "/segments").status_code == 404


def test_tokens_and_scopes(client, session, audience):
    reader = _auth(session, "ro", ["segments:read"])
    assert _get(client, "/api/v1/segments", {}, "/segments").status_code == 401
    assert _get(client, "/api/v1/segments", {"Authorization": "Bearer wrong"}, "/segments").status_code == 401
    assert _get(client, "/api/v1/segments", reader, "/segments").status_code == 200
    denied = _post(client, {"name": "a", "rule": {}}, reader)
    assert denied.status_code == 403 and "segments:write" in denied.json["error"]["message"]
