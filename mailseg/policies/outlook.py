"""What happens next: the actions the policies will take, with their date, audience size and
segment — for the dashboard ("Next"), per policy, for `mailseg plan`, and for one subscriber.

`next_actions` turns a `plan_policies` result into the list; `store_outlook` computes it after each
classification (a full pass, in the background) and records it as a run "outlook" whose summary the
dashboard reads, so a page view never scans the audience. `subscriber_outlook` says it for one
person, in plain-words phrases (mailseg.engagement.plain), from their own rows only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..config import Config
from ..engagement.plain import Code, Phrase, many, render
from ..engagement.window import window_bounds
from ..models import Audience, Campaign, CampaignPlan, Event, JobRun, ReengagementState, Subscriber, apscheduler_jobs
from ..runs import finish_run, recorded_run
from ..timeutil import isoformat_utc, parse_datetime
from ..words import N_, Np_
from . import resend
from .engine import PolicyPlan, plan_policies
from .frequency import ALWAYS_ELIGIBLE, CapFigures

OUTLOOK_JOB = "outlook"
# Scheduler job after which the policies run (classify -> policies -> sync).
POLICIES_AFTER = "classify"


@dataclass(frozen=True)
class NextAction:
    policy: str  # reengagement, sunset, resend, offer, frequency, plan
    at: datetime | None  # None: at the next run of the policies, when the scheduler has no date
    audience: int  # subscribers it goes to
    segment: str  # who they are, in English (`mailseg plan`, the stored outlook): render(segment_phrase(...))
    campaign: str | None = None  # the campaign (subject, else id) it sends
    attempt: int | None = None
    configured: bool = True  # False: it would happen but its campaign id is not set
    tag: str | None = None  # the platform tag that holds them (sunset, plan, frequency)
    original: str | None = None  # resend: the campaign whose non-openers get the new version


def segment_phrase(policy: str, *, attempt: int | None = None, tag: str | None = None,
                   original: str | None = None) -> Phrase:
    """Who an action goes to, as a phrase (the dashboard translates it; `segment` is its English)."""
    if policy == "reengagement":
        return Phrase(N_("re-engagement attempt %(attempt)s"), {"attempt": attempt or 1})
    if policy == "resend":
        return Phrase(N_("non-openers of “%(campaign)s”"), {"campaign": original or "—"})
    if policy == "offer":
        return Phrase(N_("moved from semi-active to active"))
    if policy == "frequency":
        return Phrase(N_("not in the %(tag)s tag"), {"tag": tag or "—"})
    return Phrase(N_("the %(tag)s tag"), {"tag": tag or "—"})  # sunset, plan


def segment_words(a: NextAction) -> Phrase:
    """The segment of a stored action in words; an outlook stored before the tag and original were
    recorded keeps its English text."""
    if a.policy in ("sunset", "plan", "frequency") and a.tag is None or a.policy == "resend" and a.original is None:
        return Phrase("%(segment)s", {"segment": a.segment})
    return segment_phrase(a.policy, attempt=a.attempt, tag=a.tag, original=a.original)


def _action(policy: str, at: datetime | None, audience: int, campaign: str | None = None, *, attempt: int | None = None,
            configured: bool = True, tag: str | None = None, original: str | None = None) -> NextAction:
    segment = render(segment_phrase(policy, attempt=attempt, tag=tag, original=original))
    return NextAction(policy, at, audience, segment, campaign, attempt, configured, tag, original)


def next_actions(session: Session, plan: PolicyPlan, config: Config, *, runs_at: datetime | None) -> list[NextAction]:
    """Each scheduled action in date order: the policies' run at `runs_at` (re-engagement attempts,
    sunset, resends, offers), the frequency cap's hold-back, and every campaign plan's next send."""
    re = plan.reengagement
    template = config.reengagement.template_campaign_id or None
    out = []
    if re.entrants:
        out.append(_action("reengagement", runs_at, re.entrants, template, attempt=1, configured=re.configured))
    for attempt, n in sorted(re.attempts.items()):
        if n:
            out.append(_action("reengagement", runs_at, n, template, attempt=attempt, configured=re.configured))
    if re.sunset:
        out.append(_action("sunset", runs_at, re.sunset, configured=re.configured, tag=config.sunset.tag))
    for r in plan.resends:
        out.append(_action("resend", runs_at, r.recipients, r.subject, original=r.original))
    if plan.offers:
        out.append(_action("offer", runs_at, plan.offers, config.offer.campaign_id or None,
                           configured=plan.offer_configured))
    for p, at in _plan_sends(session, plan.audience_id, plan.as_of):
        out.append(_action("plan", at, plan.cap.eligible, p.name, tag=config.frequency.eligible_tag))
    if plan.cap.held_back:
        out.append(_action("frequency", runs_at, plan.cap.held_back, tag=config.frequency.eligible_tag))
    return sorted(out, key=lambda a: (a.at is None, a.at or plan.as_of))


def _plan_sends(session: Session, audience_id: int, as_of: datetime):
    from ..schedules import make_trigger

    for p in session.scalars(select(CampaignPlan).where(CampaignPlan.audience_id == audience_id)):
        at = make_trigger(p.cadence, p.timezone).get_next_fire_time(None, as_of)
        if at is not None:
            yield p, at


def policies_run_at(session: Session) -> datetime | None:
    """When the policies run next: right after the next scheduled classification."""
    from datetime import timezone

    at = session.scalar(select(apscheduler_jobs.c.next_run_time).where(apscheduler_jobs.c.id == POLICIES_AFTER))
    return datetime.fromtimestamp(at, timezone.utc) if at is not None else None


@dataclass(frozen=True)
class Outlook:
    as_of: datetime
    actions: list[NextAction]
    cap: CapFigures


def store_outlook(session: Session, audience: Audience, config: Config, *, as_of: datetime | None = None) -> Outlook:
    """Compute what the policies will do next (the full pass `mailseg plan` makes) and record it as
    a run "outlook"; the dashboard shows the latest one. Commits."""
    plan = plan_policies(session, audience, config, as_of=as_of)
    actions = next_actions(session, plan, config, runs_at=policies_run_at(session))
    with recorded_run(session, OUTLOOK_JOB, audience_id=audience.id, as_of=plan.as_of) as run:
        finish_run(session, run, {"actions": [_dump(a) for a in actions], "cap": asdict(plan.cap)})
    return Outlook(plan.as_of, actions, plan.cap)


def latest_outlook(session: Session, audience_id: int) -> Outlook | None:
    """The last stored outlook (one indexed row), or None before the first classification."""
    row = session.execute(select(JobRun.as_of, JobRun.summary).where(
        JobRun.audience_id == audience_id, JobRun.job == OUTLOOK_JOB, JobRun.status == "succeeded")
        .order_by(JobRun.started_at.desc(), JobRun.id.desc()).limit(1)).first()
    if row is None or not row.summary:
        return None
    actions = [NextAction(**{**a, "at": parse_datetime(a["at"]) if a.get("at") else None})
               for a in row.summary.get("actions", [])]
    return Outlook(row.as_of, actions, CapFigures(**row.summary["cap"]))


def _dump(action: NextAction) -> dict:
    return {**asdict(action), "at": isoformat_utc(action.at) if action.at else None}


def subscriber_outlook(session: Session, subscriber_id: int, config: Config, as_of: datetime,
                       runs_at: datetime | None = None) -> list[Phrase]:
    """What the product will do with this person next, in plain words: their re-engagement step
    and sunset date, when regular mail reaches them again, the next resend they would get."""
    sub = session.get(Subscriber, subscriber_id)
    if sub is None:
        return []
    if sub.status != "subscribed":
        return [Phrase(N_("Nothing: the address is %(status)s and is never mailed again."),
                       {"status": Code("status", sub.status)})]
    out = _reengagement_outlook(session, sub, config, as_of, runs_at)
    out += _frequency_outlook(session, sub, config, as_of)
    out += _resend_outlook(session, sub, config, as_of)
    if sub.engagement_class == "semi_active" and config.offer.campaign_id:
        out.append(Phrase(N_("Gets the offer campaign as soon as they click (semi-active → active).")))
    return out


def _reengagement_outlook(session: Session, sub: Subscriber, config: Config, as_of: datetime,
                          runs_at: datetime | None) -> list[Phrase]:
    state = session.get(ReengagementState, sub.id)
    rc = config.reengagement
    wait = timedelta(days=rc.wait_days)
    if state is not None and state.state == "waiting":
        due = max(state.last_sent_at + wait, runs_at or as_of)
        if state.attempt < rc.attempts:
            return [Phrase(N_("Re-engagement attempt %(attempt)s was sent on %(sent)s; attempt %(next)s follows on "
                              "%(date)s unless they open or click before."),
                           {"attempt": state.attempt, "sent": state.last_sent_at, "next": state.attempt + 1,
                            "date": due})]
        return [Phrase(N_("Re-engagement attempt %(attempt)s was sent on %(sent)s; the sunset (%(action)s) follows on "
                          "%(date)s unless they open or click before."),
                       {"attempt": state.attempt, "sent": state.last_sent_at, "action": config.sunset.action,
                        "date": due})]
    if state is not None and state.state == "sunset":
        return [Phrase(N_("In the sunset since %(date)s (%(action)s); an open or a click brings them back."),
                       {"date": state.sunset_at or state.last_sent_at, "action": config.sunset.action})]
    if sub.engagement_class != "inactive" or not rc.template_campaign_id:
        return []
    start, end = window_bounds(as_of, config.engagement.window_months)
    sends = session.scalar(select(func.count()).select_from(Event).where(
        Event.subscriber_id == sub.id, Event.type == "send", Event.occurred_at > start, Event.occurred_at <= end)) or 0
    if sends >= rc.min_sends:
        return [Phrase(N_("Gets re-engagement attempt 1 at the next run of the policies (%(date)s)."),
                       {"date": runs_at or as_of})]
    return [many(Np_("Enters re-engagement after %(num)s more mailing without an open or a click.",
                     "Enters re-engagement after %(num)s more mailings without an open or a click."),
                 {"num": rc.min_sends - sends})]


def _frequency_outlook(session: Session, sub: Subscriber, config: Config, as_of: datetime) -> list[Phrase]:
    if sub.engagement_class in ALWAYS_ELIGIBLE or sub.engagement_class is None:
        return [Phrase(N_("Receives every regular mailing (in the %(tag)s tag)."), {"tag": config.frequency.eligible_tag})]
    if sub.engagement_class != "inactive":
        return []
    last = session.scalar(select(func.max(Event.occurred_at)).where(
        Event.subscriber_id == sub.id, Event.type == "send", Event.occurred_at <= as_of))
    every = config.frequency.inactive_every_days
    if last is None or last + timedelta(days=every) <= as_of:
        return [Phrase(N_("Gets the next regular mailing, then one every %(days)s days while inactive."),
                       {"days": every})]
    return [Phrase(N_("Held back from regular mailings until %(date)s: the inactive get one every %(days)s days."),
                   {"date": last + timedelta(days=every), "days": every})]


def _resend_outlook(session: Session, sub: Subscriber, config: Config, as_of: datetime) -> list[Phrase]:
    """The next version of a recent campaign they received and have not opened (as resend.due will pick it)."""
    after = timedelta(days=config.resend.after_days)
    originals = session.scalars(select(Campaign).where(
        Campaign.audience_id == sub.audience_id, Campaign.kind == "regular", Campaign.parent_id.is_(None),
        resend.resend_wanted(config), Campaign.status == "sent", Campaign.sent_at > as_of - 2 * after,
        Campaign.id.in_(select(Event.campaign_id).where(Event.subscriber_id == sub.id, Event.type == "send")))
        .order_by(Campaign.sent_at.desc())).all()
    for original in originals:
        versions = session.scalars(select(Campaign).where(Campaign.parent_id == original.id)).all()
        ids = [original.id, *(v.id for v in versions)]
        opened = session.scalar(select(Event.id).where(Event.subscriber_id == sub.id, Event.type == "open",
                                                       Event.is_machine.is_(False), Event.campaign_id.in_(ids)).limit(1))
        variant = max([original.variant, *(v.variant for v in versions)]) + 1
        if opened is not None or variant > config.resend.max_versions:
            continue
        latest = max([original.sent_at, *(v.sent_at for v in versions if v.sent_at)])
        return [Phrase(N_("Version %(n)s of “%(campaign)s” goes to them on %(date)s, subject “%(subject)s”, "
                          "unless they open it before."),
                       {"n": variant, "campaign": original.subject or original.name or original.provider_id,
                        "date": latest + after, "subject": resend.subject_for(config, original, variant)})]
    return []


# The setting that switches each policy on, shown beside an action that is off.
ENABLED_BY = {"reengagement": "reengagement.template_campaign_id", "sunset": "reengagement.template_campaign_id",
              "offer": "offer.campaign_id"}


def describe(a: NextAction) -> Phrase:
    """One action as a sentence (the dashboard's "Next" and `mailseg plan`)."""
    values = {"num": a.audience, "attempt": a.attempt or 1, "campaign": a.campaign or "—",
              "segment": segment_words(a)}
    forms = {
        "reengagement": Np_("Re-engagement attempt %(attempt)s to %(num)s inactive subscriber.",
                            "Re-engagement attempt %(attempt)s to %(num)s inactive subscribers."),
        "sunset": Np_("Sunset of %(num)s subscriber who did not answer re-engagement (%(segment)s).",
                      "Sunset of %(num)s subscribers who did not answer re-engagement (%(segment)s)."),
        "resend": Np_("New version “%(campaign)s” to %(num)s subscriber who did not open the campaign.",
                      "New version “%(campaign)s” to %(num)s subscribers who did not open the campaign."),
        "offer": Np_("Offer to %(num)s subscriber who moved from semi-active to active.",
                     "Offer to %(num)s subscribers who moved from semi-active to active."),
        "plan": Np_("Campaign plan “%(campaign)s” to %(num)s eligible subscriber (%(segment)s).",
                    "Campaign plan “%(campaign)s” to %(num)s eligible subscribers (%(segment)s)."),
        "frequency": Np_("%(num)s inactive subscriber held back from the next regular mailing (frequency cap).",
                         "%(num)s inactive subscribers held back from the next regular mailing (frequency cap)."),
    }
    return many(forms.get(a.policy, Np_("%(num)s subscriber: %(segment)s.", "%(num)s subscribers: %(segment)s.")),
                values)
