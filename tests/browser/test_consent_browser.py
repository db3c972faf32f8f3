"""Consent on the contact page in a real browser: a cell opens in place, Enter saves,
Esc cancels, and the row and the history change without a reload. Also the panel's
screenshot for docs/consent.md (docs/images/ only with CRMLITE_UPDATE_SCREENSHOTS=1)."""

import pytest
from playwright.sync_api import expect

from crmlite.core import consent, contacts
from crmlite.extensions import db
from tests.conftest import PASSWORD

from .conftest import login

pytestmark = pytest.mark.browser


def test_edit_a_consent_cell_in_place(page, app, users, shots):
    with app.app_context():
        clean = contacts.validate({"first_name": "Вера", "last_name": "Соколова"}, region="RU")
        contact_id = contacts.create_contact(db.session, clean, users["editor"]).id
        consent.record(
            db.session,
            contact_id,
            "email",
            "service",
            "granted",
            source="paper",
            wording_version="2025-09",
            user_id=users["admin"],
        )
        consent.record(
            db.session, contact_id, "sms", "marketing", "withdrawn", source="unsubscribe link"
        )
        db.session.commit()
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, "editor@example.com", PASSWORD)
    page.goto(f"/contacts/{contact_id}")
    page.evaluate("window.notReloaded = true")

    row = page.locator("#consent-email-marketing")
    expect(row.locator(".consent-status")).to_have_text("unknown")
    row.get_by_role("button", name="Change consent: E-mail, marketing").click()
    status = row.get_by_label("Status")
    expect(status).to_be_focused()
    status.select_option("granted")
    row.get_by_label("Source").fill("web form")
    wording = row.get_by_label("Wording version")
    wording.fill("2026-01")
    wording.press("Enter")

    expect(row.locator(".consent-status")).to_have_text("granted")
    expect(row).to_contain_text("web form")
    expect(row).to_contain_text("2026-01")
    expect(row).to_contain_text("Editor")
    expect(page.locator("#timeline")).to_contain_text(
        "E-mail · marketing: unknown → granted (source: web form, wording 2026-01)"
    )

    # Esc cancels: the editor closes and nothing changes.
    row.get_by_role("button", name="Change consent: E-mail, marketing").click()
    expect(row.get_by_label("Status")).to_be_focused()
    row.get_by_label("Status").select_option("withdrawn")
    row.get_by_label("Source").fill("lost")
    row.get_by_label("Source").press("Escape")
    expect(row.locator("form")).to_have_count(0)
    expect(row.locator(".consent-status")).to_have_text("granted")
    expect(row).not_to_contain_text("lost")

    assert page.evaluate("window.notReloaded") is True  # all of it without a reload

    panel = page.locator("#consent")
    expect(panel.locator(".consent-withdrawn")).to_have_text("withdrawn")
    panel.screenshot(path=str(shots / "consent-panel.png"))
    assert (shots / "consent-panel.png").stat().st_size > 5_000
