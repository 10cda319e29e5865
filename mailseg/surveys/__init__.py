"""One-click surveys: answer links (signed, or Mailchimp's *|UNIQID|*), answers recorded on POST only,
the answer as a tag and a rule field, and NPS / CSI reports."""

from .links import AnswerToken, answer_token, mailchimp_links, read_answer_token, subscriber_links
from .report import Scores, SurveyReport, scores, survey_report
from .store import SurveyNotFound, add_survey, answer_tag, get_survey, list_surveys, record_answer

__all__ = [
    "AnswerToken", "Scores", "SurveyNotFound", "SurveyReport", "add_survey", "answer_tag", "answer_token",
    "get_survey", "list_surveys", "mailchimp_links", "read_answer_token", "record_answer", "scores",
    "subscriber_links", "survey_report",
]
