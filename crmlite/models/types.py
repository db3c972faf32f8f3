"""Column helpers shared by the models."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    # Naive UTC everywhere: SQLite has no time zones, and mixing aware and naive breaks compares.
    return datetime.now(UTC).replace(tzinfo=None)
