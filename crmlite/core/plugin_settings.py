"""Plugin states (enabled or not) and plugin settings, stored in plugin_states.

Senders and other plugins read their settings with plugin_settings(session, name): the stored
values with the declared defaults filled in, read from the database each time, so a setting
saved on the plugins page applies at once. Enabling or disabling a plugin is only stored here;
the plugin manager reads it when crmlite starts.
"""

from collections.abc import Iterable, Mapping
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import PluginState
from .emails import EmailError, normalize_email
from .i18n import _

# Declarations (crmlite.plugins.PluginSettings) by plugin name, filled when a plugin manager is
# built, so plugin_settings() can fill in defaults without being handed the manager.
_declared: dict[str, Any] = {}

TRUE_WORDS = {"1", "true", "yes", "on", "y"}
FALSE_WORDS = {"", "0", "false", "no", "off", "n"}


def declare(declarations: Iterable[Any]) -> None:
    for item in declarations:
        _declared[item.plugin] = item


def declared_fields(name: str, pm: Any = None) -> list[Any]:
    declared = (getattr(pm, "crmlite_settings", None) or {}) if pm is not None else _declared
    item = declared.get(name)
    return list(item.fields) if item else []


def states(session: Session) -> dict[str, PluginState]:
    return {s.name: s for s in session.scalars(select(PluginState))}


def _state(session: Session, name: str) -> PluginState:
    state = session.get(PluginState, name)
    if state is None:
        state = PluginState(name=name, enabled=True, settings={})
        session.add(state)
    return state


def is_enabled(session: Session, name: str) -> bool:
    state = session.get(PluginState, name)
    return state is None or state.enabled


def set_enabled(session: Session, name: str, enabled: bool) -> bool:
    """Store the switch; return True if it changed. Applies when crmlite restarts."""
    state = _state(session, name)
    changed = state.enabled != enabled
    state.enabled = enabled
    session.flush()
    return changed


def stored_settings(session: Session, name: str) -> dict[str, Any]:
    state = session.get(PluginState, name)
    return dict(state.settings or {}) if state else {}


def plugin_settings(session: Session, name: str, pm: Any = None) -> dict[str, Any]:
    """The plugin's settings: stored values, and the declared default for every other field
    (also for one saved empty). pm: the plugin manager whose declarations to use; None: the
    one built last in this process."""
    stored = stored_settings(session, name)
    values = {f.name: f.default for f in declared_fields(name, pm)}
    # An emptied field means "the default", so a default the plugin changes later applies too.
    values.update({k: v for k, v in stored.items() if v not in (None, "") or k not in values})
    return values


def clean_value(kind: str, raw: Any) -> Any:
    """A form value converted to its kind; ValueError with a message for the user."""
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw if raw is not None else "").strip().lower()
        if text in TRUE_WORDS:
            return True
        if text in FALSE_WORDS:
            return False
        raise ValueError(_("Choose yes or no."))
    text = str(raw if raw is not None else "").strip()
    if kind == "int":
        if not text:
            raise ValueError(_("Enter a whole number."))
        try:
            return int(text)
        except ValueError:
            raise ValueError(_("“%(value)s” is not a whole number.", value=text)) from None
    if kind == "url":
        if not text:
            return ""
        parts = urlsplit(text)
        if parts.scheme not in ("http", "https") or not parts.netloc or " " in text:
            raise ValueError(
                _("“%(value)s” is not a web address (http:// or https://).", value=text)
            )
        return text
    if kind == "email":
        if not text:
            return ""
        # "Sales <sales@example.com>" is a valid From address too: check the address part.
        name, address = parseaddr(text)
        if "<" not in text:
            address = text
        try:
            normalized = normalize_email(address)
        except EmailError:
            raise ValueError(_("“%(value)s” is not a valid e-mail address.", value=text)) from None
        return text if name else normalized
    if kind == "password":
        return str(raw if raw is not None else "")
    return text


def validate(
    fields: list[Any], form: Mapping[str, Any], stored: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Check a submitted settings form: (values to store, field -> error message).

    A bool field missing from the form is False (an unticked checkbox). A password left empty
    keeps the stored one (the form never shows it), unless "<name>__clear" is ticked.
    """
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in fields:
        raw = form.get(f.name)
        if f.kind == "password":
            if form.get(f"{f.name}__clear"):
                values[f.name] = ""
            elif raw:
                values[f.name] = str(raw)
            elif f.name in stored:
                values[f.name] = stored[f.name]
            continue
        if f.kind == "bool" and raw is None:
            raw = ""
        try:
            values[f.name] = clean_value(f.kind, raw)
        except ValueError as exc:
            errors[f.name] = str(exc)
    return values, errors


def save_settings(session: Session, name: str, values: Mapping[str, Any]) -> None:
    state = _state(session, name)
    # A new dict, so the JSON column sees the change.
    state.settings = {**(state.settings or {}), **values}
    session.flush()
