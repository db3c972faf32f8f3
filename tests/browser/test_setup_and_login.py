import re

import pytest
from playwright.sync_api import expect

from crmlite.core.users import setup_token
from tests.conftest import PASSWORD

from .conftest import login

pytestmark = pytest.mark.browser


def test_first_admin_is_created_on_the_setup_page(page, app):
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/setup$"))
    expect(page.get_by_role("heading", name="Welcome to crmlite")).to_be_visible()
    page.get_by_label("Setup token").fill("not the token")
    page.get_by_label("E-mail").fill("boss@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD)
    page.get_by_role("button", name="Create administrator").click()
    expect(page.get_by_text("Wrong setup token")).to_be_visible()

    # The token the server printed on its console.
    page.get_by_label("Setup token").fill(setup_token(app.instance_path))
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD)
    page.get_by_role("button", name="Create administrator").click()
    expect(page.get_by_text("You are the administrator")).to_be_visible()
    page.locator("nav summary", has_text="Admin").click()  # the admin menu
    expect(page.get_by_role("link", name="Users")).to_be_visible()


def test_login_with_a_wrong_password_then_the_right_one(page, users):
    page.goto("/login")
    page.get_by_label("E-mail").fill("editor@example.com")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_text("Wrong e-mail or password")).to_be_visible()
    login(page, "editor@example.com", PASSWORD)
    expect(page.get_by_role("link", name="Editor")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
