"""Saved segments: the filter builder, and a saved segment opened as the contact list.

GET  /segments/saved/new            the builder (editors and admins)
POST /segments/saved/new            save it (or, without JS, add/remove a rule and re-render)
GET  /segments/saved/<id>           the builder for a saved one (read-only unless you may edit)
POST /segments/saved/<id>           save changes (its owner, or an admin for a shared one)
POST /segments/saved/<id>/delete    delete it
GET  /segments/saved/<id>/count     "1,234 contacts" (lazy count on the segments page)
GET  /segments/saved/rule           one rule row for the chosen field and operator (HTMX)
GET  /segments/saved/match-count    "N contacts match" for the builder's current rules

The rules travel as rules-<n>-field / rules-<n>-op / rules-<n>-value form fields; n only
keeps a row's fields together. The list opens a saved segment with /?saved=<id>.
"""

import re
from typing import Any

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import format_decimal, gettext, ngettext
from flask_login import current_user
from jinja2_fragments.flask import render_block
from sqlalchemy import select

from ..core import saved_segments as core
from ..extensions import db
from ..models import SavedSegment, Tag, User
from .htmx import is_htmx, render

bp = Blueprint("saved_segments", __name__, url_prefix="/segments/saved")

TEMPLATE = "saved_segments/builder.html"
RULE_TEMPLATE = "saved_segments/_rule.html"
ADD_TEMPLATE = "saved_segments/_add_button.html"
_RULE_KEY = re.compile(r"^rules-(\d{1,3})-(field|op|value)$")
MONTHS = range(1, 13)


# -- the contact list (web/contacts.py and the CSV export call these) ------------------------


def bind(flt):
    """The list filter with its saved segment's SQL attached, and messages for the user."""
    if getattr(flt, "saved", None) is None:
        return flt, []
    user_id = current_user.id if current_user.is_authenticated else None
    flt, problems, seg = core.bind(db.session, flt, user_id)
    g.crmlite_saved_segment = seg
    return flt, problems


def shown(flt) -> dict | None:
    """The list's heading: the saved segment's name, and whether "Edit" is offered."""
    if getattr(flt, "saved", None) is None:
        return None
    seg = g.get("crmlite_saved_segment")
    if seg is None:
        return {"name": None, "url": None, "can_edit": False}
    return {
        "name": seg.name,
        "url": url_for("saved_segments.edit", segment_id=seg.id),
        "can_edit": core.may_edit(seg, current_user),
    }


@bp.app_template_global()
def saved_segment_rows() -> list[dict]:
    """The segments page's list: mine and the shared ones, with their URLs."""
    if not current_user.is_authenticated:
        return []
    return [
        {
            "segment": seg,
            "mine": seg.owner_id == current_user.id,
            "open_url": url_for("contacts.index", saved=seg.id),
            "edit_url": url_for("saved_segments.edit", segment_id=seg.id),
            "count_url": url_for("saved_segments.count", segment_id=seg.id),
            "can_edit": core.may_edit(seg, current_user),
        }
        for seg in core.for_user(db.session, current_user.id)
    ]


# -- reading the builder form ----------------------------------------------------------------


def _rules_from(form) -> list[dict[str, Any]]:
    """[{"n", "field", "op", "value"}] in row order."""
    rows: dict[int, dict[str, Any]] = {}
    for key in form:
        m = _RULE_KEY.match(key)
        if m:
            rows.setdefault(int(m[1]), {"n": int(m[1])})[m[2]] = form.get(key, "")
    return [rows[n] for n in sorted(rows)]


def _definition(match: str, rules: list[dict[str, Any]]) -> dict:
    return {
        "match": match,
        "rules": [{k: r.get(k, "") for k in ("field", "op", "value")} for r in rules],
    }


def _choices() -> dict[str, Any]:
    """What the rule rows offer: the fields, their operators, tags, users, months."""
    return {
        "fields": core.fields(db.session),
        "operators": core.operators(),
        "tags": list(db.session.scalars(select(Tag).order_by(Tag.name_key))),
        "users": list(db.session.scalars(select(User).order_by(User.name, User.email))),
        "months": MONTHS,
        "needs_value": core.needs_value,
    }


def _prepared(rule: dict[str, Any], choices: dict[str, Any]) -> dict[str, Any]:
    """The rule with a known field and an operator that field has (the first by default)."""
    fields = choices["fields"]
    field_ = fields.get(rule.get("field") or "") or next(iter(fields.values()))
    ops = choices["operators"][field_.type]
    op = rule.get("op") if rule.get("op") in ops else next(iter(ops))
    return {**rule, "field": field_.key, "op": op, "value": rule.get("value") or ""}


def _errors_by_row(errors: dict[str, str], rules: list[dict]) -> tuple[dict[int, str], list[str]]:
    """Rule messages by row n, and the others (name, match, rules) as a list."""
    by_row, other = {}, []
    for key, message in errors.items():
        if key.startswith("rule-"):
            position = int(key.split("-")[1]) - 1
            by_row[rules[position]["n"]] = message
        elif key != "name":
            other.append(message)
    return by_row, other


