"""Security headers on every response (finding 8 of the hardening issue).

- Content-Security-Policy: scripts and styles only from mailseg's own static files (no inline
  code, no style= attributes in the templates; JSON data blocks are not scripts), images from
  here or data: URLs, no plugins, no <base>, forms post only here, no framing (frame-ancestors)
  except the embeddable sign-up form.
- X-Frame-Options DENY for browsers without frame-ancestors; X-Content-Type-Options nosniff.
- Referrer-Policy: same-origin for the panel; no-referrer for tracking links and webhooks, so a
  click's redirect never hands the token to the target site.
- Cache-Control no-store on everything but static files: panel pages hold subscriber data.
- Strict-Transport-Security when web.secure_cookies is on (the panel is served over HTTPS).
"""

from __future__ import annotations

from flask import Flask, Response, request

from ..config import Config

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
HSTS = "max-age=31536000; includeSubDomains"
NO_STORE = "no-store"
NO_REFERRER_BLUEPRINTS = {"tracking", "webhooks"}
# The sign-up form's embeddable page (/f/<form>?embed=1) is framed by the marketer's own site: it
# shows no subscriber data and its POST is guarded by a signed form token, not a cookie.
EMBEDDABLE_ENDPOINTS = {"signup.signup"}


def init_headers(app: Flask, config: Config) -> None:
    hsts = config.web.secure_cookies

    @app.after_request
    def _security_headers(response: Response) -> Response:
        headers = response.headers
        if request.endpoint in EMBEDDABLE_ENDPOINTS and request.args.get("embed") == "1":
            headers["Content-Security-Policy"] = CSP.replace("frame-ancestors 'none'", "frame-ancestors *")
        else:
            headers["Content-Security-Policy"] = CSP
            headers["X-Frame-Options"] = "DENY"
        headers["X-Content-Type-Options"] = "nosniff"
        headers["Referrer-Policy"] = "no-referrer" if request.blueprint in NO_REFERRER_BLUEPRINTS else "same-origin"
        if request.endpoint != "static" and "Cache-Control" not in headers:
            headers["Cache-Control"] = NO_STORE
        if hsts:
            headers["Strict-Transport-Security"] = HSTS
        return response
