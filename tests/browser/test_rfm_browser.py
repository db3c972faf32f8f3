"""The RFM page and the dashboard in a real browser: a grid cell opens the contact list with
exactly that cell's contacts; the dashboard's charts load in place. Also their screenshots
for docs/segments.md (docs/images/ only with CRMLITE_UPDATE_SCREENSHOTS=1, like
tests/browser/test_screenshots.py)."""

import re

import pytest
from playwright.sync_api import expect

from crmlite.core import rfm
from crmlite.core.demo import generate
from crmlite.extensions import db
from tests.conftest import PASSWORD

from .conftest import login

pytestmark = pytest.mark.browser


@pytest.fixture
def base(app, users):
    """400 demo contacts with their chronicle (purchases, notes, NPS...)."""
    with app.app_context():
        generate(db.session, 400, seed=11)
        rfm.clear_cache()
        db.session.remove()


def test_rfm_cell_opens_its_contacts(page, app, base, shots):
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, "viewer@example.com", PASSWORD)
    page.get_by_role("link", name="RFM", exact=True).click()
    expect(page.get_by_role("heading", name="RFM analysis")).to_be_visible()
    page.screenshot(path=str(shots / "rfm.png"), full_page=True)

    cell = page.locator('a[data-r="5"][data-f="1"]')  # new customers: one recent purchase
    shown = int(cell.locator("strong").inner_text())
    assert 0 < shown <= 50  # one page of the list, so every row is on screen
    cell.click()
    page.wait_for_url(re.compile(r"segment=rfm&seg_r=5&seg_f=1"))
    expect(page.locator("#contact-count")).to_have_text(f"{shown} contacts")
    expect(page.locator("#contact-rows tr")).to_have_count(shown)
    expect(page.get_by_text("RFM cell")).to_be_visible()  # the list says what it shows


def test_dashboard_counts_and_charts(page, app, base, shots):
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, "viewer@example.com", PASSWORD)
    page.get_by_role("link", name="Dashboard", exact=True).click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    # The charts replace their placeholders once loaded.
    expect(page.locator("#chart-contacts svg rect")).to_have_count(12)
    expect(page.locator("#chart-purchases svg rect")).to_have_count(12)
    page.screenshot(path=str(shots / "dashboard.png"), full_page=True)

    tile = page.locator('a[data-segment="sleeping"]')
    sleeping = int(re.sub(r"\D", "", tile.locator(".tile-count").inner_text()))
    assert sleeping > 0
    tile.click()
    page.wait_for_url(re.compile(r"segment=sleeping"))
    expect(page.locator("#contact-count")).to_have_text(
        re.compile(rf"^{sleeping:,} contacts?$".replace(",", "[,\u00a0 ]?"))
    )
