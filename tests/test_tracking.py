"""Own tracking: tokens, the HTML rewriter, the open pixel and the click redirect, client addresses."""

import re
from urllib.parse import urlsplit

import pytest

from mailseg.tracking import OpenToken, rewrite_html
from mailseg.tracking.rewrite import click_url, open_url
from mailseg.tracking.tokens import ClickToken, click_token, open_token, read_click_token, read_open_token
from mailseg.tracking.views import PIXEL
from mailseg.web.client_ip import client_ip

from .factories import client_for, events, tracked_recipient

SECRET = "test-tracking-secret"
BASE = "https://track.example.com"


def test_tokens_round_trip_and_kinds_do_not_mix():
    recipient = OpenToken(1, 2, 3)
    assert read_open_token(SECRET, open_token(SECRET, recipient)) == recipient
    link = ClickToken(1, 2, None, "https://shop.example/x?a=1", honeypot=True)
    token = click_token(SECRET, link)
    assert read_click_token(SECRET, token) == link
    assert read_open_token(SECRET, token) is None
    assert read_click_token(SECRET, open_token(SECRET, recipient)) is None
    assert read_click_token("another-secret", token) is None
    assert read_click_token("", token) is None


@pytest.mark.parametrize("target", ["javascript:alert(1)", "mailto:a@b.c", "//evil.example/", "/relative",
                                    "https:\\\\evil.example", "http://", "ftp://files.example/x", "https://a b.example/"])
def test_click_tokens_refuse_non_http_targets(target):
    with pytest.raises(ValueError):
        click_token(SECRET, ClickToken(1, 2, 3, target))


HTML = """<html><head><title>Hi</title></head><body>
<p>Hello <a class="btn" href="https://shop.example/sale?utm=1&amp;x=2">Sale</a></p>
<a href='http://blog.example/post'>Blog</a> <a href="mailto:help@example.com">Mail us</a>
<a href="*|UNSUB|*">Unsubscribe</a> <a href="https://example.com/unsubscribe?u=9">Leave</a>
<a href="#top">Top</a> <a data-href="https://x.example" name="n">named</a>
</BODY></html>"""


def test_rewriter_wraps_links_and_leaves_the_rest():
    recipient = OpenToken(1, 2, 3)
    out = rewrite_html(HTML, recipient, secret=SECRET, base_url=BASE)
    wrapped = re.findall(r'href="(https://track\.example\.com/t/c/[^"]+)"', out)
    targets = [read_click_token(SECRET, urlsplit(url).path.rsplit("/", 1)[1]) for url in wrapped]
    assert [t.url for t in targets] == ["https://shop.example/sale?utm=1&x=2", "http://blog.example/post", BASE + "/"]
    assert [t.honeypot for t in targets] == [False, False, True]
    for untouched in ('href="mailto:help@example.com"', 'href="*|UNSUB|*"', 'href="https://example.com/unsubscribe?u=9"',
                      'href="#top"', 'data-href="https://x.example"', "<title>Hi</title>", 'class="btn"'):
        assert untouched in out
    pixel = re.search(r'<img src="https://track\.example\.com/t/o/([^"]+)\.gif"', out)
    assert read_open_token(SECRET, pixel.group(1)) == recipient
    assert out.index("display:none") < out.index("<img") < out.index("</BODY>")
    assert rewrite_html("<p>no body</p>", recipient, secret=SECRET, base_url=BASE).startswith("<p>no body</p><a ")


@pytest.fixture
def setup(session):
    return tracked_recipient(session)


def test_pixel_records_an_open_and_is_never_cached(client, session, setup):
    url = urlsplit(open_url(BASE, SECRET, setup)).path
    response = client.get(url, headers={"User-Agent": "Thunderbird/115"}, environ_base={"REMOTE_ADDR": "198.51.100.4"})
    assert response.status_code == 200
    assert response.data == PIXEL and response.data.startswith(b"GIF89a") and len(PIXEL) == 43
    assert response.mimetype == "image/gif"
    assert "no-store" in response.headers["Cache-Control"]
    [opened] = events(session, type="open")
    assert (opened.subscriber_id, opened.campaign_id, opened.source) == (setup.subscriber_id, setup.campaign_id, "pixel")
    assert (opened.user_agent, opened.ip, opened.is_machine) == ("Thunderbird/115", "198.51.100.4", False)


