"""Tags on the contact page: chips with one-click remove, add with autocomplete."""

import re

from sqlalchemy import func, select

from crmlite.core import tags
from crmlite.extensions import db
from crmlite.models import ContactHistory, Tag

from .test_contact_page import HX, history_actions, load, make_contact


def make_tags(app, *names) -> dict[str, int]:
    with app.app_context():
        made = {name: tags.get_or_create(db.session, name).id for name in names}
        db.session.commit()
        return made


def tag_names(app, contact_id) -> list[str]:
    return [t.name for t in load(app, contact_id).tags]


def test_page_has_chips_and_an_add_input_with_autocomplete(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    ids = make_tags(app, "VIP")
    editor_client.post(f"/contacts/{contact_id}/tags", data={"tag": "VIP"}, headers=HX)
    html = editor_client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    assert re.search(r'<li class="tag" style="background: #[0-9a-f]{6}">VIP', html)
    assert f'hx-post="/contacts/{contact_id}/tags/{ids["VIP"]}/remove"' in html
    assert 'list="tag-suggestions"' in html and '<datalist id="tag-suggestions">' in html
    assert f'hx-get="/contacts/{contact_id}/tags/suggest"' in html


def test_enter_adds_a_new_tag_and_records_it(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    resp = editor_client.post(
        f"/contacts/{contact_id}/tags", data={"tag": "  Партнёр  "}, headers=HX
    )
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="contact-tags"')
    assert ">Партнёр" in html
    assert "autofocus" in html  # ready for the next tag
    assert resp.headers["HX-Trigger"] == "contactChanged"
    assert tag_names(app, contact_id) == ["Партнёр"]
    assert history_actions(app, contact_id) == ["create", "tag_add"]


def test_an_existing_tag_is_matched_case_insensitively_cyrillic_too(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    make_tags(app, "VIP", "Ёлка")
    editor_client.post(f"/contacts/{contact_id}/tags", data={"tag": "vip"}, headers=HX)
    editor_client.post(f"/contacts/{contact_id}/tags", data={"tag": "ЕЛКА"}, headers=HX)
    assert tag_names(app, contact_id) == ["VIP", "Ёлка"]
    with app.app_context():
        assert db.session.scalar(select(func.count(Tag.id))) == 2


def test_adding_a_tag_the_contact_has_changes_nothing(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    editor_client.post(f"/contacts/{contact_id}/tags", data={"tag": "VIP"}, headers=HX)
    resp = editor_client.post(f"/contacts/{contact_id}/tags", data={"tag": "vip"}, headers=HX)
    assert resp.status_code == 200
    assert "already has the tag “VIP”" in resp.get_data(as_text=True)
    assert "HX-Trigger" not in resp.headers
    assert history_actions(app, contact_id) == ["create", "tag_add"]


def test_an_empty_or_too_long_tag_is_refused(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    resp = editor_client.post(f"/contacts/{contact_id}/tags", data={"tag": "   "}, headers=HX)
    assert resp.status_code == 422
    assert "A tag needs a name." in resp.get_data(as_text=True)
    resp = editor_client.post(f"/contacts/{contact_id}/tags", data={"tag": "x" * 101}, headers=HX)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "at most 100 characters" in html and 'value="' + "x" * 101 + '"' in html
    assert tag_names(app, contact_id) == []
    with app.app_context():
        assert db.session.scalar(select(func.count(Tag.id))) == 0


def test_the_cross_removes_a_tag_in_one_click(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    ids = make_tags(app, "VIP", "Lead")
    for name in ("VIP", "Lead"):
        editor_client.post(f"/contacts/{contact_id}/tags", data={"tag": name}, headers=HX)
    resp = editor_client.post(f"/contacts/{contact_id}/tags/{ids['VIP']}/remove", headers=HX)
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert ">Lead" in html and ">VIP" not in html
    assert resp.headers["HX-Trigger"] == "contactChanged"
    assert tag_names(app, contact_id) == ["Lead"]
    with app.app_context():
        last = db.session.scalars(
            select(ContactHistory).order_by(ContactHistory.id.desc()).limit(1)
        ).one()
        assert (last.action, last.changes, last.user_id) == (
            "tag_remove",
            {"tags": ["VIP", None]},
            users["editor"],
        )
        # The tag itself stays for other contacts.
        assert db.session.get(Tag, ids["VIP"]) is not None


def test_tags_work_without_javascript(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    resp = editor_client.post(f"/contacts/{contact_id}/tags", data={"tag": "VIP"})
    assert resp.status_code == 302 and resp.headers["Location"] == f"/contacts/{contact_id}"
    tag_id = load(app, contact_id).tags[0].id
    resp = editor_client.post(f"/contacts/{contact_id}/tags/{tag_id}/remove")
    assert resp.status_code == 302
    assert tag_names(app, contact_id) == []
    resp = editor_client.post(
        f"/contacts/{contact_id}/tags", data={"tag": ""}, follow_redirects=True
    )
    assert "A tag needs a name." in resp.get_data(as_text=True)


def test_suggestions_match_the_start_of_a_name_in_any_case(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    make_tags(app, "Ивент 2024", "ивент-партнёр", "VIP", "Video")
    editor_client.post(f"/contacts/{contact_id}/tags", data={"tag": "Video"}, headers=HX)

    def suggest(prefix):
        resp = editor_client.get(
            f"/contacts/{contact_id}/tags/suggest", query_string={"tag": prefix}, headers=HX
        )
        assert resp.status_code == 200
        return re.findall(r'<option value="([^"]*)">', resp.get_data(as_text=True))

    assert suggest("ИВЕ") == ["Ивент 2024", "ивент-партнёр"]
    assert suggest("v") == ["VIP"]  # "Video" is on the contact already
    assert suggest("zzz") == []
    assert set(suggest("")) == {"Ивент 2024", "ивент-партнёр", "VIP"}
