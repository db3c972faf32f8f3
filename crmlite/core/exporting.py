"""Export: contacts (all, a list filter, or a segment) as records for the exporters.

An exporter (hook register_exporters) has name, label, extension, mimetype and
write(rows, stream, options) writing bytes to a binary stream; it may also offer
chunks(rows, options) yielding bytes, which the web view streams as they come.
rows are contact records: the contacts.validate raw format (emails/phones as lists of
{"value", "label", "primary"}, primary first) plus id, external_id, owner (the owner's
e-mail) and tags (names). options: max_emails, max_phones, custom_keys.
"""

import tempfile
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, selectinload

from ..models import Contact, ContactEmail, ContactPhone, CustomField
from . import contacts as contacts_core
from .i18n import _

CHUNK = 1000


class ExportProblem(ValueError):
    pass


def exporters(pm) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for group in pm.hook.register_exporters():
        for exporter in group or []:
            found.setdefault(exporter.name, exporter)
    return found


def segment_ids(pm, key: str, region: str = "RU") -> Select:
    """ids of a registered segment's contacts (default params); ExportProblem when no
    enabled plugin has a segment with that key."""
    from . import listing, segments

    if segments.get(pm, key) is None:
        raise ExportProblem(_("There is no segment “%(key)s”.", key=key))
    flt, _problems = segments.bind(pm, listing.ContactFilter(segment=key))
    return listing.filtered_ids(flt, region)


def layout(session: Session, ids: Select) -> dict[str, Any]:
    """How many e-mail and phone columns the export needs, and the custom field keys."""
    options: dict[str, Any] = {}
    for name, model in (("max_emails", ContactEmail), ("max_phones", ContactPhone)):
        per_contact = (
            select(func.count().label("n"))
            .where(model.contact_id.in_(ids))
            .group_by(model.contact_id)
            .subquery()
        )
        options[name] = max(1, session.scalar(select(func.max(per_contact.c.n))) or 0)
    options["custom_keys"] = list(
        session.scalars(select(CustomField.key).order_by(CustomField.position, CustomField.id))
    )
    return options


def record(contact: Contact) -> dict[str, Any]:
    row: dict[str, Any] = {name: getattr(contact, name) for name in contacts_core.SIMPLE_FIELDS}
    row.pop("owner_id")
    row.update(
        id=contact.id,
        external_id=contact.external_id or "",
        owner=contact.owner.email if contact.owner else "",
        emails=[
            {"value": e.email, "label": e.label, "primary": e.is_primary} for e in contact.emails
        ],
        phones=[
            {"value": p.e164, "label": p.label, "primary": p.is_primary} for p in contact.phones
        ],
        custom=dict(contact.custom or {}),
        tags=[t.name for t in contact.tags],
    )
    return row


def records(session: Session, ids: Select, chunk: int = CHUNK) -> Iterator[dict[str, Any]]:
    """Every contact in ids, by id, CHUNK at a time (keyset; a fixed number of queries each)."""
    last = 0
    while True:
        page = list(
            session.scalars(
                select(Contact)
                .where(Contact.id.in_(ids), Contact.id > last)
                .order_by(Contact.id)
                .limit(chunk)
                .options(
                    selectinload(Contact.emails),
                    selectinload(Contact.phones),
                    selectinload(Contact.tags),
                    selectinload(Contact.owner),
                )
            )
        )
        if not page:
            return
        for contact in page:
            yield record(contact)
        last = page[-1].id
        for contact in page:  # memory stays bounded whatever the number of contacts
            session.expunge(contact)


def stream(
    exporter: Any, rows: Iterator[dict[str, Any]], options: dict[str, Any]
) -> Iterator[bytes]:
    """The export's bytes as they are made; an exporter without chunks() writes to a
    spooled temporary file first (memory bounded either way)."""
    if hasattr(exporter, "chunks"):
        yield from exporter.chunks(rows, options)
        return
    with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as tmp:
        exporter.write(rows, tmp, options)
        tmp.seek(0)
        while block := tmp.read(64 * 1024):
            yield block
