"""Duplicate review: the queue of candidate pairs, side-by-side merge, bulk merge, undo."""

import uuid
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
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from jinja2_fragments.flask import render_block
from markupsafe import Markup
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from .. import jobs
from ..core import merging
from ..core.contacts import custom_fields
from ..core.dedup_reasons import describe_all
from ..extensions import db
from ..forms.contact import CHOICE_LABELS, FIELD_LABELS
from ..models import (
    Contact,
    ContactConsent,
    DuplicatePair,
    Interaction,
    Merge,
    Reminder,
    User,
    contact_tags,
)
from ..models.types import utcnow
from .htmx import flashes_oob, is_htmx, render

bp = Blueprint("duplicates", __name__, url_prefix="/duplicates")

PAGE_SIZE = 50
MAX_GROUP = merging.MAX_GROUP  # contacts merged at once from the compare screen
PREVIEW_LIMIT = 200  # groups listed on the bulk preview (all of them are merged)


def _require_editor() -> None:
    # POSTs are refused to viewers globally; this guards the pages that only lead to edits.
    if not current_user.can_edit():
        abort(403)


def _min_score() -> int:
    raw = request.values.get("min_score", "").strip()
    if raw.isdigit():
        return max(0, min(100, int(raw)))
    return 0


def _contacts(ids: list[int]) -> dict[int, Contact]:
    rows = db.session.scalars(
        select(Contact)
        .where(Contact.id.in_(ids))
        .options(selectinload(Contact.emails), selectinload(Contact.phones))
    )
    return {c.id: c for c in rows}


# -- the queue -----------------------------------------------------------------------------


@bp.route("/")
def index():
    min_score = _min_score()
    cursor = request.args.get("after", "")
    stmt = (
        select(DuplicatePair)
        .where(DuplicatePair.status == "open", DuplicatePair.score >= min_score)
        .order_by(DuplicatePair.score.desc(), DuplicatePair.id)
        .limit(PAGE_SIZE + 1)
    )
    if cursor.count(":") == 1 and cursor.replace(":", "").isdigit():
        score, pair_id = (int(x) for x in cursor.split(":"))
        # "score <= s" bounds the index range; the OR alone would scan from the start.
        stmt = stmt.where(
            DuplicatePair.score <= score,
            or_(
                DuplicatePair.score < score,
                (DuplicatePair.score == score) & (DuplicatePair.id > pair_id),
            ),
        )
    pairs = list(db.session.scalars(stmt))
    next_cursor = None
    if len(pairs) > PAGE_SIZE:
        pairs = pairs[:PAGE_SIZE]
        next_cursor = f"{pairs[-1].score}:{pairs[-1].id}"
    entries = _entries(pairs, min_score)
    rows_only = bool(cursor) and is_htmx()  # a "More" click brings rows only, no count
    count = None if rows_only else _open_count(min_score)
    resp = make_response(
        render(
            "duplicates/index.html",
            block="rows" if rows_only else None,
            entries=entries,
            count=count,
            min_score=min_score,
            next_cursor=next_cursor,
            scan_available="dedup_scan" in jobs.HANDLERS,
        )
    )
    resp.headers["Vary"] = "HX-Request"  # the same URL serves the page or its rows
    return resp


def _open_count(min_score: int) -> int:
    # Counted in the index (status, score, id).
    return db.session.scalar(
        select(func.count())
        .select_from(DuplicatePair)
        .where(DuplicatePair.status == "open", DuplicatePair.score >= min_score)
    )


def _dismissed_fragment() -> str:
    """What replaces a dismissed row: nothing, plus the count of open pairs (out of band)."""
    min_score = _min_score()
    return (
        render_block("duplicates/index.html", "count", count=_open_count(min_score), oob=True)
        + flashes_oob()
    )


