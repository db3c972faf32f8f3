"""Privacy requests (GDPR, Russian 152-FZ): one person's data as an archive, and erasure.

export_archive() gathers everything the base holds about one contact (every field, custom
fields, e-mails, phones, tags, consents, interactions, history, reminders, campaign
messages) into a ZIP with contact.json, CSV files (UTF-8 with a BOM, so Excel reads them)
and a README.txt. erase() anonymizes the contact in place: the personal data is gone, the
purchases stay as bare amounts and dates (what accounting needs), the contact is archived
and marked erased_at, and it never shows in lists, searches, segments or exports again.

Both are written to the privacy log (PrivacyRequest): who, when, which contact and why.
The caller commits.
"""

import csv
import io
import json
import zipfile
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import String, cast, delete, or_, select, update
from sqlalchemy.orm import Session

from ..models import (
    Campaign,
    CampaignRecipient,
    Contact,
    ContactConsent,
    ContactEmail,
    ContactHistory,
    ContactPhone,
    CustomField,
    DuplicatePair,
    ImportItem,
    Interaction,
    MatchKey,
    Merge,
    OutboxMessage,
    PrivacyRequest,
    Reminder,
    SearchToken,
    User,
    contact_tags,
)
from ..models.types import utcnow
from .i18n import _

PURCHASE = "purchase"
MAX_REASON = 2000
# Internal copies and counters that say nothing about the person.
INTERNAL_COLUMNS = ("sort_name", "company_key", "version")
# Blanked by erase(): text fields become "", the others None.
ERASED_TEXT = (
    "first_name",
    "last_name",
    "middle_name",
    "company",
    "position",
    "industry",
    "city",
    "country",
    "address",
    "notes",
    "sort_name",
    "company_key",
)
ERASED_NONE = (
    "birth_date",
    "gender",
    "source",
    "owner_id",
    "temperature",
    "external_id",
    "last_verified_at",
)


class PrivacyError(ValueError):
    """The request was refused; nothing changed. The message says why."""


class ContactErased(PrivacyError):
    """The contact's personal data was erased: it cannot be edited, restored or merged."""


def ensure_not_erased(contact: Contact | None) -> None:
    """Raise ContactErased for an erased contact (edit, restore, merge, tag, chronicle...)."""
    if contact is not None and contact.erased_at is not None:
        raise ContactErased(
            _(
                "The personal data of this contact was erased on %(day)s. "
                "An erased contact cannot be edited, restored or merged.",
                day=contact.erased_at.date().isoformat(),
            )
        )


# -- export ------------------------------------------------------------------------------


def _value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _who(user: User | None) -> str:
    return user.display_name if user is not None else ""


def _amount(minor: int | None) -> str:
    return "" if minor is None else str(Decimal(minor) / 100)


def _contact_section(session: Session, contact: Contact) -> dict[str, Any]:
    data = {
        column.key: _value(getattr(contact, column.key))
        for column in Contact.__table__.columns
        if column.key not in INTERNAL_COLUMNS
    }
    labels = dict(session.execute(select(CustomField.key, CustomField.label)).all())
    data["custom"] = {
        key: {"label": labels.get(key, key), "value": _value(value)}
        for key, value in sorted((contact.custom or {}).items())
    }
    owner = session.get(User, contact.owner_id) if contact.owner_id else None
    data["owner"] = _who(owner)
    data["emails"] = [
        {"email": e.email, "label": e.label, "primary": e.is_primary, "valid": e.is_valid}
        for e in session.scalars(
            select(ContactEmail)
            .where(ContactEmail.contact_id == contact.id)
            .order_by(ContactEmail.is_primary.desc(), ContactEmail.id)
        )
    ]
    data["phones"] = [
        {"phone": p.e164, "label": p.label, "primary": p.is_primary, "valid": p.is_valid}
        for p in session.scalars(
            select(ContactPhone)
            .where(ContactPhone.contact_id == contact.id)
            .order_by(ContactPhone.is_primary.desc(), ContactPhone.id)
        )
    ]
    data["tags"] = [t.name for t in contact.tags]
    return data


