"""The review queue: contacts that need someone to look at them, by reason.

Every reason is one SQL condition over active contacts (not archived; an erased contact is
always archived, see core/privacy.py), so counts and keyset pages are indexed queries:

    stale        last verified more than `verify_every_months` months ago
                 (ix_contacts_archived_verified, ix_contacts_owner_verified)
    never        never verified (the same indexes, the NULL range)
    unreachable  no e-mail and no phone
    invalid      an e-mail or phone that failed today's check (is_valid false;
                 ix_contact_emails_valid, ix_contact_phones_valid)
    consent      a granted consent recorded more than `consent_max_age_months` months ago
    quiet        a customer or key client without an interaction for `quiet_days` days
                 (or none recorded at all while they have purchases;
                 ix_contacts_stage_last_interaction)

The settings come from the builtin plugin "builtin.data_review" (Admin → Plugins).
A review cycle is `verify_every_months` long (3: calendar quarters); every active contact is
due once per cycle, and "reviewed" means verified since the cycle began.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import phonenumbers
from sqlalchemy import ColumnElement, and_, exists, func, or_, select, tuple_, update
from sqlalchemy.orm import Session, selectinload

from ..models import Contact, ContactConsent, ContactEmail, ContactPhone
from ..models.types import utcnow
from . import history
from .emails import EmailError, normalize_email
from .i18n import _

PLUGIN = "builtin.data_review"
REASONS = ("stale", "never", "unreachable", "invalid", "consent", "quiet")
PAGE_SIZE = 50
MAX_VERIFY = 1000  # ids per "verified" click or call
DEFAULTS: dict[str, Any] = {
    "verify_every_months": 3,
    "consent_max_age_months": 12,
    "quiet_days": 90,
    "audit_weekday": 0,
    "audit_hour": 6,
    "audit_enabled": True,
    "digest_sender": "",
}
LIMITS = {
    "verify_every_months": (1, 120),
    "consent_max_age_months": (1, 240),
    "quiet_days": (1, 3650),
    "audit_weekday": (0, 6),
    "audit_hour": (0, 23),
}


def reason_labels() -> dict[str, str]:
    """reason -> its words, in the reader's language."""
    return {
        "stale": _("Not verified lately"),
        "never": _("Never verified"),
        "unreachable": _("No e-mail or phone"),
        "invalid": _("Invalid e-mail or phone"),
        "consent": _("Consent to re-confirm"),
        "quiet": _("Quiet customers"),
    }


def settings(session: Session) -> dict[str, Any]:
    """The stored settings over the defaults, each in its range."""
    from .plugin_settings import stored_settings

    stored = stored_settings(session, PLUGIN)
    values = dict(DEFAULTS)
    for name, (low, high) in LIMITS.items():
        raw = stored.get(name)
        if raw in (None, ""):
            continue
        try:
            values[name] = min(max(int(raw), low), high)
        except (TypeError, ValueError):
            pass
    enabled = stored.get("audit_enabled")
    if isinstance(enabled, bool):
        values["audit_enabled"] = enabled
    elif enabled not in (None, ""):
        values["audit_enabled"] = str(enabled).strip().lower() in ("1", "true", "yes", "on")
    values["digest_sender"] = str(stored.get("digest_sender") or "").strip()
    return values


def months_before(moment: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months earlier (the 31st becomes the month's
    last day)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    next_month = date(year + (month == 12), month % 12 + 1, 1)
    last_day = (next_month - timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))


def cycle_start(today: date, months: int) -> datetime:
    """The first moment of the review cycle holding `today`: cycles of `months` calendar
    months counted from January (3: quarters, 1: months, 12: years)."""
    index = today.year * 12 + today.month - 1
    index -= index % max(months, 1)
    year, month = divmod(index, 12)
    return datetime.combine(date(year, month + 1, 1), time.min)


# -- the reasons -----------------------------------------------------------------------------


def _active() -> ColumnElement[bool]:
    return Contact.is_archived.is_(False)


