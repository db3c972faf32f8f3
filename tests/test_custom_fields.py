"""Admin → Custom fields: create, edit, reorder and delete field definitions."""

import pytest

from crmlite.core import custom_fields as fields_core
from crmlite.core.contacts import create_contact, custom_fields, validate
from crmlite.extensions import db
from crmlite.models import Contact, CustomField


def _fields(app):
    with app.app_context():
        return [(f.key, f.label, f.kind, f.choices) for f in custom_fields(db.session)]


def _add(client, label, kind="text", choices=""):
    return client.post("/admin/fields", data={"label": label, "kind": kind, "choices": choices})


def test_admin_creates_fields_with_a_key_made_from_the_label(app, admin_client):
    assert _add(admin_client, "Shoe size", "number").status_code == 302
    assert _add(admin_client, "Размер одежды", "choice", "S\nM\n\nM\n L ").status_code == 302
    assert _add(admin_client, "Next call", "date").status_code == 302
    assert _fields(app) == [
        ("shoe_size", "Shoe size", "number", []),
        ("razmer_odezhdy", "Размер одежды", "choice", ["S", "M", "L"]),
        ("next_call", "Next call", "date", []),
    ]
    page = admin_client.get("/admin/fields").get_data(as_text=True)
    assert "Размер одежды" in page and "razmer_odezhdy" in page and "S, M, L" in page


@pytest.mark.parametrize(
    "label, kind, choices, message",
    [
        ("", "text", "", "This field is required"),
        ("Shoe size", "text", "", "is taken by the field"),
        ("SHOE  size!", "text", "", "is taken by the field"),
        ("Colour", "choice", "\n  \n", "at least one choice"),
        ("Colour", "colour", "", "Not a valid choice"),
        ("!!!", "text", "", "at least one letter or digit"),
    ],
)
def test_bad_field_definitions_are_refused_with_a_message(
    app, admin_client, label, kind, choices, message
):
    _add(admin_client, "Shoe size", "number")
    resp = _add(admin_client, label, kind, choices)
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)
    assert len(_fields(app)) == 1


def test_editing_a_field_keeps_its_key_and_the_stored_values(app, admin_client, users):
    _add(admin_client, "Size", "choice", "S\nM")
    with app.app_context():
        field = db.session.query(CustomField).one()
        contact = create_contact(
            db.session,
            validate({"first_name": "Ann", "custom": {"size": "M"}}, custom_fields=[field]),
            users["admin"],
        )
        db.session.commit()
        field_id, contact_id = field.id, contact.id
    edit = admin_client.get(f"/admin/fields/{field_id}").get_data(as_text=True)
    assert "S\nM" in edit  # the choices, one per line
    resp = admin_client.post(
        f"/admin/fields/{field_id}",
        data={"label": "Clothes size", "kind": "choice", "choices": "S\nM\nXL"},
    )
    assert resp.status_code == 302
    assert _fields(app) == [("size", "Clothes size", "choice", ["S", "M", "XL"])]
    with app.app_context():
        assert db.session.get(Contact, contact_id).custom == {"size": "M"}
    resp = admin_client.post(
        f"/admin/fields/{field_id}", data={"label": "Clothes size", "kind": "choice", "choices": ""}
    )
    assert resp.status_code == 422
    assert "at least one choice" in resp.get_data(as_text=True)
    assert _fields(app)[0][3] == ["S", "M", "XL"]


def test_fields_are_reordered_up_and_down(app, admin_client):
    for label in ("One", "Two", "Three"):
        _add(admin_client, label)
    with app.app_context():
        ids = {f.key: f.id for f in custom_fields(db.session)}
    resp = admin_client.post(f"/admin/fields/{ids['three']}/move", data={"direction": "up"})
    assert resp.status_code == 302
    assert [f[0] for f in _fields(app)] == ["one", "three", "two"]
    # HTMX gets the table back, in the new order.
    resp = admin_client.post(
        f"/admin/fields/{ids['one']}/move",
        data={"direction": "down"},
        headers={"HX-Request": "true"},
    )
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'id="custom-fields"' in html and "<html" not in html
    assert html.index("Three") < html.index("One") < html.index("Two")
    # The ends stay put.
    admin_client.post(f"/admin/fields/{ids['two']}/move", data={"direction": "down"})
    assert [f[0] for f in _fields(app)] == ["three", "one", "two"]


def test_deleting_a_field_asks_first_and_keeps_the_values_in_contacts(app, admin_client, users):
    _add(admin_client, "Shoe size", "number")
    with app.app_context():
        field = db.session.query(CustomField).one()
        contact = create_contact(
            db.session,
            validate({"first_name": "Ann", "custom": {"shoe_size": "42"}}, custom_fields=[field]),
            None,
        )
        db.session.commit()
        field_id, contact_id = field.id, contact.id
    confirm = admin_client.get(f"/admin/fields/{field_id}/delete")
    assert confirm.status_code == 200
    text = confirm.get_data(as_text=True)
    assert "Delete the field “Shoe size”?" in text and "values stay stored" in text
    assert len(_fields(app)) == 1  # asking deleted nothing

    resp = admin_client.post(f"/admin/fields/{field_id}/delete", follow_redirects=True)
    assert "Its values stay stored in the contacts" in resp.get_data(as_text=True)
    assert _fields(app) == []
    with app.app_context():
        assert db.session.get(Contact, contact_id).custom == {"shoe_size": "42"}
    # A field with the same label gets the same key, and the values show again.
    _add(admin_client, "Shoe size", "number")
    assert _fields(app)[0][0] == "shoe_size"


def test_slug_handles_cyrillic_and_punctuation():
    assert fields_core.slugify("Подъезд / этаж") == "podezd_etazh"
    assert fields_core.slugify("  Shoe-size (EU) ") == "shoe_size_eu"
    assert fields_core.slugify("Ёлка") == "elka"