def _entries(pairs: list[DuplicatePair], min_score: int) -> list[dict[str, Any]]:
    """One entry per pair; a pair in a group of 3+ shows the whole group, once, at the place
    of the group's best pair."""
    ids = {i for p in pairs for i in (p.contact_a_id, p.contact_b_id)}
    around = merging.groups_around(db.session, sorted(ids), min_score)
    group_by_contact = {i: g for g in around for i in g.contact_ids}
    big = [g for g in around if 2 < len(g.contact_ids) <= MAX_GROUP]
    contacts = _contacts(sorted(ids | {i for g in big for i in g.contact_ids}))
    entries: list[dict[str, Any]] = []
    for pair in pairs:
        group = group_by_contact.get(pair.contact_a_id)
        if group is not None and 2 < len(group.contact_ids) <= MAX_GROUP:
            if group.best_pair_id != pair.id:
                continue  # shown once, where its best pair is
            entries.append(
                {
                    "kind": "group",
                    "pair": pair,
                    "score": group.best_score,
                    "contacts": [contacts[i] for i in group.contact_ids if i in contacts],
                    "ids": ",".join(str(i) for i in group.contact_ids),
                }
            )
            continue
        entries.append(
            {
                "kind": "pair",
                "pair": pair,
                "score": pair.score,
                "contacts": [contacts[pair.contact_a_id], contacts[pair.contact_b_id]],
                "reasons": describe_all(pair.reasons or []),
            }
        )
    return entries


@bp.post("/pairs/<int:pair_id>/dismiss")
def dismiss(pair_id: int):
    _require_editor()
    pair = db.session.get(DuplicatePair, pair_id) or abort(404)
    pair.status = "dismissed"
    pair.decided_at = utcnow()
    pair.decided_by_id = current_user.id
    db.session.commit()
    if request.headers.get("HX-Request") == "true":
        return _dismissed_fragment()  # the row disappears, the count goes down
    flash(_("Marked as not duplicates; this pair will not be proposed again."), "success")
    return redirect(url_for("duplicates.index"))


@bp.post("/groups/dismiss")
def dismiss_group():
    _require_editor()
    ids = _ids(request.form.get("ids", ""))
    found = db.session.scalars(
        select(DuplicatePair).where(
            DuplicatePair.status == "open",
            DuplicatePair.contact_a_id.in_(ids),
            DuplicatePair.contact_b_id.in_(ids),
        )
    ).all()
    for pair in found:
        pair.status, pair.decided_at, pair.decided_by_id = "dismissed", utcnow(), current_user.id
    db.session.commit()
    if request.headers.get("HX-Request") == "true":
        return _dismissed_fragment()
    flash(_("Marked as not duplicates; this pair will not be proposed again."), "success")
    return redirect(url_for("duplicates.index"))


@bp.post("/scan")
def scan():
    _require_editor()
    if "dedup_scan" not in jobs.HANDLERS:
        flash(_("The duplicate scan is not available in this installation."), "error")
        return redirect(url_for("duplicates.index"))
    job = jobs.enqueue("dedup_scan", {}, current_user.id)
    return redirect(url_for("jobs.show", job_id=job.id))


# -- side-by-side merge --------------------------------------------------------------------


def _ids(raw: str) -> list[int]:
    parts = [p.strip() for p in raw.replace(" ", ",").split(",")]
    return sorted({int(p) for p in parts if p.isdigit()})


def _display(name: str, value: Any, users: dict[int, User]) -> str:
    if value in (None, ""):
        return ""
    if name == "owner_id":
        user = users.get(value)
        return user.display_name if user else f"#{value}"
    if name in CHOICE_LABELS:
        return str(CHOICE_LABELS[name].get(value, value))
    return str(value)


def _counts(ids: list[int]) -> dict[int, dict[str, int]]:
    """Rows that will move to the survivor, per contact."""
    result = {i: {"interactions": 0, "tags": 0, "consents": 0, "reminders": 0} for i in ids}
    queries = {
        "interactions": (Interaction.contact_id, Interaction),
        "consents": (ContactConsent.contact_id, ContactConsent),
        "reminders": (Reminder.contact_id, Reminder),
    }
    for key, (column, model) in queries.items():
        rows = db.session.execute(
            select(column, func.count()).select_from(model).where(column.in_(ids)).group_by(column)
        )
        for contact_id, n in rows:
            result[contact_id][key] = n
    rows = db.session.execute(
        select(contact_tags.c.contact_id, func.count())
        .where(contact_tags.c.contact_id.in_(ids))
        .group_by(contact_tags.c.contact_id)
    )
    for contact_id, n in rows:
        result[contact_id]["tags"] = n
    return result


