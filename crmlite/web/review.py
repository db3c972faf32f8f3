"""The review queue: contacts that need a look, by reason, with one-click actions per row.

GET  /review                       the page (reason tabs, the list, progress); HTMX: the list
                                   block, or with `after` the next rows (infinite scroll)
GET  /review/counts                the reason tabs with their counts (loaded lazily, and again
                                   on the "reviewChanged" event)
GET  /review/progress              reviewed this cycle out of due, per owner (SVG bar chart)
POST /review/<id>/verified         mark verified: the row leaves the list (or is updated)
GET  /review/<id>/edit             the row as a small inline form (name, e-mail, phone)
POST /review/<id>/edit             save it
GET  /review/<id>/row              the row as it is (the inline form's "Cancel")
POST /review/<id>/archive          archive the contact: the row leaves the list
POST /review/<id>/tag              add a tag to the contact

Query parameters: reason (see core/review.py; default: the first), owner ("mine", "all" or a
user id; default "mine" for editors, "all" for admins and viewers), after (cursor).
Viewers see the queue; only editors and admins act on it (POSTs are refused by
web/security.py).
"""

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_babel import format_date, format_decimal, gettext
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from jinja2_fragments.flask import render_block
from sqlalchemy import select

from .. import jobs
from ..core import audit, review
from ..core import contacts as core_contacts
from ..core import tags as core_tags
from ..extensions import db
from ..models import Contact, User
from .contacts import safe_colour
from .htmx import flashes_oob, fragment, is_htmx, render

bp = Blueprint("review", __name__, url_prefix="/review")

TEMPLATE = "review/index.html"
ROW = "review/_row.html"
CHANGED = "reviewChanged"  # HX-Trigger event: the counts and the progress reload on it


def _pm():
    return current_app.extensions["crmlite.plugins"]


def _region() -> str:
    return current_app.config.get("DEFAULT_REGION", "RU")


def _reason(raw: str | None) -> str:
    return raw if raw in review.REASONS else review.REASONS[0]


def _owner_param(raw: str | None) -> str:
    if raw in ("mine", "all") or (raw or "").isdigit():
        return raw
    # Editors review their own contacts first; admins and viewers (who own none) see all.
    return "mine" if current_user.role == "editor" else "all"


def _owner_id(param: str) -> int | None:
    if param == "mine":
        return current_user.id
    if param.isdigit():
        return int(param)
    return None


def _users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.name, User.email)))


def _reminder_url(contact: Contact) -> str:
    """The reminder form for this contact (reminders blueprint), else the contact's page."""
    if "reminders.new" in current_app.view_functions:
        return url_for("reminders.new", contact_id=contact.id, panel=0)
    return url_for("contact.view", contact_id=contact.id)


def _row_context(**extra) -> dict:
    return {
        "can_edit": current_user.can_edit(),
        "safe_colour": safe_colour,
        "reminder_url": _reminder_url,
        "labels": review.reason_labels(),
        "format_date": format_date,
        **extra,
    }


def _context(reason: str, owner: str, after: str | None) -> dict:
    conf = review.settings(db.session)
    found = review.page(db.session, reason, conf, after, owner_id=_owner_id(owner))
    args = {"reason": reason, "owner": owner}
    return _row_context(
        reason=reason,
        owner=owner,
        args=args,
        conf=conf,
        page=found,
        after=after,
        users=_users(),
        next_url=url_for("review.index", **args, after=found.next_cursor)
        if found.next_cursor
        else None,
    )


@bp.route("")
def index():
    reason = _reason(request.args.get("reason"))
    owner = _owner_param(request.args.get("owner"))
    after = request.args.get("after") or None
    ctx = _context(reason, owner, after)
    if is_htmx() and after:
        return (
            render_block(TEMPLATE, "rows", **ctx)
            + render_block(TEMPLATE, "more", oob=True, **ctx)
            + flashes_oob()
        )
    if is_htmx():
        canonical = url_for("review.index", reason=reason, owner=owner)
        return render(TEMPLATE, block="results", **ctx), {"HX-Push-Url": canonical}
    return render(TEMPLATE, **ctx)


@bp.route("/counts")
def counts():
    reason = _reason(request.args.get("reason"))
    owner = _owner_param(request.args.get("owner"))
    conf = review.settings(db.session)
    found = review.counts(db.session, conf, _owner_id(owner))
    tabs = [
        {
            "key": key,
            "label": label,
            "count": found[key],
            "num": format_decimal(found[key]),
            "url": url_for("review.index", reason=key, owner=owner),
        }
        for key, label in review.reason_labels().items()
    ]
    return render_block(TEMPLATE, "tabs", tabs=tabs, reason=reason, owner=owner)


