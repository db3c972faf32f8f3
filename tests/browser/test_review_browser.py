"""The review queue in a real browser: "Verified" on a row far down the list takes it off
the list and lowers the count, without a page reload and without moving the reader; inline
edit fixes a contact in place. Also the screenshot for docs/reviews.md."""

import pytest
from playwright.sync_api import expect

from crmlite.extensions import db
from crmlite.models import Contact, ContactEmail, ContactPhone
from tests.conftest import PASSWORD

from .conftest import login

pytestmark = pytest.mark.browser


@pytest.fixture
def base(app, users):
    """120 never-verified contacts of the editor (three pages of the queue), one with a phone
    that fails today's check."""
    with app.app_context():
        for i in range(120):
            c = Contact(
                first_name=f"Person{i:03d}", sort_name=f"person{i:03d}", owner_id=users["editor"]
            )
            c.emails = [ContactEmail(email=f"p{i}@example.com")]
            if i == 3:
                c.phones = [ContactPhone(e164="+7000", is_valid=False)]
            db.session.add(c)
        db.session.commit()
        db.session.remove()


def test_verified_leaves_the_list_without_reload(page, app, base, shots):
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, "editor@example.com", PASSWORD)
    page.get_by_role("link", name="Review", exact=True).click()
    page.locator('#review-tabs a[data-reason="never"]').click()
    page.wait_for_url("**/review?reason=never*")
    tab = page.locator('#review-tabs a[data-reason="never"] .review-count')
    expect(tab).to_have_text("120")
    rows = page.locator("#review-rows tr.review-row")
    expect(rows).to_have_count(50)
    expect(page.locator("#review-progress svg g.owner-bar")).to_have_count(1)
    page.screenshot(path=str(shots / "review.png"), full_page=False)

    # Scrolling down loads the next page (infinite scroll).
    rows.nth(49).scroll_into_view_if_needed()
    expect(rows).to_have_count(100)
    page.evaluate("window.__still_here = true")  # gone if the page reloads

    target = page.locator("tr.review-row", has_text="Person070")
    target.scroll_into_view_if_needed()
    before = page.evaluate("window.scrollY")
    assert before > 1000
    target.get_by_role("button", name="Verified").click()
    expect(page.locator("tr.review-row", has_text="Person070")).to_have_count(0)
    expect(tab).to_have_text("119")
    expect(page.get_by_role("status")).to_contain_text("Person070 marked as verified.")
    assert page.evaluate("window.__still_here") is True
    after = page.evaluate("window.scrollY")
    assert abs(after - before) < 100  # the reader stays where they were
    # The rows around it are still there.
    expect(page.locator("tr.review-row", has_text="Person069")).to_have_count(1)
    expect(page.locator("tr.review-row", has_text="Person071")).to_have_count(1)


def test_inline_edit_fixes_an_invalid_phone(page, app, base):
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, "editor@example.com", PASSWORD)
    page.goto("/review?reason=invalid")
    tab = page.locator('#review-tabs a[data-reason="invalid"] .review-count')
    expect(tab).to_have_text("1")
    row = page.locator("tr.review-row", has_text="Person003")
    row.get_by_role("button", name="Edit").click()
    form = page.locator("form.review-edit")
    form.get_by_label("Phone").fill("12")
    form.get_by_role("button", name="Save").click()
    expect(form.locator(".field-error")).to_contain_text("phone")
    form.get_by_label("Phone").fill("+7 912 345-67-89")
    form.get_by_role("button", name="Save").click()
    expect(page.locator("form.review-edit")).to_have_count(0)
    expect(tab).to_have_text("0")
    expect(page.get_by_role("status")).to_contain_text("Person003 saved.")
