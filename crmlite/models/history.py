from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..extensions import db
from .types import utcnow


class ContactHistory(db.Model):
    """Who changed what and when: changes maps field -> [before, after]."""

    __tablename__ = "contact_history"
    __table_args__ = (Index("ix_contact_history_contact_id_id", "contact_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    # create, update, tag_add, tag_remove, archive, restore, ...
    action: Mapped[str] = mapped_column(String(32))
    # The contact's version after this change; a conflict shows the entries after the editor's.
    version: Mapped[int | None] = mapped_column()
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    user = relationship("User", lazy="joined")
