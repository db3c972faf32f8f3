"""The chronicle: interactions of a contact (notes, calls, purchases, feedback...).

Each contact carries a summary of its chronicle (purchase count, total, average check,
first and last purchase, last interaction, latest NPS) so that segments over a million
contacts read one table. refresh_stats() recomputes it from the interactions, set-based,
and must be called (before commit) for every contact whose interactions changed.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import pluggy
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from ..models import Contact, Interaction
from ..models.types import utcnow
from . import history
from .i18n import _

PURCHASE = "purchase"
FEEDBACK = "feedback"
# Kinds that are not "contact with the customer" for "days since last contact".
NOT_CONTACT = ("system",)
CHUNK = 500


# The chronicle summary columns on Contact, in the order refresh_stats writes them.
SUMMARY_ATTRS = (
    "purchase_count",
    "purchase_total_minor",
    "purchase_avg_minor",
    "first_purchase_at",
    "last_purchase_at",
    "last_interaction_at",
    "last_nps",
)


def _summaries(session: Session, ids: list[int]) -> dict[int, dict[str, Any]]:
    """The chronicle summary of each contact in ids, from three grouped reads of their own
    rows (ix_interactions_contact_occurred), not seven correlated subqueries per contact."""
    empty = dict.fromkeys(SUMMARY_ATTRS) | {"purchase_count": 0, "purchase_total_minor": 0}
    out = {cid: dict(empty) for cid in ids}
    # kind || '' keeps SQLite on the contact's index: without statistics it would pick
    # ix_interactions_kind_occurred and read every purchase of the base per chunk.
    kind = Interaction.kind + ""
    mine = Interaction.contact_id.in_(ids)
    purchases = session.execute(
        select(
            Interaction.contact_id,
            func.count(),
            func.coalesce(func.sum(Interaction.amount_minor), 0),
            func.min(Interaction.occurred_at),
            func.max(Interaction.occurred_at),
        )
        .where(mine, kind == PURCHASE)
        .group_by(Interaction.contact_id)
    )
    for cid, count, total, first, last in purchases:
        out[cid].update(
            purchase_count=count,
            purchase_total_minor=int(total),
            purchase_avg_minor=round(int(total) / count) if count else None,
            first_purchase_at=first,
            last_purchase_at=last,
        )
    latest = session.execute(
        select(Interaction.contact_id, func.max(Interaction.occurred_at))
        .where(mine, kind.not_in(NOT_CONTACT))
        .group_by(Interaction.contact_id)
    )
    for cid, at in latest:
        out[cid]["last_interaction_at"] = at
    feedback = session.execute(
        select(Interaction.contact_id, Interaction.score)
        .where(mine, kind == FEEDBACK, Interaction.score.is_not(None))
        .order_by(Interaction.contact_id, Interaction.occurred_at, Interaction.id)
    )
    for cid, score in feedback:  # ordered oldest first: the last one seen is the latest
        out[cid]["last_nps"] = score
    return out


def refresh_stats(session: Session, contact_ids: Iterable[int] | None = None) -> None:
    """Recompute the chronicle summary of these contacts (all contacts when None).

    UPDATE statements, not the ORM: they never bump Contact.version, so adding a purchase
    does not turn someone's open edit form into a conflict."""
    if contact_ids is None:
        contact_ids = session.scalars(select(Contact.id).order_by(Contact.id))
    ids = sorted(set(contact_ids))
    stmt = (
        update(Contact.__table__)
        .where(Contact.__table__.c.id == bindparam("cid"))
        .values({name: bindparam(name) for name in SUMMARY_ATTRS})
    )
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        rows = [{"cid": cid, **values} for cid, values in _summaries(session, chunk).items()]
        session.execute(stmt, rows)  # executemany


def after_change(session: Session, contact_ids: Iterable[int], user_id: int | None = None) -> None:
    """Everything that follows a change to these contacts' interactions (call before commit).

    Recomputes the chronicle summary, then moves contacts still "potential" that now have a
    purchase to "customer": one UPDATE that bumps their version (an open edit form sees the
    change) and one history row each (user_id None reads as "crmlite")."""
    ids = sorted(set(contact_ids))
    if not ids:
        return
    refresh_stats(session, ids)
    promoted: list[int] = []
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        found = list(
            session.scalars(
                select(Contact.id).where(
                    Contact.id.in_(chunk), Contact.stage == "potential", Contact.purchase_count > 0
                )
            )
        )
        if not found:
            continue
        session.execute(
            update(Contact)
            .where(Contact.id.in_(found))
            .values(stage="customer", version=Contact.version + 1, updated_at=utcnow()),
            execution_options={"synchronize_session": False},
        )
        history.record_bulk(session, found, user_id, "update", {"stage": ["potential", "customer"]})
        promoted.extend(found)
    # Contacts already loaded in this session must not keep the old figures or version.
    changed = set(ids)
    stale = set(promoted)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Contact) and obj.id in changed:
            attrs = list(SUMMARY_ATTRS)
            if obj.id in stale:
                attrs += ["stage", "version", "updated_at"]
            session.expire(obj, attrs)


