from sqlalchemy import Column, ForeignKey, Index, String, Table
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db

contact_tags = Table(
    "contact_tags",
    db.metadata,
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    # The primary key serves "tags of a contact"; this one serves "contacts with a tag".
    Index("ix_contact_tags_tag_contact", "tag_id", "contact_id"),
    sqlite_with_rowid=False,  # a pure key table: one b-tree less on SQLite
)


class Tag(db.Model):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # Case-folded name: "VIP" and "vip" are one tag, in Cyrillic too.
    name_key: Mapped[str] = mapped_column(String(100), unique=True)
    colour: Mapped[str] = mapped_column(String(7), default="#6c757d")
