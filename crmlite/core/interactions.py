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


SUMMARY_ATTRS = (
    "purchase_count",
    "purchase_total_minor",
    "purchase_avg_minor",
    "first_purchase_at",
    "last_purchase_at",
    "last_interaction_at",
    "last_nps",
)


def after_change(session: Session, contact_ids: Iterable[int], user_id: int | None = None) -> None:
    """Everything that follows a change to these contacts' interactions (call before commit).

    Recomputes the chronicle summary, then moves contacts still "potential" that now have a
    purchase to "customer": one UPDATE that bumps their version (an open edit form sees the
    change) and one history row each (user_id None reads as "crmlite")."""
    from ..models.types import utcnow
    from . import history

    ids = sorted(set(contact_ids))
    if not ids:
        return
    refresh_stats(session, ids)
    promoted: list[int] = []
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        found = list(
            session.scalars(
                select(Contact.id).where(
                    Contact.id.in_(chunk), Contact.stage == "potential", Contact.purchase_count > 0
                )
            )
        )
        if not found:
            continue
        session.execute(
            update(Contact)
            .where(Contact.id.in_(found))
            .values(stage="customer", version=Contact.version + 1, updated_at=utcnow()),
            execution_options={"synchronize_session": False},
        )
        history.record_bulk(session, found, user_id, "update", {"stage": ["potential", "customer"]})
        promoted.extend(found)
    # Contacts already loaded in this session must not keep the old figures or version.
    changed = set(ids)
    stale = set(promoted)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Contact) and obj.id in changed:
            attrs = list(SUMMARY_ATTRS)
            if obj.id in stale:
                attrs += ["stage", "version", "updated_at"]
            session.expire(obj, attrs)
