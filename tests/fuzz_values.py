"""Hypothesis strategies of hostile parameter values, shared by the panel and webhook fuzz tests:
random text, NUL, U+10FFFF, escaped surrogates, huge numbers, extreme dates, crafted cursors."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

from hypothesis import strategies as st

# A lone surrogate cannot travel as UTF-8; these are the bytes a client would send for one
# (CESU-8 style "%ED%A0%80") — the server must decode them to something harmless.
SURROGATE = "\ud800"
EXTREME = ["", "\x00", "a\x00b", "\U0010ffff", "x\U0010ffff", SURROGATE, "\r\nSet-Cookie: x=1",
           "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "0000-00-00", "2026-02-30",
           "-1", "0", "1e30", "NaN", "Infinity", "9" * 25, "-" + "9" * 101, "1" * 101, "99999999999999999999",
           "//evil.example", "http://evil.example", "/\\evil.example", "[", "%", "%zz", "'", '"', "<script>"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-10**30, max_value=10**30) | st.floats()
    | st.text(max_size=10) | st.sampled_from(["2026-01-01", "0001-01-01T00:00:00+05:00"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=8)
cursors = st.one_of(
    st.sampled_from(['[{},1]', '[null,1]', '["2026-01-01",1e30]', '["a",99999999999999999999]', '["a\\u0000",1]']),
    json_values.map(json.dumps)).map(lambda text: base64.urlsafe_b64encode(text.encode()).decode().rstrip("="))
values = st.one_of(st.sampled_from(EXTREME), st.text(max_size=40),
                   st.integers(min_value=-10**40, max_value=10**40).map(str),
                   st.datetimes().map(lambda d: d.isoformat()), cursors)


def encode(value: str) -> str:
    """Percent-encode as a client would, surrogates as their (invalid) UTF-8 bytes."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def query_string(params: list[tuple[str, str]]) -> str:
    return "&".join(f"{encode(name)}={encode(value)}" for name, value in params)
