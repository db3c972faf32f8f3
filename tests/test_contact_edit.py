"""One-click inline edits on the contact page, and the full edit page (the no-JS way)."""

import re

from crmlite.core import contacts
from crmlite.extensions import db

from .test_contact_page import (
    HX,
    NEW_CONTACT,
    history_actions,
    load,
    make_contact,
    make_custom_fields,
    version_in,
)


def edit_fragment(client, contact_id, name) -> str:
    resp = client.get(f"/contacts/{contact_id}/field/{name}/edit", headers=HX)
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def test_clicking_a_value_swaps_in_an_input(app, editor_client, users):
    contact_id = make_contact(app, users["editor"], company="Acme")
    page = editor_client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    # The value is a button that fetches the editor into its own <dd>.
    assert re.search(
        rf'hx-get="/contacts/{contact_id}/field/company/edit"\s*hx-target="#field-company"', page
    )

    html = edit_fragment(editor_client, contact_id, "company")
    assert html.lstrip().startswith('<dd id="field-company"')
    assert 'class="inline-edit"' in html
    assert f'hx-post="/contacts/{contact_id}/field/company"' in html
    assert re.search(r'<input[^>]*autofocus[^>]*name="company"[^>]*value="Acme"', html)
    assert version_in(html) == 1
    # Cancel (and Esc, through crmlite.js) fetches the plain value back.
    assert "data-cancel" in html and f'hx-get="/contacts/{contact_id}/field/company"' in html


def test_enter_saves_the_field_and_swaps_the_display_back(app, editor_client, users):
    contact_id = make_contact(app, users["editor"], company="Acme")
    version = version_in(edit_fragment(editor_client, contact_id, "last_name"))
    resp = editor_client.post(
        f"/contacts/{contact_id}/field/last_name",
        data={"last_name": "  Sidorov ", "version": version},
        headers=HX,
    )
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert html.lstrip().startswith('<dd id="field-last_name"')
    assert "Sidorov" in html and "inline-edit" not in html
    # The page title follows, and the history panel is told to refresh.
    assert re.search(r'<h1 id="contact-title" hx-swap-oob="true">Sidorov Ivan</h1>', html)
    assert resp.headers["HX-Trigger"] == "contactChanged"
    assert load(app, contact_id).last_name == "Sidorov"
    assert load(app, contact_id).company == "Acme"
    assert history_actions(app, contact_id) == ["create", "update"]


def test_cancel_changes_nothing(app, editor_client, users):
    contact_id = make_contact(app, users["editor"], company="Acme")
    edit_fragment(editor_client, contact_id, "company")
    resp = editor_client.get(f"/contacts/{contact_id}/field/company", headers=HX)
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'class="editable"' in html and "Acme" in html and "<form" not in html
    assert history_actions(app, contact_id) == ["create"]


def test_saving_an_unchanged_value_records_nothing(app, editor_client, users):
    contact_id = make_contact(app, users["editor"], company="Acme")
    resp = editor_client.post(
        f"/contacts/{contact_id}/field/company", data={"company": "Acme", "version": 1}, headers=HX
    )
    assert resp.status_code == 200 and "Acme" in resp.get_data(as_text=True)
    assert history_actions(app, contact_id) == ["create"]


def test_a_bad_value_keeps_the_input_with_a_message_and_saves_nothing(app, editor_client, users):
    contact_id = make_contact(app, users["editor"], birth_date="1980-01-02")
    resp = editor_client.post(
        f"/contacts/{contact_id}/field/birth_date",
        data={"birth_date": "2100-01-01", "version": 1},
        headers=HX,
    )
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "A birth date must be between 1900 and today." in html
    assert 'aria-invalid="true"' in html and 'value="2100-01-01"' in html
    assert "HX-Trigger" not in resp.headers
    assert load(app, contact_id).birth_date.isoformat() == "1980-01-02"

    long_name = "x" * 101
    resp = editor_client.post(
        f"/contacts/{contact_id}/field/first_name",
        data={"first_name": long_name, "version": 1},
        headers=HX,
    )
    assert resp.status_code == 422
    assert "At most 100 characters." in resp.get_data(as_text=True)
    assert load(app, contact_id).first_name == "Ivan"


