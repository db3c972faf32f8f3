"""Configuration: defaults, then instance/config.py, then CRMLITE_* environment variables."""

import os
import secrets
from pathlib import Path


def database_url(instance_path: str) -> str:
    url = os.environ.get("CRMLITE_DATABASE_URL")
    if not url:
        return "sqlite:///" + str(Path(instance_path) / "crmlite.db")
    # psycopg 3 is the driver we ship; accept the plain URL people copy from docs.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def read_or_create_private(path: Path, make) -> str:
    """The file's text, created first with make() if missing.

    Written aside with mode 0600, then linked into place: never readable by others, and of two
    processes starting at once (web and worker) one wins and both read its value.
    """
    if not path.exists():
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(make())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def secret_key(instance_path: str) -> str:
    """CRMLITE_SECRET_KEY, else a key generated once and kept in instance/secret_key."""
    key = os.environ.get("CRMLITE_SECRET_KEY")
    if key:
        return key
    return read_or_create_private(Path(instance_path) / "secret_key", lambda: secrets.token_hex(32))


def defaults(instance_path: str) -> dict:
    return {
        "SQLALCHEMY_DATABASE_URI": database_url(instance_path),
        "SECRET_KEY": secret_key(instance_path),
        "PLUGINS_DIR": os.environ.get("CRMLITE_PLUGINS_DIR"),
        "DEFAULT_REGION": os.environ.get("CRMLITE_DEFAULT_REGION", "RU").upper(),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # Uploads (imports) and form bodies: anything bigger is refused with 413.
        "MAX_CONTENT_LENGTH": 20 * 1024 * 1024,
        "MAX_FORM_MEMORY_SIZE": 1024 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "WTF_CSRF_TIME_LIMIT": None,
        "LANGUAGES": ["en", "ru"],
        "BABEL_DEFAULT_LOCALE": "en",
        "PAGE_SIZE": 50,
        # Failed logins per e-mail and per address before a pause.
        "LOGIN_MAX_FAILURES": 5,
        "LOGIN_WINDOW_SECONDS": 15 * 60,
        # Background jobs (crmlite/jobs.py): Redis shares the queue between machines; without it
        # the queue is a SQLite file in the instance folder. JOBS_IMMEDIATE runs jobs at once.
        "REDIS_URL": os.environ.get("CRMLITE_REDIS_URL") or None,
        # The queue's name: two crmlite installations may share one Redis under different names.
        "HUEY_NAME": os.environ.get("CRMLITE_HUEY_NAME") or "crmlite",
        "JOBS_IMMEDIATE": False,
        # Absolute links in mail (unsubscribe): e.g. https://crm.example.com; without it, the
        # address of the request that started the campaign.
        "BASE_URL": os.environ.get("CRMLITE_BASE_URL") or None,
    }
