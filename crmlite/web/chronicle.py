"""The chronicle on the contact page: one timeline of interactions and field changes, the
one-click add form per kind, edit and delete by the author or an admin, the summary."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_currency
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import and_, or_, select

from ..core import interactions as core
from ..extensions import db
from ..forms.interaction import CHANGES, CHANGES_LABEL, FIELD_LABELS, STATUS_LABELS, TEXT_LABELS
from ..models import Contact, ContactHistory, Interaction
from ..models.types import utcnow
from .contact import _contact_or_404, _context, _history_rows
from .htmx import flashes_oob, is_htmx

bp = Blueprint("chronicle", __name__, url_prefix="/contacts")

PAGE = 30


def _verb(kind: core.InteractionKind) -> str:
    # Spelled out so the catalog extractor finds each one.
    verbs = {
        "note": _("added a note"),
        "call": _("logged a call"),
        "meeting": _("logged a meeting"),
        "purchase": _("recorded a purchase"),
        "support": _("recorded a support request"),
        "feedback": _("recorded feedback"),
        "message": _("sent a message"),
        "system": _("system event"),
    }
    return verbs.get(kind.key) or _("added: %(kind)s", kind=str(kind.label))


def _pm():
    return current_app.extensions["crmlite.plugins"]


def _kinds() -> dict[str, core.InteractionKind]:
    return core.all_kinds(_pm())


def _default_currency() -> str:
    return current_app.config.get("DEFAULT_CURRENCY") or core.DEFAULT_CURRENCY


def money(minor: int | None, currency: str | None) -> str:
    if minor is None:
        return ""
    return format_currency(minor / 100, currency or _default_currency())


# -- the timeline ----------------------------------------------------------------------------


END = "end"  # a source of the timeline with nothing left


@dataclass
class Cursor:
    """Where each source of the timeline stopped: (time, id) of its last entry shown,
    None when none was shown yet, END when it has nothing left."""

    interaction: tuple[datetime, int] | str | None = None
    history: tuple[datetime, int] | str | None = None

    @staticmethod
    def _parse(raw: str | None) -> tuple[datetime, int] | str | None:
        if not raw:
            return None
        if raw == END:
            return END
        at, _sep, ident = raw.rpartition("_")
        try:
            return datetime.fromisoformat(at), int(ident)
        except ValueError:
            abort(400)

    @classmethod
    def from_args(cls) -> "Cursor | None":
        if "ib" not in request.args and "hb" not in request.args:
            return None
        return cls(cls._parse(request.args.get("ib")), cls._parse(request.args.get("hb")))

    def args(self) -> dict[str, str]:
        out = {}
        for key, value in (("ib", self.interaction), ("hb", self.history)):
            if isinstance(value, tuple):
                out[key] = f"{value[0].isoformat()}_{value[1]}"
            else:
                out[key] = value or ""
        return out


def _before(time_col, id_col, cursor: tuple[datetime, int] | None):
    if cursor is None:
        return True
    at, ident = cursor
    return or_(time_col < at, and_(time_col == at, id_col < ident))


def _page(contact_id: int, kind: str, cursor: Cursor | None) -> tuple[list[tuple], Cursor | None]:
    """One page of the merged timeline, newest first, and the cursor of the next page.

    Each source is read by keyset on (time, id) for PAGE + 1 rows; the merge takes PAGE."""
    cursor = cursor or Cursor()
    fetched = {"i": [], "h": []}
    if kind != CHANGES and cursor.interaction != END:
        q = select(Interaction).where(
            Interaction.contact_id == contact_id,
            _before(Interaction.occurred_at, Interaction.id, cursor.interaction),
        )
        if kind:
            q = q.where(Interaction.kind == kind)
        q = q.order_by(Interaction.occurred_at.desc(), Interaction.id.desc()).limit(PAGE + 1)
        fetched["i"] = [(i.occurred_at, 1, i.id, "i", i) for i in db.session.scalars(q)]
    if kind in ("", CHANGES) and cursor.history != END:
        q = (
            select(ContactHistory)
            .where(
                ContactHistory.contact_id == contact_id,
                # An added entry is shown itself; its edits and deletion are shown as changes.
                ContactHistory.action != "interaction_add",
                _before(ContactHistory.at, ContactHistory.id, cursor.history),
            )
            .order_by(ContactHistory.at.desc(), ContactHistory.id.desc())
            .limit(PAGE + 1)
        )
        fetched["h"] = [(h.at, 0, h.id, "h", h) for h in db.session.scalars(q)]
    # Newest first; at the same moment an interaction before the history row it caused.
    rows = sorted(fetched["i"] + fetched["h"], key=lambda r: (r[0], r[1], r[2]), reverse=True)
    shown = rows[:PAGE]
    if len(rows) <= PAGE:
        return shown, None
    nxt = Cursor(cursor.interaction, cursor.history)
    for source, attr in (("i", "interaction"), ("h", "history")):
        mine = [r for r in shown if r[3] == source]
        if mine and len(mine) == len(fetched[source]):
            setattr(nxt, attr, END)
        elif mine:
            setattr(nxt, attr, (mine[-1][0], mine[-1][2]))
        elif not fetched[source]:
            setattr(nxt, attr, END)
    return shown, nxt


def _interaction_row(item: Interaction, kinds: dict[str, core.InteractionKind]) -> dict:
    kind = kinds.get(item.kind) or core.InteractionKind(item.kind, item.kind, manual=False)
    details = []
    if item.amount_minor is not None:
        details.append((FIELD_LABELS["amount"], money(item.amount_minor, item.currency)))
    if item.score is not None:
        details.append((FIELD_LABELS["score"], str(item.score)))
    if item.status:
        details.append((FIELD_LABELS["status"], str(STATUS_LABELS.get(item.status, item.status))))
    if item.kind == "message":
        data = item.data or {}
        for name in ("sender", "to", "delivery"):
            if data.get(name):
                details.append((FIELD_LABELS[name], str(data[name])))
    for f in kind.fields:
        value = (item.data or {}).get(f.name)
        if value not in (None, ""):
            details.append((f.label, str(value)))
    return {
        "source": "interaction",
        "item": item,
        "kind": kind,
        "verb": _verb(kind),
        "who": item.author.display_name if item.author else "crmlite",
        "at": item.occurred_at,
        "details": details,
        "editable": kind.manual and core.can_change(item, current_user),
    }


def _history_entry_rows(entries: list[ContactHistory], ctx: dict) -> list[dict]:
    rows = _history_rows(entries, ctx["custom_by_name"], ctx["users_by_id"])
    for row, entry in zip(rows, entries, strict=True):
        row["source"] = "history"
        if entry.action.startswith("interaction_"):
            # An entry's own fields: readable labels and money, not column names.
            row["changes"] = [
                {
                    "field": str(FIELD_LABELS.get(name, name)),
                    "before": _interaction_value(name, before, entry),
                    "after": _interaction_value(name, after, entry),
                }
                for name, (before, after) in (entry.changes or {}).items()
                if name != "interaction_id"
            ]
    return rows


def _interaction_value(name: str, value: Any, entry: ContactHistory) -> str:
    if value in (None, "", {}):
        return ""
    if name == "amount_minor":
        currency = (entry.changes.get("currency") or [None, None])[1] or (
            entry.changes.get("currency") or [None, None]
        )[0]
        return money(int(value), currency)
    if name == "kind":
        kind = _kinds().get(value)
        return str(kind.label) if kind else str(value)
    if name == "status":
        return str(STATUS_LABELS.get(value, value))
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


def _timeline_context(contact: Contact, ctx: dict, kind: str, cursor: Cursor | None) -> dict:
    kinds = _kinds()
    if kind and kind != CHANGES and kind not in kinds:
        kind = ""
    shown, nxt = _page(contact.id, kind, cursor)
    history_rows = iter(_history_entry_rows([r[4] for r in shown if r[3] == "h"], ctx))
    entries = [_interaction_row(r[4], kinds) if r[3] == "i" else next(history_rows) for r in shown]
    more_url = None
    if nxt is not None:
        more_url = url_for(
            "chronicle.timeline", contact_id=contact.id, kind=kind or None, **nxt.args()
        )
    return {
        "entries": entries,
        "more_url": more_url,
        "timeline_kind": kind,
        "kinds": kinds,
        "manual_kinds": [k for k in kinds.values() if k.manual],
        "changes_key": CHANGES,
        "changes_label": CHANGES_LABEL,
        "can_add": current_user.can_edit(),
    }


@bp.app_context_processor
def _template_helpers() -> dict[str, Any]:
    # The contact page includes the timeline and the summary without its view knowing them.
    return {"chronicle_timeline": _page_timeline, "chronicle_summary": summary_context}


def _page_timeline(contact: Contact, custom_by_name: dict, users_by_id: dict) -> dict:
    ctx = {"custom_by_name": custom_by_name, "users_by_id": users_by_id}
    return _timeline_context(contact, ctx, "", None)


@bp.route("/<int:contact_id>/timeline")
def timeline(contact_id: int):
    contact = _contact_or_404(contact_id)
    if not is_htmx():
        return redirect(url_for("contact.view", contact_id=contact_id, _anchor="timeline"))
    ctx = _context(contact)
    cursor = Cursor.from_args()
    ctx["t"] = _timeline_context(contact, ctx, request.args.get("kind", ""), cursor)
    if cursor is not None:  # "load more": only the next entries, appended
        return render_template("contact/_timeline_entries.html", **ctx)
    return render_template("contact/_timeline.html", **ctx) + flashes_oob()


# -- the summary -----------------------------------------------------------------------------


def summary_context(contact: Contact) -> dict:
    """The figures of the summary (money in the default currency: the summary adds up
    every purchase's amount whatever its currency)."""
    currency = _default_currency()
    last = contact.last_interaction_at
    return {
        "purchase_count": contact.purchase_count or 0,
        "total": money(contact.purchase_total_minor or 0, currency),
        "average": money(contact.purchase_avg_minor, currency),
        "first": contact.first_purchase_at,
        "last": contact.last_purchase_at,
        "days_since_contact": (utcnow() - last).days if last else None,
        "nps": contact.last_nps,
    }


# -- add, edit, delete -----------------------------------------------------------------------


def _require_editor() -> None:
    if not current_user.can_edit():
        abort(403)


def _manual_kind(key: str) -> core.InteractionKind:
    kind = _kinds().get(key)
    if kind is None or not kind.manual:
        abort(404)
    return kind


def _form(contact: Contact, kind: core.InteractionKind, **extra) -> str:
    return render_template(
        "contact/_interaction_form.html",
        contact=contact,
        kind=kind,
        text_label=TEXT_LABELS.get(kind.key, FIELD_LABELS["text"]),
        status_labels=STATUS_LABELS,
        field_labels=FIELD_LABELS,
        default_currency=_default_currency(),
        today=core._today().isoformat(),
        values=extra.pop("values", {}),
        errors=extra.pop("errors", {}),
        item=extra.pop("item", None),
        **extra,
    )


def _form_values(item: Interaction) -> dict[str, Any]:
    values = {
        "date": item.occurred_at.date().isoformat(),
        "text": item.text,
        "currency": item.currency or "",
        "status": item.status or "",
        "score": "" if item.score is None else str(item.score),
        "amount": "" if item.amount_minor is None else f"{item.amount_minor / 100:.2f}",
    }
    for name, value in (item.data or {}).items():
        values[f"data__{name}"] = value
    return values


def _invalid(contact, kind, exc: core.InteractionInvalid, item=None):
    body = _form(contact, kind, values=request.form, errors=exc.errors, item=item)
    resp = make_response(body, 422)
    # The errors replace the form itself, not the timeline the form would have refreshed.
    resp.headers["HX-Retarget"] = "#" + (
        "interaction-form-" + str(item.id) if item else "interaction-form-new"
    )
    resp.headers["HX-Reswap"] = "outerHTML"
    return resp


def _refreshed(contact_id: int):
    """After a change: the whole first page of the timeline, the summary out of band."""
    if not is_htmx():
        return redirect(url_for("contact.view", contact_id=contact_id, _anchor="timeline"))
    db.session.expire_all()
    contact = _contact_or_404(contact_id)
    ctx = _context(contact)
    ctx["t"] = _timeline_context(contact, ctx, "", None)
    body = render_template("contact/_timeline.html", **ctx)
    body += render_template("contact/_summary.html", oob=True, **ctx)
    return body + flashes_oob()


@bp.route("/<int:contact_id>/interactions/new")
def new(contact_id: int):
    _require_editor()
    contact = _contact_or_404(contact_id)
    kind = _manual_kind(request.args.get("kind", "note"))
    if not is_htmx():
        return redirect(url_for("contact.view", contact_id=contact_id, _anchor="timeline"))
    return _form(contact, kind)


@bp.route("/<int:contact_id>/interactions", methods=["POST"])
def create(contact_id: int):
    _require_editor()
    contact = _contact_or_404(contact_id)
    kind = _manual_kind(request.form.get("kind", ""))
    try:
        clean = core.validate(kind, request.form, _default_currency())
    except core.InteractionInvalid as exc:
        return _invalid(contact, kind, exc)
    core.add(db.session, _pm(), contact.id, kind, clean, current_user.id)
    db.session.commit()
    return _refreshed(contact_id)


def _editable(contact_id: int, interaction_id: int) -> tuple[Contact, Interaction]:
    _require_editor()
    contact = _contact_or_404(contact_id)
    item = db.session.get(Interaction, interaction_id)
    if item is None or item.contact_id != contact.id:
        abort(404)
    kind = _kinds().get(item.kind)
    if kind is None or not kind.manual or not core.can_change(item, current_user):
        abort(403)
    return contact, item


@bp.route("/<int:contact_id>/interactions/<int:interaction_id>/edit")
def edit(contact_id: int, interaction_id: int):
    contact, item = _editable(contact_id, interaction_id)
    if not is_htmx():
        return redirect(url_for("contact.view", contact_id=contact_id, _anchor="timeline"))
    return _form(contact, _kinds()[item.kind], values=_form_values(item), item=item)


@bp.route("/<int:contact_id>/interactions/<int:interaction_id>", methods=["POST"])
def update(contact_id: int, interaction_id: int):
    contact, item = _editable(contact_id, interaction_id)
    kind = _kinds()[item.kind]
    try:
        clean = core.validate(kind, request.form, _default_currency())
    except core.InteractionInvalid as exc:
        return _invalid(contact, kind, exc, item)
    core.edit(db.session, item, clean, current_user.id)
    db.session.commit()
    return _refreshed(contact_id)


@bp.route("/<int:contact_id>/interactions/<int:interaction_id>/delete", methods=["POST"])
def delete(contact_id: int, interaction_id: int):
    _contact, item = _editable(contact_id, interaction_id)
    core.delete(db.session, item, current_user.id)
    db.session.commit()
    return _refreshed(contact_id)
