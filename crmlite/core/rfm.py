"""RFM: recency, frequency and monetary value (average check), each scored 1-5 over buyers.

The scores are quintiles, computed by the database: one NTILE(5) window query over the
buyers (contacts with at least one purchase, not archived) gives the upper bound of
quintiles 1-4 for last_purchase_at, purchase_count and purchase_avg_minor. A score is then
a range condition on the contact's summary column,

    score s  <=>  value > upper[s-1]  and  value <= upper[s]     (no bound past 1 and 5)

so an RFM cell is an indexable condition, and the count shown in a cell is exactly the list
its link opens. Equal values always get the same score: when a fifth of buyers or more made
one purchase, quintiles 1 and 2 of frequency share the upper bound 1, everyone with one
purchase scores F1 and F2 stays empty. R5 is the most recent, F5 the most purchases, M5 the
highest average check.

The cut points are cached per database: for CACHE_SECONDS they are reused as they are (so
the grid, its counts and the list a cell opens use the same bounds and no request pays for
the window query); after that one cheap query checks whether the buyers changed (their
number, latest purchase, largest total) and the window query runs again only if they did.
A new purchase therefore moves a contact between cells within about a minute.
"""

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, false, func, literal, or_, select, true
from sqlalchemy.orm import Session

from ..models import Contact
from .i18n import _

SCORES = (1, 2, 3, 4, 5)

# Classic RFM groups over the R x F grid: (r_from, r_to, f_from, f_to) rectangles.
GROUPS: dict[str, list[tuple[int, int, int, int]]] = {
    "champions": [(5, 5, 4, 5)],
    "loyal": [(3, 4, 4, 5)],
    "potential_loyalists": [(4, 5, 2, 3)],
    "new_customers": [(5, 5, 1, 1)],
    "promising": [(4, 4, 1, 1)],
    "need_attention": [(3, 3, 3, 3)],
    "about_to_sleep": [(3, 3, 1, 2)],
    "at_risk": [(1, 2, 3, 4)],
    "cant_lose": [(1, 2, 5, 5)],
    "hibernating": [(2, 2, 1, 2), (1, 1, 2, 2)],
    "lost": [(1, 1, 1, 1)],
}


def group_labels() -> dict[str, str]:
    return {
        "champions": _("Champions"),
        "loyal": _("Loyal"),
        "potential_loyalists": _("Potential loyalists"),
        "new_customers": _("New customers"),
        "promising": _("Promising"),
        "need_attention": _("Need attention"),
        "about_to_sleep": _("About to sleep"),
        "at_risk": _("At risk"),
        "cant_lose": _("Can't lose them"),
        "hibernating": _("Hibernating"),
        "lost": _("Lost"),
    }


def group_of(r: int, f: int) -> str:
    for key, rects in GROUPS.items():
        if any(r1 <= r <= r2 and f1 <= f <= f2 for r1, r2, f1, f2 in rects):
            return key
    raise ValueError(f"no RFM group for R{r} F{f}")  # GROUPS covers all 25 cells


@dataclass(frozen=True)
class CutPoints:
    """Upper bounds of quintiles 1-4 per dimension (empty when there are no buyers)."""

    recency: tuple[Any, ...] = ()
    frequency: tuple[Any, ...] = ()
    monetary: tuple[Any, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.recency


def buyers():
    return and_(~Contact.is_archived, Contact.purchase_count > 0)


def monetary_column():
    # A purchase without an amount leaves the average empty: it counts as 0.
    return func.coalesce(Contact.purchase_avg_minor, 0)


def _columns():
    return {
        "recency": Contact.last_purchase_at,
        "frequency": Contact.purchase_count,
        "monetary": monetary_column(),
    }


# database url -> (fingerprint, cut points, checked at: time.monotonic())
_cache: "OrderedDict[str, tuple[tuple, CutPoints, float]]" = OrderedDict()
CACHE_SIZE = 8
CACHE_SECONDS = 60.0


def clear_cache() -> None:
    _cache.clear()


def _fingerprint(session: Session) -> tuple:
    row = session.execute(
        select(
            func.count(),
            func.max(Contact.last_purchase_at),
            func.max(Contact.purchase_total_minor),
        ).where(buyers())
    ).one()
    return tuple(row)


def compute_cut_points(session: Session) -> CutPoints:
    """One window query: NTILE(5) over buyers for each dimension, max value of tiles 1-4."""
    columns = _columns()
    inner = select(
        *[col.label(name) for name, col in columns.items()],
        *[func.ntile(5).over(order_by=col).label(name + "_tile") for name, col in columns.items()],
    ).where(buyers())
    sub = inner.subquery()
    aggregates = []
    for name, col in columns.items():
        for tile in (1, 2, 3, 4):
            value = case((sub.c[name + "_tile"] == tile, sub.c[name]), else_=None)
            aggregates.append(func.max(value, type_=col.type).label(f"{name}_{tile}"))
    row = session.execute(select(*aggregates)).one()
    if row[0] is None and row[3] is None:
        return CutPoints()
    values = list(row)
    return CutPoints(
        recency=tuple(values[0:4]), frequency=tuple(values[4:8]), monetary=tuple(values[8:12])
    )


def cut_points(session: Session) -> CutPoints:
    """The cut points of the buyers now (see the module docstring for the cache)."""
    url = str(session.get_bind().url)
    now = time.monotonic()
    cached = _cache.get(url)
    if cached and now - cached[2] < CACHE_SECONDS:
        return cached[1]
    fingerprint = _fingerprint(session)
    if cached and cached[0] == fingerprint:
        found = cached[1]
    else:
        found = compute_cut_points(session) if fingerprint[0] else CutPoints()
    _cache[url] = (fingerprint, found, now)
    _cache.move_to_end(url)
    while len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)
    return found


