"""after_change(): summary refreshed, first purchase moves a potential contact to customer."""

from datetime import datetime

from crmlite.core import interactions
from crmlite.extensions import db
from crmlite.models import Contact, ContactHistory, Interaction


def test_first_purchase_promotes_potential_to_customer_once(app, users):
    with app.app_context():
        anna = Contact(first_name="Anna", stage="potential")
        boris = Contact(first_name="Boris", stage="potential")
        vera = Contact(first_name="Vera", stage="former")
        db.session.add_all([anna, boris, vera])
        db.session.flush()
        for c in (anna, vera):
            db.session.add(
                Interaction(
                    contact_id=c.id,
                    kind="purchase",
                    amount_minor=5000,
                    occurred_at=datetime(2026, 1, 5),
                )
            )
        db.session.add(Interaction(contact_id=boris.id, kind="note", text="hi"))
        db.session.flush()
        ids = [anna.id, boris.id, vera.id]
        interactions.after_change(db.session, ids, users["editor"])
        db.session.commit()
        # Twice: nothing more happens.
        interactions.after_change(db.session, ids)
        db.session.commit()
        db.session.expire_all()
        anna, boris, vera = (db.session.get(Contact, i) for i in ids)
        assert (anna.stage, anna.version, anna.purchase_count) == ("customer", 2, 1)
        assert (boris.stage, boris.version) == ("potential", 1)
        assert (vera.stage, vera.version) == ("former", 1)  # only potential ones move
        rows = db.session.query(ContactHistory).filter_by(contact_id=anna.id).all()
        assert [(r.action, r.changes, r.version, r.user_id) for r in rows] == [
            ("update", {"stage": ["potential", "customer"]}, 2, users["editor"])
        ]
