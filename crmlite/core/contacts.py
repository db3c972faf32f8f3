"""Creating, editing, archiving and deleting contacts, with every change recorded."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.exc import StaleDataError

from ..models import Contact, ContactEmail, ContactHistory, ContactPhone, CustomField, SearchToken
from ..models.contact import GENDERS, SOURCES, STAGES, TEMPERATURES
from ..models.types import utcnow
from . import dedup, history
from .emails import EmailError, normalize_email
from .i18n import _
from .phones import PhoneError, normalize_phone, possible_e164
from .privacy import ensure_not_erased
from .search import contact_tokens
from .text import fold

TEXT_FIELDS = {
    "first_name": 100,
    "last_name": 100,
    "middle_name": 100,
    "company": 200,
    "position": 200,
    "industry": 100,
    "city": 100,
    "country": 100,
    "address": 500,
    "notes": 20000,
}
CHOICE_FIELDS = {
    "gender": GENDERS,
    "source": SOURCES,
    "stage": STAGES,
    "temperature": TEMPERATURES,
}
SIMPLE_FIELDS = (*TEXT_FIELDS, "birth_date", *CHOICE_FIELDS, "owner_id")
EDITABLE_FIELDS = (*SIMPLE_FIELDS, "emails", "phones", "custom")


class ContactInvalid(ValueError):
    """Field -> message for every value that was refused; nothing was saved."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


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


@dataclass
class Item:
    """One e-mail or phone of a contact."""

    value: str
    label: str = ""
    primary: bool = False
    valid: bool = True  # False: a phone kept by the importer that fails today's check

    def display(self) -> str:
        return f"{self.value} ({self.label})" + (" *" if self.primary else "")


def parse_date(raw: Any) -> date | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, date):
        return raw
    text = str(raw).strip()
    for sep_order in (("-", (0, 1, 2)), (".", (2, 1, 0)), ("/", (2, 1, 0))):
        sep, (yi, mi, di) = sep_order
        parts = text.split(sep)
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            try:
                return date(int(parts[yi]), int(parts[mi]), int(parts[di]))
            except ValueError:
                break
    raise ValueError(_("“%(value)s” is not a real date; use YYYY-MM-DD or DD.MM.YYYY.", value=text))


def _clean_items(
    raw_items: list, kind: str, region: str, keep_invalid: bool = False
) -> tuple[list[Item], str | None]:
    items: list[Item] = []
    for raw in raw_items or []:
        if isinstance(raw, str):
            raw = {"value": raw}
        value = (raw.get("value") or "").strip()
        if not value:
            continue
        valid = True
        try:
            value = normalize_email(value) if kind == "email" else normalize_phone(value, region)
        except (EmailError, PhoneError) as exc:
            possible = possible_e164(value, region) if kind == "phone" and keep_invalid else None
            if possible is None:
                return [], str(exc)
            value, valid = possible, False
        if any(i.value == value for i in items):
            continue
        default_label = "work" if kind == "email" else "mobile"
        label = (raw.get("label") or default_label).strip()[:32]
        items.append(Item(value, label, bool(raw.get("primary")), valid))
    # Exactly one primary: the one marked, else the first.
    if items:
        primary = next((i for i in items if i.primary), items[0])
        for i in items:
            i.primary = i is primary
        items.sort(key=lambda i: not i.primary)
    return items, None


def _clean_custom(raw: dict, fields: list[CustomField]) -> tuple[dict, dict[str, str]]:
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in fields:
        if field.key not in raw:
            continue
        value = raw[field.key]
        value = value.strip() if isinstance(value, str) else value
        if value in (None, ""):
            clean[field.key] = None
            continue
        try:
            if field.kind == "number":
                number = Decimal(str(value).replace(",", ".").replace(" ", ""))
                if not number.is_finite():
                    raise InvalidOperation
                clean[field.key] = str(number)
            elif field.kind == "date":
                clean[field.key] = parse_date(value).isoformat()
            elif field.kind == "choice":
                if value not in field.choices:
                    raise ValueError(
                        _("Choose one of: %(choices)s.", choices=", ".join(field.choices))
                    )
                clean[field.key] = value
            else:
                if len(str(value)) > 2000:
                    raise ValueError(_("At most %(n)s characters.", n=2000))
                clean[field.key] = str(value)
        except InvalidOperation:
            errors[f"custom.{field.key}"] = _("“%(value)s” is not a number.", value=value)
        except ValueError as exc:
            errors[f"custom.{field.key}"] = str(exc)
    return clean, errors


def validate(
    raw: dict[str, Any],
    region: str = "RU",
    custom_fields: list[CustomField] = (),
    owner_ids: set[int] | None = None,
    keep_invalid_phones: bool = False,
) -> dict[str, Any]:
    """Check and normalize the fields present in raw; raise ContactInvalid with every problem.

    keep_invalid_phones (the importer): a phone of a possible length that is not a valid
    number is kept with Item.valid False instead of refusing the row."""
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, max_len in TEXT_FIELDS.items():
        if name in raw:
            value = (raw[name] or "").strip()
            if len(value) > max_len:
                errors[name] = _("At most %(n)s characters.", n=max_len)
            clean[name] = value
    for name, choices in CHOICE_FIELDS.items():
        if name in raw:
            value = raw[name] or None
            if value is not None and value not in choices:
                errors[name] = _("Choose one of: %(choices)s.", choices=", ".join(choices))
            clean[name] = value
    if "stage" in clean and clean["stage"] is None:
        clean["stage"] = "potential"
    if "birth_date" in raw:
        try:
            born = parse_date(raw["birth_date"])
            if born and not (date(1900, 1, 1) <= born <= date.today()):
                raise ValueError(_("A birth date must be between 1900 and today."))
            clean["birth_date"] = born
        except ValueError as exc:
            errors["birth_date"] = str(exc)
    if "owner_id" in raw:
        owner = raw["owner_id"]
        if owner in (None, ""):
            owner = None
        elif str(owner).isdigit():
            owner = int(owner)
        else:
            errors["owner_id"] = _("Choose an existing user.")
            owner = None
        if owner is not None and owner_ids is not None and owner not in owner_ids:
            errors["owner_id"] = _("Choose an existing user.")
        clean["owner_id"] = owner
    for name, kind in (("emails", "email"), ("phones", "phone")):
        if name in raw:
            items, error = _clean_items(raw[name], kind, region, keep_invalid_phones)
            if error:
                errors[name] = error
            clean[name] = items
    if "custom" in raw:
        clean["custom"], custom_errors = _clean_custom(raw["custom"] or {}, list(custom_fields))
        errors.update(custom_errors)
    if errors:
        raise ContactInvalid(errors)
    return clean


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


IDENTITY_FIELDS = ("first_name", "last_name", "middle_name", "company", "emails", "phones")


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
