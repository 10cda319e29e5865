"""The panel's language: Accept-Language by default, the user's choice remembered in the users
table, dates and numbers per locale, class names translated for display only."""

from __future__ import annotations

from tests.factories import ADMIN, due_for_reengagement, login

from mailseg.models import User


def test_accept_language_picks_the_language(viewer, seeded):
    page = viewer.get("/", headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"}).data.decode()
    assert '<html lang="ru">' in page
    assert "Аудитория по классам" in page and "Audience by class" not in page
    assert ">активный</span>" in page  # the class name, translated for display
    assert 'data-class="active"' in page  # the code itself is unchanged
    page = viewer.get("/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).data.decode()
    assert "按类别划分的受众" in page and ">活跃</span>" in page
    assert "Audience by class" in viewer.get("/", headers={"Accept-Language": "fr"}).data.decode()


def test_the_chosen_language_is_remembered_per_user(app, client, users, seeded, session):
    login(client, ADMIN)
    response = client.post("/language", data={"language": "uk", "next": "/audience"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/audience")
    assert session.query(User).filter_by(email=ADMIN).one().language == "uk"
    # a new session on another browser: the saved choice beats the browser's Accept-Language
    other = app.test_client()
    login(other, ADMIN)
    page = other.get("/audience", headers={"Accept-Language": "en"}).data.decode()
    assert "Email або ім’я містить" in page and '<html lang="uk">' in page
    assert client.post("/language", data={"language": "xx"}).status_code == 400


def test_language_before_login_is_kept_in_the_session(client, users):
    client.post("/language", data={"language": "zh", "next": "/login"})
    assert "登录" in client.get("/login").data.decode()


def test_dates_and_numbers_follow_the_locale(viewer, seeded, session):
    from mailseg.models import Subscriber

    sub = session.get(Subscriber, seeded.ids["ivan.petrenko@example.com"])
    page = viewer.get(f"/subscribers/{sub.id}", headers={"Accept-Language": "zh"}).data.decode()
    since = sub.class_since
    assert f"{since.year}年{since.month}月{since.day}日" in page
    page = viewer.get("/", headers={"Accept-Language": "uk"}).data.decode()
    assert "33,3%" in page  # 2 of 6 active, with the Ukrainian decimal comma


def test_exports_keep_the_codes(viewer, seeded):
    body = viewer.get("/audience/export.csv?class=semi_active", headers={"Accept-Language": "ru"}).data.decode()
    assert "semi_active" in body and "полуактивный" not in body


def test_explanation_in_ukrainian(viewer, seeded, session):
    page = viewer.get(f"/subscribers/{seeded.ids['ivan.petrenko@example.com']}",
                      headers={"Accept-Language": "uk"}).data.decode()
    assert "Неактивний з " in page and "жодного кліку й жодного справжнього відкриття за останні 6 міс." in page
    assert "зробив проксі конфіденційності Apple Mail, а не читач" in page


def test_one_word_two_meanings_and_the_next_list_in_ukrainian(app, viewer, seeded, session, config):
    """"Value" the page is «Цінність», "Value" a setting's is «Значення»; the Next list's segments
    (built in Python) come out translated."""
    uk = {"Accept-Language": "uk"}
    menu = viewer.get("/audience", headers=uk).data.decode()
    assert ">Цінність</a>" in menu and ">Значення</a>" not in menu
    assert "<th scope=\"col\">Ім’я</th>" in menu
    due_for_reengagement(session, app, config, seeded.audience_id, "ivan.petrenko@example.com")
    page = viewer.get("/", headers=uk).data.decode()
    assert 'data-label="Сегмент">спроба повернення 1</td>' in page and "re-engagement attempt" not in page
