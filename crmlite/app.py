"""The application factory: create_app runs ordered configure_* steps."""

import os
from pathlib import Path
from typing import Any

from flask import Flask, has_app_context, has_request_context, request
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.engine import Engine

from . import config as config_module
from .extensions import babel, csrf, db, login_manager, migrate
from .paths import PACKAGE_DIR, resource_dir


def create_app(config: dict[str, Any] | None = None) -> Flask:
    instance_path = os.environ.get("CRMLITE_INSTANCE_PATH")
    app = Flask(
        "crmlite",
        root_path=str(PACKAGE_DIR),
        template_folder=resource_dir("templates"),
        instance_path=str(Path(instance_path).resolve()) if instance_path else None,
        instance_relative_config=True,
    )
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    configure_settings(app, config)
    configure_database(app)
    configure_auth(app)
    configure_i18n(app)
    configure_security(app)
    configure_templates(app)
    configure_blueprints(app)
    configure_cli(app)
    configure_plugins(app)
    return app


def configure_settings(app: Flask, config: dict[str, Any] | None) -> None:
    app.config.update(config_module.defaults(app.instance_path))
    app.config.from_pyfile("config.py", silent=True)
    if config:
        app.config.update(config)


def configure_database(app: Flask) -> None:
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # Python's sqlite3 keeps the last 128 statements of a connection prepared. An import
        # and the duplicate finder ask with IN lists of thousands of values, each list length
        # a new statement: 128 of those (and the holes they leave) grew a 1M-row import's
        # process to 350 MB. 16 keep it flat; list pages at 1M contacts take about 1 ms more
        # (bench/contacts.py: 13.7 -> 14.5 ms), imports the same.
        options = dict(app.config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
        connect_args = {**options.get("connect_args", {}), "cached_statements": 16}
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**options, "connect_args": connect_args}
    db.init_app(app)
    migrate.init_app(app, db, directory=resource_dir("migrations"), render_as_batch=True)
    from . import models  # noqa: F401  (register the tables on the metadata)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    # WAL lets readers work while one writer writes; busy_timeout waits instead of failing.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # 64 MB page cache (allocated as used; default 2 MB): at 1M contacts a search that
        # reads tens of thousands of rows stays in memory instead of re-reading pages.
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()


def configure_auth(app: Flask) -> None:
    from .models import User

    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load_user(session_id: str) -> User | None:
        user_id, _, password_tag = session_id.partition(":")
        if not user_id.isdigit():
            return None
        user = db.session.get(User, int(user_id))
        if user is None or user.get_id() != session_id:
            return None  # the password changed since this session logged in
        return user


def select_locale() -> str | None:
    from flask import current_app

    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # CLI and jobs: core messages stay in the default language
        return None
    if current_user and current_user.is_authenticated and current_user.language in languages:
        return current_user.language
    return request.accept_languages.best_match(languages)


def configure_i18n(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", resource_dir("translations"))
    babel.init_app(app, locale_selector=select_locale)
    from flask_babel import get_locale, gettext

    from .core.i18n import set_translator

    def language() -> str | None:
        locale = get_locale() if has_app_context() else None
        return str(locale) if locale else None

    set_translator(gettext, language, app.config["BABEL_TRANSLATION_DIRECTORIES"])


def configure_security(app: Flask) -> None:
    from .web import security

    csrf.init_app(app)
    security.init_app(app)


def configure_templates(app: Flask) -> None:
    from .web import filters

    filters.init_app(app)


def configure_blueprints(app: Flask) -> None:
    from .web import register_blueprints

    register_blueprints(app)


def configure_cli(app: Flask) -> None:
    from .cli import register_commands

    register_commands(app)


def disabled_plugins() -> set[str]:
    """Names switched off on the plugins page; none before the first migration."""
    from sqlalchemy import select
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from .models import PluginState

    try:
        return set(db.session.scalars(select(PluginState.name).where(~PluginState.enabled)))
    except (OperationalError, ProgrammingError):
        return set()
    finally:
        db.session.rollback()
        db.session.remove()


def configure_plugins(app: Flask) -> None:
    from .plugins import make_plugin_manager

    with app.app_context():
        disabled = disabled_plugins()
    pm = make_plugin_manager(app.config.get("PLUGINS_DIR"), disabled)
    app.extensions["crmlite.plugins"] = pm
    for blueprints in pm.hook.register_blueprints(app=app):
        for blueprint in blueprints or []:
            app.register_blueprint(blueprint)
    pm.hook.register_commands(cli=app.cli)

    @app.context_processor
    def plugin_menu():
        def menu_links():
            if not current_user.is_authenticated:
                return []
            return [link for links in pm.hook.menu_links(user=current_user) for link in links]

        return {"plugin_menu_links": menu_links}

    pm.hook.startup.call_historic(kwargs={"app": app})
