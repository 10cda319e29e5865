"""Every panel GET route, driven with hostile query parameters and path values, never answers 5xx
(hypothesis, on SQLite and PostgreSQL). The routes come from the app's URL map, so a new page is
fuzzed without touching this test."""

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz_values import encode, query_string, values

FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# Parameters the panel reads somewhere, plus a random name; every route gets all of them.
KNOWN = ["q", "class", "status", "sort", "size", "after", "before", "audience", "next", "page", "lang"]
SKIPPED_PREFIXES = ("/static", "/webhooks", "/t/")


def panel_get_rules(app):
    return [rule for rule in app.url_map.iter_rules()
            if "GET" in rule.methods and not rule.rule.startswith(SKIPPED_PREFIXES)]


def test_the_fuzzed_routes_include_every_panel_page(app):
    paths = {rule.rule for rule in panel_get_rules(app)}
    assert {"/", "/audience", "/audience/export.csv", "/campaigns", "/settings", "/sync", "/login"} <= paths
    assert any(path.startswith("/subscribers/") for path in paths)


@FUZZ
@given(data=st.data())
def test_no_query_parameter_gives_a_server_error(admin, seeded, app, data):
    for rule in panel_get_rules(app):
        path = rule.rule
        for argument in rule.arguments:
            converter = rule._converters[argument].__class__.__name__
            raw = data.draw(st.integers(min_value=0, max_value=10**25).map(str) if converter == "IntegerConverter"
                            else values, label=argument)
            path = re.sub(rf"<[^<>]*\b{argument}>", encode(raw).replace("\\", "\\\\"), path)
        params = data.draw(st.lists(st.tuples(st.sampled_from(KNOWN) | st.text(max_size=8), values), max_size=4),
                           label=rule.rule)
        response = admin.get(f"{path}?{query_string(params)}")
        body = response.get_data()  # drains streamed responses (the CSV export) too
        assert response.status_code < 500, (path, params, body[:300])


def test_the_probe_cases(admin, seeded, session):
    from mailseg.models import Audience

    probes = ["/audience?after=W3t9LDFd", "/audience?after=W251bGwsMV0", "/audience?after=WyIyMDI2LTAxLTAxIiwxZTMwXQ",
              "/audience?q=a%00b", "/audience?q=%F4%8F%BF%BF", "/audience?q=ab%ED%A0%80",
              "/subscribers/99999999999999999999", "/campaigns?before=0001-01-01T00:00:00%2B05:00",
              "/audience?status=%00", "/audience?class=x%00", "/audience/export.csv?q=%00"]
    for url in probes:
        assert admin.get(url).status_code in (200, 400, 404), url
    assert admin.get("/audience?after=W3t9LDFd").status_code == 400
    assert admin.get("/subscribers/99999999999999999999").status_code == 404
    assert admin.get("/campaigns?before=0001-01-01T00:00:00%2B05:00").status_code == 400
    # a non-ASCII audience name: RFC 6266 / 5987 filename*, an ASCII fallback
    audience = session.get(Audience, seeded.audience_id) if hasattr(seeded, "audience_id") else session.query(Audience).first()
    audience.name = 'Клієнти café "x"'
    session.commit()
    response = admin.get("/audience/export.csv")
    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    disposition.encode("latin-1")
    assert "filename*=UTF-8''%D0%9A%D0%BB%D1%96%D1%94%D0%BD%D1%82%D0%B8%20caf%C3%A9%20%22x%22-subscribers.csv" in disposition
    assert 'filename="_______ caf_ _x_-subscribers.csv"' in disposition


def test_login_next_with_cr_lf_is_not_followed(client, users):
    from tests.factories import ADMIN, PASSWORD

    response = client.post("/login?next=/audience%0d%0aSet-Cookie:%20x=1",
                           data={"email": ADMIN, "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.post("/login?next=http://[bad", data={"email": ADMIN, "password": PASSWORD}).status_code == 302
    assert client.post("/login", data={"email": "a\x00@x.test", "password": "x"}).status_code == 400


def test_non_ascii_audience_export_under_gunicorn(tmp_path, sqlite_template):
    """The probe's case: `Клієнти café` answered 500 under gunicorn (a raw non-Latin-1 header)."""
    import http.cookiejar
    import re as regex
    import urllib.parse
    import urllib.request

    from tests.factories import ADMIN, PASSWORD, seed_users

    from mailseg.models import Audience, Subscriber
    from tests.factories import gunicorn_serving

    def seed(session):
        seed_users(session)
        audience = Audience(name="Клієнти café", provider="mailchimp")
        session.add(audience)
        session.flush()
        session.add(Subscriber(audience_id=audience.id, email="=1+2@x.test", status="subscribed"))

    with gunicorn_serving(tmp_path, sqlite_template, {}, seed=seed) as (url, _, _):
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        form = opener.open(url + "/login").read().decode()
        token = regex.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        body = urllib.parse.urlencode({"csrf_token": token, "email": ADMIN, "password": PASSWORD}).encode()
        opener.open(url + "/login", data=body)
        response = opener.open(url + "/audience/export.csv")
        text = response.read().decode()
    assert response.status == 200 and "'=1+2@x.test" in text
    assert "filename*=UTF-8''%D0%9A%D0%BB%D1%96%D1%94%D0%BD%D1%82%D0%B8%20caf%C3%A9-subscribers.csv" in \
        response.headers["Content-Disposition"]
