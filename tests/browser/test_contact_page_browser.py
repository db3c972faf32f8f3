"""The contact page in a real browser: create, a one-click inline edit (Enter saves, Esc
cancels), the history panel refreshing, and adding (with autocomplete) and removing tags."""

import re

import pytest
from playwright.sync_api import expect

from crmlite.core import tags
from crmlite.extensions import db
from tests.conftest import PASSWORD

from .conftest import login

pytestmark = pytest.mark.browser


def test_create_then_edit_inline_and_tag(page, app, users):
    with app.app_context():
        tags.get_or_create(db.session, "Партнёр")
        db.session.commit()
    login(page, "editor@example.com", PASSWORD)

    page.goto("/contacts/new")
    page.get_by_label("First name").fill("Анна")
    page.get_by_label("Last name").fill("Иванова")
    page.locator('[name="emails-0-value"]').fill("anna@example.com")
    page.locator('[name="phones-0-value"]').fill("8 912 345-67-89")
    page.get_by_role("button", name="Create contact").click()
    expect(page).to_have_url(re.compile(r"/contacts/\d+$"))
    expect(page.get_by_role("heading", name="Иванова Анна")).to_be_visible()
    expect(page.get_by_text("+7 912 345-67-89")).to_be_visible()

    # Click the company, type, Enter: saved without a reload, history refreshed.
    page.evaluate("window.notReloaded = true")
    page.locator("#field-company button.editable").click()
    field = page.locator('#field-company input[name="company"]')
    expect(field).to_be_focused()
    field.fill("Ромашка")
    field.press("Enter")
    expect(page.locator("#field-company")).to_have_text("Ромашка")
    expect(page.locator("#timeline")).to_contain_text("Company: — → Ромашка")

    # Esc cancels: the old value comes back and nothing is saved.
    page.locator("#field-company button.editable").click()
    # Focus comes once htmx has wired the form up, as a person would see the cursor.
    expect(page.locator('#field-company input[name="company"]')).to_be_focused()
    page.locator('#field-company input[name="company"]').fill("Lost")
    page.locator('#field-company input[name="company"]').press("Escape")
    expect(page.locator("#field-company")).to_have_text("Ромашка")
    expect(page.locator("#field-company input")).to_have_count(0)

    # The last name edit updates the title too.
    page.locator("#field-last_name button.editable").click()
    expect(page.locator('#field-last_name input[name="last_name"]')).to_be_focused()
    page.locator('#field-last_name input[name="last_name"]').fill("Петрова")
    page.locator('#field-last_name input[name="last_name"]').press("Enter")
    expect(page.get_by_role("heading", name="Петрова Анна")).to_be_visible()

    # Tags: autocomplete offers the existing tag as one types; Enter adds; × removes.
    box = page.get_by_placeholder("Add a tag…")
    box.press_sequentially("пар")
    expect(page.locator('#tag-suggestions option[value="Партнёр"]')).to_have_count(1)
    box.fill("партнёр")
    box.press("Enter")
    chip = page.locator("#contact-tags li.tag", has_text="Партнёр")
    expect(chip).to_be_visible()
    expect(page.locator("#timeline")).to_contain_text("Tags: — → Партнёр")
    expect(page.get_by_placeholder("Add a tag…")).to_be_focused()
    page.get_by_placeholder("Add a tag…").fill("Новый")
    page.get_by_placeholder("Add a tag…").press("Enter")
    expect(page.locator("#contact-tags li.tag", has_text="Новый")).to_be_visible()
    page.get_by_role("button", name="Remove tag Партнёр").click()
    expect(chip).to_have_count(0)
    expect(page.locator("#timeline")).to_contain_text("Tags: Партнёр → —")

    assert page.evaluate("window.notReloaded") is True


def test_select_fields_save_with_enter(page, app, users):
    from crmlite.core import contacts

    with app.app_context():
        contact = contacts.create_contact(
            db.session, contacts.validate({"first_name": "Ivan"}), users["editor"]
        )
        db.session.commit()
        contact_id = contact.id
    login(page, "editor@example.com", PASSWORD)
    page.goto(f"/contacts/{contact_id}")
    page.locator("#field-stage button.editable").click()
    select = page.locator('#field-stage select[name="stage"]')
    expect(select).to_be_focused()
    select.select_option("customer")
    select.press("Enter")
    expect(page.locator("#field-stage")).to_have_text("Customer")
    expect(page.locator("#timeline")).to_contain_text("Lifecycle stage: Potential → Customer")