def _interactions(session: Session, contact_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Interaction)
        .where(Interaction.contact_id == contact_id)
        .order_by(Interaction.occurred_at, Interaction.id)
    )
    return [
        {
            "id": i.id,
            "kind": i.kind,
            "occurred_at": _value(i.occurred_at),
            "text": i.text,
            "amount": _amount(i.amount_minor),
            "amount_minor": i.amount_minor,
            "currency": i.currency,
            "status": i.status,
            "score": i.score,
            "data": i.data or {},
            "external_id": i.external_id,
            "author": _who(i.author),
            "created_at": _value(i.created_at),
        }
        for i in rows
    ]


def _consents(session: Session, contact_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(ContactConsent)
        .where(ContactConsent.contact_id == contact_id)
        .order_by(ContactConsent.channel, ContactConsent.purpose)
    )
    return [
        {
            "channel": c.channel,
            "purpose": c.purpose,
            "status": c.status,
            "source": c.source,
            "wording_version": c.wording_version,
            "recorded_at": _value(c.recorded_at),
            "recorded_by": _who(c.recorded_by),
        }
        for c in rows
    ]


def _history(session: Session, contact_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(ContactHistory)
        .where(ContactHistory.contact_id == contact_id)
        .order_by(ContactHistory.id)
    )
    return [
        {
            "at": _value(h.at),
            "user": _who(h.user),
            "action": h.action,
            "changes": h.changes or {},
        }
        for h in rows
    ]


def _reminders(session: Session, contact_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(Reminder).where(Reminder.contact_id == contact_id).order_by(Reminder.id)
    )
    return [
        {
            "kind": r.kind,
            "due_on": _value(r.due_on),
            "note": r.note,
            "assignee": _who(r.assignee),
            "done_at": _value(r.done_at),
            "created_at": _value(r.created_at),
        }
        for r in rows
    ]


def _messages(session: Session, contact_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(CampaignRecipient, Campaign.name, Campaign.sender)
        .join(Campaign, Campaign.id == CampaignRecipient.campaign_id)
        .where(CampaignRecipient.contact_id == contact_id)
        .order_by(CampaignRecipient.id)
    )
    return [
        {
            "campaign": name,
            "sender": sender,
            "address": r.address,
            "status": r.status,
            "sent_at": _value(r.sent_at),
        }
        for r, name, sender in rows
    ]


def collect(session: Session, contact_id: int) -> dict[str, Any]:
    """Everything the base holds about one contact, as JSON-ready data."""
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise PrivacyError(_("There is no contact #%(id)s.", id=contact_id))
    return {
        "contact": _contact_section(session, contact),
        "consents": _consents(session, contact_id),
        "interactions": _interactions(session, contact_id),
        "history": _history(session, contact_id),
        "reminders": _reminders(session, contact_id),
        "messages": _messages(session, contact_id),
    }


