"""The tags page: counts, inline rename, colour, merge and delete."""

from sqlalchemy import select

from crmlite.core import tags as tags_core
from crmlite.core.contacts import create_contact, validate
from crmlite.extensions import db
from crmlite.models import Contact, ContactHistory, Tag

HX = {"HX-Request": "true"}


def _setup(app, users, spec: dict[str, list[str]]) -> dict[str, int]:
    """Contacts by first name with their tags; returns tag ids by name (and contact ids)."""
    ids = {}
    with app.app_context():
        for first_name, tag_names in spec.items():
            contact = create_contact(db.session, validate({"first_name": first_name}), None)
            ids[first_name] = contact.id
            for name in tag_names:
                tag = tags_core.get_or_create(db.session, name)
                tags_core.add_tag(db.session, contact, tag, users["editor"])
                ids[name] = tag.id
        db.session.commit()
    return ids


def _tags_of(app, contact_id) -> list[str]:
    with app.app_context():
        return [t.name for t in db.session.get(Contact, contact_id).tags]


def _tag_names(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(select(Tag.name).order_by(Tag.name_key)))


def test_tags_page_lists_tags_with_counts_and_links_to_the_list(app, editor_client, users):
    ids = _setup(app, users, {"Anna": ["vip", "lead"], "Boris": ["vip"], "Clara": []})
    with app.app_context():
        tags_core.get_or_create(db.session, "unused")
        db.session.commit()
    page = editor_client.get("/tags/").get_data(as_text=True)
    assert page.index(">lead<") < page.index(">unused<") < page.index(">vip<")
    assert f'href="/?tag={ids["vip"]}">2</a>' in page
    assert f'href="/?tag={ids["lead"]}">1</a>' in page
    assert ">0</a>" in page
    assert 'type="color"' in page and "Merge two tags" in page


def test_viewer_sees_the_tags_read_only(app, viewer_client, users):
    ids = _setup(app, users, {"Anna": ["vip", "lead"]})
    page = viewer_client.get("/tags/").get_data(as_text=True)
    assert ">vip<" in page and 'href="/?tag=' in page
    assert "Rename" not in page and 'type="color"' not in page and "Merge" not in page
    assert viewer_client.get(f"/tags/{ids['vip']}/edit").status_code == 403
    assert viewer_client.get(f"/tags/{ids['vip']}/delete").status_code == 403
    assert viewer_client.post(f"/tags/{ids['vip']}", data={"name": "x"}).status_code == 403


def test_inline_rename_with_htmx(app, editor_client, users):
    ids = _setup(app, users, {"Anna": ["vip"]})
    editor = editor_client.get(f"/tags/{ids['vip']}/edit", headers=HX)
    html = editor.get_data(as_text=True)
    assert editor.status_code == 200 and "<html" not in html
    assert 'name="name" value="vip"' in html and 'type="color"' in html
    # Cancel brings the plain row back.
    assert ">vip<" in editor_client.get(f"/tags/{ids['vip']}/row", headers=HX).get_data(
        as_text=True
    )

    resp = editor_client.post(
        f"/tags/{ids['vip']}", data={"name": " Key  client ", "colour": "#ff0000"}, headers=HX
    )
    assert resp.status_code == 200
    row = resp.get_data(as_text=True)
    assert row.lstrip().startswith(f'<tr id="tag-{ids["vip"]}"')
    assert ">Key client<" in row and "#ff0000" in row
    assert "Tag “Key client” saved." in row  # the flash, out of band
    assert _tags_of(app, ids["Anna"]) == ["Key client"]


def test_rename_to_an_existing_name_says_so_and_changes_nothing(app, editor_client, users):
    ids = _setup(app, users, {"Anna": ["vip", "lead"]})
    resp = editor_client.post(f"/tags/{ids['vip']}", data={"name": "LEAD"}, headers=HX)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "A tag “lead” already exists; merge into it instead." in html
    assert 'name="name" value="LEAD"' in html  # the editor stays open with the typed text
    resp = editor_client.post(f"/tags/{ids['vip']}", data={"name": "   "})
    assert resp.status_code == 422
    assert _tag_names(app) == ["lead", "vip"]


