"""Machine-open and bot-click rules applied to every event at ingest. All rules live here.

A flagged event is stored (never dropped) with is_machine and a reason, so a class can be
explained and the rules tuned ([flagging] in the config). The first rule that matches names it.

Stateless rules (decided by the event alone, `flag_event`):

- ``apple_mpp_ip`` / ``apple_mpp_user_agent`` (opens): Apple Mail Privacy Protection (iOS 15,
  2021) downloads every remote image through Apple's proxies when the message reaches the device,
  whether or not the person reads it. Apple publishes the relay egress ranges at
  https://mask-api.icloud.com/egress-ip-ranges.csv; MPP image fetches come from Apple's own
  17.0.0.0/8 with the bare user agent "Mozilla/5.0" (SocketLabs, "Identifying Apple MPP opens",
  https://help.socketlabs.com/docs/identifying-apple-mpp-opens-in-notification-api-events).
- ``scanner_user_agent`` / ``scanner_network`` (opens and clicks): secure mail gateways fetch and
  click every link before delivery — Microsoft Defender Safe Links, Mimecast URL Protect,
  Proofpoint URL Defense, Barracuda Link Protection, Cisco Secure Email (Barracuda's own note,
  https://campus.barracuda.com/product/sentinel/doc/498468311/unwanted-link-clicks; Suped,
  https://www.suped.com/email-deliverability/answers/which-corporate-filter-appliances-or-software-follow-links-in-emails).
  User agents are matched as case-insensitive substrings; networks are the gateways' published
  mail ranges. Both lists grow with [flagging] scanner_user_agents / scanner_networks.
- Gmail's image proxy ("GoogleImageProxy", via ggpht.com) fetches images only when the person
  opens the message, so it is a person opening and is never flagged (Google Workspace admin help,
  "Set up an image URL proxy whitelist").

Stateful rules (need the other events of the same email, `thread_flags`, computed per batch by
store_events with one bounded query):

- ``open_right_after_send``: an open within open_after_send_seconds of the send is a prefetch at
  delivery (MPP and other proxies), whatever the address it came from.
- ``click_before_open``: a click within click_after_send_seconds (default 10) of delivery with no
  open before it: "humans are not that fast" — scanners click on arrival
  (https://check.live-direct-marketing.online/blog/bot-clicks-security-scanners-detect).
- ``same_second_links``: several different links of one email clicked within the same second;
  Defender's sandbox "clicks every link in the email within 10 seconds"
  (https://check.live-direct-marketing.online/blog/microsoft-defender-link-click-pattern).
- ``honeypot`` / ``honeypot_companion``: mailseg's rewriter adds a link no person can see; its
  click is a machine's, and so are the other clicks of that email within honeypot_window_seconds.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Hashable, Iterable, Sequence

from ..config import FlaggingConfig

APPLE_NETWORK = ipaddress.ip_network("17.0.0.0/8")
APPLE_PROXY_USER_AGENT = "Mozilla/5.0"
PERSON_PROXY_USER_AGENTS = ("googleimageproxy",)
SCANNER_USER_AGENTS = (
    "safelinks", "microsoft defender", "barracuda", "proofpoint", "mimecast", "ciscosecureemail",
    "ironport", "trendmicro", "fortimail", "forcepoint", "symantec", "messagelabs", "sophos",
    "headlesschrome", "phantomjs", "python-requests", "go-http-client", "curl/", "wget/",
    "libwww-perl", "java/", "zgrab",
)
SCANNER_NETWORKS = (
    # Microsoft Exchange Online Protection (Safe Links, Defender detonation).
    "40.92.0.0/15", "40.107.0.0/16", "52.100.0.0/14", "104.47.0.0/17",
    # Mimecast (US and EU gateways).
    "205.139.110.0/24", "207.211.30.0/24", "207.211.31.0/25", "170.10.128.0/24", "170.10.129.0/24",
    "170.10.133.0/24", "216.205.24.0/24", "185.58.84.0/22", "195.130.217.0/24", "91.220.42.0/24",
    # Proofpoint Essentials and Proofpoint-hosted gateways.
    "67.231.144.0/20", "148.163.128.0/19", "205.220.160.0/19",
    # Barracuda Email Security Service.
    "64.235.144.0/20", "209.222.80.0/21", "35.170.131.0/24",
)
HONEYPOT = "honeypot"


@dataclass(frozen=True)
class Flag:
    is_machine: bool
    reason: str | None = None


HUMAN = Flag(False)


@lru_cache(maxsize=16)
def _scanner_rules(extra_agents: tuple[str, ...], extra_networks: tuple[str, ...]):
    agents = tuple(a.lower() for a in SCANNER_USER_AGENTS + extra_agents if a.strip())
    networks = []
    for text in SCANNER_NETWORKS + extra_networks:
        try:
            networks.append(ipaddress.ip_network(text.strip(), strict=False))
        except ValueError:
            raise ValueError(f"flagging.scanner_networks: not a network: {text!r}") from None
    return agents, tuple(networks)


@lru_cache(maxsize=65536)
def _address_kind(ip: str, extra_networks: tuple[str, ...]) -> str | None:
    """"apple", "scanner" or None for an address; cached, since the same addresses recur in bulk."""
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    if address in APPLE_NETWORK:
        return "apple"
    _, networks = _scanner_rules((), extra_networks)
    return "scanner" if any(address in network for network in networks) else None


@lru_cache(maxsize=16384)
def _agent_kind(agent: str, extra_agents: tuple[str, ...]) -> str | None:
    """"person" (an image proxy acting for a reader), "apple", "scanner" or None for a lower-cased user agent."""
    if any(person in agent for person in PERSON_PROXY_USER_AGENTS):
        return "person"
    if agent == APPLE_PROXY_USER_AGENT.lower():
        return "apple"
    agents, _ = _scanner_rules(extra_agents, ())
    return "scanner" if agent and any(token in agent for token in agents) else None


def flag_event(event_type: str, user_agent: str | None, ip: str | None,
               settings: FlaggingConfig | None = None) -> Flag:
    """The stateless rules: decided by the event alone."""
    if event_type not in ("open", "click"):
        return HUMAN
    settings = settings or DEFAULT_SETTINGS
    agent = _agent_kind((user_agent or "").strip().lower(), tuple(settings.scanner_user_agents))
    if agent == "person":
        return HUMAN
    address = _address_kind(ip, tuple(settings.scanner_networks)) if ip else None
    if event_type == "open":
        if address == "apple":
            return Flag(True, "apple_mpp_ip")
        if agent == "apple":
            return Flag(True, "apple_mpp_user_agent")
    if agent == "scanner":
        return Flag(True, "scanner_user_agent")
    if address == "scanner":
        return Flag(True, "scanner_network")
    return HUMAN


DEFAULT_SETTINGS = FlaggingConfig()


# --- stateful rules ---------------------------------------------------------------------------

@dataclass
class Seen:
    """One open or click of an email thread (one subscriber, one campaign): stored or in the batch."""

    key: Hashable  # a stored event's id, or the batch row's index
    type: str
    at: datetime
    url: str | None = None
    reason: str | None = None  # the machine reason it already has, None when human
    sent_at: datetime | None = None  # the provider's send time of this message, when the event says


@dataclass
class Thread:
    sends: list[datetime] = field(default_factory=list)
    events: list[Seen] = field(default_factory=list)


def context_span(settings: FlaggingConfig) -> timedelta:
    """How far around a batch's events the stateful rules look."""
    return timedelta(seconds=max(settings.open_after_send_seconds, settings.click_after_send_seconds,
                                 settings.honeypot_window_seconds, 1) + 1)


