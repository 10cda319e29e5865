"""gunicorn configuration shipped with mailseg (README, "Deploying"):

    gunicorn -c python:mailseg.gunicorn_conf 'mailseg.app:create_app()'

Settings here are defaults; command-line flags (--workers, --bind, -k gthread ...) override them.
"""

# Access log to standard error, with the Mailchimp webhook secret masked (mailseg.web.accesslog).
accesslog = "-"
logger_class = "mailseg.web.accesslog.MaskingGunicornLogger"
bind = "127.0.0.1:8000"
workers = 4
# A request body is bounded by mailseg itself (web.max_body_bytes and the webhook limits);
# gunicorn bounds the request line and headers.
limit_request_line = 8190
limit_request_fields = 100
# gunicorn announces itself as "Server: gunicorn", without a version.