def test_colour_is_set_with_the_colour_input(app, editor_client, users):
    ids = _setup(app, users, {"Anna": ["vip"]})
    resp = editor_client.post(f"/tags/{ids['vip']}/colour", data={"colour": "#00AA11"}, headers=HX)
    assert resp.status_code == 200
    assert 'value="#00aa11"' in resp.get_data(as_text=True)
    resp = editor_client.post(f"/tags/{ids['vip']}/colour", data={"colour": "red; x"}, headers=HX)
    assert resp.status_code == 422
    assert "A colour looks like #1a2b3c." in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Tag, ids["vip"]).colour == "#00aa11"


def test_merge_moves_contacts_once_and_deletes_the_source(app, editor_client, users):
    ids = _setup(
        app, users, {"Anna": ["VIP", "key"], "Boris": ["VIP"], "Clara": ["key"], "Dina": ["other"]}
    )
    resp = editor_client.post(
        "/tags/merge", data={"source": ids["VIP"], "target": ids["key"]}, follow_redirects=True
    )
    assert resp.status_code == 200
    assert "Merged “VIP” into “key”." in resp.get_data(as_text=True)
    # Anna had both: she ends with "key" once, no error from a duplicate row.
    assert _tags_of(app, ids["Anna"]) == ["key"]
    assert _tags_of(app, ids["Boris"]) == ["key"]
    assert _tags_of(app, ids["Clara"]) == ["key"]
    assert _tags_of(app, ids["Dina"]) == ["other"]
    assert _tag_names(app) == ["key", "other"]
    page = editor_client.get("/tags/").get_data(as_text=True)
    assert f'href="/?tag={ids["key"]}">3</a>' in page
    with app.app_context():
        merged = db.session.scalars(
            select(ContactHistory.contact_id).where(ContactHistory.action == "tag_merge")
        ).all()
        assert sorted(merged) == sorted([ids["Anna"], ids["Boris"]])


def test_merging_a_tag_into_itself_is_refused(app, editor_client, users):
    ids = _setup(app, users, {"Anna": ["vip", "lead"]})
    resp = editor_client.post("/tags/merge", data={"source": ids["vip"], "target": ids["vip"]})
    assert resp.status_code == 422
    assert "Choose two different tags to merge." in resp.get_data(as_text=True)
    resp = editor_client.post("/tags/merge", data={"source": 99999, "target": ids["vip"]})
    assert resp.status_code == 422
    assert "no longer exists" in resp.get_data(as_text=True)
    assert _tag_names(app) == ["lead", "vip"]
    assert _tags_of(app, ids["Anna"]) == ["lead", "vip"]


def test_delete_asks_first_then_removes_the_tag_from_contacts(app, editor_client, users):
    ids = _setup(app, users, {"Anna": ["vip", "lead"], "Boris": ["vip"]})
    confirm = editor_client.get(f"/tags/{ids['vip']}/delete").get_data(as_text=True)
    assert "Delete the tag “vip”?" in confirm and "It is removed from 2 contacts" in confirm
    assert _tag_names(app) == ["lead", "vip"]
    # The list offers the same with htmx's confirm dialog.
    page = editor_client.get("/tags/").get_data(as_text=True)
    assert 'hx-confirm="Delete the tag “vip”? It is removed from 2 contacts."' in page

    resp = editor_client.post(f"/tags/{ids['vip']}/delete", headers=HX)
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert "<tr" not in body  # the row is swapped for nothing
    assert "Tag “vip” deleted and removed from 2 contacts." in body
    assert _tag_names(app) == ["lead"]
    assert _tags_of(app, ids["Anna"]) == ["lead"]
    assert _tags_of(app, ids["Boris"]) == []
    with app.app_context():
        contact = db.session.get(Contact, ids["Boris"])
        entry = db.session.scalars(
            select(ContactHistory)
            .where(ContactHistory.contact_id == contact.id)
            .order_by(ContactHistory.id.desc())
        ).first()
        assert (entry.action, entry.changes) == ("tag_remove", {"tags": ["vip", None]})


def test_plain_form_rename_and_delete_work_without_javascript(app, editor_client, users):
    ids = _setup(app, users, {"Anna": ["vip"]})
    page = editor_client.get(f"/tags/{ids['vip']}/edit")
    assert page.status_code == 200 and "<html" in page.get_data(as_text=True)
    resp = editor_client.post(f"/tags/{ids['vip']}", data={"name": "gold", "colour": ""})
    assert resp.status_code == 302
    resp = editor_client.post(f"/tags/{ids['vip']}/delete", follow_redirects=True)
    assert "Tag “gold” deleted" in resp.get_data(as_text=True)
    assert _tag_names(app) == []
