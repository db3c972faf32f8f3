from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import utcnow

CHANNELS = ("email", "sms", "messenger", "phone")
PURPOSES = ("marketing", "service")
# A contact without a row for a channel and purpose has status "unknown".
CONSENT_STATUSES = ("granted", "withdrawn", "unknown")


class ContactConsent(db.Model):
    """The current consent of one contact for one channel and purpose (GDPR, 152-FZ).

    Every change is also written to contact_history, so the record of who recorded what,
    when and with which wording survives later changes.
    """

    __tablename__ = "contact_consents"
    __table_args__ = (
        UniqueConstraint("contact_id", "channel", "purpose"),
        # Lists and segments filter "email marketing granted" over the whole base.
        Index("ix_contact_consents_filter", "channel", "purpose", "status", "contact_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    purpose: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    # web form, call, unsubscribe link...
    source: Mapped[str] = mapped_column(String(200), default="")
    wording_version: Mapped[str] = mapped_column(String(50), default="")
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    recorded_by = relationship("User", foreign_keys=[recorded_by_id], lazy="joined")
