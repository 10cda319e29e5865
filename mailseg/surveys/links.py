"""Answer links. Mail mailseg renders gets a signed token per subscriber and answer (like the click
token); Mailchimp campaigns get a URL with Mailchimp's *|UNIQID|* merge tag (the member's
unique_email_id, stored by `mailseg pull`), pasted into the campaign by the marketer."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from itsdangerous import BadData, URLSafeSerializer

from ..models import Survey
from ..tracking.tokens import TrackingDisabled

ANSWER_SALT = "mailseg.survey.answer"
UNIQID = "*|UNIQID|*"


@dataclass(frozen=True)
class AnswerToken:
    audience_id: int
    subscriber_id: int
    survey_id: int
    answer: str


def _serializer(secret: str) -> URLSafeSerializer:
    if not secret:
        raise TrackingDisabled("tracking.secret is not set")
    return URLSafeSerializer(secret, salt=ANSWER_SALT)


def answer_token(secret: str, token: AnswerToken) -> str:
    return _serializer(secret).dumps([token.audience_id, token.subscriber_id, token.survey_id, token.answer])


def read_answer_token(secret: str, text: str) -> AnswerToken | None:
    """The token's content, or None when it is unsigned or tampered."""
    if not secret:
        return None
    try:
        payload = _serializer(secret).loads(text)
    except (BadData, ValueError, TypeError):
        return None
    if (not isinstance(payload, list) or len(payload) != 4
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in payload[:3])
            or not isinstance(payload[3], str)):
        return None
    return AnswerToken(*payload)


def subscriber_links(base_url: str, secret: str, survey: Survey, subscriber_id: int) -> dict[str, str]:
    """answer -> the subscriber's signed link, for mail mailseg renders."""
    return {answer: f"{base_url.rstrip('/')}/s/{answer_token(secret, AnswerToken(survey.audience_id, subscriber_id, survey.id, answer))}"
            for answer in survey.answers}


def mailchimp_links(base_url: str, survey: Survey) -> dict[str, str]:
    """answer -> a link with *|UNIQID|* for a Mailchimp campaign (Mailchimp fills in the member)."""
    return {answer: f"{base_url.rstrip('/')}/s/m/{survey.id}/{quote(answer, safe='')}?u={UNIQID}"
            for answer in survey.answers}
