"""Privacy requests in a real browser (CSRF on): an admin downloads the person's ZIP from
the contact page, then erases the data through the confirmation page (a wrong name is
refused in place), and lands on the erased contact's page. Screenshots for
docs/privacy.md (docs/images/ only with CRMLITE_UPDATE_SCREENSHOTS=1)."""

import json
import zipfile

import pytest
from playwright.sync_api import expect

from crmlite.core import contacts, interactions
from crmlite.extensions import db
from tests.conftest import PASSWORD

from .conftest import login

pytestmark = pytest.mark.browser


def test_download_then_erase(page, app, users, shots, tmp_path):
    with app.app_context():
        raw = {
            "first_name": "Ксения",
            "last_name": "Загорская",
            "city": "Казань",
            "emails": ["ksenia@example.ru"],
        }
        contact = contacts.create_contact(db.session, contacts.validate(raw), users["admin"])
        kind = interactions.all_kinds(None)["purchase"]
        clean = interactions.validate(kind, {"amount": "1500", "text": "Чайник"})
        interactions.add(db.session, None, contact.id, kind, clean, users["admin"])
        db.session.commit()
        contact_id = contact.id
    page.set_viewport_size({"width": 1280, "height": 900})
    login(page, "admin@example.com", PASSWORD)
    page.goto(f"/contacts/{contact_id}")

    panel = page.locator("#privacy")
    with page.expect_download() as info:
        panel.get_by_role("button", name="Download personal data (ZIP)").click()
    download = info.value
    assert download.suggested_filename == f"contact-{contact_id}-personal-data.zip"
    path = tmp_path / "data.zip"
    download.save_as(path)
    data = json.loads(zipfile.ZipFile(path).read("contact.json"))
    assert data["contact"]["city"] == "Казань"

    panel.get_by_role("button", name="Erase personal data…").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Erase the personal data")
    page.get_by_label("Reason (required)").fill("Request by e-mail of 2 March")
    page.get_by_label("Type the contact's name to confirm").fill("Ксения")
    page.screenshot(path=str(shots / "privacy-erase.png"), full_page=True)
    page.get_by_role("button", name="Erase personal data").click()
    expect(page.locator("#confirm-error")).to_contain_text("Type the contact's name exactly")
    # The reason typed stays; only the name needs fixing.
    expect(page.get_by_label("Reason (required)")).to_have_value("Request by e-mail of 2 March")
    page.get_by_label("Type the contact's name to confirm").fill("Загорская Ксения")
    page.get_by_role("button", name="Erase personal data").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(f"Erased contact #{contact_id}")
    expect(page.locator(".erased-banner")).to_contain_text("by Admin: Request by e-mail of 2 March")
    expect(page.locator(".kept-purchases tbody tr")).to_have_count(1)
    expect(page.locator("main")).not_to_contain_text("Ксения")
    expect(page.get_by_role("button", name="Restore")).to_have_count(0)
    page.screenshot(path=str(shots / "privacy-erased.png"), full_page=False)

    page.locator("nav summary", has_text="Admin").click()
    page.get_by_role("link", name="Privacy log").click()
    expect(page.locator("table.privacy-log tbody tr")).to_have_count(2)
    expect(page.locator("table.privacy-log")).to_contain_text("Request by e-mail of 2 March")
