"""Compile the panel's message catalogues (mailseg/translations/<lang>/LC_MESSAGES/messages.po)
into the .mo files gettext reads. The .po files are in the repository; the .mo files are built:
by the wheel's build hook (hatch_build.py), by scripts/_venv.sh, and by the app at start when one
is missing or older than its .po (an editable install after `git pull`). Needs only Babel."""

from __future__ import annotations

import os
from pathlib import Path

DOMAIN = "messages"


def catalogue_files(directory: Path) -> list[tuple[Path, Path]]:
    """(po, mo) pairs of every language in the directory."""
    return [(po, po.with_suffix(".mo")) for po in sorted(directory.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))]


def stale(directory: Path) -> list[tuple[Path, Path]]:
    return [(po, mo) for po, mo in catalogue_files(directory)
            if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime]


def compile_catalogues(directory: Path, *, only_stale: bool = True) -> list[Path]:
    """Write the .mo of every (stale) .po; returns the files written. Fuzzy entries are left out,
    as msgfmt does."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for po, mo in (stale(directory) if only_stale else catalogue_files(directory)):
        with po.open("rb") as source:
            catalog = read_po(source, locale=po.parent.parent.name)
        partial = mo.with_name(f"{mo.name}.{os.getpid()}.tmp")  # several workers may start at once
        with partial.open("wb") as target:
            write_mo(target, catalog, use_fuzzy=False)
        os.replace(partial, mo)
        written.append(mo)
    return written
