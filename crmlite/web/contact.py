"""One contact: its page, create and full edit, one-click inline edits, tags, history,
edit conflicts, archive, restore and delete."""

from datetime import date
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_date
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from ..core import contacts as core
from ..core import tags as core_tags
from ..extensions import db
from ..forms.contact import (
    ACTION_LABELS,
    CHOICE_LABELS,
    CUSTOM_PREFIX,
    FIELD_LABELS,
    ITEM_LABELS,
    SECTIONS,
    Row,
    all_names,
    contact_rows,
    form_name,
    item_label_choices,
    make_form,
    raw_values,
    submitted_rows,
)
from ..models import Contact, CustomField, Tag, User
from .htmx import fragment, is_htmx

bp = Blueprint("contact", __name__, url_prefix="/contacts")

CHANGED = "contactChanged"  # HX-Trigger event: the history panel listens for it


# -- loading and formatting ----------------------------------------------------------------


def _pm():
    return current_app.extensions["crmlite.plugins"]


def _contact_or_404(contact_id: int) -> Contact:
    contact = core.load_contact(db.session, contact_id)
    if contact is None:
        abort(404)
    return contact


def _users() -> list[User]:
    # A team has a handful of users: one query serves the owner select and history names.
    return list(db.session.scalars(select(User).order_by(User.name, User.email)))


def _owner_choices(users: list[User], contact: Contact | None) -> list[User]:
    keep = contact.owner_id if contact is not None else None
    return [u for u in users if u.active or u.id == keep]


def _custom_by_name(fields: list[CustomField]) -> dict[str, CustomField]:
    return {CUSTOM_PREFIX + f.key: f for f in fields}


def _label(name: str, fields: dict[str, CustomField]) -> str:
    """A human label for a form name or a history field ('custom.size')."""
    name = form_name(name)
    if name in fields:
        return fields[name].label
    if name.startswith(CUSTOM_PREFIX):
        return name[len(CUSTOM_PREFIX) :]
    return str(FIELD_LABELS.get(name, name))


def _format_date(value: Any) -> str:
    if not value:
        return ""
    try:
        day = value if isinstance(value, date) else date.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return format_date(day, "medium")


def _format(name: str, value: Any, fields: dict[str, CustomField], users: dict[int, User]) -> str:
    """A field value as people read it: translated choices, user names, local dates."""
    name = form_name(name)
    if value in (None, "", []):
        return ""
    if name in CHOICE_LABELS:
        return str(CHOICE_LABELS[name].get(value, value))
    if name == "owner_id":
        user = users.get(value) if isinstance(value, int) else None
        return user.display_name if user else f"#{value}"
    if name in ("birth_date", "reminder_due") or (name in fields and fields[name].kind == "date"):
        return _format_date(value)
    if name == "is_archived":
        return _("yes") if value else _("no")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _shown(contact: Contact, name: str, fields: dict[str, CustomField]) -> str:
    if name == "owner_id":
        return contact.owner.display_name if contact.owner else ""
    if name.startswith(CUSTOM_PREFIX):
        value = (contact.custom or {}).get(name[len(CUSTOM_PREFIX) :])
    else:
        value = getattr(contact, name)
    return _format(name, value, fields, {})


def _history_rows(entries, fields: dict[str, CustomField], users: dict[int, User]) -> list[dict]:
    from .consent import history_changes as consent_changes

    rows = []
    for entry in entries:
        # Consent rows read "E-mail · marketing: unknown → granted (source: …)".
        changes = consent_changes(entry.changes or {}) if entry.action == "consent" else None
        changes = changes or [
            {
                "field": _label(field, fields),
                "before": _format(field, before, fields, users),
                "after": _format(field, after, fields, users),
            }
            for field, (before, after) in (entry.changes or {}).items()
        ]
        rows.append(
            {
                "who": entry.user.display_name if entry.user else _("someone"),
                "at": entry.at,
                "action": str(ACTION_LABELS.get(entry.action, entry.action)),
                "changes": changes,
            }
        )
    return rows


