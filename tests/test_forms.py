"""The fast url-encoded form decoder gives what urllib (and so Werkzeug) gives."""

from urllib.parse import parse_qsl, urlencode

from hypothesis import given, strategies as st

from mailseg.webhooks.forms import parse_urlencoded

RAW = st.text(alphabet="ab=&%+\\xF0c9 é\u20ac", max_size=40)
FIELDS = st.lists(st.tuples(st.text(max_size=10), st.text(max_size=40)), max_size=5)


@given(RAW)
def test_any_body_decodes_like_parse_qsl(body):
    assert parse_urlencoded(body.encode()) == parse_qsl(body, keep_blank_values=True, errors="replace")


@given(FIELDS)
def test_encoded_fields_round_trip(fields):
    assert parse_urlencoded(urlencode(fields).encode()) == fields


def test_malformed_escapes_are_kept_as_urllib_keeps_them():
    assert parse_urlencoded(b"a=%zz&b=%4&c&d=x%20y+z&&e=%E2%82%AC%5C\\n") == [
        ("a", "%zz"), ("b", "%4"), ("c", ""), ("d", "x y z"), ("e", "\u20ac\\\\n")]
