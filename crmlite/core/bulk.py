"""Bulk actions on many contacts at once, as set-based SQL.

Every action runs a bounded number of statements whatever the number of contacts: no
Python loop over rows. The target is either chosen ids or every contact a list filter
matches (listing.filtered_ids), narrowed to the contacts the action really changes, so
the count and the history cover exactly those. Each statement reads the target's own
WHERE clause (no nested IN over the same table). Per action:

- a field change (owner, stage, archive): INSERT INTO contact_history ... SELECT first,
  with the old value and the version the contact is about to get, then one UPDATE that
  sets the field, version + 1 and updated_at (edit-conflict checks see the new version);
- a tag change: the history INSERT ... SELECT, then the INSERT into or DELETE from
  contact_tags. The contact rows are not rewritten: a tag is never a form field, so it
  cannot conflict with an edit (conflicts compare fields, see core.contacts), and
  rewriting 100k scattered rows was most of a bulk tag's time. The history entries
  carry the contact's current version and say who changed which tag when.

The history goes first and does not change what the target depends on, so every
statement of an action sees the same set (inside one transaction).
"""

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, delete, exists, insert, literal, select, update
from sqlalchemy.orm import Session

from ..models import Contact, ContactHistory, Tag, User, contact_tags
from ..models.contact import STAGES
from ..models.types import utcnow
from . import tags as tags_core
from .i18n import _
from .listing import ContactFilter, filtered_ids

ACTIONS = ("add_tag", "remove_tag", "set_owner", "set_stage", "archive", "restore")
MAX_IDS = 10_000


class BulkError(ValueError):
    """The request was refused before anything changed; the message says why."""


@dataclass
class BulkResult:
    action: str
    changed: int
    tag: Tag | None = None
    owner: User | None = None
    stage: str | None = None


def parse_ids(raw: Iterable[str]) -> list[int]:
    ids: set[int] = set()
    for value in raw:
        text = str(value).strip()
        if not text.isdigit() or len(text) > 18:
            raise BulkError(_("“%(value)s” is not a contact id.", value=text))
        ids.add(int(text))
    if len(ids) > MAX_IDS:
        raise BulkError(
            _("Select at most %(n)s contacts, or choose all matching the filter.", n=MAX_IDS)
        )
    return sorted(ids)


def scope(ids: list[int] | None, flt: ContactFilter | None, region: str = "RU") -> Select:
    """The chosen ids, or every contact the filter matches."""
    if flt is not None:
        return filtered_ids(flt, region)
    if not ids:
        raise BulkError(_("Select some contacts first."))
    # An erased contact (core/privacy.py) is never changed again, restored included.
    return select(Contact.id).where(Contact.id.in_(ids), Contact.erased_at.is_(None))


def _has_tag(tag_id: int) -> ColumnElement[bool]:
    return exists().where(contact_tags.c.contact_id == Contact.id, contact_tags.c.tag_id == tag_id)


def _record(
    session: Session,
    target: Select,
    user_id: int | None,
    action: str,
    changes: dict[str, list],
    version=Contact.version,
) -> int:
    """One history row per target contact, by one INSERT ... SELECT (history.record_bulk
    without its IN over the target)."""
    rows = target.with_only_columns(
        Contact.id,
        literal(user_id),
        literal(utcnow()),
        literal(action),
        literal(changes, ContactHistory.changes.type),
        version,
    ).order_by(Contact.id)  # rows in id order: neighbouring pages, not one per row
    stmt = insert(ContactHistory.__table__).from_select(
        ["contact_id", "user_id", "at", "action", "changes", "version"], rows
    )
    # SQLAlchemy keeps an INSERT's row count only when asked (else -1 on psycopg).
    return session.execute(stmt.execution_options(preserve_rowcount=True)).rowcount


