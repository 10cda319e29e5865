"""Config sections of the experiments: the platform (Mailchimp or the sandbox), the per-policy
holdouts, the uplift horizons, and the sandbox's behaviour model. Part of mailseg.config.Config."""

from __future__ import annotations

from dataclasses import dataclass

from .configbase import setting

PLATFORM_KINDS = ("mailchimp", "sandbox")


@dataclass(frozen=True)
class PlatformConfig:
    # The email platform: "mailchimp" (the [mailchimp] account) or "sandbox", a simulated platform kept
    # in mailseg's own database whose subscribers react to mail by the [sandbox] behaviour model.
    kind: str = setting("mailchimp", choices=PLATFORM_KINDS)


@dataclass(frozen=True)
class HoldoutConfig:
    """Per-policy holdout groups: the share of the subscribers a policy would act on that it leaves
    alone (and records), chosen by a stable hash of (policy, salt, subscriber id). A new salt starts
    a new experiment."""

    cap_share: float = setting(0.10, min=0.0, max=0.5)
    cap_salt: str = setting("")
    reengagement_share: float = setting(0.10, min=0.0, max=0.5)
    reengagement_salt: str = setting("")
    resend_share: float = setting(0.10, min=0.0, max=0.5)
    resend_salt: str = setting("")
    offer_share: float = setting(0.10, min=0.0, max=0.5)
    offer_salt: str = setting("")
    plan_share: float = setting(0.10, min=0.0, max=0.5)
    plan_salt: str = setting("")


@dataclass(frozen=True)
class UpliftConfig:
    """When a cohort's verdict is taken (days after its last exposure) and how much data it needs."""

    cap_horizon_days: int = setting(90, min=7, max=365)
    reengagement_horizon_days: int = setting(30, min=7, max=365)
    resend_horizon_days: int = setting(7, min=1, max=60)
    offer_horizon_days: int = setting(14, min=1, max=120)
    plan_horizon_days: int = setting(14, min=1, max=120)
    # Fewer subscribers than this in either group: "not enough data yet" (with the detectable effect).
    min_group_size: int = setting(30, min=2, max=100_000)


@dataclass(frozen=True)
class SandboxConfig:
    """The sandbox platform's behaviour model (mailseg/sandbox/behaviour.py documents each effect).
    Probabilities are per delivered email unless said otherwise."""

    seed: int = setting(2026, min=0, max=2**31 - 1)
    # Hidden states of new members (the rest start dormant).
    active_share: float = setting(0.30, min=0.0, max=1.0)
    semi_active_share: float = setting(0.30, min=0.0, max=1.0)
    # Human open chance by hidden state, and click chance given a human open.
    open_active: float = setting(0.45, min=0.0, max=1.0)
    open_semi_active: float = setting(0.30, min=0.0, max=1.0)
    open_dormant: float = setting(0.02, min=0.0, max=1.0)
    click_active: float = setting(0.35, min=0.0, max=1.0)
    click_semi_active: float = setting(0.03, min=0.0, max=1.0)
    click_dormant: float = setting(0.05, min=0.0, max=1.0)
    # Spread of each member's own propensity (log-normal sigma; 0: everyone alike).
    propensity_sigma: float = setting(0.5, min=0.0, max=2.0)
    # Share of members reading in Apple Mail (every delivery machine-opened by the MPP proxy) and
    # behind a corporate link scanner (every delivery's links clicked within seconds).
    apple_mpp_share: float = setting(0.45, min=0.0, max=1.0)
    scanner_share: float = setting(0.05, min=0.0, max=1.0)
    # Human opens arrive uniformly within this many days of delivery.
    open_spread_days: float = setting(3.0, min=0.01, max=30.0)
    # Fatigue: each delivery beyond fatigue_free_mails in the last 28 days multiplies the open chance
    # by (1 - fatigue_per_mail) and adds unsubscribe_fatigue to the unsubscribe chance.
    fatigue_free_mails: int = setting(2, min=0, max=100)
    fatigue_per_mail: float = setting(0.10, min=0.0, max=1.0)
    unsubscribe: float = setting(0.002, min=0.0, max=1.0)
    unsubscribe_fatigue: float = setting(0.0005, min=0.0, max=1.0)
    # A dormant member wakes (becomes semi-active) by itself with this chance per week; mail in the
    # last 28 days beyond fatigue_free_mails lowers it by the fatigue factor (rest revives readers).
    wake_per_week: float = setting(0.03, min=0.0, max=1.0)
    # Interest fades: an active member becomes semi-active, a semi-active one dormant, with this chance per week.
    fade_per_week: float = setting(0.02, min=0.0, max=1.0)
    # Hard bounces (the address is cleaned) per delivery.
    hard_bounce: float = setting(0.001, min=0.0, max=1.0)
    # Re-engagement mail: extra open chance of a dormant member (true effect of the campaign), who then
    # becomes semi-active (active on a click).
    reengagement_open: float = setting(0.15, min=0.0, max=1.0)
    # A resend version is opened by a non-opener with this chance times their own open chance ratio.
    resend_open: float = setting(0.08, min=0.0, max=1.0)
    # Purchase chance after a human click, and the extra chance an offer's click adds; amounts are
    # log-normal around purchase_amount.
    purchase_after_click: float = setting(0.10, min=0.0, max=1.0)
    offer_purchase: float = setting(0.15, min=0.0, max=1.0)
    purchase_amount: float = setting(60.0, min=0.01, max=100_000.0)
