"""The panel's languages: English (the source strings), Ukrainian, Russian and Simplified Chinese —
the languages of the source material. Flask-Babel translates templates (`_()` in Jinja) and Python
strings (`gettext`/`lazy_gettext`); catalogues live in mailseg/translations.

The locale is chosen per request: the logged-in user's saved choice when there is one, else the
browser's Accept-Language, else English. Exports and the API never go through translation.
"""

from __future__ import annotations

from flask import Flask, request
from flask_babel import Babel

from .paths import translations_dir

LANGUAGES = {"en": "English", "uk": "Українська", "ru": "Русский", "zh": "中文"}
DEFAULT_LANGUAGE = "en"


def select_locale() -> str:
    from flask import g

    chosen = getattr(g, "language", None)
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES)) or DEFAULT_LANGUAGE


def init_i18n(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(translations_dir())
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
