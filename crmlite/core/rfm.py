"""RFM: recency, frequency and monetary value (average check), each scored 1-5 over buyers.

The scores are quintiles of the buyers (contacts with at least one purchase, not archived),
computed by the database: the upper bound of NTILE(5) tiles 1-4 for last_purchase_at and
purchase_count is read by rank along their indexes (the row at the end of each tile, so the
same bounds NTILE gives, without sorting a million rows), and for purchase_avg_minor (no
index) by one NTILE(5) window query, run only when a list asks for an M score. A score is
then a range condition on the contact's summary column,

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
    """(buyers, latest purchase): one range of ix_contacts_purchases, no table reads."""
    row = session.execute(
        select(func.count(), func.max(Contact.last_purchase_at)).where(buyers())
    ).one()
    return tuple(row)


def tile_upper_ranks(n: int) -> list[int]:
    """0-based ranks of the last row of NTILE(5) tiles 1-4 over n rows (the first n % 5 tiles
    hold one row more, as NTILE makes them)."""
    base, extra = divmod(n, 5)
    ranks, end = [], 0
    for tile in (1, 2, 3, 4):
        end += base + (1 if tile <= extra else 0)
        ranks.append(end - 1)
    return ranks


def _values_at(session: Session, column, where, ranks: list[int]) -> tuple:
    """The column's value at each rank in ascending order, read along its index (OFFSET
    over index entries: the same bounds as NTILE(5) without sorting the table)."""
    out = []
    for rank in ranks:
        if rank < 0:
            out.append(None)
            continue
        stmt = (
            select(column)
            .where(~Contact.is_archived, where)
            .order_by(Contact.is_archived, column)
            .offset(rank)
            .limit(1)
        )
        out.append(session.scalar(stmt))
    return tuple(out)


def compute_cut_points(session: Session, buyers_count: int) -> CutPoints:
    """Recency and frequency bounds of NTILE(5) over buyers, read by rank along
    ix_contacts_last_purchase and ix_contacts_purchases (buyers are exactly the contacts with
    a last purchase)."""
    ranks = tile_upper_ranks(buyers_count)
    return CutPoints(
        recency=_values_at(
            session, Contact.last_purchase_at, Contact.last_purchase_at.is_not(None), ranks
        ),
        frequency=_values_at(session, Contact.purchase_count, Contact.purchase_count > 0, ranks),
    )


def compute_monetary(session: Session) -> tuple:
    """Average-check bounds: NTILE(5) over buyers in one window query (no index on the
    average, so it sorts; only computed when a list asks for an M score)."""
    column = monetary_column()
    sub = (
        select(column.label("m"), func.ntile(5).over(order_by=column).label("tile"))
        .where(buyers())
        .subquery()
    )
    aggregates = [
        func.max(case((sub.c.tile == tile, sub.c.m), else_=None)) for tile in (1, 2, 3, 4)
    ]
    return tuple(session.execute(select(*aggregates)).one())


def cut_points(session: Session, monetary: bool = False) -> CutPoints:
    """The cut points of the buyers now (see the module docstring for the cache); the
    average-check bounds only when `monetary`."""
    url = str(session.get_bind().url)
    now = time.monotonic()
    cached = _cache.get(url)
    if cached and now - cached[2] < CACHE_SECONDS:
        fingerprint, found, checked = cached
    else:
        fingerprint = _fingerprint(session)
        checked = now
        if cached and cached[0] == fingerprint:
            found = cached[1]
        else:
            found = compute_cut_points(session, fingerprint[0]) if fingerprint[0] else CutPoints()
    if monetary and not found.empty and not found.monetary:
        found = CutPoints(found.recency, found.frequency, compute_monetary(session))
    _cache[url] = (fingerprint, found, checked)
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
