"""Follow-up reminders: something one user should do by a date, usually about one contact.

Dates are UTC calendar dates (`today()`); a reminder is overdue when its due date is before
today and it is not done. Adding and completing a contact's reminder writes a history entry
("reminder_added", "reminder_done") so the contact's timeline shows it. The caller commits.

The audit's "review" reminders have no contact: they point their owner at the review queue.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, joinedload

from ..models import Contact, Reminder, User
from ..models.reminder import REMINDER_KINDS
from ..models.types import utcnow
from . import history
from .i18n import _

MAX_NOTE = 2000
# How far a due date may lie: a year back (a late note about last week's call) and ten ahead.
MAX_PAST_DAYS = 366
MAX_FUTURE_DAYS = 3660
MAX_SNOOZE_DAYS = 3660
PAGE = 50
DONE_RECENTLY_DAYS = 14


class ReminderInvalid(ValueError):
    """errors: {form field name: message}; nothing was changed."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def today() -> date:
    """The current UTC date: reminders are due on UTC calendar days."""
    return utcnow().date()


def parse_date(value: date | str | None, field: str = "due_on") -> date:
    """A date from a date or an ISO string (2026-03-31), or ReminderInvalid."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = (value or "").strip()
    if not text:
        raise ReminderInvalid({field: _("Enter the due date.")})
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ReminderInvalid({field: _("Enter a date like 2026-03-31.")}) from None


def _check_due(due: date, now: date, field: str = "due_on") -> None:
    if due < now - timedelta(days=MAX_PAST_DAYS):
        raise ReminderInvalid({field: _("The due date is more than a year ago.")})
    if due > now + timedelta(days=MAX_FUTURE_DAYS):
        raise ReminderInvalid({field: _("The due date is more than ten years ahead.")})


def _summary(reminder: Reminder, assignee: User | None) -> dict[str, tuple]:
    changes: dict[str, tuple] = {"reminder_due": (None, reminder.due_on)}
    if reminder.note:
        changes["reminder_note"] = (None, reminder.note)
    if assignee is not None:
        changes["reminder_assignee"] = (None, assignee.display_name)
    return changes


def add(
    session: Session,
    *,
    assignee_id: int | None,
    due_on: date | str | None,
    note: str = "",
    contact_id: int | None = None,
    kind: str = "follow_up",
    created_by_id: int | None = None,
    now: date | None = None,
) -> Reminder:
    """Validate and add a reminder; a contact's reminder is recorded in its history.

    Raises ReminderInvalid (field -> message) and adds nothing when a value is refused:
    due date missing, malformed or out of range, assignee not an active user, note too long,
    unknown kind, contact missing."""
    now = now or today()
    errors: dict[str, str] = {}
    due: date | None = None
    try:
        due = parse_date(due_on)
        _check_due(due, now)
    except ReminderInvalid as exc:
        errors.update(exc.errors)
    note = (note or "").strip()
    if len(note) > MAX_NOTE:
        errors["note"] = _("The note is longer than %(n)s characters.", n=MAX_NOTE)
    if kind not in REMINDER_KINDS:
        errors["kind"] = _("Unknown kind of reminder.")
    try:
        assignee = session.get(User, int(assignee_id)) if assignee_id else None
    except (TypeError, ValueError):
        assignee = None
    if assignee is None or not assignee.active:
        errors["assignee_id"] = _("Choose an active user to do it.")
    if contact_id is not None and session.get(Contact, contact_id) is None:
        errors["contact_id"] = _("This contact no longer exists.")
    if errors:
        raise ReminderInvalid(errors)
    reminder = Reminder(
        contact_id=contact_id,
        assignee_id=assignee.id,
        kind=kind,
        due_on=due,
        note=note,
        created_by_id=created_by_id,
        snooze_count=0,
    )
    session.add(reminder)
    session.flush()
    if contact_id is not None:
        history.record(
            session, contact_id, created_by_id, "reminder_added", _summary(reminder, assignee)
        )
    return reminder


def may_change(reminder: Reminder, user_id: int | None, is_admin: bool = False) -> bool:
    """Done, snooze and reopen belong to the assignee, the creator and admins."""
    return is_admin or (
        user_id is not None and user_id in (reminder.assignee_id, reminder.created_by_id)
    )


def done(session: Session, reminder: Reminder, user_id: int | None) -> Reminder:
    """Mark it done (again is a no-op); a contact's reminder is recorded in its history."""
    if reminder.done_at is not None:
        return reminder
    reminder.done_at = utcnow()
    if reminder.contact_id is not None:
        changes: dict[str, tuple] = {"reminder_due": (reminder.due_on, None)}
        if reminder.note:
            changes["reminder_note"] = (reminder.note, None)
        history.record(session, reminder.contact_id, user_id, "reminder_done", changes)
    session.flush()
    return reminder


def reopen(session: Session, reminder: Reminder, user_id: int | None) -> Reminder:
    """Undo done: open again with the same due date."""
    if reminder.done_at is None:
        return reminder
    reminder.done_at = None
    if reminder.contact_id is not None:
        history.record(
            session,
            reminder.contact_id,
            user_id,
            "reminder_reopen",
            {"reminder_due": (None, reminder.due_on)},
        )
    session.flush()
    return reminder


