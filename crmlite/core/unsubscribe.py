"""Unsubscribe links: a signed token naming the contact, channel, purpose and campaign.

The token is signed with the app's SECRET_KEY under its own salt, so it cannot be forged or
reused as a session or CSRF token, and it never expires: a link in a mail read a year
later still works. Opening the link changes nothing; withdraw() does, when the person
presses the button (or the mail client posts RFC 8058 one-click).
"""

from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from ..models import Contact
from ..models.consent import CHANNELS, PURPOSES
from . import consent

SALT = "crmlite.unsubscribe"


@dataclass(frozen=True)
class Unsubscribe:
    contact_id: int
    channel: str
    purpose: str
    campaign_id: int | None

    @property
    def source(self) -> str:
        # Not translated: it is data, and the campaign page counts withdrawals by it.
        if self.campaign_id:
            return f"unsubscribe link (campaign #{self.campaign_id})"
        return "unsubscribe link"


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=SALT)


def make_token(
    secret_key: str, contact_id: int, channel: str, purpose: str, campaign_id: int | None
) -> str:
    payload = [contact_id, channel, purpose, campaign_id]
    return _serializer(secret_key).dumps(payload)


def read_token(secret_key: str, token: str) -> Unsubscribe | None:
    """The link's content, or None when the token is damaged or was not made by us."""
    if not token or len(token) > 500:
        return None
    try:
        contact_id, channel, purpose, campaign_id = _serializer(secret_key).loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(contact_id, int) or channel not in CHANNELS or purpose not in PURPOSES:
        return None
    if campaign_id is not None and not isinstance(campaign_id, int):
        return None
    return Unsubscribe(contact_id, channel, purpose, campaign_id)


def withdraw(session: Session, link: Unsubscribe) -> bool:
    """Record the withdrawal (with today's date, in the history); False when the contact
    no longer exists. Pressing twice records nothing new. The caller commits."""
    contact = session.get(Contact, link.contact_id)
    if contact is None or contact.erased_at is not None:  # erased: nothing left to record
        return False
    if consent.status_of(session, link.contact_id, link.channel, link.purpose) != "withdrawn":
        consent.record(
            session, link.contact_id, link.channel, link.purpose, "withdrawn", source=link.source
        )
    return True
