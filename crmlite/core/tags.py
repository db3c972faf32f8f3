"""Tags: find-or-create by case-folded name, add and remove with history, rename, merge."""

import re
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from ..models import Contact, Tag, contact_tags
from ..models.types import utcnow
from . import history
from .i18n import _
from .text import fold
from .validation import TagError
from .validation import clean_tag_name as clean_name

COLOURS = ("#6c757d", "#0d6efd", "#198754", "#dc3545", "#fd7e14", "#6f42c1", "#20c997", "#d63384")


def find(session: Session, name: str) -> Tag | None:
    return session.scalar(select(Tag).where(Tag.name_key == fold(name)))


def get_or_create(session: Session, name: str) -> Tag:
    name = clean_name(name)
    tag = find(session, name)
    if tag is None:
        count = session.scalar(select(func.count(Tag.id))) or 0
        tag = Tag(name=name, name_key=fold(name), colour=COLOURS[count % len(COLOURS)])
        session.add(tag)
        session.flush()
    return tag


def add_tag(
    session: Session, contact: Contact, tag: Tag, user_id: int | None, pm: Any = None
) -> bool:
    if tag in contact.tags:
        return False
    contact.tags.append(tag)
    contact.updated_at = utcnow()  # a new version, so the change has its own place in history
    session.flush()
    history.record(
        session, contact.id, user_id, "tag_add", {"tags": (None, tag.name)}, contact.version
    )
    if pm is not None:  # plugins hear of the change (hook contact_saved)
        pm.hook.contact_saved(contact=contact, created=False)
    return True


def remove_tag(
    session: Session, contact: Contact, tag: Tag, user_id: int | None, pm: Any = None
) -> bool:
    if tag not in contact.tags:
        return False
    contact.tags.remove(tag)
    contact.updated_at = utcnow()
    session.flush()
    history.record(
        session, contact.id, user_id, "tag_remove", {"tags": (tag.name, None)}, contact.version
    )
    if pm is not None:
        pm.hook.contact_saved(contact=contact, created=False)
    return True


def suggest(
    session: Session, prefix: str, limit: int = 10, exclude_ids: list[int] = ()
) -> list[Tag]:
    """Tags whose name starts with prefix, case-insensitively (Cyrillic too)."""
    key = fold(prefix)
    stmt = select(Tag).order_by(Tag.name_key).limit(limit)
    if exclude_ids:
        stmt = stmt.where(Tag.id.not_in(list(exclude_ids)))
    if key:
        stmt = stmt.where(Tag.name_key >= key, Tag.name_key < key[:-1] + chr(ord(key[-1]) + 1))
    return list(session.scalars(stmt))


def with_counts(session: Session) -> list[tuple[Tag, int]]:
    counts = (
        select(contact_tags.c.tag_id, func.count().label("n"))
        .group_by(contact_tags.c.tag_id)
        .subquery()
    )
    rows = session.execute(
        select(Tag, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.tag_id == Tag.id)
        .order_by(Tag.name_key)
    )
    return [(tag, n) for tag, n in rows]


def rename(session: Session, tag: Tag, new_name: str, colour: str | None = None) -> None:
    new_name = clean_name(new_name)
    other = find(session, new_name)
    if other is not None and other.id != tag.id:
        raise TagError(
            _("A tag “%(name)s” already exists; merge into it instead.", name=other.name)
        )
    tag.name, tag.name_key = new_name, fold(new_name)
    if colour:
        tag.colour = colour
    session.flush()


def merge(session: Session, source: Tag, target: Tag, user_id: int | None) -> int:
    """Give every contact tagged `source` the tag `target`, then delete `source` (set-based)."""
    if source.id == target.id:
        raise TagError(_("Choose two different tags to merge."))
    tagged = select(contact_tags.c.contact_id).where(contact_tags.c.tag_id == source.id)
    already = select(contact_tags.c.contact_id).where(contact_tags.c.tag_id == target.id)
    moved = session.execute(
        insert(contact_tags).from_select(
            ["contact_id", "tag_id"],
            select(contact_tags.c.contact_id, target.id).where(
                contact_tags.c.tag_id == source.id, contact_tags.c.contact_id.not_in(already)
            ),
        )
    ).rowcount
    session.execute(
        update(Contact).where(Contact.id.in_(tagged)).values(version=Contact.version + 1)
    )
    history.record_bulk(session, tagged, user_id, "tag_merge", {"tags": [source.name, target.name]})
    session.execute(delete(contact_tags).where(contact_tags.c.tag_id == source.id))
    session.delete(source)
    session.flush()
    return moved


def clean_colour(colour: str) -> str:
    colour = (colour or "").strip().lower()
    if not re.fullmatch(r"#[0-9a-f]{6}", colour):
        raise TagError(_("A colour looks like #1a2b3c."))
    return colour


def set_colour(session: Session, tag: Tag, colour: str) -> None:
    tag.colour = clean_colour(colour)
    session.flush()


def delete_tag(session: Session, tag: Tag, user_id: int | None) -> int:
    """Remove the tag from every contact (recorded in their history), then the tag itself."""
    tagged = select(contact_tags.c.contact_id).where(contact_tags.c.tag_id == tag.id)
    bump = (
        update(Contact)
        .where(Contact.id.in_(tagged))
        .values(version=Contact.version + 1, updated_at=utcnow())
        # One statement for any number of contacts; the caller commits, which expires them.
        .execution_options(synchronize_session=False)
    )
    count = session.execute(bump).rowcount
    history.record_bulk(session, tagged, user_id, "tag_remove", {"tags": [tag.name, None]})
    session.execute(delete(contact_tags).where(contact_tags.c.tag_id == tag.id))
    session.delete(tag)
    session.flush()
    return count


def count(session: Session, tag: Tag) -> int:
    """How many contacts carry the tag (an index range on contact_tags)."""
    stmt = select(func.count()).select_from(contact_tags).where(contact_tags.c.tag_id == tag.id)
    return session.scalar(stmt) or 0
