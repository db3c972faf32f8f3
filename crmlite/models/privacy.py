from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import utcnow

PRIVACY_KINDS = ("export", "erasure")


class PrivacyRequest(db.Model):
    """The log of data exports and erasures (GDPR, 152-FZ): who, when, why.

    contact_id has no foreign key on purpose: the log outlives the contact.
    """

    __tablename__ = "privacy_requests"
    __table_args__ = (Index("ix_privacy_requests_contact", "contact_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    contact_id: Mapped[int] = mapped_column()
    reason: Mapped[str] = mapped_column(Text, default="")
    performed_at: Mapped[datetime] = mapped_column(default=utcnow)
    performed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    performed_by = relationship("User", foreign_keys=[performed_by_id], lazy="joined")