def _fill(bounds: tuple[Any, ...]) -> list[Any]:
    # With fewer than 5 buyers some tiles are missing: carry the previous bound on.
    out, last = [], None
    for value in bounds:
        last = value if value is not None else last
        out.append(last)
    return out


def range_condition(column, bounds: tuple[Any, ...], low: int, high: int):
    """Scores low..high (1-5) of this dimension as a condition on its column."""
    upper = _fill(bounds)
    parts = []
    if low > 1 and upper[low - 2] is not None:
        parts.append(column > upper[low - 2])
    if high < 5 and upper[high - 1] is not None:
        parts.append(column <= upper[high - 1])
    elif high < 5:
        return false()
    return and_(*parts) if parts else true()


def score_expression(column, bounds: tuple[Any, ...]):
    """CASE giving the 1-5 score of the column's value."""
    upper = _fill(bounds)
    whens = [
        (column <= bound, score)
        for score, bound in zip(SCORES[:4], upper, strict=True)
        if bound is not None
    ]
    return case(*whens, else_=5) if whens else literal(5)


def scores_condition(cuts: CutPoints, r: int | None, f: int | None, m: int | None = None):
    """Buyers with these scores (None: any) — an RFM cell."""
    if cuts.empty:
        return false()
    cols = _columns()
    parts = [buyers()]
    for score, column, bounds in (
        (r, cols["recency"], cuts.recency),
        (f, cols["frequency"], cuts.frequency),
        (m, cols["monetary"], cuts.monetary),
    ):
        if score:
            parts.append(range_condition(column, bounds, score, score))
    return and_(*parts)


def group_condition(cuts: CutPoints, group: str):
    if cuts.empty or group not in GROUPS:
        return false()
    cols = _columns()
    return and_(
        buyers(),
        or_(
            *[
                and_(
                    range_condition(cols["recency"], cuts.recency, r1, r2),
                    range_condition(cols["frequency"], cuts.frequency, f1, f2),
                )
                for r1, r2, f1, f2 in GROUPS[group]
            ]
        ),
    )


def grid(session: Session) -> dict[tuple[int, int], int]:
    """(r, f) -> number of buyers, every one of the 25 cells present; one GROUP BY query."""
    counts = {(r, f): 0 for r in SCORES for f in SCORES}
    cuts = cut_points(session)
    if cuts.empty:
        return counts
    cols = _columns()
    r_score = score_expression(cols["recency"], cuts.recency).label("r")
    f_score = score_expression(cols["frequency"], cuts.frequency).label("f")
    stmt = select(r_score, f_score, func.count()).where(buyers()).group_by(r_score, f_score)
    for r, f, n in session.execute(stmt):
        counts[(int(r), int(f))] = n
    return counts


def group_counts(cells: dict[tuple[int, int], int]) -> dict[str, int]:
    totals = dict.fromkeys(GROUPS, 0)
    for (r, f), n in cells.items():
        totals[group_of(r, f)] += n
    return totals


def heat_levels(cells: dict[tuple[int, int], int]) -> dict[tuple[int, int], int]:
    """0 for an empty cell, else 1-5 by the quintile of its count among non-empty cells."""
    filled = sorted(n for n in cells.values() if n)
    levels = {}
    for key, n in cells.items():
        if not n:
            levels[key] = 0
            continue
        below = sum(1 for other in filled if other < n)
        levels[key] = 1 + min(4, below * 5 // len(filled))
    return levels
