"""The client's address: X-Forwarded-For is believed only when the direct peer is a trusted proxy."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Sequence


@lru_cache(maxsize=8)
def _networks(trusted: tuple[str, ...]):
    networks = []
    for entry in trusted:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            continue  # not an address: ignored rather than trusted
    return tuple(networks)


def _trusted(address: str | None, networks) -> bool:
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_ip(remote_addr: str | None, forwarded_for: str | None, trusted_proxies: Sequence[str]) -> str | None:
    """The first hop from the right that is not a trusted proxy; the peer itself when it is not trusted."""
    networks = _networks(tuple(trusted_proxies))
    if not forwarded_for or not _trusted(remote_addr, networks):
        return remote_addr
    for hop in reversed([h.strip() for h in forwarded_for.split(",") if h.strip()]):
        if _trusted(hop, networks):
            continue
        try:
            return str(ipaddress.ip_address(hop))
        except ValueError:
            return remote_addr  # a garbled header from a trusted proxy: fall back to the proxy
    return remote_addr
