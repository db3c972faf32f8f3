"""Composing a campaign in a real browser: the segment's parameters and the audience follow
the form, the preview shows real contacts in place, and the sent campaign shows its counts.
Also the screenshots for docs/campaigns.md (docs/images/ only with
CRMLITE_UPDATE_SCREENSHOTS=1, like tests/browser/test_screenshots.py)."""

import pytest
from playwright.sync_api import expect

from crmlite.extensions import db
from crmlite.models import OutboxMessage
from tests.conftest import PASSWORD
from tests.test_campaigns import MIXED, add_contacts, registered

from .conftest import login

pytestmark = pytest.mark.browser


@pytest.fixture
def city_segment(app):
    with registered(app) as plugin:
        yield plugin


def test_compose_preview_and_send_a_campaign(page, app, users, city_segment, shots):
    add_contacts(app, MIXED)
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, "editor@example.com", PASSWORD)
    page.get_by_role("link", name="Campaigns", exact=True).click()
    expect(page.get_by_text("No campaigns yet.")).to_be_visible()
    page.get_by_role("button", name="New campaign").click()

    page.locator("#name").fill("Осенняя акция")
    page.locator("#segment_key").select_option(label="Lives in a city")
    # The segment's parameter appears; the audience counts the segment as the form says.
    expect(page.locator("#seg-city")).to_have_value("Казань")
    audience = page.locator("#audience")
    expect(audience).to_contain_text("2 contacts will get it")
    expect(audience).to_contain_text("of 6 in the segment")
    expect(audience.locator('[data-reason="no_consent"]')).to_contain_text("1")
    expect(audience.locator('[data-reason="invalid_address"]')).to_contain_text("1")

    page.locator("#sender").select_option("outbox")
    page.locator("#rate_per_minute").fill("0")
    page.locator("#subject").fill("{{ first_name }}, скидка 10%")
    page.locator("#body").fill("Здравствуйте, {{ first_name }}!\nЖдём вас.")
    url = page.url
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#message-preview")
    expect(preview.locator(".preview-subject")).to_have_text("Анна, скидка 10%")
    expect(preview).to_contain_text("anna@example.com")
    expect(preview).to_contain_text("/unsubscribe/")
    page.get_by_role("button", name="Next contact").click()
    expect(preview.locator(".preview-subject")).to_have_text("Жанна, скидка 10%")
    assert page.url == url  # updated in place
    # The service purpose reaches those with unknown consent too.
    page.get_by_label("Service: to everyone who has not withdrawn consent").check()
    expect(audience).to_contain_text("4 contacts will get it")
    page.get_by_label("Marketing: only to contacts who granted consent").check()
    expect(audience).to_contain_text("2 contacts will get it")
    page.get_by_role("button", name="Preview").click()
    expect(preview.locator(".preview-subject")).to_have_text("Анна, скидка 10%")
    page.screenshot(path=str(shots / "campaign-compose.png"), full_page=True)

    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_role("heading", name="Осенняя акция")).to_be_visible()
    expect(page.locator("#audience")).to_contain_text("2 contacts will get it")
    page.get_by_role("button", name="Send now to 2 contacts").click()
    status = page.locator("#campaign-status")
    expect(status).to_have_attribute("data-status", "done")
    expect(status.locator('[data-count="sent"]')).to_have_text("2")
    expect(page.locator("tr[data-status='sent']")).to_have_count(2)
    page.screenshot(path=str(shots / "campaign-sent.png"), full_page=True)
    with app.app_context():
        assert db.session.query(OutboxMessage).count() == 2
