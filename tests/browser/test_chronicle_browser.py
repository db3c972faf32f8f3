"""The chronicle in a real browser: the add form opens in place, a call saved lands on top
of the timeline and the summary follows without a reload; deleting it takes it away. Also
the chronicle's screenshot for docs/chronicle.md (docs/images/ only with
CRMLITE_UPDATE_SCREENSHOTS=1)."""

from datetime import datetime

import pytest
from playwright.sync_api import expect

from crmlite.core import contacts, interactions
from crmlite.extensions import db
from crmlite.models import Interaction
from tests.conftest import PASSWORD

from .conftest import login

pytestmark = pytest.mark.browser


def test_add_a_call_in_place_and_delete_it(page, app, users, shots):
    with app.app_context():
        clean = contacts.validate({"first_name": "Вера", "last_name": "Соколова"}, region="RU")
        contact_id = contacts.create_contact(db.session, clean, users["editor"]).id
        db.session.add_all(
            [
                Interaction(
                    contact_id=contact_id,
                    kind="purchase",
                    amount_minor=4_990_00,
                    currency="RUB",
                    text="Кресло «Уют»",
                    occurred_at=datetime(2026, 3, 14),
                    author_id=users["editor"],
                ),
                Interaction(
                    contact_id=contact_id,
                    kind="feedback",
                    score=9,
                    text="Быстрая доставка",
                    occurred_at=datetime(2026, 3, 20),
                    author_id=users["editor"],
                ),
            ]
        )
        db.session.flush()
        interactions.after_change(db.session, [contact_id], users["editor"])
        db.session.commit()
    page.set_viewport_size({"width": 1280, "height": 1000})
    login(page, "editor@example.com", PASSWORD)
    page.goto(f"/contacts/{contact_id}")
    page.evaluate("window.notReloaded = true")
    summary = page.locator("#chronicle-summary")
    expect(summary.locator('[data-figure="purchase_count"]')).to_have_text("1")
    expect(summary.locator('[data-figure="nps"]')).to_have_text("9")

    timeline = page.locator("#timeline")
    timeline.get_by_role("button", name="+ Call").click()
    text = timeline.get_by_label("What was said")
    expect(text).to_be_focused()
    text.fill("Перезвонить в пятницу насчёт дивана")
    timeline.get_by_role("button", name="Save").click()

    first = timeline.locator(".timeline-list > li").first
    expect(first).to_contain_text("Editor logged a call")
    expect(first).to_contain_text("Перезвонить в пятницу насчёт дивана")
    expect(timeline.locator("form")).to_have_count(0)  # the form closed
    expect(summary.locator('[data-figure="days_since_contact"]')).to_have_text("0")
    page.screenshot(path=str(shots / "chronicle.png"))

    # A bad amount comes back in place with its message; nothing is added.
    timeline.get_by_role("button", name="+ Purchase").click()
    timeline.get_by_label("Amount").fill("дорого")
    timeline.get_by_role("button", name="Save").click()
    expect(timeline).to_contain_text("Enter an amount like 1 234,50 or 1234.50.")
    timeline.get_by_role("button", name="Cancel").click()
    expect(timeline.locator("form")).to_have_count(0)

    page.once("dialog", lambda dialog: dialog.accept())
    first.get_by_role("button", name="Delete").click()
    expect(timeline.locator(".interaction-entry.kind-call")).to_have_count(0)
    expect(timeline.locator(".timeline-list > li").first).to_contain_text(
        "Editor deleted a chronicle entry"
    )
    # The history keeps what was deleted.
    expect(timeline.locator(".history-entry").first).to_contain_text(
        "Text: Перезвонить в пятницу насчёт дивана → —"
    )
    expect(summary.locator('[data-figure="purchase_count"]')).to_have_text("1")
    assert page.evaluate("window.notReloaded") is True  # all of it without a reload
    with app.app_context():
        kinds = [i.kind for i in db.session.query(Interaction).filter_by(contact_id=contact_id)]
        assert sorted(kinds) == ["feedback", "purchase"]
