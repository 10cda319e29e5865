"""Machine-open and bot-click rules applied to every event at ingest.

Apple Mail Privacy Protection (iOS 15+, 2021) fetches every remote image
through Apple's proxy when the message is delivered, so such an "open" says
nothing about the person. Apple documents the proxy's egress ranges in
https://mask-api.icloud.com/egress-ip-ranges.csv; in practice MPP fetches come
from 17.0.0.0/8 with the generic "Mozilla/5.0" user agent that carries no
browser or mail client token.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

APPLE_NETWORK = ipaddress.ip_network("17.0.0.0/8")
APPLE_PROXY_USER_AGENT = "Mozilla/5.0"


@dataclass(frozen=True)
class Flag:
    is_machine: bool
    reason: str | None = None


HUMAN = Flag(False)


def in_network(ip: str | None, network) -> bool:
    if not ip:
        return False
    try:
        return ipaddress.ip_address(ip.strip()) in network
    except ValueError:
        return False


def flag_event(event_type: str, user_agent: str | None, ip: str | None) -> Flag:
    """The stateless rules: decided by the event alone."""
    if event_type == "open":
        if in_network(ip, APPLE_NETWORK):
            return Flag(True, "apple_mpp_ip")
        if user_agent is not None and user_agent.strip() == APPLE_PROXY_USER_AGENT:
            return Flag(True, "apple_mpp_user_agent")
    return HUMAN
