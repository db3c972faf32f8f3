"""Follow-up reminders: the contact page panel, the add form, "My reminders", done and snooze.

GET  /reminders                              My reminders (admins: ?user=<id> for another's);
                                             HTMX with ?after=<date>:<id>: the next upcoming rows
GET  /reminders/badge                        the navigation link with the overdue count
POST /reminders/<id>/done                    mark done (assignee, creator or admin)
POST /reminders/<id>/snooze                  days=1|7|30 or until=<date> (same people)
POST /reminders/<id>/reopen                  undo done (same people)
GET  /contacts/<id>/reminders                the contact's panel (HTMX) or the page's anchor
GET  /contacts/<id>/reminders/new            the add form: a fragment other pages may load
                                             (HTMX), a page of its own without JavaScript
POST /contacts/<id>/reminders                add one (editors and admins)

Rows carry view=contact|mine so a snooze answers with the row as that page shows it.
A form loaded with ?panel=0 (the review queue) answers a save with a short confirmation
instead of refreshing the contact's panel.
"""

from datetime import date, timedelta

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
from markupsafe import Markup
from sqlalchemy import select

from ..core import contacts as core_contacts
from ..core import reminders as core
from ..extensions import db
from ..models import Contact, Reminder, User
from .htmx import flashes_oob, is_htmx, render

bp = Blueprint("reminders", __name__)

CHANGED = "contactChanged"  # the contact's timeline listens for it
SNOOZE_DAYS = (1, 7)


# -- helpers ---------------------------------------------------------------------------------


def _contact_or_404(contact_id: int) -> Contact:
    contact = core_contacts.load_contact(db.session, contact_id)
    if contact is None:
        abort(404)
    return contact


def _reminder_or_404(reminder_id: int) -> Reminder:
    reminder = db.session.get(Reminder, reminder_id)
    if reminder is None:
        abort(404)
    return reminder


def _may_change(reminder: Reminder) -> bool:
    return current_user.can_edit() and core.may_change(
        reminder, current_user.id, current_user.is_admin
    )


def _require_change(reminder: Reminder) -> None:
    if not _may_change(reminder):
        abort(403)


def _active_users() -> list[User]:
    # A team has a handful of users: one query fills the assignee select.
    return list(
        db.session.scalars(
            select(User).where(User.active.is_(True)).order_by(User.name, User.email)
        )
    )


def _quick_picks(today: date) -> list[tuple[str, date]]:
    return [
        (_("Tomorrow"), today + timedelta(days=1)),
        (_("In a week"), today + timedelta(days=7)),
        (_("In a month"), today + timedelta(days=30)),
    ]


def _review_url() -> str | None:
    """The review queue's page when that blueprint is installed."""
    for rule in current_app.url_map.iter_rules():
        if rule.rule == "/review" and "GET" in (rule.methods or ()):
            return url_for(rule.endpoint)
    return None


def _badge_oob() -> str:
    return render_badge(oob=True)


def render_badge(oob: bool = False) -> str:
    return render_template(
        "reminders/_nav.html",
        overdue=core.overdue_count(db.session, current_user.id),
        oob=oob,
    )


def _due_label(reminder: Reminder, today: date) -> str:
    days = (reminder.due_on - today).days
    if days == 0:
        return _("today")
    if days == -1:
        return _("yesterday")
    if days == 1:
        return _("tomorrow")
    return format_date(reminder.due_on, "medium")


def _row_context(view: str, today: date | None = None) -> dict:
    today = today or core.today()
    return {
        "view": view,
        "today": today,
        "due_label": lambda r: _due_label(r, today),
        "may_change": _may_change,
        "review_url": _review_url(),
        "snooze_days": SNOOZE_DAYS,
        "min_until": today.isoformat(),
    }


def _view_arg() -> str:
    return "contact" if request.values.get("view") == "contact" else "mine"


# -- the navigation badge --------------------------------------------------------------------


@bp.app_template_global()
def reminders_badge() -> Markup:
    """The "Reminders (3)" link: one indexed COUNT, only when the page is drawn for a user."""
    if not current_user.is_authenticated:
        return Markup("")
    return Markup(render_badge())


@bp.route("/reminders/badge")
def badge():
    return render_badge()


