"""The flagging rules: one table for the stateless rules, one for the stateful ones, and the rules at
work inside store_events (on SQLite and PostgreSQL), including re-flagging stored events."""

from datetime import timedelta

import pytest

from mailseg.config import FlaggingConfig
from mailseg.ingest.events import EventIn, store_events
from mailseg.ingest.flagging import HONEYPOT, Seen, Thread, flag_event, thread_flags

from .factories import T0, audience, campaign, events, subscriber

IPHONE_MAIL = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
GMAIL_PROXY = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
CHROME = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"


@pytest.mark.parametrize("event_type, user_agent, ip, reason", [
    ("open", "Mozilla/5.0", "17.58.1.2", "apple_mpp_ip"),
    ("open", "Mozilla/5.0", "203.0.113.9", "apple_mpp_user_agent"),
    ("open", IPHONE_MAIL, "17.100.1.1", "apple_mpp_ip"),
    ("open", IPHONE_MAIL, "198.51.100.7", None),
    ("open", GMAIL_PROXY, "66.249.84.1", None),  # Gmail's proxy fetches when the person opens
    ("open", GMAIL_PROXY, "17.1.1.1", None),
    ("click", "Mozilla/5.0", "17.1.1.1", None),  # Apple's proxy only fetches images
    ("click", CHROME, "198.51.100.7", None),
    ("click", "Barracuda Sentinel (EE)", "198.51.100.7", "scanner_user_agent"),
    ("click", "Mozilla/5.0 (compatible; Proofpoint URL Defense)", None, "scanner_user_agent"),
    ("click", "Mimecast-URL-Protect/1.0", None, "scanner_user_agent"),
    ("click", CHROME, "40.92.10.20", "scanner_network"),  # Microsoft EOP (Safe Links)
    ("click", CHROME, "205.139.110.33", "scanner_network"),  # Mimecast
    ("click", CHROME, "148.163.150.1", "scanner_network"),  # Proofpoint
    ("click", CHROME, "64.235.150.3", "scanner_network"),  # Barracuda
    ("open", "python-requests/2.31", "198.51.100.7", "scanner_user_agent"),
    ("click", CHROME, "not an ip", None),
    ("bounce", "Mozilla/5.0", "17.1.1.1", None),
])
def test_stateless_rules(event_type, user_agent, ip, reason):
    flag = flag_event(event_type, user_agent, ip)
    assert flag.reason == reason
    assert flag.is_machine is (reason is not None)


def test_extra_scanners_from_config():
    settings = FlaggingConfig(scanner_user_agents=["AcmeGuard"], scanner_networks=["192.0.2.0/24"])
    assert flag_event("click", "acmeguard/2", None, settings).reason == "scanner_user_agent"
    assert flag_event("click", CHROME, "192.0.2.5", settings).reason == "scanner_network"
    assert flag_event("click", CHROME, "192.0.2.5").reason is None


def s(seconds):
    return T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize("name, sends, seen, expected", [
    ("open 2 s after send", [s(0)], [Seen("o", "open", s(2))], {"o": "open_right_after_send"}),
    ("open 1 min after send", [s(0)], [Seen("o", "open", s(60))], {}),
    ("open before any send", [], [Seen("o", "open", s(2))], {}),
    ("open right after the message's own send time", [], [Seen("o", "open", s(3), sent_at=s(0))],
     {"o": "open_right_after_send"}),
    ("click 4 s after delivery, no open", [s(0)], [Seen("c", "click", s(4), "https://a")], {"c": "click_before_open"}),
    ("click 4 s after delivery, opened first", [s(0)],
     [Seen("o", "open", s(3.5), reason="apple_mpp_ip"), Seen("c", "click", s(4), "https://a")], {}),
    ("click 30 s after delivery", [s(0)], [Seen("c", "click", s(30), "https://a")], {}),
    ("two links in one second", [],
     [Seen("a", "click", s(100.1), "https://a"), Seen("b", "click", s(100.7), "https://b")],
     {"a": "same_second_links", "b": "same_second_links"}),
    ("same link twice in one second", [],
     [Seen("a", "click", s(100.1), "https://a"), Seen("b", "click", s(100.7), "https://a")], {}),
    ("two links in different seconds", [],
     [Seen("a", "click", s(100.9), "https://a"), Seen("b", "click", s(101.2), "https://b")], {}),
    ("honeypot exposes its companions", [],
     [Seen("h", "click", s(500), "https://x/", reason=HONEYPOT), Seen("a", "click", s(530), "https://a"),
      Seen("late", "click", s(900), "https://a")],
     {"a": "honeypot_companion"}),
    ("already flagged keeps its reason", [s(0)], [Seen("o", "open", s(1), reason="apple_mpp_ip")], {}),
])
def test_stateful_rules(name, sends, seen, expected):
    assert thread_flags(Thread(sends=sends, events=seen), FlaggingConfig()) == expected


def test_thresholds_are_configurable():
    thread = Thread(sends=[s(0)], events=[Seen("c", "click", s(20), "https://a")])
    assert thread_flags(thread, FlaggingConfig()) == {}
    assert thread_flags(thread, FlaggingConfig(click_after_send_seconds=30)) == {"c": "click_before_open"}


def click(email, at, url, **kw):
    return EventIn(type="click", occurred_at=at, source="import", email=email, campaign="c1", url=url, **kw)


def test_store_events_applies_stateful_rules(session):
    aud = audience(session)
    subscriber(session, aud, "a@example.com")
    campaign(session, aud, "c1")
    batch = [
        EventIn(type="send", occurred_at=s(0), source="import", email="a@example.com", campaign="c1"),
        EventIn(type="open", occurred_at=s(2), source="import", email="a@example.com", campaign="c1",
                user_agent=CHROME),
        click("a@example.com", s(300.2), "https://shop/a"),
    ]
    result = store_events(session, aud.id, batch)
    session.commit()
    assert result.machine == 1
    reasons = {e.type: e.machine_reason for e in events(session)}
    assert reasons == {"send": None, "open": "open_right_after_send", "click": None}

    # A second link of the same email in the same second, arriving later, exposes the first click too.
    result = store_events(session, aud.id, [click("a@example.com", s(300.6), "https://shop/b")])
    session.commit()
    assert (result.inserted, result.machine, result.reflagged) == (1, 1, 1)
    assert [e.machine_reason for e in events(session, type="click")] == ["same_second_links"] * 2


def test_honeypot_click_flags_earlier_clicks_of_the_email(session):
    aud = audience(session)
    subscriber(session, aud, "a@example.com")
    store_events(session, aud.id, [click("a@example.com", s(1000), "https://shop/a")])
    result = store_events(session, aud.id, [click("a@example.com", s(1010), "https://x/", machine_reason=HONEYPOT)])
    session.commit()
    assert result.reflagged == 1
    assert [e.machine_reason for e in events(session, type="click")] == ["honeypot_companion", HONEYPOT]


def test_campaign_send_time_counts_as_delivery(session):
    aud = audience(session)
    subscriber(session, aud, "a@example.com")
    campaign(session, aud, "c1", sent_at=s(0))
    store_events(session, aud.id, [click("a@example.com", s(5), "https://shop/a")],
                 flagging=FlaggingConfig(click_after_send_seconds=10))
    store_events(session, aud.id, [click("a@example.com", s(50), "https://shop/b")])
    session.commit()
    assert [e.machine_reason for e in events(session, type="click")] == ["click_before_open", None]
