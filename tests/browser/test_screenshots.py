"""Screenshots for the user guide (docs/user-guide.md), taken in a real browser.

The test walks what the guide shows and checks on the way what a user sees. The images go
to docs/images/ only when CRMLITE_UPDATE_SCREENSHOTS=1 is set (run it so after a UI change
and commit the PNGs); otherwise to a temporary folder, so a test run leaves git clean.

    CRMLITE_UPDATE_SCREENSHOTS=1 .venv/bin/pytest tests/browser/test_screenshots.py
"""

import pytest
from playwright.sync_api import expect

from crmlite.core import contacts as contacts_core
from crmlite.core import tags as tags_core
from crmlite.extensions import db
from crmlite.models import User
from tests.conftest import PASSWORD

from .conftest import login

pytestmark = pytest.mark.browser

VIEWPORT = {"width": 1280, "height": 800}

# (fields, tags, owner role): a small team's base, Russian and English.
PEOPLE = [
    (
        {
            "first_name": "Сергей",
            "middle_name": "Петрович",
            "last_name": "Иванов",
            "company": "ООО «Ромашка»",
            "position": "Директор по закупкам",
            "city": "Москва",
            "emails": [
                {"value": "s.ivanov@romashka.ru", "label": "work", "primary": True},
                {"value": "sergey.ivanov@mail.ru", "label": "personal"},
            ],
            "phones": [{"value": "8 912 345-67-89", "label": "mobile", "primary": True}],
            "source": "referral",
            "stage": "customer",
            "temperature": "hot",
        },
        ["клиент", "VIP"],
        "admin",
    ),
    (
        {
            "first_name": "Анна",
            "last_name": "Петрова",
            "company": "Северный ветер",
            "position": "Маркетолог",
            "city": "Санкт-Петербург",
            "emails": ["anna.petrova@nwind.ru"],
            "phones": ["+7 812 333-44-55"],
            "source": "event",
            "stage": "potential",
            "temperature": "warm",
        },
        ["выставка 2024"],
        "editor",
    ),
    (
        {
            "first_name": "John",
            "last_name": "Smith",
            "company": "Acme Ltd",
            "position": "Head of Sales",
            "city": "London",
            "country": "United Kingdom",
            "emails": ["john.smith@acme.co.uk"],
            "phones": ["+44 20 7946 0958"],
            "source": "web_form",
            "stage": "key_client",
            "temperature": "hot",
        },
        ["export", "VIP"],
        "admin",
    ),
    (
        {
            "first_name": "Мария",
            "last_name": "Иваненко",
            "company": "Техносфера",
            "city": "Казань",
            "emails": ["m.ivanenko@technosfera.ru"],
            "phones": ["8 (903) 111-22-33"],
            "source": "ads",
            "stage": "customer",
            "temperature": "cold",
        },
        ["клиент"],
        "editor",
    ),
    (
        {
            "first_name": "Emily",
            "last_name": "Clark",
            "company": "Nordic Trade AB",
            "city": "Stockholm",
            "emails": ["emily.clark@nordictrade.se"],
            "source": "referral",
            "stage": "potential",
            "temperature": "warm",
        },
        ["export", "выставка 2024"],
        "editor",
    ),
    (
        {
            "first_name": "Алексей",
            "last_name": "Смирнов",
            "company": "Смирнов и партнёры",
            "emails": ["alexey@smirnov-partners.ru"],
            "phones": ["+7 495 123-45-67"],
            "source": "import",
            "stage": "former",
            "temperature": "cold",
        },
        [],
        "admin",
    ),
    (
        {
            "first_name": "David",
            "last_name": "Miller",
            "company": "Miller Logistics",
            "city": "Berlin",
            "country": "Germany",
            "emails": ["d.miller@millerlogistics.de"],
            "phones": ["+49 30 901820"],
            "source": "event",
            "stage": "potential",
        },
        ["выставка 2024"],
        "editor",
    ),
    (
        {
            "first_name": "Ольга",
            "last_name": "Кузнецова",
            "company": "ООО «Ромашка»",
            "position": "Бухгалтер",
            "emails": ["o.kuznetsova@romashka.ru"],
            "phones": ["+7 916 123-45-67"],
            "source": "referral",
            "stage": "customer",
            "temperature": "warm",
        },
        ["клиент"],
        "admin",
    ),
]


