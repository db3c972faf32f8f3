from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import utcnow

# Builtin kinds; plugins add more through the register_interaction_kinds hook.
BUILTIN_KINDS = ("note", "call", "meeting", "purchase", "support", "feedback", "message", "system")


class Interaction(db.Model):
    """One event in a customer's chronicle: a note, a call, a purchase, an NPS answer...

    Money is kept in minor units (kopecks, cents) as an integer, so sums are exact on
    SQLite and PostgreSQL alike.
    """

    __tablename__ = "interactions"
    __table_args__ = (
        # The contact page's timeline: newest first, keyset by (occurred_at, id).
        Index("ix_interactions_contact_occurred", "contact_id", "occurred_at", "id"),
        # The dashboard's purchases per month (count and sum read from the index alone).
        Index("ix_interactions_kind_occurred", "kind", "occurred_at", "amount_minor"),
        # A purchase imported twice (same order number) is found, never doubled.
        Index("ix_interactions_external_id", "external_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Note text, call summary, what was bought, the request, the NPS comment, the message.
    text: Mapped[str] = mapped_column(Text, default="")
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)  # purchases
    currency: Mapped[str | None] = mapped_column(String(3))  # ISO 4217, purchases
    status: Mapped[str | None] = mapped_column(String(16))  # support: open | closed
    score: Mapped[int | None] = mapped_column()  # feedback: NPS 0..10
    # Anything else a kind needs (a plugin kind's fields, a message's sender and delivery).
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    external_id: Mapped[str | None] = mapped_column(String(200))  # order number etc.
    import_id: Mapped[int | None] = mapped_column(ForeignKey("imports.id", ondelete="SET NULL"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    author = relationship("User", foreign_keys=[author_id], lazy="joined")