def snooze(
    session: Session,
    reminder: Reminder,
    *,
    days: int | None = None,
    until: date | str | None = None,
    now: date | None = None,
) -> Reminder:
    """Move the due date: `days` after today (or after the due date when that is later), or
    to the date `until` (today or later). Raises ReminderInvalid and changes nothing when
    the value is refused or the reminder is done."""
    now = now or today()
    if reminder.done_at is not None:
        raise ReminderInvalid({"until": _("This reminder is already done.")})
    if (days is None) == (until is None):
        raise ReminderInvalid({"until": _("Choose how long to snooze.")})
    if days is not None:
        if not isinstance(days, int) or days < 1 or days > MAX_SNOOZE_DAYS:
            raise ReminderInvalid({"until": _("Snooze for 1 to %(n)s days.", n=MAX_SNOOZE_DAYS)})
        new_due = max(reminder.due_on, now) + timedelta(days=days)
    else:
        new_due = parse_date(until, "until")
        if new_due < now:
            raise ReminderInvalid({"until": _("Pick today or a later date.")})
        _check_due(new_due, now, "until")
    reminder.due_on = new_due
    reminder.snooze_count = (reminder.snooze_count or 0) + 1
    session.flush()
    return reminder


# -- reading ---------------------------------------------------------------------------------


def _open_of(user_id: int):
    return and_(Reminder.assignee_id == user_id, Reminder.done_at.is_(None))


def overdue_count(session: Session, user_id: int, now: date | None = None) -> int:
    """Open reminders of this user due before today: one COUNT on ix_reminders_assignee_open."""
    now = now or today()
    stmt = (
        select(func.count()).select_from(Reminder).where(_open_of(user_id), Reminder.due_on < now)
    )
    return session.scalar(stmt) or 0


def _with_contact(stmt):
    return stmt.options(joinedload(Reminder.contact), joinedload(Reminder.created_by))


@dataclass
class Mine:
    """One user's reminders, in the sections of the "My reminders" page."""

    overdue: list[Reminder]
    overdue_total: int
    today: list[Reminder]
    upcoming: list[Reminder]
    upcoming_next: tuple[date, int] | None  # keyset cursor of the next page, None at the end
    done_recently: list[Reminder]


def upcoming(
    session: Session,
    user_id: int,
    now: date | None = None,
    after: tuple[date, int] | None = None,
    limit: int = PAGE,
) -> tuple[list[Reminder], tuple[date, int] | None]:
    """Open reminders due after today, by (due date, id), one keyset page at a time."""
    now = now or today()
    stmt = select(Reminder).where(_open_of(user_id), Reminder.due_on > now)
    if after is not None:
        day, rid = after
        stmt = stmt.where(
            or_(Reminder.due_on > day, and_(Reminder.due_on == day, Reminder.id > rid))
        )
    stmt = _with_contact(stmt.order_by(Reminder.due_on, Reminder.id).limit(limit + 1))
    rows = list(session.scalars(stmt).unique())
    if len(rows) > limit:
        rows = rows[:limit]
        return rows, (rows[-1].due_on, rows[-1].id)
    return rows, None


def mine(session: Session, user_id: int, now: date | None = None, limit: int = PAGE) -> Mine:
    """Overdue (oldest first), due today, the first page of upcoming, and done in the last
    two weeks: bounded reads on ix_reminders_assignee_open."""
    now = now or today()
    overdue = list(
        session.scalars(
            _with_contact(
                select(Reminder)
                .where(_open_of(user_id), Reminder.due_on < now)
                .order_by(Reminder.due_on, Reminder.id)
                .limit(limit)
            )
        ).unique()
    )
    total = len(overdue) if len(overdue) < limit else overdue_count(session, user_id, now)
    due_today = list(
        session.scalars(
            _with_contact(
                select(Reminder)
                .where(_open_of(user_id), Reminder.due_on == now)
                .order_by(Reminder.id)
                .limit(limit)
            )
        ).unique()
    )
    later, cursor = upcoming(session, user_id, now, limit=limit)
    since = utcnow() - timedelta(days=DONE_RECENTLY_DAYS)
    done_recently = list(
        session.scalars(
            _with_contact(
                select(Reminder)
                .where(Reminder.assignee_id == user_id, Reminder.done_at >= since)
                .order_by(Reminder.done_at.desc(), Reminder.id.desc())
                .limit(20)
            )
        ).unique()
    )
    return Mine(overdue, total, due_today, later, cursor, done_recently)


def for_contact(session: Session, contact_id: int, limit: int = 100) -> list[Reminder]:
    """Open reminders of a contact, by due date (ix_reminders_contact)."""
    return list(
        session.scalars(
            select(Reminder)
            .options(joinedload(Reminder.created_by))
            .where(Reminder.contact_id == contact_id, Reminder.done_at.is_(None))
            .order_by(Reminder.due_on, Reminder.id)
            .limit(limit)
        ).unique()
    )
