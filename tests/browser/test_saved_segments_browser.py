"""The saved-segment builder in a real browser: choosing a field swaps in its operators and
value input, the count follows the rules, and the saved segment opens as the contact list.
Also the builder's screenshot for docs/segments.md (docs/images/ only with
CRMLITE_UPDATE_SCREENSHOTS=1, like tests/browser/test_screenshots.py)."""

from datetime import datetime

import pytest
from playwright.sync_api import expect

from crmlite.core import contacts as contacts_core
from crmlite.core import interactions
from crmlite.extensions import db
from crmlite.models import Interaction, SavedSegment
from tests.conftest import PASSWORD

from .conftest import login

pytestmark = pytest.mark.browser


PEOPLE = [
    # (fields, purchases in roubles)
    ({"first_name": "Анна", "last_name": "Петрова", "city": "Москва"}, [1200, 800]),
    ({"first_name": "Сергей", "last_name": "Иванов", "city": "москва"}, []),
    ({"first_name": "John", "last_name": "Smith", "city": "London"}, [5000, 700, 300, 90]),
    ({"first_name": "Emily", "last_name": "Clark", "city": "Berlin"}, []),
]


@pytest.fixture
def buyers(app, users):
    with app.app_context():
        ids = []
        for fields, amounts in PEOPLE:
            contact = contacts_core.create_contact(
                db.session, contacts_core.validate(fields), users["editor"]
            )
            ids.append(contact.id)
            for day, amount in enumerate(amounts, 1):
                db.session.add(
                    Interaction(
                        contact_id=contact.id,
                        kind="purchase",
                        amount_minor=amount * 100,
                        occurred_at=datetime(2026, 3, day),
                    )
                )
        db.session.flush()
        interactions.refresh_stats(db.session, ids)
        db.session.commit()
        db.session.remove()


def test_build_save_and_open_a_segment(page, app, buyers, shots):
    page.set_viewport_size({"width": 1280, "height": 800})
    login(page, "editor@example.com", PASSWORD)
    page.get_by_role("link", name="Segments", exact=True).click()
    expect(page.locator("#saved-segments")).to_contain_text("No saved segments yet")
    page.get_by_role("button", name="New segment").click()
    expect(page.get_by_role("heading", name="New segment")).to_be_visible()

    # First rule: the city. Choosing the field swaps in text operators and a text input.
    first = page.locator("#rule-0")
    first.get_by_label("Field").select_option(label="City")
    expect(first).to_have_attribute("data-field", "city")  # the row came back for the city
    expect(first.get_by_label("Condition")).to_have_value("contains")
    first.get_by_label("Value").fill("МОСКВА")
    count = page.locator("#match-count")
    expect(count).to_have_text("2 contacts match")

    # Second rule: purchases. A number input and = < > replace the text ones.
    page.get_by_role("button", name="Add a rule").click()
    second = page.locator("#rule-1")
    expect(second).to_be_visible()
    second.get_by_label("Field").select_option(label="Number of purchases")
    expect(second).to_have_attribute("data-field", "purchase_count")
    expect(second.get_by_label("Value")).to_have_attribute("type", "number")
    expect(second.get_by_label("Condition").locator("option")).to_have_text(["=", "<", ">"])
    second.get_by_label("Condition").select_option(label=">")
    expect(second).to_have_attribute("data-op", "gt")
    second.get_by_label("Value").fill("0")
    expect(count).to_have_text("1 contact matches")  # Москва AND bought: Анна
    page.get_by_label("any of the rules (OR)").check()
    expect(count).to_have_text("3 contacts match")  # Москва OR bought: Анна, Сергей, John
    page.get_by_label("all of the rules (AND)").check()
    expect(count).to_have_text("1 contact matches")

    page.get_by_label("Share with the team").check()
    page.get_by_label("Name", exact=True).fill("Москвичи с покупками")
    expect(page.get_by_label("Share with the team")).to_be_checked()
    page.screenshot(path=str(shots / "saved-segment-builder.png"))

    # Saved: it opens as the standard contact list, with its name and an Edit link.
    page.get_by_role("button", name="Save segment").click()
    expect(page.locator(".saved-segment-banner")).to_contain_text("Москвичи с покупками")
    rows = page.locator("#contact-rows tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Петрова Анна")
    expect(page.locator("#contact-count")).to_have_text("1 contact")
    with app.app_context():
        seg = db.session.query(SavedSegment).one()
        assert (seg.shared, seg.definition["match"], len(seg.definition["rules"])) == (
            True,
            "all",
            2,
        )

    # Edit: remove the purchase rule; the count follows at once.
    page.locator(".saved-segment-banner").get_by_role("link", name="Edit").click()
    expect(page.locator("#rule-1")).to_be_visible()
    expect(count).to_have_text("1 contact matches")
    page.locator("#rule-1").get_by_role("button", name="Remove this rule").click()
    expect(page.locator("#rule-1")).to_have_count(0)
    expect(count).to_have_text("2 contacts match")

    # The segments page lists it with its lazy count.
    page.goto("/segments")
    row = page.locator("#saved-segments tr", has_text="Москвичи с покупками")
    row.scroll_into_view_if_needed()  # counts load as rows come into view
    expect(row.locator(".segment-count")).to_have_text("1 contact")
    expect(row).to_contain_text("Shared")
    assert (shots / "saved-segment-builder.png").stat().st_size > 10_000
