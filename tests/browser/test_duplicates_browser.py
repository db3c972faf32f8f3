"""Duplicate review in a real browser: "Not duplicates" removes a row without a reload, and
the merge screen keeps the chosen values and both phones, then Undo brings both contacts
back. Screenshots for docs/duplicates.md (docs/images/ with CRMLITE_UPDATE_SCREENSHOTS=1)."""

import pytest
from playwright.sync_api import expect
from sqlalchemy import delete

from crmlite.core import contacts
from crmlite.extensions import db
from crmlite.models import Contact, DuplicatePair
from tests.conftest import PASSWORD

from .conftest import login

pytestmark = pytest.mark.browser


def make(user_id, **raw):
    return contacts.create_contact(db.session, contacts.validate(raw, region="RU"), user_id).id


@pytest.fixture
def queue(app, users):
    with app.app_context():
        uid = users["editor"]
        ivan = make(uid, first_name="Ivan", last_name="Ivanov", phones=["+79123456789"])
        ivan2 = make(
            uid,
            first_name="Иван",
            last_name="Иванов",
            company="Ромашка",
            phones=["+79123456789", "+79990001122"],
        )
        oleg = make(uid, first_name="Oleg", last_name="Popov", city="Kazan")
        olga = make(uid, first_name="Olga", last_name="Popova", city="Kazan")
        db.session.execute(delete(DuplicatePair))
        db.session.add_all(
            [
                DuplicatePair(
                    contact_a_id=ivan,
                    contact_b_id=ivan2,
                    score=96,
                    reasons=[
                        {"code": "same_phone", "value": "+79123456789"},
                        {"code": "name_transliteration"},
                    ],
                ),
                DuplicatePair(
                    contact_a_id=oleg,
                    contact_b_id=olga,
                    score=55,
                    reasons=[{"code": "similar_name"}, {"code": "same_city", "value": "Kazan"}],
                ),
            ]
        )
        db.session.commit()
        return {"ivan": ivan, "ivan2": ivan2, "oleg": oleg}


def test_dismiss_a_pair_without_reload(page, app, queue, shots):
    page.set_viewport_size({"width": 1280, "height": 800})
    login(page, "editor@example.com", PASSWORD)
    page.get_by_role("link", name="Duplicates").click()
    expect(page.locator("#open-pairs")).to_have_text("2 open pairs to review.")
    expect(page.locator("tbody tr").first).to_contain_text(
        "same phone +7 912 345-67-89; names match after transliteration"
    )
    page.screenshot(path=str(shots / "duplicates-queue.png"), full_page=True)
    page.evaluate("window.notReloaded = true")
    row = page.locator("tr.duplicate-pair", has_text="Popov")
    row.get_by_role("button", name="Not duplicates").click()
    expect(row).to_have_count(0)
    expect(page.locator("tr.duplicate-pair")).to_have_count(1)
    expect(page.locator("#open-pairs")).to_have_text("1 open pair to review.")
    assert page.evaluate("window.notReloaded") is True
    # Remembered: it does not come back.
    page.reload()
    expect(page.locator("#open-pairs")).to_have_text("1 open pair to review.")
    expect(page.get_by_text("Popov")).to_have_count(0)


def test_merge_pick_values_keep_both_phones_and_undo(page, app, queue, shots):
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, "editor@example.com", PASSWORD)
    page.goto("/duplicates/")
    row = page.locator("tr.duplicate-pair", has_text="Ivanov")
    row.get_by_role("link", name="Compare & merge").click()
    expect(page.get_by_role("heading", name="Compare & merge")).to_be_visible()
    # Keep the first contact, but the Cyrillic first name of the second.
    # The most complete contact is proposed; choosing the other one reloads its values.
    expect(page.locator(f'input[name="survivor"][value="{queue["ivan2"]}"]')).to_be_checked()
    expect(
        page.locator(f'input[name="choice_first_name"][value="{queue["ivan2"]}"]')
    ).to_be_checked()
    page.locator(f'input[name="survivor"][value="{queue["ivan"]}"]').check()
    expect(
        page.locator(f'input[name="choice_first_name"][value="{queue["ivan"]}"]')
    ).to_be_checked()
    # Its empty company still takes the other's value.
    expect(page.locator(f'input[name="choice_company"][value="{queue["ivan2"]}"]')).to_be_checked()
    page.locator(f'input[name="choice_first_name"][value="{queue["ivan2"]}"]').check()
    phones = page.locator('tr[data-field="phones"] input[type="checkbox"]')
    expect(phones).to_have_count(3)
    for i in range(3):
        expect(phones.nth(i)).to_be_checked()
    page.screenshot(path=str(shots / "duplicates-merge.png"), full_page=True)
    page.get_by_role("button", name="Merge", exact=True).click()

    page.wait_for_url(f"**/contacts/{queue['ivan']}")
    expect(page.locator("#flash")).to_contain_text("Merged 1 contact into this one.")
    expect(page.locator("#field-first_name")).to_have_text("Иван")
    expect(page.locator("#field-company")).to_contain_text("Ромашка")
    expect(page.locator("main")).to_contain_text("+7 999 000-11-22")
    with app.app_context():
        assert db.session.get(Contact, queue["ivan2"]) is None

    page.locator("#flash").get_by_role("button", name="Undo").click()
    expect(page.locator("#flash")).to_contain_text("Merge undone: 1 contact is back.")
    expect(page.locator("#field-first_name")).to_have_text("Ivan")
    expect(page.locator("#field-company")).not_to_contain_text("Ромашка")
    with app.app_context():
        back = db.session.get(Contact, queue["ivan2"])
        assert back is not None and back.first_name == "Иван"
        assert db.session.get(Contact, queue["ivan"]).first_name == "Ivan"
    page.goto(f"/contacts/{queue['ivan2']}")
    expect(page.locator("#field-company")).to_contain_text("Ромашка")