# -- My reminders ----------------------------------------------------------------------------


def _whose() -> User:
    raw = request.args.get("user", "").strip()
    if not raw:
        return current_user._get_current_object()
    try:
        user_id = int(raw)
    except ValueError:
        abort(404)
    if user_id != current_user.id and not current_user.is_admin:
        abort(403)
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def _parse_after(raw: str) -> tuple[date, int] | None:
    try:
        day, rid = raw.split(":", 1)
        return date.fromisoformat(day), int(rid)
    except ValueError:
        abort(400)


@bp.route("/reminders")
def mine():
    whose = _whose()
    today = core.today()
    ctx = _row_context("mine", today)
    after = _parse_after(request.args["after"]) if request.args.get("after") else None
    if after is not None and is_htmx():
        rows, cursor = core.upcoming(db.session, whose.id, today, after=after)
        return render(
            "reminders/index.html", "upcoming_rows", rows=rows, cursor=cursor, whose=whose, **ctx
        )
    lists = core.mine(db.session, whose.id, today)
    rows, cursor = lists.upcoming, lists.upcoming_next
    if after is not None:  # "Show more" without JavaScript: the next page of upcoming
        rows, cursor = core.upcoming(db.session, whose.id, today, after=after)
    return render(
        "reminders/index.html",
        None,
        lists=lists,
        rows=rows,
        cursor=cursor,
        whose=whose,
        users=_active_users() if current_user.is_admin else [],
        **ctx,
    )


# -- done, snooze, reopen --------------------------------------------------------------------


def _answer_row(reminder: Reminder, view: str, status: int = 200, error: str | None = None):
    html = render_template("reminders/_row.html", r=reminder, error=error, **_row_context(view))
    resp = make_response(html + _badge_oob() + flashes_oob(), status)
    if reminder.contact_id is not None and status == 200:
        resp.headers["HX-Trigger"] = CHANGED
    return resp


def _back(reminder: Reminder):
    if _view_arg() == "contact" and reminder.contact_id is not None:
        return redirect(
            url_for("contact.view", contact_id=reminder.contact_id, _anchor="reminders")
        )
    return redirect(url_for("reminders.mine"))


@bp.route("/reminders/<int:reminder_id>/done", methods=["POST"])
def done(reminder_id: int):
    reminder = _reminder_or_404(reminder_id)
    _require_change(reminder)
    core.done(db.session, reminder, current_user.id)
    db.session.commit()
    flash(_("Done: %(note)s", note=reminder.note or _("reminder")), "success")
    if not is_htmx():
        return _back(reminder)
    if _view_arg() == "contact" and reminder.contact_id is not None:
        # On the contact page the panel is redrawn ("No open reminders." after the last one).
        contact = _contact_or_404(reminder.contact_id)
        html = render_template("reminders/_panel.html", **panel_context(contact))
        resp = make_response(html + _badge_oob() + flashes_oob())
        resp.headers["HX-Retarget"] = "#reminders"
        resp.headers["HX-Reswap"] = "outerHTML"
    else:
        # An empty row: htmx swaps the row out, the badge and the message travel out of band.
        resp = make_response(_badge_oob() + flashes_oob())
    if reminder.contact_id is not None:
        resp.headers["HX-Trigger"] = CHANGED
    return resp


@bp.route("/reminders/<int:reminder_id>/reopen", methods=["POST"])
def reopen(reminder_id: int):
    reminder = _reminder_or_404(reminder_id)
    _require_change(reminder)
    core.reopen(db.session, reminder, current_user.id)
    db.session.commit()
    if not is_htmx():
        return _back(reminder)
    return _answer_row(reminder, _view_arg())


