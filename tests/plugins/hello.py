"""A test-only single-file plugin (copied into a temporary CRMLITE_PLUGINS_DIR by the tests).

It implements the setup, UI, settings and event hooks, and shows what it saw on its own page,
/hello, so the tests check what a user of the plugin would see."""

import click
from flask import Blueprint, current_app
from markupsafe import escape

from crmlite import hookimpl
from crmlite.core.plugin_settings import plugin_settings
from crmlite.extensions import db
from crmlite.plugins import PluginSettings, SettingField

__version__ = "1.2.3"

EVENTS: list[tuple] = []  # (hook, details), in the order the hooks were called

bp = Blueprint("hello", __name__)


@bp.route("/hello")
def page():
    settings = plugin_settings(db.session, "hello")
    started = current_app.extensions.get("hello.started", False)
    return (
        f"<h1>{escape(settings['greeting'])}</h1>"
        f"<p>started: {'yes' if started else 'no'}</p>"
        f"<p>times: {settings['times']}</p>"
    )


@hookimpl
def startup(app):
    app.extensions["hello.started"] = True


@hookimpl
def register_blueprints(app):
    return [bp]


@hookimpl
def register_commands(cli):
    @cli.command("hello")
    @click.argument("name", default="world")
    def hello(name):
        """Say hello (a command added by the hello plugin)."""
        click.echo(f"Hello, {name}! (from the hello plugin)")


@hookimpl
def menu_links(user):
    return [("Hello", "/hello")] if user.is_admin else []


@hookimpl
def register_settings():
    return [
        PluginSettings(
            plugin="hello",
            fields=[
                SettingField("greeting", "Greeting", "text", "Hello from a plugin"),
                SettingField("times", "Times", "int", 1, "How many times to greet"),
                SettingField("loud", "Loud", "bool", False),
                SettingField("webhook", "Webhook", "url", ""),
                SettingField("reply_to", "Reply to", "email", ""),
                SettingField("token", "API token", "password", ""),
            ],
        )
    ]


@hookimpl
def contact_saved(contact, created):
    EVENTS.append(("contact_saved", contact.id, contact.first_name, created))


@hookimpl
def contact_deleted(contact_id):
    EVENTS.append(("contact_deleted", contact_id))
