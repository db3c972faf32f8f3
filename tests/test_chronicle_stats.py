"""The chronicle summary kept on each contact (core.interactions.refresh_stats)."""

from datetime import datetime

from crmlite.core import interactions
from crmlite.extensions import db
from crmlite.models import Contact, Interaction


def test_summary_follows_purchases_and_feedback(app):
    with app.app_context():
        anna, boris = Contact(first_name="Anna"), Contact(first_name="Boris")
        db.session.add_all([anna, boris])
        db.session.flush()
        db.session.add_all(
            [
                Interaction(
                    contact_id=anna.id,
                    kind="purchase",
                    amount_minor=100_00,
                    occurred_at=datetime(2026, 1, 5),
                ),
                Interaction(
                    contact_id=anna.id,
                    kind="purchase",
                    amount_minor=251_00,
                    occurred_at=datetime(2026, 3, 1),
                ),
                Interaction(
                    contact_id=anna.id, kind="feedback", score=9, occurred_at=datetime(2026, 3, 2)
                ),
                Interaction(contact_id=anna.id, kind="system", occurred_at=datetime(2026, 4, 1)),
            ]
        )
        interactions.refresh_stats(db.session, [anna.id, boris.id])
        db.session.commit()
        db.session.expire_all()
        anna, boris = db.session.get(Contact, anna.id), db.session.get(Contact, boris.id)
        assert (anna.purchase_count, anna.purchase_total_minor, anna.purchase_avg_minor) == (
            2,
            351_00,
            175_50,
        )
        assert (anna.first_purchase_at, anna.last_purchase_at) == (
            datetime(2026, 1, 5),
            datetime(2026, 3, 1),
        )
        assert (anna.last_interaction_at, anna.last_nps) == (datetime(2026, 3, 2), 9)
        assert anna.version == 1  # the summary never makes an open edit form conflict
        assert (boris.purchase_count, boris.purchase_total_minor, boris.last_purchase_at) == (
            0,
            0,
            None,
        )
