"""The chronicle: interactions of a contact (notes, calls, purchases, feedback...).

Each contact carries a summary of its chronicle (purchase count, total, average check,
first and last purchase, last interaction, latest NPS) so that segments over a million
contacts read one table. refresh_stats() recomputes it from the interactions, set-based,
and must be called (before commit) for every contact whose interactions changed.
"""

from collections.abc import Iterable

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from ..models import Contact, Interaction

PURCHASE = "purchase"
FEEDBACK = "feedback"
# Kinds that are not "contact with the customer" for "days since last contact".
NOT_CONTACT = ("system",)
CHUNK = 500


def _stats_values(contact_id_col):
    """Correlated subqueries computing each summary column of one contact."""
    purchases = and_(Interaction.contact_id == contact_id_col, Interaction.kind == PURCHASE)
    count = select(func.count()).where(purchases).scalar_subquery()
    total = select(func.coalesce(func.sum(Interaction.amount_minor), 0)).where(purchases)
    return {
        "purchase_count": count,
        "purchase_total_minor": total.scalar_subquery(),
        "purchase_avg_minor": select(func.avg(Interaction.amount_minor))
        .where(purchases)
        .scalar_subquery(),
        "first_purchase_at": select(func.min(Interaction.occurred_at))
        .where(purchases)
        .scalar_subquery(),
        "last_purchase_at": select(func.max(Interaction.occurred_at))
        .where(purchases)
        .scalar_subquery(),
        "last_interaction_at": select(func.max(Interaction.occurred_at))
        .where(Interaction.contact_id == contact_id_col, Interaction.kind.not_in(NOT_CONTACT))
        .scalar_subquery(),
        "last_nps": select(Interaction.score)
        .where(
            Interaction.contact_id == contact_id_col,
            Interaction.kind == FEEDBACK,
            Interaction.score.is_not(None),
        )
        .order_by(Interaction.occurred_at.desc(), Interaction.id.desc())
        .limit(1)
        .scalar_subquery(),
    }


def refresh_stats(session: Session, contact_ids: Iterable[int] | None = None) -> None:
    """Recompute the chronicle summary of these contacts (all contacts when None).

    An UPDATE statement, not the ORM: it never bumps Contact.version, so adding a purchase
    does not turn someone's open edit form into a conflict."""
    values = _stats_values(Contact.id)
    # avg() returns a float or Decimal; the column holds whole minor units.
    values["purchase_avg_minor"] = func.round(values["purchase_avg_minor"])
    if contact_ids is None:
        session.execute(
            update(Contact).values(**values), execution_options={"synchronize_session": False}
        )
        return
    ids = sorted(set(contact_ids))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        session.execute(
            update(Contact).where(Contact.id.in_(chunk)).values(**values),
            execution_options={"synchronize_session": False},
        )
