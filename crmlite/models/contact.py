from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.validation import GENDERS, SOURCES, STAGES, TEMPERATURES  # noqa: F401
from ..extensions import db
from .tag import Tag, contact_tags
from .types import utcnow


class Contact(db.Model):
    __tablename__ = "contacts"
    __table_args__ = (
        # Keyset pagination: every sort order has an index that ends in id.
        Index("ix_contacts_archived_sort_name", "is_archived", "sort_name", "id"),
        Index("ix_contacts_archived_updated", "is_archived", "updated_at", "id"),
        Index("ix_contacts_archived_id", "is_archived", "id"),
        Index("ix_contacts_archived_company", "is_archived", "company_key", "id"),
        # Every list filter has an index.
        Index("ix_contacts_owner", "owner_id", "sort_name", "id"),
        Index("ix_contacts_stage", "stage", "sort_name", "id"),
        Index("ix_contacts_temperature", "temperature", "sort_name", "id"),
        Index("ix_contacts_source", "source", "sort_name", "id"),
        Index("ix_contacts_external_id", "external_id"),
        # Lifecycle segments and RFM read only these (purchase stats kept on the contact).
        # Covering: lifecycle, VIP and dashboard counts are read from this index alone.
        Index(
            "ix_contacts_purchases",
            "is_archived",
            "purchase_count",
            "last_purchase_at",
            "purchase_total_minor",
            "first_purchase_at",
        ),
        Index("ix_contacts_archived_temperature", "is_archived", "temperature"),
        Index("ix_contacts_last_purchase", "is_archived", "last_purchase_at"),
        Index("ix_contacts_purchase_total", "is_archived", "purchase_total_minor"),
        # The review queue: "not verified for N months" / "never verified", per owner too.
        Index("ix_contacts_archived_verified", "is_archived", "last_verified_at", "id"),
        Index("ix_contacts_owner_verified", "owner_id", "last_verified_at"),
        # The review queue's "customers gone quiet".
        Index("ix_contacts_stage_last_interaction", "stage", "last_interaction_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(100), default="")
    last_name: Mapped[str] = mapped_column(String(100), default="")
    middle_name: Mapped[str] = mapped_column(String(100), default="")
    company: Mapped[str] = mapped_column(String(200), default="")
    position: Mapped[str] = mapped_column(String(200), default="")
    industry: Mapped[str] = mapped_column(String(100), default="")
    city: Mapped[str] = mapped_column(String(100), default="")
    country: Mapped[str] = mapped_column(String(100), default="")
    address: Mapped[str] = mapped_column(String(500), default="")
    birth_date: Mapped[date | None] = mapped_column()
    gender: Mapped[str | None] = mapped_column(String(16))
    source: Mapped[str | None] = mapped_column(String(32))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    stage: Mapped[str] = mapped_column(String(32), default="potential")
    temperature: Mapped[str | None] = mapped_column(String(16))
    notes: Mapped[str] = mapped_column(Text, default="")
    custom: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    external_id: Mapped[str | None] = mapped_column(String(200))

    is_archived: Mapped[bool] = mapped_column(default=False)
    archived_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Optimistic locking: a save based on an older version is a conflict, never an overwrite.
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}
    # Case-folded copies, so sorting is case-insensitive in Cyrillic on SQLite too.
    sort_name: Mapped[str] = mapped_column(String(400), default="")
    company_key: Mapped[str] = mapped_column(String(200), default="")

    # Chronicle summary, kept in step by crmlite/core/interactions.py with UPDATE statements
    # (not through the ORM, so they never bump `version` and never make an edit conflict).
    purchase_count: Mapped[int] = mapped_column(default=0)
    purchase_total_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    purchase_avg_minor: Mapped[int | None] = mapped_column(BigInteger)
    first_purchase_at: Mapped[datetime | None] = mapped_column()
    last_purchase_at: Mapped[datetime | None] = mapped_column()
    last_interaction_at: Mapped[datetime | None] = mapped_column()
    last_nps: Mapped[int | None] = mapped_column()

    # Data-cleanup reviews: when someone last confirmed this contact is right (None: never).
    last_verified_at: Mapped[datetime | None] = mapped_column()
    # Privacy erasure (core/privacy.py): anonymized in place, archived, never shown again.
    erased_at: Mapped[datetime | None] = mapped_column()

    emails: Mapped[list["ContactEmail"]] = relationship(
        back_populates="contact",
        cascade="all, delete-orphan",
        order_by="(ContactEmail.is_primary.desc(), ContactEmail.id)",
        passive_deletes=True,
    )
    phones: Mapped[list["ContactPhone"]] = relationship(
        back_populates="contact",
        cascade="all, delete-orphan",
        order_by="(ContactPhone.is_primary.desc(), ContactPhone.id)",
        passive_deletes=True,
    )
    tags: Mapped[list[Tag]] = relationship(
        secondary=contact_tags, order_by=Tag.name_key, passive_deletes=True
    )
    owner = relationship("User", foreign_keys=[owner_id])

    @property
    def full_name(self) -> str:
        parts = [self.last_name, self.first_name, self.middle_name]
        return " ".join(p for p in parts if p) or (self.company or f"#{self.id}")

    @property
    def primary_email(self) -> "ContactEmail | None":
        return self.emails[0] if self.emails else None

    @property
    def primary_phone(self) -> "ContactPhone | None":
        return self.phones[0] if self.phones else None


class ContactEmail(db.Model):
    __tablename__ = "contact_emails"
    __table_args__ = (
        Index("ix_contact_emails_email", "email"),
        Index("ix_contact_emails_valid", "is_valid", "contact_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(254))  # normalized: lower-case domain
    label: Mapped[str] = mapped_column(String(32), default="work")
    is_primary: Mapped[bool] = mapped_column(default=False)
    # False when the address fails today's check (kept, not dropped: the review queue lists it).
    is_valid: Mapped[bool] = mapped_column(default=True, server_default=true())

    contact: Mapped[Contact] = relationship(back_populates="emails")


class ContactPhone(db.Model):
    __tablename__ = "contact_phones"
    __table_args__ = (
        Index("ix_contact_phones_e164", "e164"),
        Index("ix_contact_phones_valid", "is_valid", "contact_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), index=True
    )
    e164: Mapped[str] = mapped_column(String(32))
    label: Mapped[str] = mapped_column(String(32), default="mobile")
    is_primary: Mapped[bool] = mapped_column(default=False)
    # False when the number is not a valid number for its region (see ContactEmail.is_valid).
    is_valid: Mapped[bool] = mapped_column(default=True, server_default=true())

    contact: Mapped[Contact] = relationship(back_populates="phones")


class SearchToken(db.Model):
    """Case-folded words of a contact (names, company, emails, phone digits).

    Search is a prefix range scan on (token) per query word: it uses a b-tree index on
    SQLite and PostgreSQL alike, and folds Cyrillic case in Python, not in SQL.
    """

    __tablename__ = "search_tokens"
    __table_args__ = (
        # A common word's first page by name comes from this index alone: the matching
        # (sort_name, contact_id) pairs are sorted without reading a contact row.
        Index("ix_search_tokens_token_sort_name", "token", "sort_name", "contact_id"),
        # A pure key table: without a rowid SQLite keeps one b-tree less (faster bulk loads).
        {"sqlite_with_rowid": False},
    )

    contact_id: Mapped[int] = mapped_column(
        ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True
    )
    # Byte order on PostgreSQL, as on SQLite, so a prefix is one contiguous index range.
    token: Mapped[str] = mapped_column(
        String(254).with_variant(String(254, collation="C"), "postgresql"), primary_key=True
    )
    # A copy of Contact.sort_name, kept in step by core.contacts.refresh_tokens.
    sort_name: Mapped[str] = mapped_column(String(400), default="")