@bp.route("/progress")
def progress():
    conf = review.settings(db.session)
    start, rows = review.progress(db.session, conf)
    names = {u.id: u.display_name for u in _users()}
    total_due = sum(r.due for r in rows)
    total_done = sum(r.reviewed for r in rows)
    bars = [
        {
            "name": names.get(r.owner_id) or gettext("No owner"),
            "due": r.due,
            "reviewed": r.reviewed,
            "percent": r.percent,
            "title": gettext(
                "%(name)s: %(done)s of %(due)s reviewed",
                name=names.get(r.owner_id) or gettext("No owner"),
                done=format_decimal(r.reviewed),
                due=format_decimal(r.due),
            ),
        }
        for r in rows[:30]
    ]
    return render_block(
        TEMPLATE,
        "progress",
        bars=bars,
        start=format_date(start.date()),
        done=format_decimal(total_done),
        due=format_decimal(total_due),
    )


# -- row actions -----------------------------------------------------------------------------


def _contact_or_404(contact_id: int) -> Contact:
    contact = core_contacts.load_contact(db.session, contact_id)
    if contact is None or contact.erased_at is not None:
        abort(404)
    return contact


def _back() -> str:
    reason = _reason(request.values.get("reason"))
    owner = _owner_param(request.values.get("owner"))
    return url_for("review.index", reason=reason, owner=owner)


def _still_listed(contact_id: int, reason: str) -> bool:
    conf = review.settings(db.session)
    stmt = select(Contact.id).where(
        Contact.id == contact_id, review._where(reason, conf, None, None)
    )
    return db.session.scalar(stmt) is not None


def _row_response(contact_id: int, message: str, edit: bool = False, errors=None, status=200):
    """The row again if the contact is still on this reason's list, else nothing (the row
    leaves); the message goes out of band; the counts and progress reload."""
    reason = _reason(request.values.get("reason"))
    owner = _owner_param(request.values.get("owner"))
    if message:
        flash(message, "success")
    if edit or _still_listed(contact_id, reason):
        ctx = _row_context(
            c=_contact_or_404(contact_id),
            reason=reason,
            owner=owner,
            edit=edit,
            errors=errors or {},
            values=request.form if edit else {},
        )
        body = fragment(ROW, **ctx)
    else:
        body = flashes_oob()
    headers = {} if status != 200 else {"HX-Trigger": CHANGED}
    return body, status, headers


@bp.route("/<int:contact_id>/verified", methods=["POST"])
def verified(contact_id: int):
    contact = _contact_or_404(contact_id)
    name = contact.full_name
    if not review.mark_verified(db.session, [contact_id], current_user.id):
        db.session.rollback()
        flash(gettext("An archived contact cannot be marked verified."), "error")
        if not is_htmx():
            return redirect(_back())
        return flashes_oob(), 200
    db.session.commit()
    message = gettext("%(name)s marked as verified.", name=name)
    if not is_htmx():
        flash(message, "success")
        return redirect(_back())
    return _row_response(contact_id, message)


@bp.route("/<int:contact_id>/row")
def row(contact_id: int):
    reason = _reason(request.args.get("reason"))
    owner = _owner_param(request.args.get("owner"))
    ctx = _row_context(c=_contact_or_404(contact_id), reason=reason, owner=owner)
    return fragment(ROW, **ctx)