def test_pixel_flags_apple_proxy_and_ignores_bad_tokens(client, session, setup):
    url = urlsplit(open_url(BASE, SECRET, setup)).path
    client.get(url, headers={"User-Agent": "Mozilla/5.0"}, environ_base={"REMOTE_ADDR": "17.58.2.2"})
    bad = client.get(url.replace(".gif", "x.gif"))
    assert bad.status_code == 200 and bad.data == PIXEL
    assert client.head(url).status_code == 200
    [opened] = events(session, type="open")
    assert opened.machine_reason == "apple_mpp_ip"


def test_click_redirects_to_the_signed_target(client, session, setup):
    target = "https://shop.example/item?id=7&utm_source=mail"
    response = client.get(urlsplit(click_url(BASE, SECRET, setup, target)).path)
    assert response.status_code == 302
    assert response.headers["Location"] == target
    [clicked] = events(session, type="click")
    assert (clicked.url, clicked.source, clicked.subscriber_id) == (target, "click", setup.subscriber_id)


def test_honeypot_click_is_a_machine(client, session, setup):
    client.get(urlsplit(click_url(BASE, SECRET, setup, BASE + "/", honeypot=True)).path)
    [clicked] = events(session, type="click")
    assert clicked.machine_reason == "honeypot"


def test_tampered_or_foreign_click_tokens_never_redirect(client, session, setup):
    good = urlsplit(click_url(BASE, SECRET, setup, "https://shop.example/")).path.rsplit("/", 1)[1]
    payload, signature = good.rsplit(".", 1)
    import base64
    import json
    evil = base64.urlsafe_b64encode(json.dumps([setup.audience_id, setup.subscriber_id, setup.campaign_id,
                                                "https://evil.example/", 0]).encode()).decode().rstrip("=")
    forged_open_redirect = ClickToken(1, 2, 3, "https://evil.example/")
    for token in (evil + "." + signature, payload + "." + signature[:-2] + "xx", payload, "",
                  click_token("some-other-secret", forged_open_redirect), open_token(SECRET, setup)):
        response = client.get(f"/t/c/{token}")
        assert response.status_code in (400, 404), token
        assert "Location" not in response.headers
        if response.status_code == 400:
            assert response.mimetype == "text/html" and b"not valid" in response.data
    assert events(session) == []


def test_tracking_is_off_without_a_secret(config, database, setup):
    client = client_for(config, database, tracking={"secret": ""})
    assert client.get(urlsplit(open_url(BASE, SECRET, setup)).path).status_code == 404
    assert client.get(urlsplit(click_url(BASE, SECRET, setup, "https://a.example/")).path).status_code == 404


def test_event_for_a_deleted_subscriber_still_answers(client, session, setup):
    from mailseg.models import Subscriber
    session.delete(session.get(Subscriber, setup.subscriber_id))
    session.commit()
    assert client.get(urlsplit(open_url(BASE, SECRET, setup)).path).status_code == 200
    response = client.get(urlsplit(click_url(BASE, SECRET, setup, "https://shop.example/")).path)
    assert response.status_code == 302


@pytest.mark.parametrize("peer, forwarded, trusted, expected", [
    ("198.51.100.1", "203.0.113.5", [], "198.51.100.1"),
    ("10.0.0.1", "203.0.113.5", ["10.0.0.1"], "203.0.113.5"),
    ("10.0.0.1", "1.2.3.4, 203.0.113.5, 10.0.0.2", ["10.0.0.0/24"], "203.0.113.5"),
    ("10.0.0.1", "garbage", ["10.0.0.1"], "10.0.0.1"),
    ("10.0.0.1", None, ["10.0.0.1"], "10.0.0.1"),
    ("198.51.100.1", "17.0.0.1", ["10.0.0.1"], "198.51.100.1"),
])
def test_client_ip_believes_only_trusted_proxies(peer, forwarded, trusted, expected):
    assert client_ip(peer, forwarded, trusted) == expected


def test_forwarded_for_from_trusted_proxy_reaches_the_event(config, database, session, setup):
    client = client_for(config, database, web={"trusted_proxies": ["127.0.0.1"]})
    client.get(urlsplit(open_url(BASE, SECRET, setup)).path, headers={"X-Forwarded-For": "17.1.2.3"},
               environ_base={"REMOTE_ADDR": "127.0.0.1"})
    [opened] = events(session, type="open")
    assert (opened.ip, opened.machine_reason) == ("17.1.2.3", "apple_mpp_ip")
