"""The command line contract: the real `crmlite` (and `flask --app crmlite`) console scripts,
each run in a subprocess against its own SQLite file and instance folder."""

import re
import shutil
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from crmlite.app import create_app
from crmlite.core.phones import PhoneError, normalize_phone

from .conftest import PASSWORD, csrf_from, login
from .serving import Client, clean_env, free_port, serving

BIN = Path(sys.executable).parent
CRMLITE = BIN / "crmlite"
FLASK = BIN / "flask"


@pytest.fixture
def env(tmp_path):
    """An environment for one crmlite: its own database file and instance folder."""
    return clean_env(
        CRMLITE_DATABASE_URL="sqlite:///" + str(tmp_path / "crm.db"),
        CRMLITE_INSTANCE_PATH=str(tmp_path / "instance"),
    )


def crmlite(env, *args: str, stdin: str = "", program: Path = CRMLITE, cwd=None):
    return subprocess.run(
        [str(program), *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def migrated_file(tmp_path_factory):
    """One `crmlite db upgrade` per module; tests get a copy of the file (much quicker)."""
    folder = tmp_path_factory.mktemp("migrated")
    env = clean_env(
        CRMLITE_DATABASE_URL="sqlite:///" + str(folder / "crm.db"),
        CRMLITE_INSTANCE_PATH=str(folder / "instance"),
    )
    result = crmlite(env, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    return folder / "crm.db"


@pytest.fixture
def migrated(env, migrated_file, tmp_path):
    for suffix in ("", "-wal", "-shm"):  # normally only the file: its WAL is merged on exit
        source = migrated_file.with_name(migrated_file.name + suffix)
        if source.exists():
            shutil.copyfile(source, tmp_path / ("crm.db" + suffix))
    return env


def user_rows(env) -> list[tuple[str, str, str]]:
    engine = create_engine(env["CRMLITE_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT email, role, name FROM users ORDER BY email"))
            return [tuple(r) for r in rows]
    finally:
        engine.dispose()


def app_for(env, monkeypatch, **config):
    """An in-process app on the same database and instance folder as the subprocesses."""
    for key in ("CRMLITE_DATABASE_URL", "CRMLITE_INSTANCE_PATH", "CRMLITE_SECRET_KEY"):
        if key in env:
            monkeypatch.setenv(key, env[key])
        else:
            monkeypatch.delenv(key, raising=False)
    return create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, **config})


def test_help_lists_the_commands():
    result = crmlite(clean_env(), "--help")
    assert result.returncode == 0, result.stderr
    commands = result.stdout.split("Commands:")[1]
    for name in ("run", "db", "users", "demo"):
        assert re.search(rf"^\s+{name}\s", commands, re.M), result.stdout
    # Options of `flask` that mean nothing for crmlite are not offered.
    assert "--app" not in result.stdout
    version = crmlite(clean_env(), "--version")
    assert version.stdout.startswith("crmlite ")


def test_db_upgrade_creates_the_schema_on_a_fresh_file(env):
    result = crmlite(env, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    engine = create_engine(env["CRMLITE_DATABASE_URL"])
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"users", "contacts", "alembic_version"} <= tables
    # Running it again is harmless.
    assert crmlite(env, "db", "upgrade").returncode == 0


def test_users_create_reads_the_password_from_stdin_and_the_user_can_log_in(migrated, monkeypatch):
    result = crmlite(
        migrated,
        "users",
        "create",
        "Boss@Example.com",
        "--role",
        "admin",
        "--name",
        "Boss",
        stdin=PASSWORD + "\n",
    )
    assert result.returncode == 0, result.stderr
    assert "Created admin boss@example.com" in result.stdout
    assert user_rows(migrated) == [("boss@example.com", "admin", "Boss")]

    client = app_for(migrated, monkeypatch).test_client()
    assert login(client, "boss@example.com", "wrong password").status_code == 401
    assert login(client, "boss@example.com").status_code == 302
    assert "Boss" in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize(
    ("email", "role", "password", "message"),
    [
        ("boss@example.com", "editor", PASSWORD, "already exists"),
        ("new@example.com", "editor", "short", "at least 8 characters"),
        ("new@example.com", "owner", PASSWORD, "'owner' is not one of"),
        ("not-an-email", "editor", PASSWORD, "valid e-mail"),
        ("new@example.com", "editor", "", "at least 8 characters"),
    ],
)
def test_users_create_refuses_bad_input_and_creates_nothing(
    migrated, email, role, password, message
):
    first = crmlite(
        migrated, "users", "create", "boss@example.com", "--role", "admin", stdin=PASSWORD
    )
    assert first.returncode == 0, first.stderr

    result = crmlite(migrated, "users", "create", email, "--role", role, stdin=password + "\n")
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert user_rows(migrated) == [("boss@example.com", "admin", "")]


def test_flask_app_crmlite_users_create_works_too(migrated):
    result = crmlite(
        migrated,
        "--app",
        "crmlite",
        "users",
        "create",
        "ed@example.com",
        "--role",
        "editor",
        "--name",
        "Ed",
        stdin=PASSWORD + "\n",
        program=FLASK,
    )
    assert result.returncode == 0, result.stderr
    assert user_rows(migrated) == [("ed@example.com", "editor", "Ed")]


def test_run_refuses_an_unmigrated_database_with_a_hint(env):
    result = crmlite(env, "run", "--port", str(free_port()))
    assert result.returncode != 0
    assert "crmlite db upgrade" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_reports_a_port_that_is_taken(migrated):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = crmlite(migrated, "run", "--port", str(port))
    assert result.returncode != 0
    assert f"Cannot listen on 127.0.0.1:{port}" in result.stderr


def test_run_serves_and_the_printed_setup_token_creates_the_first_admin(migrated, tmp_path):
    with serving(CRMLITE, migrated, cwd=tmp_path) as server:
        http = Client(server.url)
        health = http.get("/healthz")
        assert (health.status, health.json()) == (200, {"status": "ok"})

        home = http.get("/")
        assert home.status == 302
        assert home.headers["Location"].endswith("/setup")

        token = re.search(r"setup token: (\S+)", server.output).group(1)
        page = http.get("/setup")
        assert page.status == 200
        form = {
            "email": "boss@example.com",
            "name": "Boss",
            "password": PASSWORD,
            "confirm": PASSWORD,
            "csrf_token": csrf_from(page.text),
        }
        # CSRF is on in a real server: a form without its token is refused.
        no_csrf = http.post("/setup", {**form, "token": token, "csrf_token": ""})
        assert no_csrf.status == 400
        wrong = http.post("/setup", {**form, "token": "guess"})
        assert wrong.status == 422
        assert "Wrong setup token" in wrong.text

        done = http.post("/setup", {**form, "token": token})
        assert done.status == 302, done.text
        welcome = http.get(urlpath(done.headers["Location"]))
        assert welcome.status == 200
        assert "Boss" in welcome.text
        # Setup is closed once an admin exists.
        assert http.get("/setup").headers["Location"].endswith("/login")

    assert server.process.returncode == 0, server.output
    assert user_rows(migrated) == [("boss@example.com", "admin", "Boss")]


def urlpath(location: str) -> str:
    return re.sub(r"^https?://[^/]+", "", location)


def test_secret_key_is_generated_once_and_reused(migrated, monkeypatch, tmp_path):
    env = migrated
    crmlite(env, "users", "create", "ed@example.com", "--role", "editor", stdin=PASSWORD)

    first = app_for(env, monkeypatch)
    key_file = Path(env["CRMLITE_INSTANCE_PATH"]) / "secret_key"
    assert first.config["SECRET_KEY"] == key_file.read_text().strip()
    assert len(first.config["SECRET_KEY"]) == 64
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    # A restart keeps the key, so people stay logged in.
    client = first.test_client()
    assert login(client, "ed@example.com").status_code == 302
    second = app_for(env, monkeypatch)
    assert second.config["SECRET_KEY"] == first.config["SECRET_KEY"]
    again = second.test_client()
    again.set_cookie("session", client.get_cookie("session").value)
    assert again.get("/").status_code == 200

    # An explicit key wins and leaves no file behind.
    other = tmp_path / "other-instance"
    monkeypatch.setenv("CRMLITE_INSTANCE_PATH", str(other))
    monkeypatch.setenv("CRMLITE_SECRET_KEY", "from-the-environment")
    app = create_app({"TESTING": True})
    assert app.config["SECRET_KEY"] == "from-the-environment"
    assert not (other / "secret_key").exists()


def test_default_region_decides_how_national_numbers_are_read(env, monkeypatch):
    monkeypatch.delenv("CRMLITE_DEFAULT_REGION", raising=False)
    default = app_for(env, monkeypatch)
    assert default.config["DEFAULT_REGION"] == "RU"
    assert normalize_phone("8 912 345-67-89", default.config["DEFAULT_REGION"]) == "+79123456789"

    monkeypatch.setenv("CRMLITE_DEFAULT_REGION", "gb")
    british = app_for(env, monkeypatch)
    assert british.config["DEFAULT_REGION"] == "GB"
    assert normalize_phone("020 7946 0018", british.config["DEFAULT_REGION"]) == "+442079460018"
    # The same digits read as a Russian number are not this London number.
    try:
        as_russian = normalize_phone("020 7946 0018", "RU")
    except PhoneError:
        as_russian = None
    assert as_russian != "+442079460018"


def test_demo_creates_the_asked_number_of_contacts_repeatably(migrated, migrated_file, tmp_path):
    def people(env) -> list[tuple[str, str]]:
        engine = create_engine(env["CRMLITE_DATABASE_URL"])
        try:
            with engine.connect() as conn:
                query = text("SELECT first_name, last_name FROM contacts ORDER BY id")
                return [tuple(r) for r in conn.execute(query)]
        finally:
            engine.dispose()

    result = crmlite(migrated, "demo", "--contacts", "40", "--seed", "7")
    assert result.returncode == 0, result.stderr
    assert "Created 40 contacts" in result.stdout
    made = people(migrated)
    assert len(made) == 40

    # The same seed on another database gives the same people.
    other = {**migrated, "CRMLITE_DATABASE_URL": "sqlite:///" + str(tmp_path / "other.db")}
    shutil.copyfile(migrated_file, tmp_path / "other.db")
    assert crmlite(other, "demo", "--contacts", "40", "--seed", "7").returncode == 0
    assert people(other) == made

    refused = crmlite(migrated, "demo", "--contacts", "0")
    assert refused.returncode != 0
    assert "--contacts" in refused.stderr