def _conflict_rows(conflict: core.EditConflict, fields, users) -> list[dict]:
    return [
        {
            "who": entry.user.display_name if entry.user else _("someone"),
            "at": entry.at,
            "field": _label(field, fields),
            "value": _format(field, entry.changes[field][1], fields, users),
        }
        for field, entry in conflict.their_changes()
    ]


def _context(contact: Contact | None, **extra) -> dict[str, Any]:
    fields = core.custom_fields(db.session)
    users = extra.pop("users", None) or _users()
    by_name = _custom_by_name(fields)
    return {
        "contact": contact,
        "custom_fields": fields,
        "custom_by_name": by_name,
        "users": users,
        "users_by_id": {u.id: u for u in users},
        "can_edit": current_user.can_edit(),
        "is_admin": current_user.is_admin,
        "sections": SECTIONS,
        "field_label": lambda name: _label(name, by_name),
        "shown": lambda c, name: _shown(c, name, by_name),
        "item_labels": ITEM_LABELS,
        "item_label_choices": item_label_choices,
        "errors": {},
        **extra,
    }


def _base_version(formdata: MultiDict) -> int | None:
    raw = formdata.get("version", "")
    return int(raw) if raw.isdigit() else None


def _validate(raw: dict[str, Any], fields: list[CustomField], users: list[User]) -> dict:
    return core.validate(
        raw,
        region=current_app.config["DEFAULT_REGION"],
        custom_fields=fields,
        owner_ids={u.id for u in users},
    )


def _form_errors(exc: core.ContactInvalid) -> dict[str, str]:
    return {form_name(field): message for field, message in exc.errors.items()}


def _rows(contact: Contact | None, formdata: MultiDict | None, kind: str) -> list[Row]:
    if formdata is not None:
        return submitted_rows(formdata, kind)
    return contact_rows(contact, kind)


def _with_trigger(body: str, status: int = 200, trigger: bool = True):
    resp = make_response(body, status)
    if trigger:
        resp.headers["HX-Trigger"] = CHANGED
    return resp


# -- the page ----------------------------------------------------------------------------


@bp.route("/<int:contact_id>")
def view(contact_id: int):
    contact = _contact_or_404(contact_id)
    if contact.erased_at is not None:  # only the erasure and the kept purchases
        from .privacy import erased_page

        return erased_page(contact)
    # The timeline (history included) and the summary come from web/chronicle.py.
    return render_template("contact/page.html", **_context(contact))


# -- create and full edit (also the no-JS way to edit) -----------------------------------


def _full_form(contact: Contact | None, formdata: MultiDict | None, ctx: dict, defaults=None):
    owners = _owner_choices(ctx["users"], contact)
    form = make_form(ctx["custom_fields"], owners, contact, formdata, defaults)
    rows = {kind: _rows(contact, formdata, kind) for kind in ("emails", "phones")}
    return form, rows


@bp.route("/new", methods=["GET", "POST"])
def new():
    ctx = _context(None)
    if request.method == "GET":
        form, rows = _full_form(None, None, ctx, {"owner_id": str(current_user.id)})
        return render_template("contact/form.html", form=form, rows=rows, **ctx)
    form, rows = _full_form(None, request.form, ctx)
    try:
        clean = _validate(raw_values(request.form, all_names(ctx["custom_fields"])), **_vargs(ctx))
        contact = core.create_contact(db.session, clean, current_user.id, pm=_pm())
    except core.ContactInvalid as exc:
        db.session.rollback()
        ctx["errors"] = _form_errors(exc)
        return render_template("contact/form.html", form=form, rows=rows, **ctx), 422
    db.session.commit()
    flash(_("Contact created."), "success")
    return redirect(url_for("contact.view", contact_id=contact.id))


def _vargs(ctx: dict) -> dict:
    return {"fields": ctx["custom_fields"], "users": ctx["users"]}