@bp.route("/reminders/<int:reminder_id>/snooze", methods=["POST"])
def snooze(reminder_id: int):
    reminder = _reminder_or_404(reminder_id)
    _require_change(reminder)
    view = _view_arg()
    raw_days = request.form.get("days", "").strip()
    until = request.form.get("until", "").strip()
    try:
        if raw_days:
            try:
                days = int(raw_days)
            except ValueError:
                raise core.ReminderInvalid({"until": _("Choose how long to snooze.")}) from None
            core.snooze(db.session, reminder, days=days)
        else:
            core.snooze(db.session, reminder, until=until or None)
    except core.ReminderInvalid as exc:
        db.session.rollback()
        message = " ".join(exc.errors.values())
        if not is_htmx():
            flash(message, "error")
            return _back(reminder)
        return _answer_row(_reminder_or_404(reminder_id), view, 422, error=message)
    db.session.commit()
    if not is_htmx():
        flash(_("Snoozed until %(day)s.", day=format_date(reminder.due_on, "medium")), "success")
        return _back(reminder)
    return _answer_row(reminder, view)


# -- on the contact page ---------------------------------------------------------------------


def panel_context(contact: Contact) -> dict:
    return {
        "contact": contact,
        "contact_reminders": core.for_contact(db.session, contact.id),
        "can_add": current_user.can_edit(),
        **_row_context("contact"),
    }


@bp.app_template_global()
def reminders_panel(contact: Contact) -> Markup:
    """The panel as the contact page draws it: {{ reminders_panel(contact) }}."""
    return Markup(render_template("reminders/_panel.html", **panel_context(contact)))


@bp.route("/contacts/<int:contact_id>/reminders")
def panel(contact_id: int):
    contact = _contact_or_404(contact_id)
    if not is_htmx():
        return redirect(url_for("contact.view", contact_id=contact_id, _anchor="reminders"))
    return render_template("reminders/_panel.html", **panel_context(contact)) + flashes_oob()


def _form_context(contact: Contact, values: dict, errors: dict, in_panel: bool) -> dict:
    today = core.today()
    users = _active_users()
    owner = contact.owner_id
    return {
        "contact": contact,
        "users": users,
        "owner_id": owner,
        "values": values,
        "errors": errors,
        "in_panel": in_panel,
        "picks": _quick_picks(today),
        "today": today,
        "max_due": (today + timedelta(days=core.MAX_FUTURE_DAYS)).isoformat(),
    }


def _in_panel() -> bool:
    return request.values.get("panel", "1") != "0"


@bp.route("/contacts/<int:contact_id>/reminders/new")
def new(contact_id: int):
    if not current_user.can_edit():
        abort(403)
    contact = _contact_or_404(contact_id)
    values = {"assignee_id": current_user.id, "due_on": ""}
    # The fragment for HTMX (the panel, the review queue); a page of its own without JS.
    return render("reminders/new.html", "form", **_form_context(contact, values, {}, _in_panel()))


@bp.route("/contacts/<int:contact_id>/reminders", methods=["POST"])
def create(contact_id: int):
    contact = _contact_or_404(contact_id)
    in_panel = _in_panel()
    values = {
        # The form always names one; a bare POST (a script) means "me".
        "assignee_id": request.form.get("assignee_id", "").strip() or current_user.id,
        "due_on": request.form.get("due_on", "").strip(),
        "note": request.form.get("note", ""),
    }
    try:
        reminder = core.add(
            db.session,
            assignee_id=values["assignee_id"],
            due_on=values["due_on"],
            note=values["note"],
            contact_id=contact.id,
            created_by_id=current_user.id,
        )
    except core.ReminderInvalid as exc:
        db.session.rollback()
        ctx = _form_context(contact, values, exc.errors, in_panel)
        return make_response(render("reminders/new.html", "form", **ctx), 422)
    db.session.commit()
    flash(
        _(
            "Reminder set for %(day)s: %(who)s.",
            day=format_date(reminder.due_on, "medium"),
            who=reminder.assignee.display_name,
        ),
        "success",
    )
    if not is_htmx():
        return redirect(url_for("contact.view", contact_id=contact.id, _anchor="reminders"))
    if in_panel:
        html = render_template("reminders/_panel.html", **panel_context(contact))
    else:
        html = render_template("reminders/_added.html", reminder=reminder, contact=contact)
    resp = make_response(html + _badge_oob() + flashes_oob())
    resp.headers["HX-Trigger"] = CHANGED
    if in_panel:  # the form stood in the panel: the refreshed panel replaces it all
        resp.headers["HX-Retarget"] = "#reminders"
        resp.headers["HX-Reswap"] = "outerHTML"
    return resp