def thread_flags(thread: Thread, settings: FlaggingConfig | None = None) -> dict[Hashable, str]:
    """Reasons for the thread's events that are human so far and now turn out to be machines."""
    settings = settings or DEFAULT_SETTINGS
    found: dict[Hashable, str] = {}

    def flag(seen: Seen, reason: str) -> None:
        if seen.reason is None and seen.key not in found:
            found[seen.key] = reason

    opens = [e for e in thread.events if e.type == "open"]
    clicks = sorted((e for e in thread.events if e.type == "click"), key=lambda e: e.at)
    for seen in opens:
        if _soon_after_send(seen, thread.sends, settings.open_after_send_seconds):
            flag(seen, "open_right_after_send")
    window = timedelta(seconds=settings.honeypot_window_seconds)
    for trap in (c for c in clicks if c.reason == HONEYPOT):
        for seen in clicks:
            if abs(seen.at - trap.at) <= window:
                flag(seen, "honeypot_companion")
    for group in _by_second(clicks):
        if len({c.url for c in group}) >= settings.same_second_links:
            for seen in group:
                flag(seen, "same_second_links")
    for seen in clicks:
        opened_before = any(o.at <= seen.at for o in opens)
        if not opened_before and _soon_after_send(seen, thread.sends, settings.click_after_send_seconds):
            flag(seen, "click_before_open")
    return found


def _soon_after_send(seen: Seen, sends: Sequence[datetime], seconds: int) -> bool:
    limit, zero = timedelta(seconds=seconds), timedelta(0)
    if seen.sent_at is not None and zero <= seen.at - seen.sent_at <= limit:
        return True
    return any(zero <= seen.at - sent <= limit for sent in sends)


def _by_second(clicks: Iterable[Seen]) -> list[list[Seen]]:
    groups: dict[datetime, list[Seen]] = {}
    for seen in clicks:
        groups.setdefault(seen.at.replace(microsecond=0), []).append(seen)
    return list(groups.values())
