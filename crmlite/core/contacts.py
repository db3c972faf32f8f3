"""Creating, editing, archiving and deleting contacts, with every change recorded."""

from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from ..models import Contact, ContactEmail, ContactHistory, ContactPhone, CustomField, SearchToken
from ..models.types import utcnow
from . import dedup, history
from .i18n import _
from .privacy import ensure_not_erased
from .search import contact_tokens
from .text import fold
from .validation import (  # noqa: F401  (the checks live there; callers import them from here)
    CHOICE_FIELDS,
    EDITABLE_FIELDS,
    IDENTITY_FIELDS,
    SIMPLE_FIELDS,
    TEXT_FIELDS,
    ContactInvalid,
    Item,
    parse_date,
    validate,
)


class EditConflict(Exception):
    """Someone else changed the same fields since the editor loaded the contact.

    entries: the history entries saved since the editor's version that touch `fields`
    (oldest first); their_changes() lists each conflicting field's latest change.
    """

    def __init__(
        self,
        entries: list[ContactHistory],
        fields: set[str],
        untouched: frozenset[str] | set[str] = frozenset(),
    ):
        super().__init__(", ".join(sorted(fields)))
        self.entries = entries
        self.fields = fields
        # Fields others changed that this editor left as they were: show the new values.
        self.untouched = set(untouched)

    def their_changes(self) -> list[tuple[str, ContactHistory]]:
        """(field, entry) for the last change of every conflicting field, in field order."""
        latest: dict[str, ContactHistory] = {}
        for entry in self.entries:
            for field in entry.changes:
                if field in self.fields:
                    latest[field] = entry
        return sorted(latest.items(), key=lambda item: _field_order(item[0]))


def current_values(contact: Contact) -> dict[str, Any]:
    values = {name: getattr(contact, name) for name in SIMPLE_FIELDS}
    values["emails"] = [Item(e.email, e.label, e.is_primary) for e in contact.emails]
    values["phones"] = [Item(p.e164, p.label, p.is_primary) for p in contact.phones]
    values["custom"] = dict(contact.custom or {})
    return values


def _history_value(name: str, value: Any) -> Any:
    if name in ("emails", "phones"):
        return [i.display() for i in value]
    return history.jsonable(value)