def condition(reason: str, conf: dict[str, Any], now: datetime | None = None):
    """The SQL condition over Contact for one reason (active contacts only)."""
    now = now or utcnow()
    if reason == "stale":
        cutoff = months_before(now, conf["verify_every_months"])
        return Contact.last_verified_at < cutoff
    if reason == "never":
        return Contact.last_verified_at.is_(None)
    if reason == "unreachable":
        return and_(
            ~exists().where(ContactEmail.contact_id == Contact.id),
            ~exists().where(ContactPhone.contact_id == Contact.id),
        )
    if reason == "invalid":
        bad_emails = select(ContactEmail.contact_id).where(ContactEmail.is_valid.is_(False))
        bad_phones = select(ContactPhone.contact_id).where(ContactPhone.is_valid.is_(False))
        return or_(Contact.id.in_(bad_emails), Contact.id.in_(bad_phones))
    if reason == "consent":
        cutoff = months_before(now, conf["consent_max_age_months"])
        old = select(ContactConsent.contact_id).where(
            ContactConsent.status == "granted", ContactConsent.recorded_at < cutoff
        )
        return Contact.id.in_(old)
    if reason == "quiet":
        cutoff = now - timedelta(days=conf["quiet_days"])
        return and_(
            Contact.stage.in_(("customer", "key_client")),
            or_(
                Contact.last_interaction_at < cutoff,
                and_(Contact.last_interaction_at.is_(None), Contact.purchase_count > 0),
            ),
        )
    raise ValueError(f"unknown review reason {reason!r}")


def _where(reason: str, conf: dict[str, Any], owner_id: int | None, now: datetime | None):
    parts = [_active(), condition(reason, conf, now)]
    if owner_id is not None:
        parts.append(Contact.owner_id == owner_id)
    return and_(*parts)


def _count_minus_archived(session: Session, cond) -> int:
    """count(cond) over every contact minus count(cond) over the archived ones: the first
    can be read from an index without is_archived (owner or stage first), the second walks
    only the archived contacts (few) by primary key."""
    total = session.scalar(select(func.count()).select_from(Contact).where(cond)) or 0
    archived = select(Contact.id).where(Contact.is_archived.is_(True))
    gone = session.scalar(
        select(func.count()).select_from(Contact).where(Contact.id.in_(archived), cond)
    )
    return total - (gone or 0)


def count(
    session: Session,
    reason: str,
    conf: dict[str, Any],
    owner_id: int | None = None,
    now: datetime | None = None,
) -> int:
    now = now or utcnow()
    if reason == "quiet":
        # Two ranges of ix_contacts_stage_last_interaction instead of one OR that reads every
        # customer row: quiet since the cutoff, and no interaction at all but purchases.
        cutoff = now - timedelta(days=conf["quiet_days"])
        stage = Contact.stage.in_(("customer", "key_client"))
        mine = [Contact.owner_id == owner_id] if owner_id is not None else []
        parts = (
            Contact.last_interaction_at < cutoff,
            and_(Contact.last_interaction_at.is_(None), Contact.purchase_count > 0),
        )
        return sum(_count_minus_archived(session, and_(stage, part, *mine)) for part in parts)
    if reason in ("stale", "never") and owner_id is not None:
        # ix_contacts_owner_verified (owner_id, last_verified_at) answers this alone.
        cond = and_(Contact.owner_id == owner_id, condition(reason, conf, now))
        return _count_minus_archived(session, cond)
    stmt = select(func.count()).select_from(Contact).where(_where(reason, conf, owner_id, now))
    return session.scalar(stmt) or 0


def counts(
    session: Session,
    conf: dict[str, Any],
    owner_id: int | None = None,
    now: datetime | None = None,
) -> dict[str, int]:
    """reason -> how many active contacts (of this owner) need review for it."""
    now = now or utcnow()
    return {reason: count(session, reason, conf, owner_id, now) for reason in REASONS}


