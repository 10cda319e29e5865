"""The Mailchimp webhook secret (a path segment) never reaches an access log: not the development
server's of `mailseg serve`, not gunicorn's run with the shipped configuration (README's command);
neither server announces its version."""

import logging
import urllib.request

from mailseg.web.accesslog import mask_secrets

from .factories import gunicorn_serving

SECRET = "hook-secret-0f9e8d7c"


def test_mask_secrets():
    assert mask_secrets(f'"POST /webhooks/mailchimp/{SECRET}?x=1 HTTP/1.1"') == '"POST /webhooks/mailchimp/****?x=1 HTTP/1.1"'
    assert mask_secrets("GET /audience HTTP/1.1") == "GET /audience HTTP/1.1"


def _get(url: str):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers


def test_development_server_masks_the_secret(config, database, caplog):
    from werkzeug.serving import make_server

    from mailseg.app import create_app
    from mailseg.web.accesslog import MaskingRequestHandler

    app = create_app(config.replace(mailchimp={"webhook_secret": SECRET}), database=database)
    server = make_server("127.0.0.1", 0, app, request_handler=MaskingRequestHandler, threaded=True)
    import threading

    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            status, headers = _get(f"http://127.0.0.1:{server.server_port}/webhooks/mailchimp/{SECRET}")
            _get(f"http://127.0.0.1:{server.server_port}/webhooks/mailchimp/wrong-{SECRET}")
    finally:
        server.shutdown()
    assert status == 200 and headers["Server"] == "mailseg"
    assert SECRET not in caplog.text and "/webhooks/mailchimp/**** HTTP/1.1" in caplog.text


def test_gunicorn_with_the_shipped_configuration_masks_the_secret(tmp_path, sqlite_template):
    with gunicorn_serving(tmp_path, sqlite_template, {"MAILSEG_MAILCHIMP_WEBHOOK_SECRET": SECRET}) as (url, log, _):
        status, headers = _get(f"{url}/webhooks/mailchimp/{SECRET}")
    text = log.read_text()
    assert status == 200 and headers["Server"] == "gunicorn"
    assert SECRET not in text and "/webhooks/mailchimp/****" in text, text
