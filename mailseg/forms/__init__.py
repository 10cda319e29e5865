"""Sign-up forms that segment at the door: hosted page, embeddable snippet, bot defences, consent evidence."""

from .store import (FIELDS, SUBMISSION_COLUMNS, FormCounts, FormNotFound, add_form, check_form, choices_text, definition_of,
                    form_snippet, form_url, get_form, list_forms, parse_choices, remove_form, save_form,
                    submission_counts, submission_rows, update_form)
from .submit import Submission, confirm_submission, confirmation_token, form_token, submit_signup

__all__ = ["FIELDS", "SUBMISSION_COLUMNS", "FormCounts", "FormNotFound", "Submission", "add_form", "check_form", "choices_text",
           "confirm_submission", "confirmation_token", "definition_of", "form_snippet", "form_token", "form_url",
           "get_form", "list_forms", "parse_choices", "remove_form", "save_form", "submission_counts",
           "submission_rows", "submit_signup", "update_form"]