def counts_by_owner(
    session: Session, conf: dict[str, Any], now: datetime | None = None
) -> dict[int | None, dict[str, int]]:
    """owner id (None: no owner) -> reason -> count; owners with nothing due are left out.
    One grouped query per reason."""
    now = now or utcnow()
    found: dict[int | None, dict[str, int]] = {}
    archived = Contact.id.in_(select(Contact.id).where(Contact.is_archived.is_(True)))
    for reason in REASONS:
        if reason in ("stale", "never"):
            # As in count(): all contacts from ix_contacts_owner_verified, minus archived.
            cond = condition(reason, conf, now)
            parts = ((1, cond), (-1, and_(archived, cond)))
        else:
            parts = ((1, _where(reason, conf, None, now)),)
        totals: dict[int | None, int] = {}
        for sign, cond in parts:
            stmt = select(Contact.owner_id, func.count()).where(cond).group_by(Contact.owner_id)
            for owner_id, n in session.execute(stmt):
                totals[owner_id] = totals.get(owner_id, 0) + sign * int(n or 0)
        for owner_id, n in totals.items():
            if n:
                found.setdefault(owner_id, dict.fromkeys(REASONS, 0))[reason] = n
    return found


# -- pages -----------------------------------------------------------------------------------


@dataclass
class Page:
    contacts: list[Contact]
    next_cursor: str | None


def _parse_cursor(reason: str, after: str | None) -> tuple[datetime | None, int] | None:
    if not after:
        return None
    try:
        if reason == "stale":
            stamp, _sep, ident = after.partition("_")
            return datetime.fromisoformat(stamp), int(ident)
        return None, int(after)
    except (TypeError, ValueError):
        return None  # a broken cursor starts from the top


def page(
    session: Session,
    reason: str,
    conf: dict[str, Any],
    after: str | None = None,
    limit: int = PAGE_SIZE,
    owner_id: int | None = None,
    now: datetime | None = None,
) -> Page:
    """One keyset page of the reason's contacts: stale ones oldest-verified first, the
    others by id. `after` is the previous page's next_cursor."""
    if reason not in REASONS:
        raise ValueError(f"unknown review reason {reason!r}")
    stmt = select(Contact).where(_where(reason, conf, owner_id, now))
    cursor = _parse_cursor(reason, after)
    if reason == "stale":
        if cursor:
            stamp, ident = cursor
            # A row value, so the index range starts right after the cursor.
            stmt = stmt.where(tuple_(Contact.last_verified_at, Contact.id) > (stamp, ident))
        stmt = stmt.order_by(Contact.last_verified_at, Contact.id)
    else:
        if cursor:
            stmt = stmt.where(Contact.id > cursor[1])
        stmt = stmt.order_by(Contact.id)
    stmt = stmt.options(
        selectinload(Contact.emails),
        selectinload(Contact.phones),
        selectinload(Contact.tags),
        selectinload(Contact.owner),
    ).limit(limit + 1)
    rows = list(session.scalars(stmt))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        if reason == "stale":
            next_cursor = f"{last.last_verified_at.isoformat()}_{last.id}"
        else:
            next_cursor = str(last.id)
    return Page(rows, next_cursor)


# -- actions ---------------------------------------------------------------------------------