# -- kinds -----------------------------------------------------------------------------------

# The columns a builtin kind's form shows, besides the date: text, amount (+ currency),
# status (support), score (feedback). A plugin kind has text plus its own fields in data.
TEXT, AMOUNT, STATUS, SCORE = "text", "amount", "status", "score"
SUPPORT_STATUSES = ("open", "closed")
DEFAULT_CURRENCY = "RUB"
MAX_TEXT = 20_000
MAX_AMOUNT_MINOR = 10**15  # far above any real check, far below BigInteger's limit


class _LazyLabel:
    """A label translated when shown (at import time no language is chosen yet)."""

    def __init__(self, message: str):
        self.message = message

    def __str__(self) -> str:
        return _(self.message)

    def __html__(self) -> str:
        from markupsafe import escape

        return str(escape(str(self)))


def _l(message: str) -> _LazyLabel:
    return _LazyLabel(message)


@dataclass
class InteractionKind:
    """One kind of chronicle entry. manual=False: written by crmlite itself (messages sent,
    system events), never added or edited by hand."""

    key: str
    label: Any
    columns: tuple[str, ...] = (TEXT,)
    fields: list[Any] = field(default_factory=list)  # plugin kinds: SettingField in data
    manual: bool = True
    plugin: bool = False


def builtin_kinds() -> list[InteractionKind]:
    return [
        InteractionKind("note", _l("Note")),
        InteractionKind("call", _l("Call")),
        InteractionKind("meeting", _l("Meeting")),
        InteractionKind("purchase", _l("Purchase"), (AMOUNT, TEXT)),
        InteractionKind("support", _l("Support request"), (TEXT, STATUS)),
        InteractionKind("feedback", _l("Feedback"), (SCORE, TEXT)),
        InteractionKind("message", _l("Message sent"), manual=False),
        InteractionKind("system", _l("System event"), manual=False),
    ]


def all_kinds(pm: pluggy.PluginManager | None) -> dict[str, InteractionKind]:
    """Builtin kinds, then those plugins add (register_interaction_kinds); a plugin cannot
    replace a builtin kind."""
    kinds = {k.key: k for k in builtin_kinds()}
    if pm is None:
        return kinds
    for found in pm.hook.register_interaction_kinds():
        for item in found or []:
            key = str(getattr(item, "key", "") or "")
            if not key or key in kinds or len(key) > 32:
                continue
            kinds[key] = InteractionKind(
                key,
                getattr(item, "label", key) or key,
                (TEXT,),
                list(getattr(item, "fields", None) or []),
                plugin=True,
            )
    return kinds


# -- validation ------------------------------------------------------------------------------


class InteractionInvalid(ValueError):
    """errors: {form field name: message}; nothing was changed."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def parse_amount(raw: str) -> int:
    """ "1 234,50", "1234.50", "1,234.50" -> 123450 (minor units). Raises ValueError."""
    text = "".join(str(raw).split()).replace("\u202f", "").replace("'", "")
    if "," in text and "." in text:
        # The last separator is the decimal one; the other groups thousands.
        if text.rfind(",") > text.rfind("."):
            text = text.replace(".", "").replace(",", ".")
        else:
            text = text.replace(",", "")
    else:
        text = text.replace(",", ".")
    try:
        value = Decimal(text)
    except InvalidOperation as exc:
        raise ValueError(raw) from exc
    if not value.is_finite() or value.as_tuple().exponent < -2:
        raise ValueError(raw)
    return int(value * 100)


def _today() -> date:
    # The latest calendar day anywhere the team may be: a purchase entered this morning in
    # Vladivostok is still "today" for a server on UTC.
    return (utcnow() + timedelta(hours=14)).date()


def validate(
    kind: InteractionKind,
    raw: dict[str, Any],
    default_currency: str = DEFAULT_CURRENCY,
) -> dict[str, Any]:
    """Clean values for Interaction columns from form strings, or InteractionInvalid.

    Keys of raw: date (YYYY-MM-DD, empty = today), text, amount, currency, status, score,
    and data__<name> for a plugin kind's fields."""
    errors: dict[str, str] = {}
    clean: dict[str, Any] = {}
    day_text = str(raw.get("date") or "").strip()
    if day_text:
        try:
            day = date.fromisoformat(day_text)
        except ValueError:
            errors["date"] = _("Enter a date like 2026-03-31.")
        else:
            if day > _today():
                errors["date"] = _("The date cannot be in the future.")
            elif day.year < 1900:
                errors["date"] = _("The date is too far in the past.")
            else:
                clean["day"] = day
    text = str(raw.get("text") or "").replace("\r\n", "\n").strip()
    if len(text) > MAX_TEXT:
        errors["text"] = _("The text is longer than %(n)s characters.", n=MAX_TEXT)
    clean["text"] = text
    if AMOUNT in kind.columns:
        amount = str(raw.get("amount") or "").strip()
        if not amount:
            errors["amount"] = _("Enter the amount of the purchase.")
        else:
            try:
                minor = parse_amount(amount)
            except ValueError:
                errors["amount"] = _("Enter an amount like 1 234,50 or 1234.50.")
            else:
                if minor <= 0:
                    errors["amount"] = _("The amount must be more than zero.")
                elif minor >= MAX_AMOUNT_MINOR:
                    errors["amount"] = _("The amount is too large.")
                else:
                    clean["amount_minor"] = minor
        currency = str(raw.get("currency") or "").strip().upper() or default_currency
        if not re.fullmatch(r"[A-Z]{3}", currency):
            errors["currency"] = _("Enter a three-letter currency code such as RUB or EUR.")
        clean["currency"] = currency
    if STATUS in kind.columns:
        status = str(raw.get("status") or "open")
        if status not in SUPPORT_STATUSES:
            errors["status"] = _("Choose open or closed.")
        clean["status"] = status
    if SCORE in kind.columns:
        score = str(raw.get("score") or "").strip()
        if not score.isdigit() or not 0 <= int(score) <= 10:
            errors["score"] = _("Enter a score from 0 to 10.")
        else:
            clean["score"] = int(score)
    if kind.fields:
        data = {}
        for f in kind.fields:
            value = str(raw.get(f"data__{f.name}") or "").strip()
            if f.kind == "int" and value:
                if not re.fullmatch(r"-?\d{1,15}", value):
                    errors[f"data__{f.name}"] = _("Enter a whole number.")
                    continue
                data[f.name] = int(value)
            elif f.kind == "bool":
                data[f.name] = value in ("1", "on", "true", "yes")
            else:
                data[f.name] = value[:MAX_TEXT]
        clean["data"] = data
    if errors:
        raise InteractionInvalid(errors)
    return clean


