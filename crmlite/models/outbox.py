from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import utcnow


class OutboxMessage(db.Model):
    """A message the builtin outbox sender kept instead of delivering (trying crmlite
    without a mail server); the Outbox page lists them newest first."""

    __tablename__ = "outbox_messages"
    # The Outbox page pages by id (keyset); the contact's messages are found by contact.
    __table_args__ = (Index("ix_outbox_messages_contact_id", "contact_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    channel: Mapped[str] = mapped_column(String(16))
    to_address: Mapped[str] = mapped_column(String(320), default="")
    subject: Mapped[str] = mapped_column(String(500), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
