"""Consent per contact, channel (email, sms, messenger, phone) and purpose (marketing,
service): granted, withdrawn or unknown (no row). Every change is written to the history."""

from typing import Any

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import Session

from ..models import Contact, ContactConsent
from ..models.consent import CHANNELS, CONSENT_STATUSES, PURPOSES
from ..models.types import utcnow
from . import history
from .i18n import _


class ConsentInvalid(ValueError):
    pass


PAIRS = tuple((channel, purpose) for channel in CHANNELS for purpose in PURPOSES)
FILTER_SEPARATOR = ":"


def parse_filter(raw: Any) -> tuple[str, str, str] | None:
    """ "email:marketing:granted" -> ("email", "marketing", "granted"); None if malformed."""
    parts = str(raw or "").strip().split(FILTER_SEPARATOR)
    if len(parts) != 3:
        return None
    channel, purpose, status = parts
    if channel not in CHANNELS or purpose not in PURPOSES or status not in CONSENT_STATUSES:
        return None
    return channel, purpose, status


def statuses(session: Session, contact_id: int) -> dict[tuple[str, str], ContactConsent]:
    """(channel, purpose) -> the stored row; a missing pair is "unknown"."""
    rows = session.scalars(select(ContactConsent).where(ContactConsent.contact_id == contact_id))
    return {(row.channel, row.purpose): row for row in rows}


def status_of(session: Session, contact_id: int, channel: str, purpose: str) -> str:
    row = session.scalar(
        select(ContactConsent.status).where(
            ContactConsent.contact_id == contact_id,
            ContactConsent.channel == channel,
            ContactConsent.purpose == purpose,
        )
    )
    return row or "unknown"


def record(
    session: Session,
    contact_id: int,
    channel: str,
    purpose: str,
    status: str,
    *,
    source: str = "",
    wording_version: str = "",
    user_id: int | None = None,
    at: Any = None,
) -> ContactConsent | None:
    """Set one consent and write the change to the history; the caller commits.

    Returns the row (None when set to unknown, which removes it). Recording the same
    status again refreshes its date, source and wording (a re-confirmation)."""
    if channel not in CHANNELS or purpose not in PURPOSES or status not in CONSENT_STATUSES:
        raise ConsentInvalid(_("Unknown consent channel, purpose or status."))
    row = session.scalar(
        select(ContactConsent).where(
            ContactConsent.contact_id == contact_id,
            ContactConsent.channel == channel,
            ContactConsent.purpose == purpose,
        )
    )
    before = row.status if row else "unknown"
    if status == "unknown":
        if row is not None:
            session.delete(row)
        row = None
    else:
        if row is None:
            row = ContactConsent(contact_id=contact_id, channel=channel, purpose=purpose)
            session.add(row)
        row.status = status
        row.source = source[:200]
        row.wording_version = wording_version[:50]
        row.recorded_by_id = user_id
        row.recorded_at = at or utcnow()
    history.record(
        session,
        contact_id,
        user_id,
        "consent",
        {
            f"consent:{channel}:{purpose}": (before, status),
            **({"consent_source": (None, source)} if source else {}),
            **({"consent_wording": (None, wording_version)} if wording_version else {}),
        },
    )
    session.flush()
    return row


def condition(channel: str, purpose: str, status: str) -> ColumnElement[bool]:
    """SQL over Contact: the contact's consent for channel/purpose has this status
    ("unknown" means no row). Uses ix_contact_consents_filter."""
    stored = exists().where(
        ContactConsent.contact_id == Contact.id,
        ContactConsent.channel == channel,
        ContactConsent.purpose == purpose,
    )
    if status == "unknown":
        return ~stored
    return stored.where(ContactConsent.status == status)
