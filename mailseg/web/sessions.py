"""Panel sessions only where the panel is: the open pixel, the click redirect and the webhooks
never read, verify or re-sign a session cookie (a mail client or a provider sends none that
matters, and every pixel request paid for it)."""

from __future__ import annotations

from flask.sessions import SecureCookieSessionInterface

SESSIONLESS_PREFIXES = ("/t/", "/webhooks/")


class PanelSessionInterface(SecureCookieSessionInterface):
    def open_session(self, app, request):
        if request.path.startswith(SESSIONLESS_PREFIXES):
            return self.null_session_class()
        return super().open_session(app, request)
