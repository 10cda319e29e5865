"""The panel in English, Ukrainian, Russian and Simplified Chinese: every message id of the
templates and the Python code (extracted fresh from the sources with babel.cfg's rules, the same
as scripts/i18n) has a translation in each catalogue, with the same placeholders; the compiled
catalogues translate; dates and numbers follow the locale; the language choice is remembered."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "mailseg" / "translations"
LANGUAGES = ("uk", "ru", "zh")
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_gettext": None, "L_": None, "N_": None, "Np_": (1, 2),
            "lazy_pgettext": ((1, "c"), 2)}
METHODS = [("mailseg/**.py", "python"), ("templates/**.html", "jinja2")]
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]|\{\w+\}")


def source_messages() -> dict[tuple[str | None, str], tuple[str, ...]]:
    """(context, msgid) -> (msgid[, msgid_plural]) for every marked string in the sources."""
    out = {}
    for _file, _line, message, _comments, context in extract_from_dir(str(ROOT), METHODS, KEYWORDS):
        forms = message if isinstance(message, tuple) else (message,)
        forms = tuple(f for f in forms if f)
        if forms:
            out[(context, forms[0])] = forms
    return out


@pytest.fixture(scope="module")
def messages():
    found = source_messages()
    assert len(found) > 200  # the extraction found the panel's strings
    return found


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_has_a_translation_with_the_same_placeholders(messages, language):
    with (TRANSLATIONS / language / "LC_MESSAGES" / "messages.po").open("rb") as source:
        catalogue = read_po(source, locale=language)
    problems = []
    for (context, msgid), forms in sorted(messages.items(), key=lambda item: (item[0][1], item[0][0] or "")):
        entry = catalogue.get(forms if len(forms) > 1 else msgid, context=context)
        if entry is None:
            entry = catalogue.get(msgid, context=context)
        strings = entry.string if entry is not None else None
        strings = strings if isinstance(strings, tuple) else (strings,)
        if entry is None or entry.fuzzy or not all(strings):
            problems.append(f"no translation: {msgid!r}" + (f" (context {context!r})" if context else ""))
            continue
        if len(forms) > 1 and not isinstance(entry.id, tuple):
            problems.append(f"not a plural entry: {msgid!r}")
            continue
        wanted = set(PLACEHOLDER.findall(forms[-1]))
        for text in strings:
            if set(PLACEHOLDER.findall(text)) != wanted:
                problems.append(f"placeholders differ: {msgid!r} -> {text!r}")
    assert problems == [], f"{language}: {len(problems)} problems; run scripts/i18n and translate:\n" + "\n".join(problems)


def test_catalogues_compile_and_translate(tmp_path):
    import shutil
    from gettext import GNUTranslations

    from mailseg.catalogues import compile_catalogues

    shutil.copytree(TRANSLATIONS, tmp_path / "translations", ignore=shutil.ignore_patterns("*.mo"))
    written = compile_catalogues(tmp_path / "translations")
    assert len(written) == len(LANGUAGES)
    with (tmp_path / "translations" / "uk" / "LC_MESSAGES" / "messages.mo").open("rb") as mo:
        uk = GNUTranslations(mo)
    assert uk.gettext("Dashboard") == "Панель"
    assert uk.ngettext("%(num)s subscriber", "%(num)s subscribers", 5) == "%(num)s підписників"
    # one English word, two meanings: the Value page (a customer's worth) and a setting's value
    assert (uk.pgettext("page", "Value"), uk.pgettext("setting", "Value")) == ("Цінність", "Значення")
    assert (uk.pgettext("person", "Name"), uk.pgettext("title", "Name")) == ("Ім’я", "Назва")
    assert compile_catalogues(tmp_path / "translations") == []  # nothing stale: nothing rewritten