def mark_verified(session: Session, contact_ids: Iterable[int], user_id: int | None) -> int:
    """Set last_verified_at to now on these active contacts, with a "verified" history entry
    each (one UPDATE and one INSERT ... SELECT). Returns how many were marked."""
    ids = sorted({int(i) for i in contact_ids})[:MAX_VERIFY]
    if not ids:
        return 0
    now = utcnow()
    target = and_(Contact.id.in_(ids), _active())
    marked = session.execute(
        update(Contact)
        .where(target)
        .values(last_verified_at=now, version=Contact.version + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if marked:
        # The ids, not the WHERE again: a contact verified twice gets an entry each time.
        live = select(Contact.id).where(target)
        history.record_bulk(
            session, live, user_id, "verified", {"last_verified_at": [None, now.isoformat()]}
        )
    session.expire_all()
    return marked


# -- progress --------------------------------------------------------------------------------


@dataclass
class OwnerProgress:
    owner_id: int | None
    due: int  # active contacts of the owner: each is due once a cycle
    reviewed: int  # of them, verified since the cycle began

    @property
    def percent(self) -> int:
        return round(100 * self.reviewed / self.due) if self.due else 100


def progress(
    session: Session, conf: dict[str, Any], today: date | None = None
) -> tuple[datetime, list[OwnerProgress]]:
    """(cycle start, per owner: reviewed this cycle out of due), largest "due" first."""
    start = cycle_start(today or utcnow().date(), conf["verify_every_months"])
    # Every contact, read from ix_contacts_owner_verified alone (no table rows), minus the
    # archived ones (few; walked by primary key).
    archived = Contact.id.in_(select(Contact.id).where(Contact.is_archived.is_(True)))
    recent = Contact.last_verified_at >= start
    totals: dict[int | None, list[int]] = {}
    # (due or reviewed, add or subtract, condition): one grouped count each.
    parts = ((0, 1, True), (1, 1, recent), (0, -1, archived), (1, -1, and_(archived, recent)))
    for index, sign, cond in parts:
        stmt = select(Contact.owner_id, func.count()).group_by(Contact.owner_id)
        if cond is not True:
            stmt = stmt.where(cond)
        for owner_id, n in session.execute(stmt):
            totals.setdefault(owner_id, [0, 0])[index] += sign * int(n or 0)
    rows = [OwnerProgress(o, d, r) for o, (d, r) in totals.items() if d > 0]
    rows.sort(key=lambda p: (-p.due, p.owner_id or 0))
    return start, rows


# -- validity --------------------------------------------------------------------------------


def email_is_valid(value: str) -> bool:
    """The same check as a new address gets (core/emails.py: syntax only, no network)."""
    try:
        normalize_email(value)
    except EmailError:
        return False
    return True


def phone_is_valid(e164: str) -> bool:
    """A stored number that parses and is a valid number for its region today (number
    plans change: phonenumbers' data is updated with the package)."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number)


def stored_values(session: Session) -> int:
    """How many e-mails and phones revalidate() checks (the job's progress total)."""
    emails = session.scalar(select(func.count()).select_from(ContactEmail)) or 0
    return emails + (session.scalar(select(func.count()).select_from(ContactPhone)) or 0)


def revalidate(session: Session, batch: int = 5000, progress_cb=None) -> dict[str, int]:
    """Check every stored e-mail and phone again and store is_valid, in batches by id.

    Only rows whose verdict changed are written. Returns what it found:
    emails, phones (checked), emails_invalid, phones_invalid, changed."""
    result = {"emails": 0, "phones": 0, "emails_invalid": 0, "phones_invalid": 0, "changed": 0}
    for model, column, check, key in (
        (ContactEmail, ContactEmail.email, email_is_valid, "emails"),
        (ContactPhone, ContactPhone.e164, phone_is_valid, "phones"),
    ):
        last_id = 0
        while True:
            rows = session.execute(
                select(model.id, column, model.is_valid)
                .where(model.id > last_id)
                .order_by(model.id)
                .limit(batch)
            ).all()
            if not rows:
                break
            last_id = rows[-1][0]
            flips: dict[bool, list[int]] = {True: [], False: []}
            for row_id, value, was_valid in rows:
                ok = check(value or "")
                if not ok:
                    result[f"{key}_invalid"] += 1
                if ok != bool(was_valid):
                    flips[ok].append(row_id)
            for verdict, ids in flips.items():
                if ids:
                    session.execute(
                        update(model)
                        .where(model.id.in_(ids))
                        .values(is_valid=verdict)
                        .execution_options(synchronize_session=False)
                    )
                    result["changed"] += len(ids)
            result[key] += len(rows)
            if progress_cb is not None:
                progress_cb(result)
    return result
