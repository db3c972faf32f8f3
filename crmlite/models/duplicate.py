from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import utcnow

# open: waiting for review; dismissed: "not duplicates", remembered so a scan never proposes it.
PAIR_STATUSES = ("open", "dismissed")


class MatchKey(db.Model):
    """A blocking key of a contact (normalized e-mail, phone, name skeleton...).

    Contacts that share a key are compared; the table lets a save or an import check a
    new contact against the base with index lookups instead of a scan.
    """

    __tablename__ = "match_keys"
    __table_args__ = (
        Index("ix_match_keys_contact", "contact_id"),
        {"sqlite_with_rowid": False},
    )

    key: Mapped[str] = mapped_column(
        String(120).with_variant(String(120, collation="C"), "postgresql"), primary_key=True
    )
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )


class DuplicatePair(db.Model):
    """Two contacts the duplicate finder thinks are one person (contact_a_id < contact_b_id)."""

    __tablename__ = "duplicate_pairs"
    __table_args__ = (
        UniqueConstraint("contact_a_id", "contact_b_id"),
        # The review page: open pairs, best first.
        Index("ix_duplicate_pairs_status_score", "status", "score", "id"),
        Index("ix_duplicate_pairs_b", "contact_b_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_a_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    contact_b_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    score: Mapped[int] = mapped_column()  # 0..100
    # [{"code": "same_phone", "value": "+79123456789"}, ...]: rendered in words per language.
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="open")
    found_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column()
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    contact_a = relationship("Contact", foreign_keys=[contact_a_id])
    contact_b = relationship("Contact", foreign_keys=[contact_b_id])


class Merge(db.Model):
    """One merge of contacts into a survivor, with everything needed to undo it exactly."""

    __tablename__ = "merges"
    __table_args__ = (
        Index("ix_merges_survivor", "survivor_id"),
        Index("ix_merges_batch", "batch_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    survivor_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    merged_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    # The rows as they were before the merge and the ids of every row moved (core/merging.py).
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # A bulk merge's merges share one batch id, so the whole batch can be undone at once.
    batch_id: Mapped[str | None] = mapped_column(String(36))
    performed_at: Mapped[datetime] = mapped_column(default=utcnow)
    performed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    undone_at: Mapped[datetime | None] = mapped_column()
    undone_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    performed_by = relationship("User", foreign_keys=[performed_by_id], lazy="joined")
