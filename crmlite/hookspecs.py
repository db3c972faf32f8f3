"""Every hook a plugin can implement. docs/plugins.md documents each with its exact signature.

Hooks return lists unless marked firstresult (one answer) or historic (called for plugins
registered later too). Implement them with `from crmlite import hookimpl`.
"""

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("crmlite")
hookimpl = pluggy.HookimplMarker("crmlite")


@hookspec(historic=True)
def startup(app: Any) -> None:
    """Called once when the Flask app has been created and configured."""


@hookspec
def register_blueprints(app: Any) -> list[Any]:
    """Return Flask blueprints to register on the app."""


@hookspec
def register_commands(cli: Any) -> None:
    """Add click commands to the `crmlite` command group."""


@hookspec
def menu_links(user: Any) -> list[tuple[str, str]]:
    """Return (label, url) pairs to show in the navigation for this user."""


@hookspec
def register_settings() -> list[Any]:
    """Return crmlite.plugins.PluginSettings: the plugin's settings form on the plugins page."""


@hookspec
def register_importers() -> list[Any]:
    """Return importers: objects with name, label, extensions and parse(stream, options)."""


@hookspec(firstresult=True)
def detect_importer(filename: str, sample: bytes) -> str | None:
    """Return the name of the importer that should read this file, or None."""


@hookspec
def register_senders() -> list[Any]:
    """Return senders: objects with name, label, channel and send(message) -> SendResult."""


@hookspec
def before_send(message: Any) -> None:
    """Called before a message is sent; may change the message."""


@hookspec
def after_send(message: Any, result: Any) -> None:
    """Called after a message was sent (or failed) with its result."""


@hookspec
def register_segments() -> list[Any]:
    """Return segments: objects with key, label, params and condition(params, today) -> SQL."""


@hookspec
def contact_saved(contact: Any, created: bool) -> None:
    """Called after one contact is created or changed (inside the transaction, not on bulk)."""


@hookspec
def contact_deleted(contact_id: int) -> None:
    """Called after a contact was permanently deleted (inside the transaction)."""


@hookspec
def contacts_merged(survivor: Any, merged: list[int]) -> None:
    """Called after contacts were merged into a survivor (inside the transaction)."""


@hookspec
def register_exporters() -> list[Any]:
    """Return exporters: objects with name, label, extension, mimetype and write(rows, stream)."""


@hookspec
def register_interaction_kinds() -> list[Any]:
    """Return kinds of chronicle entries (objects with key, label, fields: a list of
    crmlite.plugins.SettingField whose values are kept in Interaction.data)."""


@hookspec
def interaction_added(interaction: Any) -> None:
    """Called when an interaction is added to a contact's chronicle, inside the transaction."""


@hookspec
def register_matchers() -> list[Any]:
    """Return duplicate matchers: objects with name, blocking_keys(contact) -> iterable of str
    and compare(a, b) -> crmlite.core.dedup.Evidence or None (see docs/matching.md)."""