def test_choice_fields_show_translated_labels_and_refuse_unknown_values(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    html = edit_fragment(editor_client, contact_id, "stage")
    assert '<option selected value="potential">Potential</option>' in html
    resp = editor_client.post(
        f"/contacts/{contact_id}/field/stage",
        data={"stage": "key_client", "version": 1},
        headers=HX,
    )
    assert resp.status_code == 200 and "Key client" in resp.get_data(as_text=True)

    resp = editor_client.post(
        f"/contacts/{contact_id}/field/temperature", data={"temperature": "lukewarm"}, headers=HX
    )
    assert resp.status_code == 422
    assert "Choose one of: cold, warm, hot." in resp.get_data(as_text=True)
    assert load(app, contact_id).temperature is None


def test_owner_is_chosen_from_users(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    html = edit_fragment(editor_client, contact_id, "owner_id")
    assert f'<option selected value="{users["editor"]}">Editor</option>' in html
    resp = editor_client.post(
        f"/contacts/{contact_id}/field/owner_id",
        data={"owner_id": users["viewer"], "version": 1},
        headers=HX,
    )
    assert resp.status_code == 200 and "Viewer" in resp.get_data(as_text=True)
    assert load(app, contact_id).owner_id == users["viewer"]

    resp = editor_client.post(
        f"/contacts/{contact_id}/field/owner_id", data={"owner_id": "9999"}, headers=HX
    )
    assert resp.status_code == 422
    assert "Choose an existing user." in resp.get_data(as_text=True)
    assert load(app, contact_id).owner_id == users["viewer"]


def test_emails_are_edited_as_a_list_with_labels_and_one_primary(app, editor_client, users):
    contact_id = make_contact(app, users["editor"], emails=["old@example.com"])
    html = edit_fragment(editor_client, contact_id, "emails")
    assert 'name="emails-0-value"' in html and 'value="old@example.com"' in html
    assert 'name="emails-1-value"' in html  # an empty row to add one more
    assert re.search(r'name="emails-primary" value="0"\s*checked', html)

    resp = editor_client.post(
        f"/contacts/{contact_id}/field/emails",
        data={
            "version": version_in(html),
            "emails-0-value": "old@example.com",
            "emails-0-label": "work",
            "emails-1-value": " New@Example.COM ",
            "emails-1-label": "personal",
            "emails-primary": "1",
        },
        headers=HX,
    )
    assert resp.status_code == 200
    out = resp.get_data(as_text=True)
    assert out.index("new@example.com") < out.index("old@example.com")  # primary first
    assert "primary" in out and "personal" in out
    assert [(e.email, e.label, e.is_primary) for e in load(app, contact_id).emails] == [
        ("new@example.com", "personal", True),
        ("old@example.com", "work", False),
    ]

    # Clearing a row removes that address.
    version = version_in(edit_fragment(editor_client, contact_id, "emails"))
    resp = editor_client.post(
        f"/contacts/{contact_id}/field/emails",
        data={"version": version, "emails-0-value": "", "emails-1-value": "old@example.com"},
        headers=HX,
    )
    assert resp.status_code == 200
    assert [(e.email, e.is_primary) for e in load(app, contact_id).emails] == [
        ("old@example.com", True)
    ]


def test_a_bad_email_in_the_list_saves_none_of_it(app, editor_client, users):
    contact_id = make_contact(app, users["editor"], emails=["old@example.com"])
    resp = editor_client.post(
        f"/contacts/{contact_id}/field/emails",
        data={"version": 1, "emails-0-value": "fine@example.com", "emails-1-value": "not an email"},
        headers=HX,
    )
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "“not an email” is not a valid e-mail address." in html
    assert 'value="not an email"' in html and 'value="fine@example.com"' in html
    assert [e.email for e in load(app, contact_id).emails] == ["old@example.com"]


def test_phones_are_stored_e164_and_shown_formatted(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    resp = editor_client.post(
        f"/contacts/{contact_id}/field/phones",
        data={
            "version": 1,
            "phones-0-value": "8 (912) 345 67 89",
            "phones-0-label": "mobile",
            "phones-1-value": "+1 650 253 0000",
            "phones-1-label": "work",
            "phones-primary": "0",
        },
        headers=HX,
    )
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "+7 912 345-67-89" in html and "+1 650-253-0000" in html
    assert [(p.e164, p.label) for p in load(app, contact_id).phones] == [
        ("+79123456789", "mobile"),
        ("+16502530000", "work"),
    ]
    # The editor shows them formatted too.
    assert 'value="+7 912 345-67-89"' in edit_fragment(editor_client, contact_id, "phones")

    resp = editor_client.post(
        f"/contacts/{contact_id}/field/phones",
        data={"version": 2, "phones-0-value": "12345"},
        headers=HX,
    )
    assert resp.status_code == 422
    assert "“12345” is not a" in resp.get_data(as_text=True)
    assert len(load(app, contact_id).phones) == 2


def test_phone_region_comes_from_the_config(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    app.config["DEFAULT_REGION"] = "GB"
    try:
        resp = editor_client.post(
            f"/contacts/{contact_id}/field/phones",
            data={"version": 1, "phones-0-value": "020 7946 0958"},
            headers=HX,
        )
    finally:
        app.config["DEFAULT_REGION"] = "RU"
    assert resp.status_code == 200
    assert [p.e164 for p in load(app, contact_id).phones] == ["+442079460958"]


def test_custom_fields_are_edited_inline_by_kind(app, editor_client, users):
    make_custom_fields(app)
    contact_id = make_contact(app, users["editor"])
    page = editor_client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    assert "Shoe size" in page and 'id="field-custom__plan"' in page

    html = edit_fragment(editor_client, contact_id, "custom__plan")
    assert '<option value="Pro">Pro</option>' in html
    for name, value, shown in (
        ("custom__plan", "Pro", "Pro"),
        ("custom__shoe_size", "42", "42"),
        ("custom__met_on", "2024-02-29", "Feb 29, 2024"),
        ("custom__nickname", "Ваня", "Ваня"),
    ):
        version = version_in(edit_fragment(editor_client, contact_id, name))
        resp = editor_client.post(
            f"/contacts/{contact_id}/field/{name}",
            data={name: value, "version": version},
            headers=HX,
        )
        assert resp.status_code == 200, resp.get_data(as_text=True)
        assert shown in resp.get_data(as_text=True)
    assert load(app, contact_id).custom == {
        "plan": "Pro",
        "shoe_size": "42",
        "met_on": "2024-02-29",
        "nickname": "Ваня",
    }

    for name, value, message in (
        ("custom__plan", "Gold", "Choose one of: Basic, Pro."),
        ("custom__shoe_size", "NaN", "“NaN” is not a number."),
        ("custom__met_on", "2023-02-29", "is not a real date"),
    ):
        resp = editor_client.post(
            f"/contacts/{contact_id}/field/{name}", data={name: value}, headers=HX
        )
        assert resp.status_code == 422
        assert message in resp.get_data(as_text=True)
    assert load(app, contact_id).custom["plan"] == "Pro"

    # Clearing a custom value removes it.
    version = version_in(edit_fragment(editor_client, contact_id, "custom__nickname"))
    editor_client.post(
        f"/contacts/{contact_id}/field/custom__nickname",
        data={"custom__nickname": "", "version": version},
        headers=HX,
    )
    assert "nickname" not in load(app, contact_id).custom


def test_unknown_field_is_404(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    for name in ("is_archived", "version", "custom__nope", "created_by_id"):
        assert editor_client.get(f"/contacts/{contact_id}/field/{name}/edit").status_code == 404
        assert (
            editor_client.post(f"/contacts/{contact_id}/field/{name}", data={}).status_code == 404
        )


def test_notes_keep_their_line_breaks(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    html = edit_fragment(editor_client, contact_id, "notes")
    assert "<textarea" in html
    resp = editor_client.post(
        f"/contacts/{contact_id}/field/notes",
        data={"notes": "line one\nline two", "version": 1},
        headers=HX,
    )
    assert 'class="value notes"' in resp.get_data(as_text=True)
    assert load(app, contact_id).notes == "line one\nline two"


# -- the full edit page --------------------------------------------------------------------


def test_full_edit_page_is_prefilled_and_saves(app, editor_client, users):
    make_custom_fields(app)
    resp = editor_client.post("/contacts/new", data=NEW_CONTACT)
    contact_id = int(resp.headers["Location"].rsplit("/", 1)[1])

    page = editor_client.get(f"/contacts/{contact_id}/edit").get_data(as_text=True)
    assert 'value="Иванова"' in page and 'value="anna.home@example.com"' in page
    assert 'value="+7 912 345-67-89"' in page and 'value="1985-04-12"' in page
    assert '<option selected value="hot">Hot</option>' in page
    assert "Met at the fair.\nCall in May." in page
    assert version_in(page) == 1

    form = {**NEW_CONTACT, "version": "1", "company": "Ромашка и Ко", "temperature": "warm"}
    # As the edit page lists them: the primary first.
    form.update({"emails-0-value": "anna.home@example.com", "emails-0-label": "personal"})
    form.update({"emails-1-value": "anna@work.example", "emails-1-label": "work"})
    form["emails-primary"] = "0"
    resp = editor_client.post(f"/contacts/{contact_id}/edit", data=form)
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"/contacts/{contact_id}"
    assert "Saved." in editor_client.get(resp.headers["Location"]).get_data(as_text=True)
    contact = load(app, contact_id)
    assert (contact.company, contact.temperature) == ("Ромашка и Ко", "warm")
    assert contact.custom["plan"] == "Pro"
    with app.app_context():
        entries = contacts.history.entries(db.session, contact_id)
        assert set(entries[0].changes) == {"company", "temperature"}


def test_full_edit_page_refuses_bad_values_and_keeps_them(app, editor_client, users):
    contact_id = make_contact(app, users["editor"], company="Acme")
    form = {"version": "1", "first_name": "Ivan", "company": "NewCo", "phones-0-value": "abc"}
    resp = editor_client.post(f"/contacts/{contact_id}/edit", data=form)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "“abc” is not a phone number." in html
    assert 'value="NewCo"' in html and 'value="abc"' in html
    assert load(app, contact_id).company == "Acme"