@pytest.fixture
def team(app, users):
    """Real names for the users, and the contacts above, made through crmlite.core."""
    with app.test_request_context():
        db.session.get(User, users["admin"]).name = "Ольга Орлова"
        db.session.get(User, users["editor"]).name = "Dmitry Volkov"
        for fields, tag_names, owner in PEOPLE:
            clean = contacts_core.validate({**fields, "owner_id": users[owner]}, region="RU")
            contact = contacts_core.create_contact(db.session, clean, users[owner])
            for name in tag_names:
                tag = tags_core.get_or_create(db.session, name)
                tags_core.add_tag(db.session, contact, tag, users[owner])
        db.session.commit()
        db.session.remove()


def test_user_guide_screenshots(page, team, shots):
    page.set_viewport_size(VIEWPORT)
    login(page, "admin@example.com", PASSWORD)

    # The list: every contact, the count, tags as coloured chips.
    rows = page.locator("#contact-rows tr")
    expect(rows).to_have_count(len(PEOPLE))
    expect(page.locator("#contact-count")).to_have_text(f"{len(PEOPLE)} contacts")
    expect(rows.filter(has_text="Smith John")).to_contain_text("VIP")
    page.screenshot(path=str(shots / "contact-list.png"))

    # Live search: lower-case Cyrillic finds the start of any name word.
    search = page.get_by_placeholder("Search by name, e-mail, phone or company")
    search.press_sequentially("иван")
    # Playwright types Cyrillic as text input with no key events; Enter searches at once.
    search.press("Enter")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="Иванов Сергей Петрович")).to_have_count(1)
    expect(rows.filter(has_text="Иваненко Мария")).to_have_count(1)
    expect(page.locator("#contact-count")).to_have_text("2 contacts")
    page.screenshot(path=str(shots / "search.png"))

    # The contact page with the company being edited in place.
    rows.filter(has_text="Иванов Сергей Петрович").get_by_role("link").first.click()
    expect(page.get_by_role("heading", name="Иванов Сергей Петрович")).to_be_visible()
    expect(page.locator("#field-phones")).to_contain_text("+7 912 345-67-89")
    expect(page.locator("#timeline")).to_contain_text("created the contact")
    page.locator("#field-company button.editable").click()
    company = page.locator('#field-company input[name="company"]')
    expect(company).to_be_focused()
    expect(company).to_have_value("ООО «Ромашка»")
    expect(page.locator("#field-company")).to_contain_text("Enter saves, Esc cancels.")
    page.screenshot(path=str(shots / "inline-edit.png"))
    company.press("Escape")
    expect(page.locator("#field-company input")).to_have_count(0)

    # The bulk bar appears once rows are selected.
    page.goto("/")
    bar = page.locator("#bulk-form .bulk-actions").first
    expect(bar).to_be_hidden()
    page.get_by_label("Select Петрова Анна").check()
    page.get_by_label("Select Clark Emily").check()
    page.get_by_label("Select Miller David").check()
    expect(bar).to_be_visible()
    expect(page.locator(".bulk-selected")).to_have_text("3 selected")
    expect(page.get_by_label(f"All {len(PEOPLE)} contacts matching this filter")).to_be_visible()
    page.get_by_label("Tag name").fill("рассылка")
    page.screenshot(path=str(shots / "bulk-actions.png"))

    # The tags page: each tag with its number of contacts.
    page.get_by_role("link", name="Tags", exact=True).click()
    expect(page.get_by_role("heading", name="Tags", exact=True)).to_be_visible()
    for name, count in (("VIP", 2), ("клиент", 3), ("выставка 2024", 3), ("export", 2)):
        expect(page.locator("tr", has_text=name).locator("td.numeric")).to_have_text(str(count))
    expect(page.get_by_role("heading", name="Merge two tags")).to_be_visible()
    page.screenshot(path=str(shots / "tags.png"))

    for name in ("contact-list", "search", "inline-edit", "bulk-actions", "tags"):
        assert (shots / f"{name}.png").stat().st_size > 10_000
