"""Rewriting one HTML email for one subscriber and campaign: every http(s) link goes through a signed
click redirect, the open pixel is appended, and a hidden honeypot link is added for link scanners.

Unsubscribe links (Mailchimp's *|UNSUB|*, anything mentioning unsubscribe or opt-out, the
List-Unsubscribe style targets) and mailto:/tel:/relative links are left exactly as they are,
as is every other byte of the document.
"""

from __future__ import annotations

import re
from html import escape
from html.parser import HTMLParser

from ..config import Config
from .tokens import ClickToken, OpenToken, click_token, is_safe_target, open_token

HREF = re.compile(r"""((?<![\w-])href\s*=\s*)("[^"]*"|'[^']*'|[^\s"'>]+)""", re.IGNORECASE)
UNSUBSCRIBE_MARKERS = ("unsub", "opt-out", "optout", "list-unsubscribe")
HONEYPOT_STYLE = "display:none!important;mso-hide:all;font-size:0;line-height:0;max-height:0;overflow:hidden"
PIXEL_STYLE = "display:block;border:0;width:1px;height:1px"


def public_base_url(config: Config, served_at: str | None = None) -> str:
    """Where webhooks and tracking links point: web.public_url, else tracking.base_url (older
    configs), else the address the app is served on, else web.host and web.port."""
    base = config.web.public_url or config.tracking.base_url or served_at
    return (base or f"http://{config.web.host}:{config.web.port}").rstrip("/")


def open_url(base_url: str, secret: str, recipient: OpenToken) -> str:
    return f"{base_url.rstrip('/')}/t/o/{open_token(secret, recipient)}.gif"


def click_url(base_url: str, secret: str, recipient: OpenToken, target: str, *, honeypot: bool = False) -> str:
    token = ClickToken(recipient.audience_id, recipient.subscriber_id, recipient.campaign_id, target, honeypot)
    return f"{base_url.rstrip('/')}/t/c/{click_token(secret, token)}"


def should_wrap(href: str, base_url: str) -> bool:
    lowered = href.lower()
    if "*|" in href or any(marker in lowered for marker in UNSUBSCRIBE_MARKERS):
        return False
    if href.startswith(f"{base_url.rstrip('/')}/t/"):
        return False  # already a tracking link
    return is_safe_target(href)


def rewrite_html(html: str, recipient: OpenToken, *, secret: str, base_url: str) -> str:
    """The email as this recipient gets it: links wrapped, honeypot link and pixel before </body>."""
    finder = _LinkFinder()
    finder.feed(html)
    finder.close()
    offsets = _line_offsets(html)
    pieces, last = [], 0
    for (line, column), raw, href in finder.links:
        if href is None or not should_wrap(href.strip(), base_url):
            continue
        start = offsets[line - 1] + column
        new_tag = HREF.sub(lambda m: f'{m.group(1)}"{escape(click_url(base_url, secret, recipient, href.strip()))}"',
                           raw, count=1)
        pieces.append(html[last:start])
        pieces.append(new_tag)
        last = start + len(raw)
    pieces.append(html[last:])
    rewritten = "".join(pieces)
    trailer = (
        f'<a href="{escape(click_url(base_url, secret, recipient, base_url.rstrip("/") + "/", honeypot=True))}"'
        f' style="{HONEYPOT_STYLE}" aria-hidden="true" tabindex="-1"></a>'
        f'<img src="{escape(open_url(base_url, secret, recipient))}" width="1" height="1" alt=""'
        f' style="{PIXEL_STYLE}">'
    )
    body_end = rewritten.lower().rfind("</body")
    if body_end == -1:
        return rewritten + trailer
    return rewritten[:body_end] + trailer + rewritten[body_end:]


class _LinkFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[tuple[int, int], str, str | None]] = []

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in ("a", "area"):
            raw = self.get_starttag_text() or ""
            href = next((value for name, value in attrs if name == "href"), None)
            if HREF.search(raw):
                self.links.append((self.getpos(), raw, href))


def _line_offsets(text: str) -> list[int]:
    offsets, position = [0], 0
    for line in text.split("\n")[:-1]:
        position += len(line) + 1
        offsets.append(position)
    return offsets