@bp.route("/<int:contact_id>/edit", methods=["GET", "POST"])
def edit(contact_id: int):
    contact = _contact_or_404(contact_id)
    reason = _reason(request.values.get("reason"))
    owner = _owner_param(request.values.get("owner"))
    if request.method == "GET":
        if not current_user.can_edit():
            abort(403)
        email = contact.primary_email.email if contact.primary_email else ""
        phone = contact.primary_phone.e164 if contact.primary_phone else ""
        values = {
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "email": email,
            "phone": phone,
            "version": contact.version,
        }
        ctx = _row_context(
            c=contact, reason=reason, owner=owner, edit=True, errors={}, values=values
        )
        return fragment(ROW, **ctx)
    form = request.form
    raw = {"first_name": form.get("first_name", ""), "last_name": form.get("last_name", "")}
    # The primary e-mail and phone are replaced; the others are kept as they are.
    for name, field, items, attr in (
        ("emails", "email", contact.emails, "email"),
        ("phones", "phone", contact.phones, "e164"),
    ):
        new = form.get(field, "").strip()
        rest = [
            {"value": getattr(i, attr), "label": i.label}
            for i in items[1:]
            if getattr(i, attr) != new
        ]
        first = [{"value": new, "label": items[0].label if items else "", "primary": True}]
        raw[name] = (first if new else []) + rest
    try:
        clean = core_contacts.validate(raw, _region())
        version = form.get("version", "")
        base = int(version) if version.isdigit() else None
        core_contacts.update_contact(
            db.session, contact, clean, current_user.id, base_version=base, pm=_pm()
        )
    except core_contacts.ContactInvalid as exc:
        db.session.rollback()
        errors = {
            "email" if k == "emails" else "phone" if k == "phones" else k: v
            for k, v in exc.errors.items()
        }
        if not is_htmx():
            for message in errors.values():
                flash(message, "error")
            return redirect(_back())
        return _row_response(contact_id, "", edit=True, errors=errors, status=422)
    except core_contacts.EditConflict:
        db.session.rollback()
        message = gettext("Someone else changed this contact meanwhile; open it to see how.")
        if not is_htmx():
            flash(message, "error")
            return redirect(_back())
        return _row_response(contact_id, "", edit=True, errors={"form": message}, status=409)
    db.session.commit()
    message = gettext("%(name)s saved.", name=contact.full_name)
    if not is_htmx():
        flash(message, "success")
        return redirect(_back())
    return _row_response(contact_id, message)


@bp.route("/<int:contact_id>/archive", methods=["POST"])
def archive(contact_id: int):
    contact = _contact_or_404(contact_id)
    core_contacts.set_archived(db.session, contact, True, current_user.id, pm=_pm())
    db.session.commit()
    message = gettext("%(name)s archived.", name=contact.full_name)
    if not is_htmx():
        flash(message, "success")
        return redirect(_back())
    return _row_response(contact_id, message)


@bp.route("/<int:contact_id>/tag", methods=["POST"])
def tag(contact_id: int):
    contact = _contact_or_404(contact_id)
    try:
        found = core_tags.get_or_create(db.session, request.form.get("tag", ""))
        core_tags.add_tag(db.session, contact, found, current_user.id, pm=_pm())
    except core_tags.TagError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        if not is_htmx():
            return redirect(_back())
        return flashes_oob(), 422
    db.session.commit()
    message = gettext("Tag “%(tag)s” added to %(name)s.", tag=found.name, name=contact.full_name)
    if not is_htmx():
        flash(message, "success")
        return redirect(_back())
    return _row_response(contact_id, message)


# -- the scheduled audit ---------------------------------------------------------------------


@jobs.handler("audit", label=_l("Data review audit"))
def run_audit_job(ctx: jobs.JobContext) -> dict:
    base_url = current_app.config.get("BASE_URL") or ""

    def checked(found: dict) -> None:  # the job page's progress bar while values are checked
        ctx.progress(found["emails"] + found["phones"], total)

    total = review.stored_values(ctx.session)
    result = audit.run_audit(ctx.session, _pm(), base_url=base_url, progress_cb=checked)
    ctx.session.commit()
    # No request here (a worker): the path is written out.
    return summary(result) | {"url": "/review?owner=all"}


def summary(result: dict) -> dict:
    """The audit's result in JSON-friendly form (owner ids as strings)."""
    return {
        "checked": result["checked"],
        "owners": {result["owner_emails"][k]: v for k, v in result["owners"].items()},
        "reminders_created": result["reminders_created"],
        "reminders_updated": result["reminders_updated"],
        "reminders_closed": result["reminders_closed"],
        "digests_sent": result["digests_sent"],
        "digest_errors": result["digest_errors"],
        "label": gettext("Review queue"),
    }


def register_periodic_audit(huey, app) -> None:
    """The weekly audit as a huey periodic task (crontab from the settings, read when the
    huey is made: the worker picks up a new schedule when it restarts). It queues a job of
    kind "audit", so the run shows on the jobs page."""
    from huey import crontab

    conf = dict(review.DEFAULTS)
    try:
        with app.app_context():
            conf = review.settings(db.session)
            db.session.remove()
    except Exception:  # no schema yet (first start): the defaults
        pass
    # Python counts weekdays from Monday = 0; cron from Sunday = 0.
    schedule = crontab(
        minute="0", hour=str(conf["audit_hour"]), day_of_week=str((conf["audit_weekday"] + 1) % 7)
    )

    @huey.periodic_task(schedule, name="crmlite.periodic_audit")
    def periodic_audit() -> None:
        with app.app_context():
            try:
                if review.settings(db.session)["audit_enabled"]:
                    jobs.enqueue("audit", {}, None)
            finally:
                db.session.remove()

    huey.crmlite_periodic_audit = periodic_audit