def _compare(ids: list[int], form: dict | None = None, status: int = 200):
    if not 2 <= len(ids) <= MAX_GROUP:
        flash(_("Choose between 2 and %(num)s contacts to compare.", num=MAX_GROUP), "error")
        return redirect(url_for("duplicates.index"))
    contacts = _contacts(ids)
    if len(contacts) != len(ids):
        flash(_("One of these contacts no longer exists (merged or deleted)."), "error")
        return redirect(url_for("duplicates.index"))
    ordered = [contacts[i] for i in ids]
    survivor_id = merging.choose_survivor(db.session, ordered).id
    if form and str(form.get("survivor", "")).isdigit() and int(form["survivor"]) in contacts:
        survivor_id = int(form["survivor"])
    defaults = merging.default_choices(ordered, survivor_id)
    users = {u.id: u for u in db.session.scalars(select(User))}
    custom = {f.key: f.label for f in custom_fields(db.session)}
    rows = []
    for name, default in defaults.items():
        values = [merging.field_value(c, name) for c in ordered]
        if all(v in (None, "") for v in values):
            continue
        if name.startswith("custom."):
            key = name.split(".", 1)[1]
            label = custom.get(key, key)
        else:
            label = str(FIELD_LABELS.get(name, name.replace("_", " ").capitalize()))
        chosen = default
        if form and str(form.get(f"choice_{name}", "")).isdigit():
            chosen = int(form[f"choice_{name}"])
        rows.append(
            {
                "name": name,
                "label": label,
                "cells": [
                    (c.id, _display(name, v, users)) for c, v in zip(ordered, values, strict=True)
                ],
                "chosen": chosen,
                "same": len({str(v) for v in values}) == 1,
            }
        )
    pair_scores = db.session.execute(
        select(DuplicatePair.score, DuplicatePair.reasons).where(
            DuplicatePair.contact_a_id.in_(ids), DuplicatePair.contact_b_id.in_(ids)
        )
    ).all()
    reasons = "; ".join(describe_all(r or []) for _s, r in pair_scores if r)
    kept_emails = kept_phones = None
    if form and "emails" in form:
        kept_emails = {int(i) for i in form.get("emails", []) if str(i).isdigit()}
        kept_phones = {int(i) for i in form.get("phones", []) if str(i).isdigit()}
    return render_template(
        "duplicates/merge.html",
        contacts=ordered,
        ids=",".join(str(i) for i in ids),
        survivor_id=survivor_id,
        rows=rows,
        counts=_counts(ids),
        reasons=reasons,
        score=max((s for s, _r in pair_scores), default=None),
        kept_emails=kept_emails,
        kept_phones=kept_phones,
    ), status


@bp.route("/pairs/<int:pair_id>/merge")
def compare_pair(pair_id: int):
    pair = db.session.get(DuplicatePair, pair_id) or abort(404)
    return _compare([pair.contact_a_id, pair.contact_b_id])


@bp.route("/merge")
def compare():
    # Choosing another contact to keep reloads the form with that contact's values as defaults.
    return _compare(_ids(request.args.get("ids", "")), {"survivor": request.args.get("survivor")})


@bp.post("/merge")
def merge():
    _require_editor()
    ids = _ids(request.form.get("ids", ""))
    form = {
        "survivor": request.form.get("survivor", ""),
        "emails": request.form.getlist("emails"),
        "phones": request.form.getlist("phones"),
        **{k: v for k, v in request.form.items() if k.startswith("choice_")},
    }
    survivor = form["survivor"]
    if not survivor.isdigit() or int(survivor) not in ids:
        flash(_("Choose which contact to keep."), "error")
        return _compare(ids, form, 422)
    choices: dict[str, Any] = {
        k[len("choice_") :]: int(v)
        for k, v in form.items()
        if k.startswith("choice_") and v.isdigit()
    }
    if any(v not in ids for v in choices.values()):
        flash(_("A chosen value belongs to a contact outside this merge."), "error")
        return _compare(ids, form, 422)
    choices["emails"] = [int(i) for i in form["emails"] if i.isdigit()]
    choices["phones"] = [int(i) for i in form["phones"] if i.isdigit()]
    survivor_id = int(survivor)
    pm = current_app.extensions.get("crmlite.plugins")
    try:
        record = merging.merge(
            db.session, survivor_id, [i for i in ids if i != survivor_id], choices,
            current_user.id, pm=pm,
        )  # fmt: skip
        db.session.commit()
    except merging.MergeError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _compare(ids, form, 422)
    except StaleDataError:
        db.session.rollback()
        flash(_("Someone changed one of these contacts meanwhile; check and merge again."), "error")
        return _compare(ids, form, 409)
    n = len(record.merged_ids)
    message = ngettext(
        "Merged %(num)s contact into this one.", "Merged %(num)s contacts into this one.", n
    )
    flash(
        Markup(render_template("duplicates/_undo_flash.html", message=message, merge=record)),
        "success",
    )
    return redirect(url_for("contact.view", contact_id=survivor_id))


