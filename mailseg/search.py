"""Folding text for search: case- and accent-insensitive ("Petrenko" finds "Petrénko" and
"PETRENKO"). One definition, used on both sides of the comparison: in Python for the query, in the
database as the SQL function mailseg_fold() — on PostgreSQL a SQL function over the unaccent
extension (migration 0014b_audience_search, with a pg_trgm index on the folded text), on SQLite the
Python function below registered on every connection (mailseg.db)."""

from __future__ import annotations

import unicodedata


def fold(text: str | None) -> str | None:
    """Lower case without accents: NFKD, combining marks dropped, lowered."""
    if text is None:
        return None
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


# The text a subscriber is found by: email, first and last name. The PostgreSQL index
# ix_subscribers_search is built on exactly this expression (keep the two identical).
SEARCH_TEXT_SQL = "mailseg_fold(subscribers.email || ' ' || coalesce(subscribers.first_name, '') || ' ' || " \
                  "coalesce(subscribers.last_name, ''))"
