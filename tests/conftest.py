"""Fixtures: one migrated database per test run (SQLite file, or PostgreSQL when
CRMLITE_TEST_DATABASE_URL is set), emptied after every test; users of every role."""

import os
import re

import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from crmlite.app import create_app
from crmlite.core.users import create_user
from crmlite.extensions import db

PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    url = os.environ.get("CRMLITE_TEST_DATABASE_URL")
    if url:
        return url
    return "sqlite:///" + str(tmp_path_factory.mktemp("db") / "crmlite-test.db")


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    instance = tmp_path_factory.mktemp("instance")
    os.environ["CRMLITE_INSTANCE_PATH"] = str(instance)
    os.environ["CRMLITE_DATABASE_URL"] = database_url
    # JOBS_IMMEDIATE: enqueue() runs the job at once (huey immediate mode), no worker needed.
    app = create_app(
        {"TESTING": True, "WTF_CSRF_ENABLED": False, "SECRET_KEY": "test", "JOBS_IMMEDIATE": True}
    )
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
    yield app


@pytest.fixture(autouse=True)
def _clean_database(request):
    yield
    if "app" not in request.fixturenames:
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        db.session.remove()
        tables = [t.name for t in db.metadata.sorted_tables]
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            else:
                for name in reversed(tables):
                    conn.execute(text(f"DELETE FROM {name}"))
        for name in ("setup_token",):
            path = os.path.join(app.instance_path, name)
            if os.path.exists(path):
                os.remove(path)


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield
        db.session.remove()


@pytest.fixture
def users(app):
    """An admin, an editor and a viewer, by role."""
    with app.app_context():
        made = {
            role: create_user(db.session, f"{role}@example.com", PASSWORD, role, role.title())
            for role in ("admin", "editor", "viewer")
        }
        db.session.commit()
        ids = {role: u.id for role, u in made.items()}
        db.session.remove()
    return ids


def login(client, email: str, password: str = PASSWORD):
    return client.post("/login", data={"email": email, "password": password})


@pytest.fixture
def client(app):
    return app.test_client()


def _client_for(app, role):
    c = app.test_client()
    resp = login(c, f"{role}@example.com")
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return c


@pytest.fixture
def admin_client(app, users):
    return _client_for(app, "admin")


@pytest.fixture
def editor_client(app, users):
    return _client_for(app, "editor")


@pytest.fixture
def viewer_client(app, users):
    return _client_for(app, "viewer")


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'"X-CSRFToken": "([^"]+)"', html
    )
    assert match, "no CSRF token in page"
    return match.group(1)
