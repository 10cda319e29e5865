"""Fixtures of the panel tests: users, a seeded audience, logged-in clients."""

from __future__ import annotations

import pytest
from tests.factories import ADMIN, VIEWER, login, seed_audience, seed_users


@pytest.fixture
def app(app):
    """The app with CSRF off (tests of CSRF switch it back on)."""
    app.config["WTF_CSRF_ENABLED"] = False
    return app


@pytest.fixture
def users(session):
    seed_users(session)


@pytest.fixture
def seeded(session):
    return seed_audience(session)


@pytest.fixture
def admin(client, users):
    assert login(client, ADMIN).status_code == 302
    return client


@pytest.fixture
def viewer(client, users):
    assert login(client, VIEWER).status_code == 302
    return client
