"""crmlite plugin: the segment "birthday in the next N days" (hook register_segments)."""

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, extract, or_
from sqlalchemy.sql.elements import ColumnElement

from crmlite import hookimpl
from crmlite.models import Contact
from crmlite.plugins import SettingField

__version__ = "0.1.0"

DEFAULT_DAYS = 14
MAX_DAYS = 366


def month_day(column: Any) -> ColumnElement[int]:
    """month * 100 + day of a date column, on any dialect: SQLAlchemy's extract() is
    EXTRACT(...) on PostgreSQL and CAST(strftime(...) AS INTEGER) on SQLite."""
    return extract("month", column) * 100 + extract("day", column)


def _md(day: date) -> int:
    return day.month * 100 + day.day


def _days(params: dict | None) -> int:
    raw = (params or {}).get("days", DEFAULT_DAYS)
    try:
        days = int(raw)
    except (TypeError, ValueError):
        raise ValueError(f"days must be a whole number, not {raw!r}") from None
    # Past the ends the meaning is plain: below 0 is "today", a year or more is "everyone".
    return min(max(days, 0), MAX_DAYS)


def birthday_condition(params: dict | None, today: date) -> ColumnElement[bool]:
    """Contacts whose birthday falls between today and today + days, both included.

    Compares month*100+day, so the year of birth does not matter; when the window crosses
    New Year (25 Dec + 14 days) it is two ranges: from 25 Dec to the year's end, and from
    1 Jan to 8 Jan. A 29 February birthday falls between 28 February and 1 March.
    """
    days = _days(params)
    if days >= 365:
        return Contact.birth_date.is_not(None)
    start, end = _md(today), _md(today + timedelta(days=days))
    md = month_day(Contact.birth_date)
    if start <= end:
        return and_(Contact.birth_date.is_not(None), md.between(start, end))
    return and_(Contact.birth_date.is_not(None), or_(md >= start, md <= end))


@dataclass
class BirthdaySegment:
    key: str = "birthdays"
    label: str = "Birthday in the next N days"
    description: str = "Contacts whose birthday is today or within the next N days."
    params: list[SettingField] = field(
        default_factory=lambda: [SettingField("days", "Days ahead", "int", DEFAULT_DAYS)]
    )

    def condition(self, params: dict | None, today: date | None = None) -> ColumnElement[bool]:
        """Raises ValueError when days is not a whole number."""
        return birthday_condition(params, today or date.today())


@hookimpl
def register_segments() -> list[Any]:
    return [BirthdaySegment()]
