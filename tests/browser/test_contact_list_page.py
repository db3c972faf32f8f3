"""The contact list in a real browser: live search, infinite scroll, a bulk tag."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, insert, select

from crmlite.core import contacts as contacts_core
from crmlite.extensions import db
from crmlite.models import Contact, contact_tags
from crmlite.models.types import utcnow
from tests.conftest import PASSWORD

from .conftest import login

pytestmark = pytest.mark.browser


@pytest.fixture
def crowd(app, users):
    """120 plain contacts and one Иван Петров with a phone."""
    with app.test_request_context():
        now = utcnow()
        db.session.execute(
            insert(Contact),
            [
                {
                    "first_name": f"{i:03d}",
                    "last_name": "Crowd",
                    "sort_name": f"crowd {i:03d}",
                    "created_at": now,
                    "updated_at": now + timedelta(seconds=i),
                    "custom": {},
                }
                for i in range(120)
            ],
        )
        clean = contacts_core.validate(
            {"first_name": "Иван", "last_name": "Петров", "phones": ["+79123456789"]}
        )
        contacts_core.create_contact(db.session, clean, users["editor"])
        db.session.commit()
        db.session.remove()


def test_live_search_and_infinite_scroll(page, crowd):
    login(page, "editor@example.com", PASSWORD)
    rows = page.locator("#contact-rows tr")
    expect(rows).to_have_count(50)
    expect(page.locator("#contact-count")).to_have_text("121 contacts")
    # Scrolling to the end loads the next pages after the last row.
    for expected in (100, 121):
        rows.last.scroll_into_view_if_needed()
        expect(rows).to_have_count(expected)
    expect(page.locator("#more-contacts a")).to_have_count(0)

    search = page.get_by_placeholder("Search by name, e-mail, phone or company")
    search.press_sequentially("8 912 345-67-89")  # typed: the search listens to keyup
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Петров Иван")
    expect(rows.first).to_contain_text("+7 912 345-67-89")
    expect(page).to_have_url(re.compile(r"/\?q=8\+912\+345-67-89$"))
    expect(page.locator("#contact-count")).to_have_text("1 contact")

    search.fill("")
    search.press_sequentially("ИВАН петр")
    expect(rows).to_have_count(1)
    search.fill("")
    search.press_sequentially("nobody at all")
    expect(page.get_by_text("No contacts match.")).to_be_visible()


def test_bulk_tag_all_matching(page, crowd, app):
    login(page, "editor@example.com", PASSWORD)
    bar_actions = page.locator("#bulk-form .bulk-actions").first
    expect(bar_actions).to_be_hidden()  # nothing selected yet
    page.locator('#contact-rows input[name="ids"]').first.check()
    expect(bar_actions).to_be_visible()
    expect(page.locator(".bulk-selected")).to_have_text("1 selected")

    page.get_by_label("All 121 contacts matching this filter").check()
    page.get_by_label("Tag name").fill("vip")
    page.get_by_role("button", name="Add tag").click()
    expect(page.get_by_text("Tag “vip” added to 121 contacts.")).to_be_visible()
    expect(page.locator("#contact-rows .tag", has_text="vip")).to_have_count(50)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(contact_tags)) == 121

    # A bad request keeps the selection and says why.
    page.locator('#contact-rows input[name="ids"]').nth(2).check()
    page.get_by_role("button", name="Set stage").click()
    expect(page.get_by_text("Choose a stage.")).to_be_visible()
    expect(page.locator('#contact-rows input[name="ids"]').nth(2)).to_be_checked()
