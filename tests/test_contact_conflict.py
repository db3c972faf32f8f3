"""Two people edit the same contact: nothing is overwritten silently, nothing is lost."""

import re

import pytest

from crmlite.core import contacts, tags
from crmlite.extensions import db
from crmlite.models import Contact

from .test_contact_page import HX, load, make_contact, make_custom_fields, version_in


def open_editor(client, contact_id, name) -> int:
    resp = client.get(f"/contacts/{contact_id}/field/{name}/edit", headers=HX)
    assert resp.status_code == 200
    return version_in(resp.get_data(as_text=True))


def save(client, contact_id, name, value, version):
    return client.post(
        f"/contacts/{contact_id}/field/{name}", data={name: value, "version": version}, headers=HX
    )


def test_same_field_conflicts_and_the_first_value_stays(app, editor_client, admin_client, users):
    contact_id = make_contact(app, users["editor"], company="Acme")
    editor_version = open_editor(editor_client, contact_id, "company")
    admin_version = open_editor(admin_client, contact_id, "company")

    assert save(admin_client, contact_id, "company", "Admin & Co", admin_version).status_code == 200
    resp = save(editor_client, contact_id, "company", "Editor Ltd", editor_version)

    assert resp.status_code == 409
    html = resp.get_data(as_text=True)
    assert "Someone else changed this while you were editing" in html
    # Who, which field, their value, and when.
    assert re.search(r"Admin set Company to “Admin &amp; Co” \(\d", html)
    # The editor's unsaved value is still in the input, based on the new version.
    assert re.search(r'name="company"[^>]*value="Editor Ltd"', html)
    assert version_in(html) == 2
    assert "Save my value" in html and "Keep theirs" in html
    assert resp.headers["HX-Trigger"] == "contactChanged"  # the history shows their change
    assert load(app, contact_id).company == "Admin & Co"

    # One click re-applies the editor's value on top of the admin's.
    resp = save(editor_client, contact_id, "company", "Editor Ltd", version_in(html))
    assert resp.status_code == 200
    assert load(app, contact_id).company == "Editor Ltd"


def test_keep_theirs_shows_their_value(app, editor_client, admin_client, users):
    contact_id = make_contact(app, users["editor"], company="Acme")
    version = open_editor(editor_client, contact_id, "company")
    save(
        admin_client,
        contact_id,
        "company",
        "Theirs",
        open_editor(admin_client, contact_id, "company"),
    )
    assert save(editor_client, contact_id, "company", "Mine", version).status_code == 409
    resp = editor_client.get(f"/contacts/{contact_id}/field/company", headers=HX)
    assert "Theirs" in resp.get_data(as_text=True)
    assert load(app, contact_id).company == "Theirs"


def test_different_fields_are_both_saved(app, editor_client, admin_client, users):
    contact_id = make_contact(app, users["editor"], company="Acme", city="Omsk")
    editor_version = open_editor(editor_client, contact_id, "company")
    admin_version = open_editor(admin_client, contact_id, "city")

    assert save(admin_client, contact_id, "city", "Tomsk", admin_version).status_code == 200
    assert save(editor_client, contact_id, "company", "NewCo", editor_version).status_code == 200
    contact = load(app, contact_id)
    assert (contact.company, contact.city) == ("NewCo", "Tomsk")


def test_a_tag_added_meanwhile_does_not_block_a_field_edit(app, editor_client, admin_client, users):
    contact_id = make_contact(app, users["editor"])
    version = open_editor(editor_client, contact_id, "company")
    admin_client.post(f"/contacts/{contact_id}/tags", data={"tag": "VIP"}, headers=HX)
    assert save(editor_client, contact_id, "company", "NewCo", version).status_code == 200
    contact = load(app, contact_id)
    assert contact.company == "NewCo" and [t.name for t in contact.tags] == ["VIP"]


def test_email_lists_conflict_as_a_group(app, editor_client, admin_client, users):
    contact_id = make_contact(app, users["editor"], emails=["a@example.com"])
    editor_version = open_editor(editor_client, contact_id, "emails")
    admin_client.post(
        f"/contacts/{contact_id}/field/emails",
        data={
            "version": open_editor(admin_client, contact_id, "emails"),
            "emails-0-value": "admin@example.com",
        },
        headers=HX,
    )
    resp = editor_client.post(
        f"/contacts/{contact_id}/field/emails",
        data={"version": editor_version, "emails-0-value": "editor@example.com"},
        headers=HX,
    )
    assert resp.status_code == 409
    html = resp.get_data(as_text=True)
    assert "Admin set E-mails to “admin@example.com (work) *”" in html
    assert 'value="editor@example.com"' in html
    assert [e.email for e in load(app, contact_id).emails] == ["admin@example.com"]