@bp.route("/<int:contact_id>/edit", methods=["GET", "POST"])
def edit(contact_id: int):
    contact = _contact_or_404(contact_id)
    ctx = _context(contact)
    if request.method == "GET":
        form, rows = _full_form(contact, None, ctx)
        return render_template("contact/form.html", form=form, rows=rows, **ctx)
    names = all_names(ctx["custom_fields"])
    try:
        clean = _validate(raw_values(request.form, names), **_vargs(ctx))
        changes = core.update_contact(
            db.session, contact, clean, current_user.id, _base_version(request.form), pm=_pm()
        )
    except core.ContactInvalid as exc:
        db.session.rollback()
        form, rows = _full_form(contact, request.form, ctx)
        ctx["errors"] = _form_errors(exc)
        return render_template("contact/form.html", form=form, rows=rows, **ctx), 422
    except core.EditConflict as conflict:
        db.session.rollback()
        contact = _contact_or_404(contact_id)
        ctx["contact"] = contact
        form, rows = _full_form(contact, request.form, ctx)
        _show_current(form, rows, contact, conflict.untouched)
        form.version.data = str(contact.version)  # saving again applies the user's values
        ctx["conflict"] = _conflict_rows(conflict, ctx["custom_by_name"], ctx["users_by_id"])
        return render_template("contact/form.html", form=form, rows=rows, **ctx), 409
    db.session.commit()
    flash(_("Saved.") if changes else _("Nothing changed."), "success" if changes else "info")
    return redirect(url_for("contact.view", contact_id=contact_id))


def _show_current(form, rows: dict, contact: Contact, fields: set[str]) -> None:
    """Fields someone else changed that this user left alone show the new value."""
    current = make_form([], [], contact)
    for field in fields:
        name = form_name(field)
        if name in rows:
            rows[name] = contact_rows(contact, name)
        elif name.startswith(CUSTOM_PREFIX) and name in form:
            form[name].data = (contact.custom or {}).get(name[len(CUSTOM_PREFIX) :]) or ""
        elif name in form:
            form[name].data = current[name].data


# -- one-click inline edits --------------------------------------------------------------


def _field_name_or_404(name: str, ctx: dict) -> str:
    if name not in all_names(ctx["custom_fields"]):
        abort(404)
    return name


def _display(contact: Contact, name: str, ctx: dict, title: bool = False) -> str:
    return fragment("contact/field_display.html", name=name, oob_title=title, **ctx)


def _editor(contact: Contact, name: str, ctx: dict, formdata: MultiDict | None = None) -> str:
    form, rows = _full_form(contact, formdata, ctx)
    form.version.data = str(contact.version)
    return fragment("contact/field_edit.html", name=name, form=form, rows=rows, **ctx)


@bp.route("/<int:contact_id>/field/<name>")
def field_display(contact_id: int, name: str):
    """The value as shown on the page (also what Esc / Cancel swaps back in)."""
    contact = _contact_or_404(contact_id)
    ctx = _context(contact)
    return _display(contact, _field_name_or_404(name, ctx), ctx)


@bp.route("/<int:contact_id>/field/<name>/edit")
def field_edit(contact_id: int, name: str):
    contact = _contact_or_404(contact_id)
    ctx = _context(contact)
    name = _field_name_or_404(name, ctx)
    if not ctx["can_edit"]:
        abort(403)
    return _editor(contact, name, ctx)


@bp.route("/<int:contact_id>/field/<name>", methods=["POST"])
def field_save(contact_id: int, name: str):
    contact = _contact_or_404(contact_id)
    ctx = _context(contact)
    name = _field_name_or_404(name, ctx)
    try:
        clean = _validate(raw_values(request.form, [name]), **_vargs(ctx))
        core.update_contact(
            db.session, contact, clean, current_user.id, _base_version(request.form), pm=_pm()
        )
    except core.ContactInvalid as exc:
        db.session.rollback()
        ctx["errors"] = _form_errors(exc)
        return _with_trigger(_editor(contact, name, ctx, request.form), 422, trigger=False)
    except core.EditConflict as conflict:
        db.session.rollback()
        contact = _contact_or_404(contact_id)
        ctx["contact"] = contact
        ctx["conflict"] = _conflict_rows(conflict, ctx["custom_by_name"], ctx["users_by_id"])
        # The user's value stays in the input; the version is now current, so one more
        # Enter saves it over the other change. The history panel shows what happened.
        return _with_trigger(_editor(contact, name, ctx, request.form), 409)
    db.session.commit()
    contact = _contact_or_404(contact_id)
    ctx["contact"] = contact
    return _with_trigger(_display(contact, name, ctx, title=True))


