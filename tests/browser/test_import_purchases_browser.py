"""Importing purchases in a real browser: upload with "Purchases" chosen, the columns page,
the dry run, the import, and the contact promoted to customer with the purchase in its
chronicle."""

import pytest
from playwright.sync_api import expect

from crmlite.core.contacts import create_contact, validate
from crmlite.extensions import db
from tests.conftest import PASSWORD

from .conftest import login

pytestmark = pytest.mark.browser

ORDERS = (
    "Order ID,Order date,Email,Items,Total\n"
    'B-1,2026-01-15,buyer@shop.ru,Coffee grinder,"4 990,00"\n'
    "B-2,2026-01-16,stranger@shop.ru,Tea,300\n"
)


def test_purchases_upload_dry_run_import(page, app, users, tmp_path):
    with app.app_context():
        contact = create_contact(
            db.session,
            validate({"first_name": "Buyer", "emails": ["buyer@shop.ru"]}, "RU", []),
            None,
        )
        db.session.commit()
        contact_id = contact.id
        db.session.remove()
    path = tmp_path / "orders.csv"
    path.write_text(ORDERS, encoding="utf-8")

    login(page, "editor@example.com", PASSWORD)
    page.goto("/imports/")
    page.get_by_label("Purchases").check()
    page.locator("input[type=file]").set_input_files(str(path))
    page.get_by_role("button", name="Upload").click()

    # Recognised columns are chosen already.
    expect(page.get_by_label("Total")).to_have_value("amount")
    expect(page.get_by_label("Order ID")).to_have_value("order")
    page.get_by_role("button", name="Check the file (dry run)").click()

    status = page.locator("#import-status")
    expect(status).to_contain_text("purchases to add: 1")
    expect(status).to_contain_text("add purchase for Buyer: 4 990.00 RUB, 15.01.2026")
    expect(status).to_contain_text("no contact found (tried e-mail stranger@shop.ru)")
    status.get_by_role("button", name="Import", exact=True).click()
    expect(status).to_contain_text("purchases added: 1")
    expect(status).to_contain_text("rejected: 1")

    page.goto(f"/contacts/{contact_id}")
    expect(page.get_by_text("Coffee grinder")).to_be_visible()
    with app.app_context():
        from crmlite.models import Contact

        assert db.session.get(Contact, contact_id).stage == "customer"
        db.session.remove()
