"""The JSON API (/api/v1) endpoints of segments. Issue 13 builds the /api/v1 framework (token
management, error shapes); until it is merged, auth.py holds the bearer-token check these use."""
