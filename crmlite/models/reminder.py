from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import utcnow

# follow_up: a person's own "call back on Friday"; review: made by the periodic audit.
REMINDER_KINDS = ("follow_up", "review")


class Reminder(db.Model):
    """Something one user should do by a date, usually about one contact.

    An audit's review reminder has no contact: it points its owner at the review queue.
    """

    __tablename__ = "reminders"
    __table_args__ = (
        # "My reminders" and the overdue count in the navigation: open ones by due date.
        Index("ix_reminders_assignee_open", "assignee_id", "done_at", "due_on", "id"),
        Index("ix_reminders_contact", "contact_id", "done_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    assignee_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16), default="follow_up")
    due_on: Mapped[date] = mapped_column()
    note: Mapped[str] = mapped_column(Text, default="")
    done_at: Mapped[datetime | None] = mapped_column()
    snooze_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    contact = relationship("Contact", foreign_keys=[contact_id])
    assignee = relationship("User", foreign_keys=[assignee_id], lazy="joined")
    created_by = relationship("User", foreign_keys=[created_by_id])
