"""Why a subscriber is in their class, in plain words: ONE function (`why`) used by `mailseg
explain`, the panel and the API. It returns phrases — an English message id with its values —
so each caller renders them in its own language: the CLI and the API in English (`render`), the
panel through gettext with Babel's dates and numbers (mailseg.i18n.render_phrase).

"Inactive since 12 Dec 2026: no click and no real open in the last 6 months. The 26 opens in that
time were made by Apple Mail's privacy proxy, not by the reader."
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from ..words import FLAG_REASONS, N_, Np_, word
from .explain import Explanation

# Flag reasons grouped by who made the event, for one sentence per group.
APPLE_REASONS = ("apple_mpp_ip", "apple_mpp_user_agent", "open_right_after_send")


@dataclass(frozen=True)
class Code:
    """A stored code shown as a word (a class, a status): translated for display, never in exports."""
    kind: str
    code: str


@dataclass(frozen=True)
class Phrase:
    """One sentence: `text` (or `plural` when values[count] != 1, per the language's plural rules)."""
    text: str
    values: dict[str, Any] = field(default_factory=dict)
    plural: str | None = None
    count: str | None = None


@dataclass(frozen=True)
class Translator:
    """How a caller renders phrases; the default is English with ISO-like dates."""
    gettext: Callable[[str], str] = lambda s: s
    ngettext: Callable[[str, str, int], str] = lambda s, p, n: s if n == 1 else p
    date: Callable[[datetime], str] = lambda d: f"{d.day} {d:%b %Y}"
    number: Callable[[int], str] = lambda n: f"{n:,}"
    word: Callable[[str, str], str] = word


ENGLISH = Translator()


def many(forms: tuple[str, str], values: dict[str, Any], count: str = "num") -> Phrase:
    """A phrase with a singular and a plural form, chosen by values[count]."""
    return Phrase(forms[0], values, forms[1], count)


def render(phrase: Phrase, t: Translator = ENGLISH) -> str:
    values = {}
    for key, value in phrase.values.items():
        if isinstance(value, datetime):
            value = t.date(value)
        elif isinstance(value, bool):
            value = str(value)
        elif isinstance(value, int):
            value = t.number(value)
        elif isinstance(value, Code):
            value = t.word(value.kind, value.code)
        elif isinstance(value, Phrase):  # a phrase inside a phrase (an action's segment in words)
            value = render(value, t)
        values[key] = value
    if phrase.plural is not None:
        template = t.ngettext(phrase.text, phrase.plural, phrase.values[phrase.count])
    else:
        template = t.gettext(phrase.text)
    return template % values


def why(ex: Explanation) -> list[Phrase]:
    """The headline (class, since when, the deciding rule in words), then what did not count and
    what mail they received, in that order."""
    since = ex.class_since if ex.stored_class == ex.engagement_class else None
    months = ex.window_months
    out = [_headline(ex, since, months)]
    apple = sum(n for reason, n in ex.ignored_by_reason.items() if reason in APPLE_REASONS and reason)
    other = {r: n for r, n in ex.ignored_by_reason.items() if r not in APPLE_REASONS}
    if apple:
        out.append(many(Np_("The %(num)s open in that time was made by Apple Mail's privacy proxy, not by the "
                            "reader, so it does not count.",
                            "The %(num)s opens in that time were made by Apple Mail's privacy proxy, not by the "
                            "reader, so they do not count."), {"num": apple}))
    for reason, n in sorted(other.items(), key=lambda item: -item[1]):
        out.append(many(Np_("%(num)s event did not count: %(reason)s.", "%(num)s events did not count: %(reason)s."),
                        {"num": n, "reason": Code("flag", reason)}))
    if ex.status == "subscribed":
        out.append(many(Np_("%(num)s mailing reached them in that time.", "%(num)s mailings reached them in that time."),
                        {"num": ex.sends_in_window}))
    if ex.stored_class and ex.stored_class != ex.engagement_class:
        out.append(Phrase(N_("This is computed now; the last classification stored %(stored)s, and the next run "
                             "will update it."), {"stored": Code("class", ex.stored_class)}))
    return out


def _headline(ex: Explanation, since: datetime | None, months: int) -> Phrase:
    values = {"months": months, "since": since, "clicks": ex.human_clicks, "opens": ex.counted_opens,
              "last_click": ex.last_human_click, "last_open": ex.last_human_open, "subscribed": ex.subscribed_at,
              "status": Code("status", ex.status), "changed": ex.class_since}
    klass = ex.engagement_class
    if ex.status != "subscribed":
        return Phrase(N_("Not mailed: the address is %(status)s. Only subscribed addresses are classified and "
                         "mailed."), values)
    if klass == "active":
        text = Np_("Active since %(since)s: %(num)s human click in the last %(months)s months, the last on "
                   "%(last_click)s.",
                   "Active since %(since)s: %(num)s human clicks in the last %(months)s months, the last on "
                   "%(last_click)s.")
        if since is None:
            text = Np_("Active: %(num)s human click in the last %(months)s months, the last on %(last_click)s.",
                       "Active: %(num)s human clicks in the last %(months)s months, the last on %(last_click)s.")
        return many(text, {**values, "num": ex.human_clicks})
    if klass == "semi_active":
        text = Np_("Semi-active since %(since)s: reads but does not click — %(num)s real open and no click in "
                   "the last %(months)s months, the last open on %(last_open)s.",
                   "Semi-active since %(since)s: reads but does not click — %(num)s real opens and no click in "
                   "the last %(months)s months, the last open on %(last_open)s.")
        if since is None:
            text = Np_("Semi-active: reads but does not click — %(num)s real open and no click in the last "
                       "%(months)s months, the last open on %(last_open)s.",
                       "Semi-active: reads but does not click — %(num)s real opens and no click in the last "
                       "%(months)s months, the last open on %(last_open)s.")
        return many(text, {**values, "num": ex.counted_opens})
    if klass == "new":
        return Phrase(N_("New: subscribed on %(subscribed)s, less than %(months)s months ago, with no click and no "
                         "real open yet."), values)
    if since is None:
        return Phrase(N_("Inactive: no click and no real open in the last %(months)s months."), values)
    return Phrase(N_("Inactive since %(since)s: no click and no real open in the last %(months)s months."), values)


def flag_reason(reason: str | None) -> Phrase | None:
    """Why one event was flagged, as a sentence."""
    if not reason:
        return None
    return Phrase(FLAG_REASONS.get(reason, reason))