# -- merges log and undo -------------------------------------------------------------------


@bp.route("/merges")
def merges():
    before = request.args.get("before", "")
    records = merging.recent(db.session, PAGE_SIZE + 1, int(before) if before.isdigit() else None)
    next_before = None
    if len(records) > PAGE_SIZE:
        records = records[:PAGE_SIZE]
        next_before = records[-1].id
    survivors = _contacts([r.survivor_id for r in records if r.survivor_id])
    return render(
        "duplicates/merges.html",
        records=records,
        survivors=survivors,
        next_before=next_before,
        blockers=merging.undo_blockers(db.session, records),
    )


@bp.post("/merges/<int:merge_id>/undo")
def undo(merge_id: int):
    _require_editor()
    record = db.session.get(Merge, merge_id) or abort(404)
    try:
        merging.undo(db.session, record.id, current_user.id)
        db.session.commit()
    except merging.MergeError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _after_undo(None)
    flash(
        ngettext(
            "Merge undone: %(num)s contact is back.",
            "Merge undone: %(num)s contacts are back.",
            len(record.merged_ids),
        ),
        "success",
    )
    return _after_undo(record.survivor_id)


def _after_undo(contact_id: int | None):
    target = (
        url_for("contact.view", contact_id=contact_id)
        if contact_id and request.form.get("next") == "contact"
        else url_for("duplicates.merges")
    )
    if request.headers.get("HX-Request") == "true":
        resp = current_app.response_class(status=204)
        resp.headers["HX-Redirect"] = target
        return resp
    return redirect(target)


@bp.post("/batches/<batch_id>/undo")
def undo_batch(batch_id: str):
    _require_editor()
    try:
        n = merging.undo_batch(db.session, batch_id, current_user.id)
        db.session.commit()
    except merging.MergeError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("duplicates.merges"))
    flash(ngettext("Undid %(num)s merge.", "Undid %(num)s merges.", n), "success")
    return redirect(url_for("duplicates.merges"))


# -- bulk merge ----------------------------------------------------------------------------


@bp.route("/bulk")
def bulk():
    _require_editor()
    min_score = _min_score() if request.args.get("min_score") else None
    groups = merging.bulk_preview(db.session, min_score) if min_score is not None else []
    return render_template(
        "duplicates/bulk.html",
        min_score=min_score,
        groups=groups[:PREVIEW_LIMIT],
        total=len(groups),
        merged=sum(len(g.contact_ids) - 1 for g in groups),
    )


@bp.post("/bulk")
def bulk_merge():
    """Start the bulk merge as a background job (thousands of groups take minutes)."""
    _require_editor()
    raw = request.form.get("min_score", "").strip()
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        flash(_("Choose a minimum score between 1 and 100."), "error")
        return redirect(url_for("duplicates.bulk"))
    params = {"min_score": int(raw), "batch_id": str(uuid.uuid4())}
    job = jobs.enqueue("dedup_bulk_merge", params, current_user.id)
    return redirect(url_for("jobs.show", job_id=job.id))


COMMIT_EVERY = 20  # groups merged per transaction (and per progress update)


@jobs.handler("dedup_bulk_merge", label=_l("Bulk merge of duplicates"))
def run_bulk_merge(ctx: jobs.JobContext) -> dict[str, Any]:
    """Merge every group at or above the score, committing every COMMIT_EVERY groups; a
    re-run resumes with the same batch (groups already merged are no longer open)."""
    from ..plugins import current_plugin_manager

    params = ctx.params
    merged = 0

    def on_merged(done: int, total: int) -> None:
        nonlocal merged
        merged = done
        if done % COMMIT_EVERY == 0 or done == total:
            ctx.progress(done, total)  # commits

    merging.bulk_merge(
        ctx.session,
        int(params["min_score"]),
        ctx.job.created_by_id,
        pm=current_plugin_manager(),
        batch_id=params["batch_id"],
        on_merged=on_merged,
    )
    ctx.session.commit()
    count = len(merging.batch_merges(ctx.session, params["batch_id"]))
    # The job page links to the merges log (no request here, so no url_for).
    return {"merged_groups": count, "url": "/duplicates/merges"}
