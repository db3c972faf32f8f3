from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from .types import utcnow

# uploaded -> (dry run) -> running -> done | failed (re-run resumes) -> undone
IMPORT_STATUSES = ("uploaded", "running", "done", "failed", "undoing", "undone")


class Import(db.Model):
    """One uploaded file and what importing it did; the file stays on disk until undone."""

    __tablename__ = "imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(255))
    path: Mapped[str] = mapped_column(String(1000))
    size: Mapped[int] = mapped_column(default=0)
    importer: Mapped[str] = mapped_column(String(100))
    # encoding, delimiter, mapping (one target field per column), region
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="uploaded")
    # The dry run's counts and first rows; None until it ran.
    preview: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # created, updated, unchanged, errors, duplicates: committed with each batch.
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Rows 1..committed_row are written; a re-run starts after it.
    committed_row: Mapped[int] = mapped_column(default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    job_id: Mapped[int | None] = mapped_column(ForeignKey("jobs.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    undone_at: Mapped[datetime | None] = mapped_column()


class ImportItem(db.Model):
    """One row of an import: the contact it created or changed, or why it was rejected."""

    __tablename__ = "import_items"
    __table_args__ = (
        Index("ix_import_items_import_action", "import_id", "action", "row"),
        Index("ix_import_items_contact", "contact_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"))
    row: Mapped[int] = mapped_column()
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    # create, update, unchanged, error
    action: Mapped[str] = mapped_column(String(16))
    # update: the changed fields' values before the import (what undo restores)
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # error: the reason; create: "possible duplicate of #id" when one was suspected
    reason: Mapped[str] = mapped_column(Text, default="")
    # error: the row as read from the file, for the rejected-rows CSV
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ImportMapping(db.Model):
    """A column mapping saved by name: header -> field, reused for the next file."""

    __tablename__ = "import_mappings"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    mapping: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
