"""Config sections of the policies (mailseg/policies/): the frequency cap, re-engagement, sunset,
resend to non-openers and the offer. Part of mailseg.config.Config."""

from __future__ import annotations

from dataclasses import dataclass

from .configbase import setting

SUNSET_ACTIONS = ("tag", "unsubscribe", "archive")


def _check_subjects(value: list[str]) -> None:
    if not value:
        raise ValueError("give at least one subject line")
    for subject in value:
        if not subject.strip():
            raise ValueError("subject lines cannot be empty")
        try:
            subject.format(subject="x")
        except (KeyError, IndexError, ValueError):
            raise ValueError(f"only {{subject}} may appear in braces: {subject!r}") from None


@dataclass(frozen=True)
class FrequencyConfig:
    """Frequency cap: the tag every regular mailing should target."""

    # Inactive subscribers are eligible again once their last send is this many days old.
    inactive_every_days: int = setting(60, min=30, max=120)
    eligible_tag: str = setting("mailseg:eligible")
    # Target or exclude a rule segment (its stored members, by name; "" = everyone / no one).
    segment: str = setting("")
    exclude_segment: str = setting("")
    # Value segments (RFM segment, ABC class or quadrant names) whose subscribers are always eligible.
    prefer_segments: list[str] = setting([])


@dataclass(frozen=True)
class ReengagementConfig:
    # Sends inside the engagement window, none opened or clicked by a human, before anyone enters.
    min_sends: int = setting(5, min=1, max=100)
    wait_days: int = setting(14, min=1, max=90)
    attempts: int = setting(1, min=1, max=5)
    # The Mailchimp campaign copied for each attempt; empty: the policy is off.
    template_campaign_id: str = setting("")
    # Target or exclude a rule segment (its stored members, by name; "" = everyone / no one).
    segment: str = setting("")
    exclude_segment: str = setting("")


@dataclass(frozen=True)
class SunsetConfig:
    action: str = setting("tag", choices=SUNSET_ACTIONS)
    tag: str = setting("mailseg:sunset")
    # Value segments never re-engaged nor sunset: RFM segments, ABC classes or quadrants by name.
    protect_segments: list[str] = setting([])


@dataclass(frozen=True)
class ResendConfig:
    after_days: int = setting(7, min=1, max=30)
    # Versions in all, the original included.
    max_versions: int = setting(4, min=1, max=6)
    all_regular: bool = setting(True)
    # Subject of version 2, 3, ... ({subject} is the original's); the last one repeats.
    subjects: list[str] = setting(["Did you miss this? {subject}", "In case you missed it: {subject}",
                                   "Last chance: {subject}"], check=_check_subjects)
    # Target or exclude a rule segment (its stored members, by name; "" = everyone / no one).
    segment: str = setting("")
    exclude_segment: str = setting("")


@dataclass(frozen=True)
class OfferConfig:
    # The Mailchimp campaign copied for each day's offer; empty: the policy is off.
    campaign_id: str = setting("")
    cooldown_days: int = setting(90, min=1, max=365)
    # Target or exclude a rule segment (its stored members, by name; "" = everyone / no one).
    segment: str = setting("")
    exclude_segment: str = setting("")
    # Value segments (RFM segment, ABC class or quadrant names) that never get the offer.
    skip_segments: list[str] = setting([])
