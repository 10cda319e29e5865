"""The panel's languages: English (the source strings), Ukrainian, Russian and Simplified Chinese —
the languages of the source material. Flask-Babel translates templates (`_()` in Jinja) and Python
strings (`gettext`/`lazy_gettext`); catalogues live in mailseg/translations (see babel.cfg and
mailseg/catalogues.py for extraction and compilation).

The locale is chosen per request: the logged-in user's saved choice when there is one (or, before
logging in, the choice kept in the session), else the browser's Accept-Language, else English.
Dates and numbers are formatted for that locale by Babel. Exports and the API never go through
translation; codes (class names, statuses, flag reasons) are translated for display only.
"""

from __future__ import annotations

import logging
from datetime import datetime

from babel.dates import format_skeleton, format_time
from flask import Flask, g, request, session
from flask_babel import Babel, format_decimal, format_percent, get_locale, get_translations, gettext

from .catalogues import compile_catalogues
from .paths import translations_dir
from .words import KINDS, run_error, word

log = logging.getLogger(__name__)

LANGUAGES = {"en": "English", "uk": "Українська", "ru": "Русский", "zh": "中文"}
DEFAULT_LANGUAGE = "en"
SESSION_KEY = "language"


def select_locale() -> str:
    """The user's saved language, else the one chosen before login, else Accept-Language, else English."""
    chosen = getattr(g, "language", None) or _user_language() or session.get(SESSION_KEY)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES)) or DEFAULT_LANGUAGE


def _user_language() -> str | None:
    from flask_login import current_user

    return getattr(current_user, "language", None) if current_user and current_user.is_authenticated else None


def label(code: str | None, kind: str = "class") -> str:
    """A stored code (class, status, event type, flag reason, job, ...) in the panel's language."""
    if code is None:
        return ""
    english = word(kind, code)
    return gettext(english) if code in KINDS[kind] else english


def run_error_sentence(error: str | None) -> str:
    """A failed run's error as a translated sentence with the fix."""
    return gettext(run_error(error)) if error else ""


def translator():
    """The plain-words phrases (mailseg.engagement.plain) in the panel's language."""
    from .engagement.plain import Translator

    catalogue = get_translations()
    return Translator(gettext=catalogue.gettext, ngettext=catalogue.ngettext, date=day, number=thousands,
                      word=lambda kind, code: label(code, kind))


def sentences(phrases) -> list[str]:
    from .engagement.plain import render

    t = translator()
    return [render(p, t) for p in phrases if p is not None]


def explain_sentences(explanation) -> list[str]:
    from .engagement.plain import why

    return sentences(why(explanation))


# Locale-aware formats (Babel); times are shown in UTC, the zone the product stores and schedules in.
def thousands(value: int | float | None) -> str:
    return format_decimal(value or 0)


def decimal2(value: float | None) -> str:
    """A figure with two decimals (money, expected orders) in the locale's digits and separators."""
    return format_decimal(value or 0, "#,##0.00")


def percent(value: float | None) -> str:
    return format_percent(value or 0, "#,##0.0%")


def day(value: datetime | None) -> str:
    return format_skeleton("yMMMd", value, locale=get_locale()) if value else "—"


def when(value: datetime | None) -> str:
    if not value:
        return "—"
    return f"{day(value)} {format_time(value, 'HH:mm', tzinfo=None, locale=get_locale())} UTC"


def init_i18n(app: Flask) -> None:
    directory = translations_dir()
    try:  # an editable install after a pull: build the .mo files the .po files are newer than
        compile_catalogues(directory)
    except OSError as exc:  # a read-only install ships compiled catalogues (the wheel's build hook)
        log.warning("could not compile the message catalogues in %s: %s", directory, exc)
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(directory)
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, label=label, run_error=run_error_sentence, why=explain_sentences,
                                  sentences=sentences, current_language=lambda: str(get_locale()))
    for function in (thousands, decimal2, percent, day, when):
        app.add_template_filter(function)
    app.add_template_filter(label)