# -- add, edit, delete -----------------------------------------------------------------------

# What history keeps of an interaction (before/after on edit).
RECORDED = ("kind", "occurred_at", "text", "amount_minor", "currency", "status", "score", "data")


def _snapshot(item: Interaction) -> dict[str, Any]:
    values = {name: getattr(item, name) for name in RECORDED}
    values["occurred_at"] = values["occurred_at"].date().isoformat()
    values["interaction_id"] = item.id
    return {k: v for k, v in values.items() if v not in (None, "", {})}


def _occurred_at(day: date | None, current: datetime | None = None) -> datetime:
    """A date from the form as a moment: today means now, an unchanged date keeps its time,
    another day is that day's start (the timeline orders by it)."""
    if current is not None and (day is None or day == current.date()):
        return current
    now = utcnow()
    if day is None or day >= now.date():
        return now
    return datetime.combine(day, time())


def add(
    session: Session,
    pm: pluggy.PluginManager | None,
    contact_id: int,
    kind: InteractionKind,
    clean: dict[str, Any],
    user_id: int | None,
) -> Interaction:
    """Add a validated interaction, record it in history, refresh the summary, tell plugins
    (interaction_added). The caller commits."""
    values = dict(clean)
    day = values.pop("day", None)
    item = Interaction(
        contact_id=contact_id,
        kind=kind.key,
        occurred_at=_occurred_at(day),
        author_id=user_id,
        data=values.pop("data", {}),
        **values,
    )
    session.add(item)
    session.flush()
    history.record(
        session,
        contact_id,
        user_id,
        "interaction_add",
        {k: (None, v) for k, v in _snapshot(item).items()},
    )
    after_change(session, [contact_id], user_id)
    if pm is not None:
        pm.hook.interaction_added(interaction=item)
    return item


def edit(
    session: Session, item: Interaction, clean: dict[str, Any], user_id: int | None
) -> dict[str, tuple[Any, Any]]:
    """Apply validated values; history keeps before/after of what changed. The caller
    commits. Returns the changes (empty: nothing to save)."""
    before = _snapshot(item)
    values = dict(clean)
    item.occurred_at = _occurred_at(values.pop("day", None), item.occurred_at)
    for name, value in values.items():
        setattr(item, name, value)
    after = _snapshot(item)
    changes = {
        k: (before.get(k), after.get(k))
        for k in sorted(set(before) | set(after))
        if before.get(k) != after.get(k)
    }
    if not changes:
        return {}
    item.updated_at = utcnow()
    changes["interaction_id"] = (item.id, item.id)
    session.flush()
    history.record(session, item.contact_id, user_id, "interaction_edit", changes)
    after_change(session, [item.contact_id], user_id)
    return changes


def delete(session: Session, item: Interaction, user_id: int | None) -> None:
    """Delete it; history keeps what it was. The caller commits."""
    contact_id = item.contact_id
    history.record(
        session,
        contact_id,
        user_id,
        "interaction_delete",
        {k: (v, None) for k, v in _snapshot(item).items()},
    )
    session.delete(item)
    session.flush()
    after_change(session, [contact_id], user_id)


def can_change(item: Interaction, user: Any) -> bool:
    """The author or an admin may edit or delete an entry added by hand."""
    if not user.can_edit():
        return False
    return bool(user.is_admin or (item.author_id is not None and item.author_id == user.id))