def _page(seg: SavedSegment | None, status: int = 200, **state):
    choices = _choices()
    rules = [_prepared(r, choices) for r in state.get("rules") or [{"n": 0}]]
    errors = state.get("errors") or {}
    by_row, other = _errors_by_row(errors, rules)
    editable = seg is None or core.may_edit(seg, current_user)
    definition = _definition(state.get("match", "all"), rules)
    body = render(
        TEMPLATE,
        segment=seg,
        editable=editable,
        name=state.get("name", seg.name if seg else ""),
        shared=state.get("shared", seg.shared if seg else False),
        match=state.get("match", "all"),
        rules=rules,
        next_n=max(r["n"] for r in rules) + 1,
        rule_errors=by_row,
        name_error=errors.get("name"),
        other_errors=other,
        **_match_count(definition),
        **choices,
    )
    return body, status


def _match_count(definition: dict) -> dict[str, Any]:
    """The count's template values, or what keeps the rules from counting."""
    try:
        n = core.count(db.session, definition)
    except core.SegmentInvalid as exc:
        return {"n": None, "problems": list(exc.errors.values())}
    return {"n": n, "num": format_decimal(n), "problems": []}


def _state_from_form() -> dict[str, Any]:
    form = request.form
    rules = _rules_from(form)
    action = form.get("action", "save")
    if action == "add":
        rules.append({"n": max((r["n"] for r in rules), default=-1) + 1})
    elif action.startswith("remove-") and action[7:].isdigit():
        rules = [r for r in rules if r["n"] != int(action[7:])]
    return {
        "name": form.get("name", ""),
        "shared": form.get("shared") in ("1", "on", "true"),
        "match": form.get("match") if form.get("match") in core.MATCHES else "all",
        "rules": rules,
        "action": action,
    }


def _save(seg: SavedSegment | None):
    state = _state_from_form()
    if state["action"] != "save":
        # Without JS the add/remove/refresh buttons post the form: show it again, unsaved.
        return _page(seg, **state)
    definition = _definition(state["match"], state["rules"])
    try:
        if seg is None:
            seg = core.create(
                db.session, current_user.id, state["name"], definition, state["shared"]
            )
            message = gettext("Segment “%(name)s” saved.", name=seg.name)
        else:
            core.update(db.session, seg, state["name"], definition, state["shared"])
            message = gettext("Segment “%(name)s” updated.", name=seg.name)
    except core.SegmentInvalid as exc:
        db.session.rollback()
        return _page(seg if seg and seg.id else None, 422, errors=exc.errors, **state)
    db.session.commit()
    flash(message, "success")
    return redirect(url_for("contacts.index", saved=seg.id))


def _visible_or_404(segment_id: int) -> SavedSegment:
    return core.get_visible(db.session, segment_id, current_user.id) or abort(404)


# -- views -----------------------------------------------------------------------------------


@bp.route("/new", methods=["GET", "POST"])
def new():
    if not current_user.can_edit():
        abort(403)
    if request.method == "POST":
        return _save(None)
    return _page(None)


@bp.route("/<int:segment_id>", methods=["GET", "POST"])
def edit(segment_id: int):
    seg = _visible_or_404(segment_id)
    if request.method == "POST":
        if not core.may_edit(seg, current_user):
            abort(403)
        return _save(seg)
    rules = [{"n": n, **rule} for n, rule in enumerate(seg.definition.get("rules", []))]
    return _page(seg, rules=rules, match=seg.definition.get("match", "all"))


@bp.route("/<int:segment_id>/delete", methods=["POST"])
def delete(segment_id: int):
    seg = _visible_or_404(segment_id)
    if not core.may_edit(seg, current_user):
        abort(403)
    name = seg.name
    core.delete(db.session, seg)
    db.session.commit()
    flash(gettext("Segment “%(name)s” deleted.", name=name), "success")
    target = url_for("segments.index")
    if is_htmx():
        return "", 204, {"HX-Redirect": target}
    return redirect(target)


@bp.route("/<int:segment_id>/count")
def count(segment_id: int):
    seg = _visible_or_404(segment_id)
    try:
        n = core.count(db.session, seg.definition)
    except core.SegmentInvalid:
        return gettext("a rule no longer holds")
    return ngettext("%(count)s contact", "%(count)s contacts", n, count=format_decimal(n))


@bp.route("/rule")
def rule():
    """One rule row: after the field or operator changed, or a new row (add)."""
    n = request.args.get("n", "")
    if not n.isdigit() or len(n) > 3:
        abort(400)
    if request.args.get("remove"):
        # The row is removed in the page (hx-swap="delete"); the count follows.
        return "", {"HX-Trigger-After-Swap": "rulesChanged"}
    choices = _choices()
    rows = _rules_from(request.args)
    found = next((r for r in rows if r["n"] == int(n)), {"n": int(n)})
    prepared = _prepared(found, choices)
    if found.get("field") != prepared["field"] or found.get("op") != prepared["op"]:
        prepared["value"] = ""  # its operator changed: the old value means nothing to it
    html = render_template(RULE_TEMPLATE, rule=prepared, error=None, editable=True, **choices)
    if request.args.get("add"):
        html += render_template(ADD_TEMPLATE, next_n=int(n) + 1, oob=True)
    return html, {"HX-Trigger-After-Swap": "rulesChanged"}


@bp.route("/match-count")
def match_count():
    """The builder's live count; a rule that is not complete yet says what it lacks."""
    rules = _rules_from(request.args)
    match = request.args.get("match") if request.args.get("match") in core.MATCHES else "all"
    return render_block(TEMPLATE, "match_count", **_match_count(_definition(match, rules)))
