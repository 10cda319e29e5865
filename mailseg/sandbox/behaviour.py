"""How the sandbox's simulated subscribers react to mail. Every size below is a [sandbox] config key,
so an experiment's true effect is known; the same seed gives the same reactions.

Each member has hidden traits drawn once from the seed and their address: a state (active,
semi_active, dormant), an own propensity (log-normal, sigma `propensity_sigma`, mean 1), whether
they read in Apple Mail (`apple_mpp_share`) and whether a corporate link scanner guards their inbox
(`scanner_share`). For every delivered email:

- Apple Mail: the MPP proxy fetches the images 1–4 seconds after delivery, from 17.x.x.x (a machine
  open, flagged by mailseg's ingest). Scanner: every link is clicked 1–5 seconds after delivery,
  before any open (a bot click, flagged).
- Human open with chance open_<state> x propensity x fatigue, where fatigue = (1 - fatigue_per_mail)
  per delivery beyond fatigue_free_mails in the last 28 days (the cost of frequency). The open comes
  uniformly within open_spread_days. A re-engagement mail adds reengagement_open to a dormant
  member's chance (its true effect). A member receiving content they got before (a resend version)
  opens with chance resend_open x propensity x fatigue instead.
- Click after a human open with chance click_<state>; a purchase after a human click with chance
  purchase_after_click (+ offer_purchase for an offer), amount log-normal around purchase_amount.
- A human open wakes a dormant member (semi_active); a human click makes anyone active.
- Unsubscribe with chance unsubscribe + unsubscribe_fatigue per delivery beyond the fatigue-free
  ones; a hard bounce (cleaned) with chance hard_bounce.

Between deliveries (drift, over the time the clock moves): a dormant member wakes with
wake_per_week x fatigue per week (rest from mail helps); active and semi-active members fade one
step with fade_per_week.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from ..config import SandboxConfig

NATURES = ("regular", "reengagement", "offer")
STATES = ("active", "semi_active", "dormant")
MAX_OPEN = 0.95


def _key(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "big")


def rng_for(cfg: SandboxConfig, *parts: object) -> np.random.Generator:
    return np.random.default_rng([cfg.seed, _key(*parts)])


@dataclass(frozen=True)
class Traits:
    state: str
    propensity: float
    apple: bool
    scanner: bool


def traits(cfg: SandboxConfig, email: str) -> Traits:
    rng = rng_for(cfg, "member", email)
    u, z, a, b = rng.random(), rng.standard_normal(), rng.random(), rng.random()
    state = "active" if u < cfg.active_share else "semi_active" if u < cfg.active_share + cfg.semi_active_share \
        else "dormant"
    sigma = cfg.propensity_sigma
    propensity = float(np.exp(sigma * z - sigma * sigma / 2))  # mean 1
    return Traits(state, propensity, bool(a < cfg.apple_mpp_share), bool(b < cfg.scanner_share))


@dataclass
class Recipients:
    ids: np.ndarray
    state: np.ndarray
    propensity: np.ndarray
    apple: np.ndarray
    scanner: np.ndarray
    recent: np.ndarray  # deliveries in the last 28 days
    repeat: np.ndarray  # received this content before (a resend version)


@dataclass
class Reactions:
    activity: list[dict] = field(default_factory=list)
    new_state: dict[str, list[int]] = field(default_factory=dict)
    new_status: dict[str, list[tuple[int, datetime]]] = field(default_factory=dict)


def fatigue(cfg: SandboxConfig, recent: np.ndarray) -> np.ndarray:
    extra = np.maximum(0, recent - cfg.fatigue_free_mails)
    return (1.0 - cfg.fatigue_per_mail) ** extra


def by_state(values: dict[str, float], state: np.ndarray) -> np.ndarray:
    return np.select([state == s for s in STATES], [values[s] for s in STATES], default=0.0)


def react(cfg: SandboxConfig, campaign_id: str, nature: str, at: datetime, r: Recipients) -> Reactions:
    rng = rng_for(cfg, "campaign", campaign_id)
    n = len(r.ids)
    tired = fatigue(cfg, r.recent)
    base = by_state({"active": cfg.open_active, "semi_active": cfg.open_semi_active, "dormant": cfg.open_dormant},
                    r.state)
    if nature == "reengagement":
        base = base + np.where(r.state == "dormant", cfg.reengagement_open, 0.0)
    base = np.where(r.repeat, cfg.resend_open, base)
    p_open = np.minimum(MAX_OPEN, base * r.propensity * tired)
    p_click = by_state({"active": cfg.click_active, "semi_active": cfg.click_semi_active,
                        "dormant": cfg.click_dormant}, r.state)
    p_buy = cfg.purchase_after_click + (cfg.offer_purchase if nature == "offer" else 0.0)
    p_unsub = cfg.unsubscribe + cfg.unsubscribe_fatigue * np.maximum(0, r.recent - cfg.fatigue_free_mails)
    draws = rng.random((n, 7))
    bounced = draws[:, 6] < cfg.hard_bounce
    opened = (draws[:, 0] < p_open) & ~bounced
    clicked = opened & (draws[:, 1] < p_click)
    bought = clicked & (draws[:, 2] < p_buy)
    unsubscribed = (draws[:, 3] < p_unsub) & ~bounced
    open_delay = rng.uniform(600, cfg.open_spread_days * 86400, n)
    click_delay = rng.uniform(20, 600, n)
    amounts = np.round(cfg.purchase_amount * np.exp(0.5 * rng.standard_normal(n) - 0.125), 2)
    ips = rng.integers(1, 254, (n, 3))
    url = f"https://shop.example.com/c/{campaign_id}"
    out = Reactions()

    def add(i: int, action: str, seconds: float, ip: str | None = None, **extra) -> None:
        out.activity.append({"campaign_id": campaign_id, "member_id": int(r.ids[i]), "action": action,
                             "occurred_at": at + timedelta(seconds=float(seconds)), "ip": ip,
                             "url": extra.get("url"), "amount": extra.get("amount")})

    for i in np.flatnonzero(bounced):
        add(i, "bounce", 30)
        out.new_status.setdefault("cleaned", []).append((int(r.ids[i]), at + timedelta(seconds=30)))
    for i in np.flatnonzero(r.apple & ~bounced):
        add(i, "open", 1 + ips[i, 0] % 4, f"17.{ips[i, 0]}.{ips[i, 1]}.{ips[i, 2]}")
    for i in np.flatnonzero(r.scanner & ~bounced):
        add(i, "click", 1 + ips[i, 1] % 5, f"40.94.{ips[i, 1]}.{ips[i, 2]}", url=url)
    for i in np.flatnonzero(opened):
        human_ip = f"198.51.100.{ips[i, 2]}"
        add(i, "open", open_delay[i], human_ip)
        if clicked[i]:
            add(i, "click", open_delay[i] + click_delay[i], human_ip, url=url)
        if bought[i]:
            add(i, "purchase", open_delay[i] + click_delay[i] + 300, human_ip, amount=float(amounts[i]))
    for i in np.flatnonzero(unsubscribed):
        moment = at + timedelta(seconds=float(open_delay[i]) + 60)
        add(i, "unsubscribe", open_delay[i] + 60)
        out.new_status.setdefault("unsubscribed", []).append((int(r.ids[i]), moment))
    out.new_state["active"] = [int(x) for x in r.ids[clicked & (r.state != "active")]]
    out.new_state["semi_active"] = [int(x) for x in r.ids[opened & ~clicked & (r.state == "dormant")]]
    return out


def drift(cfg: SandboxConfig, list_id: str, start: datetime, end: datetime, ids: np.ndarray, state: np.ndarray,
          recent: np.ndarray) -> dict[str, list[int]]:
    """State changes over (start, end]: dormant members wake (less when tired of mail), others fade."""
    weeks = (end - start).total_seconds() / (7 * 86400)
    rng = rng_for(cfg, "drift", list_id, start.isoformat(), end.isoformat())
    u = rng.random(len(ids))
    p_wake = 1 - (1 - cfg.wake_per_week * fatigue(cfg, recent)) ** weeks
    p_fade = 1 - (1 - cfg.fade_per_week) ** weeks
    wake = (state == "dormant") & (u < p_wake)
    fade = (state != "dormant") & (u < p_fade)
    return {"semi_active": [int(x) for x in ids[wake | (fade & (state == "active"))]],
            "dormant": [int(x) for x in ids[fade & (state == "semi_active")]]}
