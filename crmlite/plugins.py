"""The plugin manager: builtins, then pip-installed distributions (entry-point group
"crmlite"), then single-file plugins from CRMLITE_PLUGINS_DIR. Disabled plugins are blocked.

The manager is built once when the app starts (create_app), so enabling or disabling a plugin
takes effect when crmlite restarts. Plugin settings are read from the database each time they
are used (crmlite.core.plugin_settings), so a saved setting applies at once.
"""

import difflib
import importlib
import importlib.util
import sys
from dataclasses import dataclass, field
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

import pluggy

from . import hookspecs
from .builtin import BUILTINS

ENTRY_POINT_GROUP = "crmlite"
SOURCES = ("builtin", "pip", "folder")
SETTING_KINDS = ("text", "password", "int", "bool", "url", "email")


class PluginError(Exception):
    """A plugin cannot be loaded: the message names the plugin and what is wrong."""


@dataclass
class PluginInfo:
    name: str
    source: str  # builtin, pip or folder
    version: str
    hooks: list[str]
    enabled: bool  # running in this process (the saved state may differ until a restart)


@dataclass
class SettingField:
    name: str
    label: str
    kind: str = "text"  # text, password, int, bool, url, email
    default: Any = ""
    help: str = ""


@dataclass
class PluginSettings:
    """A plugin's settings form, declared through the register_settings hook.

    plugin is the plugin's registered name (builtin.<module>, the entry-point name, or the
    file name without .py); left empty, the name of the plugin that returned it is used.
    """

    plugin: str = ""
    fields: list[SettingField] = field(default_factory=list)


def _load_folder(pm: pluggy.PluginManager, folder: Path) -> list[str]:
    names = []
    for path in sorted(folder.glob("*.py")):
        if path.name.startswith("_"):
            continue
        module_name = f"crmlite_plugin_{path.stem}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            del sys.modules[module_name]
            raise PluginError(
                f"The plugin file {path} cannot be loaded: {type(exc).__name__}: {exc}"
            ) from exc
        if pm.has_plugin(path.stem):
            raise PluginError(
                f"The plugin file {path} is named like an installed plugin, "
                f"{path.stem!r}; rename the file."
            )
        pm.register(module, name=path.stem)
        names.append(path.stem)
    return names


def _version(plugin: Any, source: str, dists: dict) -> str:
    dist = dists.get(id(plugin))
    if dist is not None:
        return dist.version
    if source == "builtin":
        return dist_version("crmlite")
    return str(getattr(plugin, "__version__", "") or "")  # a folder plugin may have none


def _check_pending(pm: pluggy.PluginManager) -> None:
    """pm.check_pending(), with a message that names the plugin, the hook and a likely fix."""
    known = [
        name
        for name in dir(pm.hook)
        if not name.startswith("_") and getattr(pm.hook, name).spec is not None
    ]
    for name, plugin in pm.list_name_plugin():
        for caller in pm.get_hookcallers(plugin) or []:
            if caller.spec is None:
                hint = difflib.get_close_matches(caller.name, known, n=1)
                raise PluginError(
                    f"Plugin {name!r} implements an unknown hook {caller.name!r}"
                    + (f" (did you mean {hint[0]!r}?)" if hint else "")
                    + ". See docs/plugins.md for every hook."
                )
    pm.check_pending()  # anything else pluggy finds still fails loudly


def collect_settings(pm: pluggy.PluginManager) -> dict[str, PluginSettings]:
    """The settings forms that enabled plugins declare, by plugin name, checked.

    Called at startup (to fail loudly on a bad declaration) and again for each settings page,
    so labels a plugin marks with _() come in the reader's language."""
    declared: dict[str, PluginSettings] = {}
    for impl in pm.hook.register_settings.get_hookimpls():
        for item in impl.function() or []:
            if not isinstance(item, PluginSettings):
                raise PluginError(
                    f"Plugin {impl.plugin_name!r}: register_settings must return "
                    f"crmlite.plugins.PluginSettings objects, not {type(item).__name__}."
                )
            if not item.plugin:
                item.plugin = impl.plugin_name
            if item.plugin != impl.plugin_name:
                raise PluginError(
                    f"Plugin {impl.plugin_name!r} declares settings for {item.plugin!r}; "
                    f"use its registered name {impl.plugin_name!r} (or leave plugin empty)."
                )
            for f in item.fields:
                if f.kind not in SETTING_KINDS:
                    raise PluginError(
                        f"Plugin {item.plugin!r}: setting {f.name!r} has an unknown kind "
                        f"{f.kind!r}; use one of {', '.join(SETTING_KINDS)}."
                    )
            if item.plugin in declared:
                declared[item.plugin].fields.extend(item.fields)
            else:
                declared[item.plugin] = item
    return declared


def make_plugin_manager(
    plugins_dir: str | None = None, disabled: set[str] = frozenset()
) -> pluggy.PluginManager:
    """Load every plugin, note what each is, then block the disabled ones.

    Raises PluginError naming the plugin when one cannot be loaded or implements a hook that
    does not exist (a misspelling), so crmlite fails at startup instead of silently ignoring it.
    """
    pm = pluggy.PluginManager("crmlite")
    pm.add_hookspecs(hookspecs)
    sources: dict[str, str] = {}
    for module_name in BUILTINS:
        name = f"builtin.{module_name}"
        pm.register(importlib.import_module(f"crmlite.builtin.{module_name}"), name=name)
        sources[name] = "builtin"
    try:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    except pluggy.PluginValidationError as exc:
        raise PluginError(f"Plugin {exc.plugin!r} cannot be registered: {exc}") from exc
    for name, _plugin in pm.list_name_plugin():
        sources.setdefault(name, "pip")
    if plugins_dir and Path(plugins_dir).is_dir():
        sources.update(dict.fromkeys(_load_folder(pm, Path(plugins_dir)), "folder"))
    # A misspelled hook implementation fails here, loudly, instead of silently never running.
    _check_pending(pm)
    dists = {id(p): d for p, d in pm.list_plugin_distinfo()}
    pm.crmlite_infos = [
        PluginInfo(
            name=name,
            source=sources.get(name, "pip"),
            version=_version(plugin, sources.get(name, "pip"), dists),
            hooks=sorted(h.name for h in pm.get_hookcallers(plugin) or []),
            enabled=name not in disabled,
        )
        for name, plugin in pm.list_name_plugin()
    ]
    for name in disabled:
        pm.set_blocked(name)
    pm.crmlite_settings = collect_settings(pm)
    from .core.plugin_settings import declare

    declare(pm.crmlite_settings.values())
    return pm


def plugin_info(pm: pluggy.PluginManager, name: str) -> PluginInfo | None:
    return next((info for info in pm.crmlite_infos if info.name == name), None)


def current_plugin_manager() -> pluggy.PluginManager:
    """The running app's plugin manager (views and CLI commands; core gets it passed in)."""
    from flask import current_app

    return current_app.extensions["crmlite.plugins"]
