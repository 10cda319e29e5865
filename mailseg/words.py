"""Display words for the codes the product stores (classes, statuses, event types, flag reasons,
jobs), in English. They are message ids: the panel translates them (mailseg.i18n), the CLI prints
them as they are; exports and the API keep the codes. Flask-free, so the domain can use them.

`N_` only marks a string for extraction (pybabel -k N_); it translates nothing.
"""

from __future__ import annotations


def N_(text: str) -> str:  # noqa: N802 - the gettext convention for "mark, do not translate"
    return text


def Np_(singular: str, plural: str) -> tuple[str, str]:  # noqa: N802 - marks a plural pair (pybabel -k Np_:1,2)
    return singular, plural


CLASSES = {
    "active": N_("active"), "semi_active": N_("semi-active"), "new": N_("new"), "inactive": N_("inactive"),
    "unclassified": N_("unclassified"), "pending": N_("pending"), "subscribed": N_("subscribed"),
    "unsubscribed": N_("unsubscribed"), "cleaned": N_("cleaned"), "complained": N_("complained"),
    "joined": N_("joined"),  # the source of a first class in the transitions (not a class)
}
EVENT_TYPES = {
    "send": N_("send"), "open": N_("open"), "click": N_("click"), "bounce": N_("bounce"),
    "unsubscribe": N_("unsubscribe"), "complaint": N_("complaint"), "purchase": N_("purchase"),
    "reject": N_("reject"), "subscribe": N_("subscribe"),
}
EVENT_SOURCES = {
    "import": N_("import"), "pixel": N_("tracking pixel"), "click": N_("click redirect"), "mandrill": N_("Mandrill"),
    "mailchimp": N_("Mailchimp"), "pull": N_("Mailchimp pull"), "demo": N_("demo"),
}
RUN_STATUSES = {"running": N_("running"), "succeeded": N_("succeeded"), "failed": N_("failed")}
JOBS = {
    "classify": N_("classification"), "pull": N_("pull from Mailchimp"), "sync": N_("sync to Mailchimp"),
    "policies": N_("policies"), "requests": N_("requests from the panel"), "plan": N_("campaign plan"),
    "ingest": N_("stored tracking events"),
}
CAMPAIGN_KINDS = {
    "regular": N_("regular"), "resend": N_("resend"), "reengagement": N_("re-engagement"), "offer": N_("offer"),
    "transactional": N_("transactional"),
}
# Why an open or click was flagged as a machine's (mailseg/ingest/flagging.py names the rules).
FLAG_REASONS = {
    "apple_mpp_ip": N_("Apple Mail's privacy proxy fetched the images (an Apple network address), not the reader"),
    "apple_mpp_user_agent": N_("Apple Mail's privacy proxy fetched the images (its user agent), not the reader"),
    "scanner_user_agent": N_("a mail security scanner opened or clicked it (its user agent), not the reader"),
    "scanner_network": N_("a mail security scanner opened or clicked it (a gateway's network), not the reader"),
    "open_right_after_send": N_("opened within seconds of delivery: a proxy prefetching images, not the reader"),
    "click_before_open": N_("clicked within seconds of delivery before any open: a link scanner, not the reader"),
    "same_second_links": N_("several links clicked in the same second: a link scanner, not the reader"),
    "honeypot": N_("the hidden link no person can see was clicked: a machine"),
    "honeypot_companion": N_("clicked together with the hidden link: a machine"),
}
ROLES = {"admin": N_("admin"), "viewer": N_("viewer")}
# The default RFM segments (value.rfm_segments; a configured name of its own is shown as it is) and
# the quadrants (mailseg.value.segments).
RFM_SEGMENTS = {
    "champions": N_("champions"), "low_value_frequent": N_("low value, frequent"), "cant_lose_them": N_("can't lose them"),
    "loyal": N_("loyal"), "at_risk": N_("at risk"), "new_customers": N_("new customers"), "promising": N_("promising"),
    "potential_loyalist": N_("potential loyalists"), "need_attention": N_("need attention"),
    "about_to_sleep": N_("about to sleep"), "hibernating": N_("hibernating"), "lost": N_("lost"),
    "other": N_("other"), "prospect": N_("prospect (no order)"),
}
QUADRANT_NAMES = {
    "profitable_loyal": N_("profitable, loyal"), "profitable_disloyal": N_("profitable, disloyal"),
    "unprofitable_loyal": N_("unprofitable, loyal"), "unprofitable_disloyal": N_("unprofitable, disloyal"),
}
# Order states as shops commonly send them (normalised by models.normalise_order_status); any other
# state is shown as stored.
ORDER_STATES = {
    "paid": N_("paid"), "pending": N_("pending"), "completed": N_("completed"), "fulfilled": N_("fulfilled"),
    "shipped": N_("shipped"), "cancelled": N_("cancelled"), "refunded": N_("refunded"),
    "partially_refunded": N_("partially refunded"),
}
KINDS = {"role": ROLES, "order": ORDER_STATES, "class": CLASSES, "status": CLASSES, "event": EVENT_TYPES, "source": EVENT_SOURCES, "run": RUN_STATUSES,
         "job": JOBS, "kind": CAMPAIGN_KINDS, "flag": FLAG_REASONS, "rfm": RFM_SEGMENTS, "quadrant": QUADRANT_NAMES}


def word(kind: str, code: str | None) -> str:
    """The English display word for a stored code; an unknown code is shown as it is."""
    if code is None:
        return ""
    return KINDS[kind].get(code, code)


# A failed run's error as a sentence with its fix (the raw text stays available behind "details").
# The first pattern found in the error text wins.
RUN_ERRORS = (
    ("Mailchimp is not configured", N_("Mailchimp is not configured. Set mailchimp.api_key, mailchimp.server and "
                                       "mailchimp.list_id in the config file (or MAILSEG_MAILCHIMP_API_KEY, "
                                       "MAILSEG_MAILCHIMP_SERVER, MAILSEG_MAILCHIMP_LIST_ID), then run it again.")),
    ("Mailchimp rejected the API key", N_("Mailchimp rejected the API key. Check mailchimp.api_key and "
                                          "mailchimp.server (the part after the dash in the key), then run it again.")),
    ("interrupted:", N_("The process running it stopped before it finished (a restart or a crash). The next run "
                        "of the same job finishes the work; nothing needs to be done.")),
    ("tracking.secret", N_("tracking.secret is not set: no tracking link can be made. Set it in the config file "
                           "(or MAILSEG_TRACKING_SECRET).")),
)
RUN_ERROR_DEFAULT = N_("The run failed. The details say what went wrong; the job runs again at its next scheduled "
                       "time, or start it again from here.")


def run_error(error: str | None) -> str:
    """The English sentence for a run's error text (a message id for the panel)."""
    if not error:
        return ""
    return next((sentence for needle, sentence in RUN_ERRORS if needle in error), RUN_ERROR_DEFAULT)
