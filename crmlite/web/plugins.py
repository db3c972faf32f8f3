"""Admin → Plugins: what is installed, the enable/disable switch, and plugin settings forms.

The plugin manager is built when crmlite starts, so the switch is stored now and applies after
a restart (the page says so, row by row). Settings apply at once: plugins read them from the
database each time they use them.
"""

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _

from ..core import plugin_settings as core
from ..extensions import db
from ..plugins import PluginInfo, collect_settings, current_plugin_manager, plugin_info
from .htmx import fragment, is_htmx, render
from .security import require_admin

bp = Blueprint("plugins", __name__, url_prefix="/admin/plugins")
bp.before_request(require_admin)


def _row(info: PluginInfo, states: dict) -> dict:
    state = states.get(info.name)
    saved = state.enabled if state else True
    pm = current_plugin_manager()
    return {
        "info": info,
        "saved": saved,
        "pending": saved != info.enabled,
        "has_settings": info.name in pm.crmlite_settings,
    }


def _info_or_404(name: str) -> PluginInfo:
    return plugin_info(current_plugin_manager(), name) or abort(404)


@bp.route("")
def index():
    states = core.states(db.session)
    rows = [_row(info, states) for info in current_plugin_manager().crmlite_infos]
    return render("admin/plugins.html", rows=rows)


@bp.route("/<name>/enabled", methods=["POST"])
def switch(name: str):
    info = _info_or_404(name)
    enabled = request.form.get("enabled") in core.TRUE_WORDS
    core.set_enabled(db.session, name, enabled)
    db.session.commit()
    if enabled == info.enabled:
        flash(_("%(name)s stays as it is running now.", name=name), "success")
    elif enabled:
        flash(_("%(name)s will be enabled after crmlite restarts.", name=name), "success")
    else:
        flash(_("%(name)s will be disabled after crmlite restarts.", name=name), "success")
    if is_htmx():
        row = _row(info, core.states(db.session))
        return fragment("admin/plugins_row.html", row=row)
    return redirect(url_for("plugins.index"))


def _settings_page(info: PluginInfo, fields: list, values: dict, errors: dict, status: int = 200):
    stored = core.stored_settings(db.session, info.name)
    page = render(
        "admin/plugins_settings.html",
        info=info,
        fields=fields,
        values=values,
        errors=errors,
        password_saved={f.name for f in fields if f.kind == "password" and stored.get(f.name)},
    )
    return page, status


@bp.route("/<name>/settings", methods=["GET", "POST"])
def settings(name: str):
    info = _info_or_404(name)
    pm = current_plugin_manager()
    if name not in pm.crmlite_settings:
        abort(404)
    fields = collect_settings(pm)[name].fields  # labels in the reader's language
    if request.method == "GET":
        return _settings_page(info, fields, core.plugin_settings(db.session, name, pm), {})
    stored = core.stored_settings(db.session, name)
    values, errors = core.validate(fields, request.form, stored)
    if errors:
        shown = {f.name: request.form.get(f.name, "") for f in fields if f.kind != "password"}
        for f in fields:
            if f.kind == "bool":
                shown[f.name] = request.form.get(f.name) in core.TRUE_WORDS
        return _settings_page(info, fields, shown, errors, 422)
    core.save_settings(db.session, name, values)
    db.session.commit()
    flash(_("Settings of %(name)s saved; they apply at once.", name=name), "success")
    return redirect(url_for("plugins.settings", name=name))
