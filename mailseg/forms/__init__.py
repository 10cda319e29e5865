"""Sign-up forms that segment at the door: hosted page, embeddable snippet, bot defences, consent evidence."""

from .store import FormNotFound, check_form, get_form, list_forms, save_form
from .submit import Submission, confirm_submission, confirmation_token, form_token, submit_signup

__all__ = ["FormNotFound", "Submission", "check_form", "confirm_submission", "confirmation_token", "form_token",
           "get_form", "list_forms", "save_form", "submit_signup"]
