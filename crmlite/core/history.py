"""The record of every change to a contact: who, when, before and after."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import ContactHistory


def jsonable(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    return value


def record(
    session: Session,
    contact_id: int,
    user_id: int | None,
    action: str,
    changes: dict[str, tuple[Any, Any]] | None = None,
    version: int | None = None,
) -> ContactHistory:
    entry = ContactHistory(
        contact_id=contact_id,
        user_id=user_id,
        action=action,
        version=version,
        changes={k: [jsonable(b), jsonable(a)] for k, (b, a) in (changes or {}).items()},
    )
    session.add(entry)
    return entry


def entries(session: Session, contact_id: int, limit: int = 100) -> list[ContactHistory]:
    return list(
        session.scalars(
            select(ContactHistory)
            .where(ContactHistory.contact_id == contact_id)
            .order_by(ContactHistory.id.desc())
            .limit(limit)
        )
    )


def entries_since(session: Session, contact_id: int, version: int) -> list[ContactHistory]:
    """Changes saved after the given version of the contact (what a late editor missed)."""
    return list(
        session.scalars(
            select(ContactHistory)
            .where(ContactHistory.contact_id == contact_id, ContactHistory.version > version)
            .order_by(ContactHistory.id)
        )
    )


def record_bulk(
    session: Session, contact_ids, user_id: int | None, action: str, changes: dict[str, list[Any]]
) -> int:
    """One history row per contact in a select of ids, written by one INSERT ... SELECT.

    Call it after bumping the contacts' version, so conflict checks see the change.
    """
    from sqlalchemy import insert, literal

    from ..models import Contact
    from ..models.types import utcnow

    stmt = insert(ContactHistory).from_select(
        ["contact_id", "user_id", "at", "action", "changes", "version"],
        select(
            Contact.id,
            literal(user_id),
            literal(utcnow()),
            literal(action),
            literal(changes, ContactHistory.changes.type),
            Contact.version,
        ).where(Contact.id.in_(contact_ids)),
    )
    return session.execute(stmt).rowcount