# -- the full edit page --------------------------------------------------------------------


def full_form(client, contact_id) -> dict:
    """What a browser would post back from the edit page unchanged."""
    html = client.get(f"/contacts/{contact_id}/edit").get_data(as_text=True)
    return full_form_from(html)


def test_full_form_merges_a_change_made_meanwhile_to_another_field(
    app, editor_client, admin_client, users
):
    contact_id = make_contact(app, users["editor"], company="Acme", city="Omsk")
    form = full_form(editor_client, contact_id)
    assert form["version"] == "1" and form["company"] == "Acme"

    save(admin_client, contact_id, "city", "Tomsk", open_editor(admin_client, contact_id, "city"))
    # The full form still carries city=Omsk, but the editor did not touch it: no revert.
    resp = editor_client.post(f"/contacts/{contact_id}/edit", data={**form, "company": "NewCo"})
    assert resp.status_code == 302
    contact = load(app, contact_id)
    assert (contact.company, contact.city) == ("NewCo", "Tomsk")


def test_full_form_conflict_keeps_my_values_and_shows_theirs(
    app, editor_client, admin_client, users
):
    make_custom_fields(app)
    contact_id = make_contact(app, users["editor"], company="Acme", city="Omsk")
    form = full_form(editor_client, contact_id)

    admin_version = open_editor(admin_client, contact_id, "company")
    save(admin_client, contact_id, "company", "Admin Co", admin_version)
    save(admin_client, contact_id, "city", "Tomsk", admin_version + 1)

    mine = {**form, "company": "Editor Co", "position": "CEO", "custom__plan": "Pro"}
    resp = editor_client.post(f"/contacts/{contact_id}/edit", data=mine)
    assert resp.status_code == 409
    html = resp.get_data(as_text=True)
    assert re.search(r"Admin set Company to “Admin Co”", html)
    # Mine is kept (all of it), theirs shows where I changed nothing, and the version is new.
    assert re.search(r'name="company"[^>]*value="Editor Co"', html)
    assert re.search(r'name="position"[^>]*value="CEO"', html)
    assert re.search(r'name="city"[^>]*value="Tomsk"', html)
    assert '<option selected value="Pro">Pro</option>' in html
    assert version_in(html) == 3
    contact = load(app, contact_id)
    assert (contact.company, contact.position, contact.city) == ("Admin Co", "", "Tomsk")

    # Saving the form again applies my values and keeps their city.
    again = full_form_from(html)
    resp = editor_client.post(f"/contacts/{contact_id}/edit", data=again)
    assert resp.status_code == 302
    contact = load(app, contact_id)
    assert (contact.company, contact.position, contact.city) == ("Editor Co", "CEO", "Tomsk")
    assert contact.custom == {"plan": "Pro"}


def full_form_from(html: str) -> dict:
    """The inputs, selects and notes of an edit page, as a browser would post them."""
    data = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html))
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option selected value="([^"]*)"', body)
        data[name] = chosen.group(1) if chosen else re.search(r'value="([^"]*)"', body).group(1)
    notes = re.search(r'<textarea[^>]*name="notes"[^>]*>\r?\n?(.*?)</textarea>', html, re.S)
    data["notes"] = notes.group(1)
    data = {k: v for k, v in data.items() if not k.endswith("-primary")}
    data["emails-primary"] = data["phones-primary"] = "0"
    return data


# -- core ----------------------------------------------------------------------------------


def test_core_raises_edit_conflict_with_the_other_change(app, users):
    contact_id = make_contact(app, users["editor"], company="Acme")
    with app.app_context():
        contact = db.session.get(Contact, contact_id)
        contacts.update_contact(db.session, contact, {"company": "First"}, users["admin"], 1)
        tags.add_tag(db.session, contact, tags.get_or_create(db.session, "VIP"), users["admin"])
        db.session.commit()
        with pytest.raises(contacts.EditConflict) as caught:
            contacts.update_contact(
                db.session, contact, {"company": "Second", "city": "Omsk"}, users["editor"], 1
            )
        db.session.rollback()
        assert caught.value.fields == {"company"}
        [(field, entry)] = caught.value.their_changes()
        assert (field, entry.user_id, entry.changes["company"]) == (
            "company",
            users["admin"],
            ["Acme", "First"],
        )
        contact = db.session.get(Contact, contact_id)
        assert (contact.company, contact.city) == ("First", "")
