"""Account: every user changes their own password and language."""

import re

import pytest

from crmlite.extensions import db
from crmlite.models import User

from .conftest import PASSWORD, login

NEW = "a much better secret"


def _lang(html: str) -> str:
    return re.search(r'<html lang="([^"]+)"', html).group(1)


@pytest.mark.parametrize("role", ["viewer", "editor", "admin"])
def test_every_user_changes_their_own_password(app, users, role, request):
    c = request.getfixturevalue(f"{role}_client")
    page = c.get("/account/").get_data(as_text=True)
    assert "Current password" in page
    resp = c.post("/account/password", data={"current": PASSWORD, "password": NEW, "confirm": NEW})
    assert resp.status_code == 302
    assert "Your password is changed." in c.get(resp.headers["Location"]).get_data(as_text=True)
    fresh = app.test_client()
    assert login(fresh, f"{role}@example.com").status_code == 401
    assert login(fresh, f"{role}@example.com", NEW).status_code == 302


@pytest.mark.parametrize(
    "data, message",
    [
        ({"current": "wrong one!", "password": NEW, "confirm": NEW}, "current password is wrong"),
        ({"current": PASSWORD, "password": "short", "confirm": "short"}, "at least 8"),
        ({"current": PASSWORD, "password": NEW, "confirm": NEW + "x"}, "Passwords do not match"),
        ({"current": "", "password": NEW, "confirm": NEW}, "This field is required"),
    ],
)
def test_a_bad_password_change_says_why_and_keeps_the_old_password(
    app, viewer_client, data, message
):
    resp = viewer_client.post("/account/password", data=data)
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)
    assert login(app.test_client(), "viewer@example.com").status_code == 302


def test_language_choice_is_stored_and_used_on_the_next_page(app, viewer_client, users):
    english_browser = {"Accept-Language": "en-US,en;q=0.9"}
    russian_browser = {"Accept-Language": "ru-RU,ru;q=0.9"}
    # Browser default: the language follows Accept-Language.
    assert (
        _lang(viewer_client.get("/account/", headers=english_browser).get_data(as_text=True))
        == "en"
    )
    assert (
        _lang(viewer_client.get("/account/", headers=russian_browser).get_data(as_text=True))
        == "ru"
    )

    resp = viewer_client.post("/account/language", data={"language": "ru"})
    assert resp.status_code == 302
    with app.app_context():
        assert db.session.get(User, users["viewer"]).language == "ru"
    # The setting beats the browser.
    page = viewer_client.get("/account/", headers=english_browser).get_data(as_text=True)
    assert _lang(page) == "ru"
    assert re.search(r'<option selected value="ru">|<option value="ru" selected>', page)

    viewer_client.post("/account/language", data={"language": "en"})
    assert (
        _lang(viewer_client.get("/tags/", headers=russian_browser).get_data(as_text=True)) == "en"
    )

    viewer_client.post("/account/language", data={"language": ""})
    with app.app_context():
        assert db.session.get(User, users["viewer"]).language is None
    assert (
        _lang(viewer_client.get("/tags/", headers=russian_browser).get_data(as_text=True)) == "ru"
    )


def test_an_unknown_language_is_refused(app, editor_client, users):
    resp = editor_client.post("/account/language", data={"language": "xx"})
    assert resp.status_code == 422
    assert "Not a valid choice" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, users["editor"]).language is None


def test_language_of_one_user_does_not_affect_another(app, viewer_client, editor_client):
    viewer_client.post("/account/language", data={"language": "ru"})
    page = editor_client.get("/account/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert _lang(page) == "en"


def test_changing_the_password_ends_other_sessions_but_not_this_one(app, users):
    here, elsewhere = app.test_client(), app.test_client()
    login(here, "viewer@example.com")
    login(elsewhere, "viewer@example.com")
    resp = here.post(
        "/account/password",
        data={"current": PASSWORD, "password": NEW, "confirm": NEW},
    )
    assert resp.status_code == 302
    assert here.get("/").status_code == 200
    # The other browser (a lost laptop, say) is logged out.
    assert elsewhere.get("/").headers["Location"].startswith("/login")