# -- tags --------------------------------------------------------------------------------


def _tags_response(contact: Contact, ctx: dict, status: int = 200, trigger: bool = True):
    body = fragment("contact/_tags.html", **ctx)
    return _with_trigger(body, status, trigger)


@bp.route("/<int:contact_id>/tags", methods=["POST"])
def tag_add(contact_id: int):
    contact = _contact_or_404(contact_id)
    name = request.form.get("tag", "")
    try:
        tag = core_tags.get_or_create(db.session, name)
        added = core_tags.add_tag(db.session, contact, tag, current_user.id, pm=_pm())
    except core_tags.TagError as exc:
        db.session.rollback()
        if not is_htmx():
            flash(str(exc), "error")
            return redirect(url_for("contact.view", contact_id=contact_id))
        ctx = _context(_contact_or_404(contact_id), tag_error=str(exc), tag_value=name)
        return _tags_response(ctx["contact"], ctx, 422, trigger=False)
    db.session.commit()
    if not is_htmx():
        return redirect(url_for("contact.view", contact_id=contact_id))
    ctx = _context(_contact_or_404(contact_id), tag_focus=True)
    if not added:
        ctx["tag_error"] = _("The contact already has the tag “%(name)s”.", name=tag.name)
    return _tags_response(ctx["contact"], ctx, trigger=added)


@bp.route("/<int:contact_id>/tags/<int:tag_id>/remove", methods=["POST"])
def tag_remove(contact_id: int, tag_id: int):
    contact = _contact_or_404(contact_id)
    tag = db.session.get(Tag, tag_id)
    removed = tag is not None and core_tags.remove_tag(
        db.session, contact, tag, current_user.id, pm=_pm()
    )
    db.session.commit()
    if not is_htmx():
        return redirect(url_for("contact.view", contact_id=contact_id))
    ctx = _context(_contact_or_404(contact_id))
    return _tags_response(ctx["contact"], ctx, trigger=removed)


@bp.route("/<int:contact_id>/tags/suggest")
def tag_suggest(contact_id: int):
    contact = _contact_or_404(contact_id)
    prefix = request.args.get("tag", "")
    found = core_tags.suggest(db.session, prefix, exclude_ids=[t.id for t in contact.tags])
    return render_template("contact/_tag_options.html", tags=found)


# -- archive, restore, delete ------------------------------------------------------------


@bp.route("/<int:contact_id>/archive", methods=["POST"])
def archive(contact_id: int):
    contact = _contact_or_404(contact_id)
    if core.set_archived(db.session, contact, True, current_user.id, pm=_pm()):
        flash(_("Archived: the contact is hidden from lists. Restore it any time."), "success")
    db.session.commit()
    return redirect(url_for("contact.view", contact_id=contact_id))


@bp.route("/<int:contact_id>/restore", methods=["POST"])
def restore(contact_id: int):
    contact = _contact_or_404(contact_id)
    if core.set_archived(db.session, contact, False, current_user.id, pm=_pm()):
        flash(_("Restored: the contact is back in the lists."), "success")
    db.session.commit()
    return redirect(url_for("contact.view", contact_id=contact_id))


@bp.route("/<int:contact_id>/delete", methods=["GET", "POST"])
def delete(contact_id: int):
    """Permanent delete, admins only. GET is the confirm step for browsers without JS."""
    if not current_user.is_admin:
        abort(403)
    contact = _contact_or_404(contact_id)
    if request.method == "GET":
        return render_template("contact/delete.html", contact=contact)
    name = contact.full_name
    core.delete_contact(db.session, contact, pm=_pm())
    db.session.commit()
    flash(_("“%(name)s” was deleted permanently.", name=name), "success")
    target = url_for("contacts.index")
    if is_htmx():
        resp = make_response("", 200)
        resp.headers["HX-Redirect"] = target
        return resp
    return redirect(target)
