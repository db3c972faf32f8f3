"""Admin → Users: list, create, edit, deactivate, reset password; admins only."""

import pytest

from crmlite.core import users as users_core
from crmlite.core.contacts import create_contact, validate
from crmlite.extensions import db
from crmlite.models import Contact, User

from .conftest import PASSWORD, login


def _user(app, email):
    with app.app_context():
        return db.session.query(User).filter_by(email=email).one()


def test_users_page_lists_every_user_with_role_status_and_language(app, admin_client, users):
    with app.app_context():
        db.session.get(User, users["viewer"]).language = "ru"
        db.session.commit()
    page = admin_client.get("/admin/users").get_data(as_text=True)
    for email in ("admin@example.com", "editor@example.com", "viewer@example.com"):
        assert email in page
    assert "Editor" in page and "Viewer" in page
    assert "Русский" in page and "Browser default" in page
    assert "Active" in page


def test_admin_creates_a_user_who_can_log_in(app, admin_client, client):
    resp = admin_client.post(
        "/admin/users/new",
        data={"email": "New@Example.com", "name": "Nina", "role": "viewer", "password": PASSWORD},
    )
    assert resp.status_code == 302
    assert "new@example.com" in admin_client.get("/admin/users").get_data(as_text=True)
    assert login(client, "new@example.com").status_code == 302
    assert _user(app, "new@example.com").role == "viewer"


@pytest.mark.parametrize(
    "data, message",
    [
        ({"email": "editor@example.com"}, "already exists"),
        ({"password": "short"}, "at least 8"),
        ({"email": "not-an-address"}, "valid e-mail"),
    ],
)
def test_creating_a_user_with_bad_input_says_why_and_creates_nothing(
    app, admin_client, data, message
):
    form = {"email": "x@example.com", "name": "", "role": "editor", "password": PASSWORD, **data}
    resp = admin_client.post("/admin/users/new", data=form)
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(User).count() == 3


def test_admin_changes_name_and_role(app, admin_client, users):
    resp = admin_client.post(
        f"/admin/users/{users['viewer']}", data={"name": "Vera", "role": "editor"}
    )
    assert resp.status_code == 302
    user = _user(app, "viewer@example.com")
    assert (user.name, user.role) == ("Vera", "editor")


def _make_admin(app, user_id):
    with app.app_context():
        db.session.get(User, user_id).role = "admin"
        db.session.commit()


def test_admin_cannot_demote_or_deactivate_themselves(app, admin_client, users):
    _make_admin(app, users["editor"])  # another admin exists, so only the self rule applies
    resp = admin_client.post(f"/admin/users/{users['admin']}", data={"name": "A", "role": "viewer"})
    assert resp.status_code == 422
    assert "cannot change your own role" in resp.get_data(as_text=True)
    resp = admin_client.post(f"/admin/users/{users['admin']}/active", data={"active": "0"})
    assert resp.status_code == 422
    assert "cannot deactivate yourself" in resp.get_data(as_text=True)
    user = _user(app, "admin@example.com")
    assert (user.role, user.active) == ("admin", True)


def test_the_last_active_admin_cannot_be_demoted_or_deactivated(app, admin_client, users):
    resp = admin_client.post(f"/admin/users/{users['admin']}", data={"name": "A", "role": "editor"})
    assert resp.status_code == 422
    assert "last active admin" in resp.get_data(as_text=True)
    # A deactivated admin does not count as another admin; the core refuses for anyone.
    _make_admin(app, users["editor"])
    with app.app_context():
        editor = db.session.get(User, users["editor"])
        editor.active = False
        db.session.commit()
        admin = db.session.get(User, users["admin"])
        for call in (
            lambda: users_core.update_user(db.session, editor, admin, "A", "viewer"),
            lambda: users_core.set_active(db.session, None, admin, False),
        ):
            with pytest.raises(users_core.UserError, match="last active admin"):
                call()
        db.session.rollback()
    assert _user(app, "admin@example.com").role == "admin"


def test_an_admin_may_demote_another_admin(app, admin_client, users):
    _make_admin(app, users["editor"])
    resp = admin_client.post(
        f"/admin/users/{users['editor']}", data={"name": "E", "role": "viewer"}
    )
    assert resp.status_code == 302
    assert _user(app, "editor@example.com").role == "viewer"


def test_a_deactivated_user_cannot_log_in_and_keeps_their_contacts(
    app, admin_client, editor_client, users
):
    with app.app_context():
        contact = create_contact(db.session, validate({"first_name": "Olga"}), users["editor"])
        db.session.commit()
        contact_id = contact.id
    resp = admin_client.post(f"/admin/users/{users['editor']}/active", data={"active": "0"})
    assert resp.status_code == 302
    page = admin_client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "their contacts keep them as owner" in page
    # Their open session ends, and they cannot log in again.
    assert editor_client.get("/tags/").status_code == 302
    fresh = app.test_client()
    assert login(fresh, "editor@example.com").status_code == 401
    with app.app_context():
        assert db.session.get(Contact, contact_id).owner_id == users["editor"]
    assert "Deactivated" in admin_client.get("/admin/users").get_data(as_text=True)

    resp = admin_client.post(f"/admin/users/{users['editor']}/active", data={"active": "1"})
    assert resp.status_code == 302
    assert login(fresh, "editor@example.com").status_code == 302


def test_admin_resets_a_password(app, admin_client, client, users):
    resp = admin_client.post(f"/admin/users/{users['viewer']}/password", data={"password": "x"})
    assert resp.status_code == 422
    assert "at least 8" in resp.get_data(as_text=True)
    assert login(client, "viewer@example.com").status_code == 302  # unchanged
    client.post("/logout")

    resp = admin_client.post(
        f"/admin/users/{users['viewer']}/password", data={"password": "a brand new secret"}
    )
    assert resp.status_code == 302
    assert login(client, "viewer@example.com").status_code == 401
    assert login(client, "viewer@example.com", "a brand new secret").status_code == 302


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_non_admins_get_403_on_every_admin_url(app, users, role, request):
    from .test_security import build_url, sample_ids

    c = request.getfixturevalue(f"{role}_client")
    ids = sample_ids(app, users)
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith("admin.")]
    assert len(rules) >= 6
    for rule in rules:
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            resp = c.open(build_url(rule, ids), method=method)
            assert resp.status_code == 403, (rule.rule, method)
    # ... and the menu does not offer them.
    assert "/admin/users" not in c.get("/tags/").get_data(as_text=True)
