"""The packaged wheel carries templates, static files and migrations, and runs from a fresh
virtualenv outside the checkout: `crmlite db upgrade`, `crmlite users create`, `crmlite run`."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from .conftest import PASSWORD
from .serving import Client, clean_env, serving

ROOT = Path(__file__).resolve().parents[1]
PIP_SECONDS = 900  # a deadline for a hung index, not a timing assumption


def run(args: list, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=PIP_SECONDS, **kwargs
    )
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-w", out], cwd=ROOT)
    (built,) = out.glob("crmlite-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh virtualenv outside the checkout with the wheel installed (deps from the index).

    The venv gets no pip of its own; this pip installs into it (`pip --python`), which saves
    ensurepip and byte-compiling: about 40 s down to under 10 s, same installed files."""
    home = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", "--without-pip", home / "venv"], cwd=home)
    bin_dir = home / "venv" / ("Scripts" if os.name == "nt" else "bin")
    pip = [sys.executable, "-m", "pip", "--python", bin_dir / "python"]
    run([*pip, "install", "--quiet", "--no-compile", wheel], cwd=home, env=clean_env())
    return bin_dir


def test_wheel_carries_templates_static_files_and_migrations(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in (
        "crmlite/templates/base.html",
        "crmlite/templates/auth/login.html",
        "crmlite/static/vendor/htmx/htmx.min.js",
        "crmlite/static/vendor/htmx/LICENSE",
        "crmlite/static/vendor/pico/pico.min.css",
        "crmlite/migrations/env.py",
        "crmlite/migrations/alembic.ini",
        "crmlite/migrations/versions/0001_initial_schema.py",
    ):
        assert path in names, f"{path} is missing from {wheel.name}"
    assert not [n for n in names if n.endswith(".pyc")]
    # Catalogs come later; once translations/ holds any, every one of them must ship.
    catalogs = [p for p in (ROOT / "translations").rglob("*") if p.is_file()]
    for catalog in catalogs:
        packaged = "crmlite/" + catalog.relative_to(ROOT).as_posix()
        assert packaged in names, f"{packaged} is missing from {wheel.name}"


def test_installed_wheel_migrates_and_serves_from_outside_the_checkout(venv, tmp_path):
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    env = clean_env(
        CRMLITE_DATABASE_URL="sqlite:///" + str(tmp_path / "crm.db"),
        CRMLITE_INSTANCE_PATH=str(tmp_path / "instance"),
    )
    crmlite = venv / "crmlite"

    # The code that runs is the installed copy, not the checkout.
    where = run(
        [venv / "python", "-c", "import crmlite; print(crmlite.__file__)"], cwd=cwd, env=env
    )
    assert Path(where.stdout.strip()).is_relative_to(venv.parent)

    run([crmlite, "db", "upgrade"], cwd=cwd, env=env)
    created = run(
        [crmlite, "users", "create", "boss@example.com", "--role", "admin"],
        cwd=cwd,
        env=env,
        input=PASSWORD + "\n",
    )
    assert "Created admin boss@example.com" in created.stdout

    with serving(crmlite, env, cwd=cwd) as server:
        http = Client(server.url)
        login = http.get("/login")
        assert login.status == 200
        assert "crmlite" in login.text
        assert 'name="password"' in login.text
        htmx = http.get("/static/vendor/htmx/htmx.min.js")
        assert htmx.status == 200
        assert htmx.text == (ROOT / "crmlite/static/vendor/htmx/htmx.min.js").read_text()
        assert http.get("/static/crmlite.css").status == 200
    assert server.process.returncode == 0, server.output
