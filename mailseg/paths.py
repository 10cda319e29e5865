"""Where the top-level templates/ and migrations/ live: beside the package in a
source checkout or editable install, inside it (as _templates/_migrations) in a wheel."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _resource(name: str) -> Path:
    bundled = PACKAGE_DIR / f"_{name}"
    if bundled.is_dir():
        return bundled
    return PACKAGE_DIR.parent / name


def templates_dir() -> Path:
    return _resource("templates")


def migrations_dir() -> Path:
    return _resource("migrations")


def static_dir() -> Path:
    return PACKAGE_DIR / "static"


def translations_dir() -> Path:
    return PACKAGE_DIR / "translations"
