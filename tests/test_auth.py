from crmlite.extensions import db
from crmlite.models import User

from .conftest import PASSWORD, login


def test_first_page_is_setup_when_no_user_exists(client):
    resp = client.get("/")
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/setup")
    page = client.get("/setup").get_data(as_text=True)
    assert "setup token" in page.lower()


def test_setup_needs_the_token_printed_on_the_console(app, client, capsys):
    client.get("/setup")
    token = capsys.readouterr().err.split("setup token:")[1].split()[0]
    form = {"email": "boss@example.com", "name": "Boss", "password": PASSWORD, "confirm": PASSWORD}
    resp = client.post("/setup", data={**form, "token": "guess"})
    assert resp.status_code == 422
    assert "Wrong setup token" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(User).count() == 0

    resp = client.post("/setup", data={**form, "token": token})
    assert resp.status_code == 302
    with app.app_context():
        admin = db.session.query(User).one()
        assert (admin.email, admin.role) == ("boss@example.com", "admin")
    # Once an admin exists, setup is closed.
    assert client.get("/setup").headers["Location"].endswith("/login")


def test_login_and_logout(client, users):
    resp = login(client, "editor@example.com")
    assert resp.status_code == 302
    assert client.get("/").status_code == 200
    client.post("/logout")
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused(client, users):
    resp = login(client, "editor@example.com", "wrong password")
    assert resp.status_code == 401
    assert "Wrong e-mail or password" in resp.get_data(as_text=True)


def test_repeated_failed_logins_are_throttled(client, users):
    for _ in range(5):
        assert login(client, "admin@example.com", "nope").status_code == 401
    # Even the right password waits now: a guesser cannot tell it worked.
    resp = login(client, "admin@example.com")
    assert resp.status_code == 429
    assert "Too many failed attempts" in resp.get_data(as_text=True)
