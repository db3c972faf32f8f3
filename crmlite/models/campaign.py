from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import utcnow

# draft -> sending -> done | failed (a re-run resumes) ; sending -> paused -> sending
CAMPAIGN_STATUSES = ("draft", "sending", "paused", "done", "failed")
# pending -> sending -> sent | failed ; "sending" left by a crash becomes "uncertain":
# never sent again automatically, so nobody gets a second copy.
RECIPIENT_STATUSES = ("pending", "sending", "sent", "failed", "uncertain", "skipped")


class Campaign(db.Model):
    """A message to a segment through one sender (crmlite/core/campaigns.py)."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    segment_key: Mapped[str] = mapped_column(String(100))
    segment_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sender: Mapped[str] = mapped_column(String(100))
    purpose: Mapped[str] = mapped_column(String(16), default="marketing")
    subject: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    rate_per_minute: Mapped[int] = mapped_column(default=60)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()

    created_by = relationship("User", foreign_keys=[created_by_id], lazy="joined")


class CampaignRecipient(db.Model):
    """One contact of a campaign and what happened to its message."""

    __tablename__ = "campaign_recipients"
    __table_args__ = (
        # One row per contact per campaign: nobody is queued twice.
        UniqueConstraint("campaign_id", "contact_id"),
        # The sender loop takes pending rows in id order; the page counts by status.
        Index("ix_campaign_recipients_status", "campaign_id", "status", "id"),
        # A contact's messages: privacy export and erasure, merge and its undo.
        Index("ix_campaign_recipients_contact", "contact_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(320), default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # Why a contact is skipped: no_address, no_consent, unsubscribed, invalid_address.
    reason: Mapped[str] = mapped_column(String(32), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[datetime | None] = mapped_column()
