"""The dashboard's figures: contacts per lifecycle segment (one pass over contacts), new
contacts and purchases per month for the last 12 months (one GROUP BY each)."""

from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from ..builtin.lifecycle_segments import LIFECYCLE_KEYS, current_conditions
from ..models import Contact, Interaction
from .interactions import PURCHASE

MONTHS = 12


def segment_counts(session: Session, today: date) -> dict[str, int]:
    """key -> contacts (not archived) for the lifecycle segments, VIP and "all", computed in
    one SQL pass: SUM(CASE WHEN <condition> THEN 1 ELSE 0 END) per segment."""
    conditions = current_conditions(session, today)
    keys = [*LIFECYCLE_KEYS, "vip"]
    sums = [
        func.coalesce(func.sum(case((conditions[key], 1), else_=0)), 0).label(key) for key in keys
    ]
    row = session.execute(
        select(func.count().label("all"), *sums).select_from(Contact).where(~Contact.is_archived)
    ).one()
    return {"all": row[0], **{key: int(value) for key, value in zip(keys, row[1:], strict=True)}}


def months(today: date, count: int = MONTHS) -> list[str]:
    """'YYYY-MM' of the last `count` months, oldest first, this month last."""
    year, month = today.year, today.month
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out[::-1]


def _first_day(key: str) -> datetime:
    year, month = key.split("-")
    return datetime.combine(date(int(year), int(month), 1), time.min)


def _month_key(session: Session, column):
    """'YYYY-MM' of a timestamp column, on SQLite and PostgreSQL."""
    if session.get_bind().dialect.name == "sqlite":
        return func.strftime("%Y-%m", column)
    return func.to_char(column, "YYYY-MM")


@dataclass
class MonthFigure:
    month: str  # YYYY-MM
    count: int = 0
    amount_minor: int = 0


def new_contacts_per_month(session: Session, today: date) -> list[MonthFigure]:
    keys = months(today)
    month = _month_key(session, Contact.created_at).label("month")
    stmt = (
        select(month, func.count())
        .where(~Contact.is_archived, Contact.created_at >= _first_day(keys[0]))
        .group_by(month)
    )
    found = {m: n for m, n in session.execute(stmt)}
    return [MonthFigure(m, found.get(m, 0)) for m in keys]


def purchases_per_month(session: Session, today: date) -> list[MonthFigure]:
    """Purchases (count and sum in minor units) per month, read along
    ix_interactions_kind_occurred."""
    keys = months(today)
    month = _month_key(session, Interaction.occurred_at).label("month")
    total = func.coalesce(func.sum(Interaction.amount_minor), 0)
    stmt = (
        select(month, func.count(), total)
        .where(Interaction.kind == PURCHASE, Interaction.occurred_at >= _first_day(keys[0]))
        .group_by(month)
    )
    found = {m: (n, int(s or 0)) for m, n, s in session.execute(stmt)}
    return [MonthFigure(m, *found.get(m, (0, 0))) for m in keys]