def _diff(contact: Contact, clean: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    before = current_values(contact)
    changes: dict[str, tuple[Any, Any]] = {}
    for name, value in clean.items():
        if name == "custom":
            for key, new in value.items():
                old = before["custom"].get(key)
                if old != new:
                    changes[f"custom.{key}"] = (old, new)
        elif before[name] != value:
            changes[name] = (_history_value(name, before[name]), _history_value(name, value))
    return changes


def _apply(contact: Contact, clean: dict[str, Any]) -> None:
    for name, value in clean.items():
        if name == "emails":
            contact.emails = [
                ContactEmail(email=i.value, label=i.label, is_primary=i.primary) for i in value
            ]
        elif name == "phones":
            contact.phones = [
                ContactPhone(e164=i.value, label=i.label, is_primary=i.primary, is_valid=i.valid)
                for i in value
            ]
        elif name == "custom":
            custom = dict(contact.custom or {})
            custom.update(value)
            contact.custom = {k: v for k, v in custom.items() if v is not None}
        else:
            setattr(contact, name, value)
    contact.sort_name = sort_name(
        contact.last_name, contact.first_name, contact.middle_name, contact.company
    )
    contact.company_key = fold(contact.company)[:200]


def sort_name(last: str, first: str, middle: str, company: str = "") -> str:
    name = " ".join(p for p in (last, first, middle) if p) or company
    return fold(name)[:400]


def refresh_tokens(session: Session, contact: Contact) -> None:
    """Rewrite the contact's search tokens; call it whenever a name, company, e-mail or
    phone changes (the tokens carry sort_name too, so the name sort is in the index)."""
    tokens = contact_tokens(
        contact.first_name,
        contact.last_name,
        contact.middle_name,
        contact.company,
        [e.email for e in contact.emails],
        [p.e164 for p in contact.phones],
    )
    session.execute(delete(SearchToken).where(SearchToken.contact_id == contact.id))
    if tokens:
        session.execute(
            insert(SearchToken),
            [
                {"contact_id": contact.id, "token": t, "sort_name": contact.sort_name}
                for t in tokens
            ],
        )


def _field_order(field: str) -> int:
    name = field.split(".", 1)[0]
    return EDITABLE_FIELDS.index(name) if name in EDITABLE_FIELDS else len(EDITABLE_FIELDS)


MATCH_FIELDS = (*IDENTITY_FIELDS, "city", "birth_date")


def _saved(pm: Any, contact: Contact, created: bool) -> None:
    """Tell plugins (hook contact_saved), inside the transaction; pm None: no plugins."""
    if pm is not None:
        pm.hook.contact_saved(contact=contact, created=created)


def create_contact(
    session: Session, clean: dict[str, Any], user_id: int | None, pm: Any = None
) -> Contact:
    if not any(clean.get(name) for name in IDENTITY_FIELDS):
        raise ContactInvalid(
            {"first_name": _("Give the contact a name, a company, an e-mail or a phone.")}
        )
    contact = Contact(created_by_id=user_id, custom={})
    if clean.get("owner_id") is None and "owner_id" not in clean:
        clean = {**clean, "owner_id": user_id}
    _apply(contact, clean)
    session.add(contact)
    session.flush()
    refresh_tokens(session, contact)
    changes = {
        k: (None, after)
        for k, (_, after) in _diff(Contact(custom={}), clean).items()
        if after not in (None, "", [])
    }
    history.record(session, contact.id, user_id, "create", changes, contact.version)
    dedup.check_contact(session, contact.id, pm)
    _saved(pm, contact, True)
    return contact


def _without(clean: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    """clean minus the given history fields ("first_name", "custom.size", ...)."""
    kept = {name: value for name, value in clean.items() if name not in fields}
    if "custom" in kept:
        kept["custom"] = {k: v for k, v in kept["custom"].items() if f"custom.{k}" not in fields}
    return kept


def update_contact(
    session: Session,
    contact: Contact,
    clean: dict[str, Any],
    user_id: int | None,
    base_version: int | None = None,
    pm: Any = None,
) -> dict[str, tuple[Any, Any]]:
    """Save the changed fields; return them. base_version is the version the editor saw.

    A three-way merge against the history saved since base_version: a field someone else
    changed meanwhile keeps their value when the editor left it as it was (a full form sends
    every field); when the editor changed it too, EditConflict is raised and nothing is saved.
    Fields nobody else touched are saved as usual.
    """
    ensure_not_erased(contact)
    changes = _diff(contact, clean)
    if not changes:
        return {}
    if base_version is not None and base_version < contact.version:
        missed = history.entries_since(session, contact.id, base_version)
        # The value each field had when the editor loaded the contact: the oldest "before".
        base: dict[str, Any] = {}
        for entry in missed:
            for field, (before, _after) in entry.changes.items():
                base.setdefault(field, before)
        mine = {field: after for field, (_before, after) in changes.items()}
        untouched = {f for f in set(changes) & set(base) if _same(mine[f], base[f])}
        overlap = (set(changes) & set(base)) - untouched
        if overlap:
            relevant = [e for e in missed if overlap & set(e.changes)]
            raise EditConflict(relevant, overlap, untouched)
        if untouched:
            clean = _without(clean, untouched)
            changes = {k: v for k, v in changes.items() if k not in untouched}
            if not changes:
                return {}
    _apply(contact, clean)
    contact.updated_at = utcnow()
    try:
        session.flush()  # version_id_col: fails if another save slipped in since we loaded
    except StaleDataError:  # the caller rolls back
        raise EditConflict([], set(changes)) from None
    if {"first_name", "last_name", "middle_name", "company", "emails", "phones"} & set(clean):
        refresh_tokens(session, contact)
    history.record(session, contact.id, user_id, "update", changes, contact.version)
    if set(MATCH_FIELDS) & set(changes):
        dedup.check_contact(session, contact.id, pm)
    _saved(pm, contact, False)
    return changes


def _same(mine: Any, stored: Any) -> bool:
    # History values went through JSON: tuples became lists, None stayed None, "" is empty.
    if isinstance(mine, tuple):
        mine = list(mine)
    return (mine in (None, "") and stored in (None, "")) or mine == stored


def set_archived(
    session: Session, contact: Contact, archived: bool, user_id: int | None, pm: Any = None
) -> bool:
    ensure_not_erased(contact)
    if contact.is_archived == archived:
        return False
    contact.is_archived = archived
    contact.archived_at = utcnow() if archived else None
    contact.updated_at = utcnow()
    session.flush()
    history.record(
        session,
        contact.id,
        user_id,
        "archive" if archived else "restore",
        {"is_archived": (not archived, archived)},
        contact.version,
    )
    dedup.check_contact(session, contact.id, pm)  # archived: its keys and open pairs go
    _saved(pm, contact, False)
    return True


def delete_contact(session: Session, contact: Contact, pm: Any = None) -> None:
    """Permanent: the contact, its e-mails, phones, tags and history are gone."""
    contact_id = contact.id
    session.delete(contact)
    session.flush()
    if pm is not None:
        pm.hook.contact_deleted(contact_id=contact_id)


def get_contact(session: Session, contact_id: int) -> Contact | None:
    return session.get(Contact, contact_id)


def load_contact(session: Session, contact_id: int) -> Contact | None:
    """The contact with e-mails, phones, tags and owner, in a fixed number of queries."""
    return session.scalar(
        select(Contact)
        .where(Contact.id == contact_id)
        .options(
            selectinload(Contact.emails),
            selectinload(Contact.phones),
            selectinload(Contact.tags),
            joinedload(Contact.owner),
        )
        .execution_options(populate_existing=True)
    )


def custom_fields(session: Session) -> list[CustomField]:
    return list(session.scalars(select(CustomField).order_by(CustomField.position, CustomField.id)))