def _csv(header: list[str], rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue().encode("utf-8-sig")  # the BOM tells Excel it is UTF-8


def _contact_csv(contact: dict[str, Any]) -> bytes:
    plain = {
        k: v
        for k, v in contact.items()
        if k not in ("custom", "emails", "phones", "tags", "owner_id")
    }
    header = list(plain)
    row = [plain[k] for k in header]
    header += ["emails", "phones", "tags"]
    row += [
        "; ".join(e["email"] for e in contact["emails"]),
        "; ".join(p["phone"] for p in contact["phones"]),
        "; ".join(contact["tags"]),
    ]
    for key, item in contact["custom"].items():
        header.append(f"custom.{key}")
        row.append(item["value"])
    return _csv(header, [row])


def _table_csv(items: list[dict[str, Any]], header: list[str]) -> bytes:
    rows = []
    for item in items:
        rows.append(
            [
                json.dumps(item[k], ensure_ascii=False) if isinstance(item[k], dict) else item[k]
                for k in header
            ]
        )
    return _csv(header, rows)


README = """Personal data export (GDPR / 152-FZ)

This archive holds everything crmlite stores about contact #{id} ({name}).
Made on {made} (UTC) by {by}.

contact.json      all of it in one file: every field (custom fields too), e-mails, phones,
                  tags, consents, interactions, change history, reminders, campaign messages
contact.csv       the contact's fields, one row
interactions.csv  notes, calls, meetings, purchases, support requests, feedback, messages
consents.csv      consent per channel and purpose, with source and wording version
history.csv       every recorded change: when, who, what (before and after)

The CSV files are UTF-8 with a byte order mark, comma-separated, so Excel opens them as is.
Amounts are in the currency's units (amount) and in minor units (amount_minor).
"""


def export_archive(
    session: Session, contact_id: int, user_id: int | None = None, reason: str = ""
) -> bytes:
    """One contact's data as a ZIP (contact.json, CSVs, README.txt); logged as an export."""
    data = collect(session, contact_id)
    made = utcnow().replace(microsecond=0)
    user = session.get(User, user_id) if user_id else None
    data = {
        "format": "crmlite personal data export, version 1",
        "made_at": made.isoformat(),
        "made_by": _who(user),
        **data,
    }
    contact = data["contact"]
    name = " ".join(
        p for p in (contact["last_name"], contact["first_name"], contact["middle_name"]) if p
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "README.txt",
            README.format(
                id=contact_id,
                name=name or contact["company"] or "-",
                made=made.isoformat(sep=" "),
                by=_who(user) or "crmlite",
            ),
        )
        archive.writestr(
            "contact.json", json.dumps(data, ensure_ascii=False, indent=2, default=str)
        )
        archive.writestr("contact.csv", _contact_csv(contact))
        archive.writestr(
            "interactions.csv",
            _table_csv(
                data["interactions"],
                [
                    "occurred_at",
                    "kind",
                    "text",
                    "amount",
                    "currency",
                    "status",
                    "score",
                    "external_id",
                    "author",
                    "data",
                ],
            ),
        )
        archive.writestr(
            "consents.csv",
            _table_csv(
                data["consents"],
                [
                    "channel",
                    "purpose",
                    "status",
                    "source",
                    "wording_version",
                    "recorded_at",
                    "recorded_by",
                ],
            ),
        )
        archive.writestr(
            "history.csv", _table_csv(data["history"], ["at", "user", "action", "changes"])
        )
    _log(session, "export", contact_id, user_id, reason)
    return buffer.getvalue()


def _log(session: Session, kind: str, contact_id: int, user_id: int | None, reason: str) -> None:
    session.add(
        PrivacyRequest(
            kind=kind,
            contact_id=contact_id,
            reason=reason,
            performed_by_id=user_id,
            performed_at=utcnow(),
        )
    )
    session.flush()


# -- erasure -----------------------------------------------------------------------------


def clean_reason(reason: str | None) -> str:
    text = " ".join((reason or "").split())
    if not text:
        raise PrivacyError(
            _("Say why the data is erased (for example, the person's request and its date).")
        )
    if len(text) > MAX_REASON:
        raise PrivacyError(_("The reason is too long: at most %(n)s characters.", n=MAX_REASON))
    return text


def _merges_of(session: Session, contact_id: int) -> list[int]:
    """Merges whose undo snapshot holds this contact's data (as survivor or merged)."""
    ids = set(session.scalars(select(Merge.id).where(Merge.survivor_id == contact_id)))
    # merged_ids is a JSON list: a text prefilter, then an exact check.
    candidates = session.execute(
        select(Merge.id, Merge.merged_ids).where(
            cast(Merge.merged_ids, String).like(f"%{contact_id}%")
        )
    )
    ids.update(mid for mid, merged in candidates if contact_id in (merged or []))
    return sorted(ids)


def erase(session: Session, contact_id: int, user_id: int | None, reason: str) -> None:
    """Anonymize the contact in place; keep only its purchases' dates and amounts.

    Removed: every personal field, e-mails, phones, search tokens, tags, consents,
    reminders, match keys, duplicate pairs, merge snapshots, outbox messages, import
    traces, campaign addresses and the whole history; interactions other than purchases.
    Purchases keep occurred_at, amount_minor and currency only. The contact is archived,
    erased_at is set, one "erased" history entry and the privacy log say who did it and
    why. PrivacyError (nothing changed) for a missing reason, contact, or a second erasure.
    """
    reason = clean_reason(reason)
    contact = session.get(Contact, contact_id)
    if contact is None:
        raise PrivacyError(_("There is no contact #%(id)s.", id=contact_id))
    if contact.erased_at is not None:
        raise PrivacyError(_("This contact was already erased."))
    now = utcnow()
    cid = contact.id

    for name in ERASED_TEXT:
        setattr(contact, name, "")
    for name in ERASED_NONE:
        setattr(contact, name, None)
    contact.custom = {}
    if not contact.is_archived:
        contact.is_archived = True
        contact.archived_at = now
    contact.erased_at = now
    contact.updated_at = now
    session.flush()  # bumps version: an open edit form of this contact is now a conflict

    for model in (ContactEmail, ContactPhone, SearchToken, ContactConsent, Reminder, MatchKey):
        session.execute(delete(model).where(model.contact_id == cid))
    session.execute(delete(contact_tags).where(contact_tags.c.contact_id == cid))
    session.execute(
        delete(DuplicatePair).where(
            or_(DuplicatePair.contact_a_id == cid, DuplicatePair.contact_b_id == cid)
        )
    )
    merges = _merges_of(session, cid)
    if merges:
        session.execute(delete(Merge).where(Merge.id.in_(merges)))
    session.execute(delete(OutboxMessage).where(OutboxMessage.contact_id == cid))
    # An import's undo must not bring the values back, nor delete the kept purchases.
    session.execute(
        update(ImportItem)
        .where(ImportItem.contact_id == cid)
        .values(contact_id=None, before=None, data=None)
    )
    session.execute(
        update(CampaignRecipient)
        .where(CampaignRecipient.contact_id == cid)
        .values(address="", error="")
    )
    # Interactions: purchases stay as the accounting trail, with no personal link.
    session.execute(
        delete(Interaction).where(Interaction.contact_id == cid, Interaction.kind != PURCHASE)
    )
    session.execute(
        update(Interaction)
        .where(Interaction.contact_id == cid)
        .values(text="", data={}, external_id=None, author_id=None, import_id=None, status=None)
    )
    # History holds before/after values: all of it goes, one entry says what happened.
    session.execute(delete(ContactHistory).where(ContactHistory.contact_id == cid))
    from . import history, interactions

    interactions.refresh_stats(session, [cid])
    history.record(session, cid, user_id, "erased", {}, contact.version)
    _log(session, "erasure", cid, user_id, reason)
    session.expire(contact)


# -- reading -----------------------------------------------------------------------------


def erasure_of(session: Session, contact_id: int) -> PrivacyRequest | None:
    """The erasure log entry of a contact (who, when, why), or None."""
    return session.scalar(
        select(PrivacyRequest)
        .where(PrivacyRequest.contact_id == contact_id, PrivacyRequest.kind == "erasure")
        .order_by(PrivacyRequest.id.desc())
        .limit(1)
    )


def kept_purchases(session: Session, contact_id: int) -> list[Interaction]:
    return list(
        session.scalars(
            select(Interaction)
            .where(Interaction.contact_id == contact_id, Interaction.kind == PURCHASE)
            .order_by(Interaction.occurred_at.desc(), Interaction.id.desc())
        )
    )


def log_page(
    session: Session, before_id: int | None = None, size: int = 50
) -> tuple[list[PrivacyRequest], int | None]:
    """The privacy log, newest first, keyset by id: (rows, the next page's before_id)."""
    stmt = select(PrivacyRequest).order_by(PrivacyRequest.id.desc()).limit(size + 1)
    if before_id is not None:
        stmt = stmt.where(PrivacyRequest.id < before_id)
    rows = list(session.scalars(stmt))
    more = len(rows) > size
    rows = rows[:size]
    return rows, (rows[-1].id if more else None)
