"""Own tracking: signed open-pixel and click tokens, the HTML rewriter, and recording what they report."""

from .recording import record_click, record_open
from .rewrite import rewrite_html
from .tokens import ClickToken, OpenToken, click_token, open_token, read_click_token, read_open_token

__all__ = [
    "ClickToken", "OpenToken", "click_token", "open_token", "read_click_token", "read_open_token",
    "record_click", "record_open", "rewrite_html",
]