def _update(session: Session, target: Select, **values) -> int:
    """Set the fields with a new version, in one UPDATE over the target's WHERE clause."""
    stmt = (
        update(Contact)
        .where(target.whereclause)
        .values(version=Contact.version + 1, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    return session.execute(stmt).rowcount


def add_tag(session: Session, chosen: Select, name: str, user_id: int | None) -> BulkResult:
    tag = tags_core.get_or_create(session, name)  # raises TagError for an empty name
    target = chosen.where(~_has_tag(tag.id))
    changed = _record(session, target, user_id, "tag_add", {"tags": [None, tag.name]})
    session.execute(
        insert(contact_tags).from_select(
            ["contact_id", "tag_id"],
            # In key order, so the inserts fill neighbouring pages of contact_tags.
            target.with_only_columns(Contact.id, literal(tag.id)).order_by(Contact.id),
        )
    )
    return BulkResult("add_tag", changed, tag=tag)


def remove_tag(session: Session, chosen: Select, name: str, user_id: int | None) -> BulkResult:
    name = tags_core.clean_name(name)
    tag = tags_core.find(session, name)
    if tag is None:
        raise BulkError(_("There is no tag “%(name)s”.", name=name))
    target = chosen.where(_has_tag(tag.id))
    _record(session, target, user_id, "tag_remove", {"tags": [tag.name, None]})
    changed = session.execute(
        delete(contact_tags).where(
            contact_tags.c.tag_id == tag.id, contact_tags.c.contact_id.in_(chosen)
        )
    ).rowcount
    return BulkResult("remove_tag", changed, tag=tag)


def set_owner(
    session: Session, chosen: Select, owner_id: int | None, user_id: int | None
) -> BulkResult:
    owner = None
    if owner_id is not None:
        owner = session.get(User, owner_id)
        if owner is None or not owner.active:
            raise BulkError(_("Choose an existing user as the owner."))
    target = chosen.where(Contact.owner_id.is_distinct_from(owner_id))
    # One history INSERT ... SELECT per previous owner, so each entry has its real "before"
    # (a team has a few dozen users at most, so this stays a handful of statements).
    before = session.scalars(target.with_only_columns(Contact.owner_id).distinct())
    for old in list(before):
        same = target.where(Contact.owner_id.is_(None) if old is None else Contact.owner_id == old)
        changes = {"owner_id": [old, owner_id]}
        _record(session, same, user_id, "update", changes, Contact.version + 1)
    changed = _update(session, target, owner_id=owner_id)
    return BulkResult("set_owner", changed, owner=owner)


def set_stage(session: Session, chosen: Select, stage: str, user_id: int | None) -> BulkResult:
    if stage not in STAGES:
        raise BulkError(_("Choose a stage."))
    target = chosen.where(Contact.stage != stage)
    for old in STAGES:
        if old != stage:
            same = target.where(Contact.stage == old)
            changes = {"stage": [old, stage]}
            _record(session, same, user_id, "update", changes, Contact.version + 1)
    changed = _update(session, target, stage=stage)
    return BulkResult("set_stage", changed, stage=stage)


def set_archived(
    session: Session, chosen: Select, archived: bool, user_id: int | None
) -> BulkResult:
    target = chosen.where(Contact.is_archived == (not archived))
    action = "archive" if archived else "restore"
    changes = {"is_archived": [not archived, archived]}
    _record(session, target, user_id, action, changes, Contact.version + 1)
    changed = _update(
        session, target, is_archived=archived, archived_at=utcnow() if archived else None
    )
    return BulkResult(action, changed)


def run(
    session: Session,
    action: str,
    chosen: Select,
    user_id: int | None,
    *,
    tag_name: str = "",
    owner_id: int | None = None,
    stage: str = "",
) -> BulkResult:
    """Apply one action to the chosen contacts; raise BulkError (or TagError) and change
    nothing when the input is wrong. The caller commits."""
    if action == "add_tag":
        return add_tag(session, chosen, tag_name, user_id)
    if action == "remove_tag":
        return remove_tag(session, chosen, tag_name, user_id)
    if action == "set_owner":
        return set_owner(session, chosen, owner_id, user_id)
    if action == "set_stage":
        return set_stage(session, chosen, stage, user_id)
    if action in ("archive", "restore"):
        return set_archived(session, chosen, action == "archive", user_id)
    raise BulkError(_("Choose what to do with the selected contacts."))
