"""The History panel: who, when, action, field: before -> after; newest first; live refresh."""

import re

from crmlite.core import contacts, tags
from crmlite.extensions import db
from crmlite.models import Contact

from .test_contact_page import HX, history_actions, make_contact, version_in


def entries_in(html: str) -> list[str]:
    """The text of each history entry, tags stripped, whitespace collapsed."""
    items = re.findall(
        r'<li class="history-entry">(.*?)</li>\s*(?=<li class="history-entry">|</ol>)', html, re.S
    )
    return [" ".join(re.sub(r"<[^>]+>", "", item).split()) for item in items]


def test_every_change_is_listed_newest_first_with_who_and_before_after(
    app, editor_client, admin_client, users
):
    contact_id = make_contact(app, users["editor"], company="Acme", stage="potential")
    # An inline edit by the editor, a tag by the admin, an archive and a restore.
    editor_client.post(
        f"/contacts/{contact_id}/field/stage", data={"stage": "customer", "version": 1}, headers=HX
    )
    admin_client.post(f"/contacts/{contact_id}/tags", data={"tag": "VIP"}, headers=HX)
    html = editor_client.get(f"/contacts/{contact_id}/edit").get_data(as_text=True)
    editor_client.post(
        f"/contacts/{contact_id}/field/owner_id",
        data={"owner_id": users["admin"], "version": version_in(html)},
        headers=HX,
    )
    admin_client.post(f"/contacts/{contact_id}/archive")
    admin_client.post(f"/contacts/{contact_id}/restore")
    assert history_actions(app, contact_id) == [
        "create",
        "update",
        "tag_add",
        "update",
        "archive",
        "restore",
    ]

    page = editor_client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    shown = entries_in(page)
    assert shown[0].startswith("Admin restored the contact")
    assert "Archived: yes → no" in shown[0]
    assert shown[1].startswith("Admin archived the contact")
    assert shown[2].startswith("Editor edited") and "Owner: Editor → Admin" in shown[2]
    assert shown[3].startswith("Admin added a tag") and "Tags: — → VIP" in shown[3]
    # Choice values appear with their human labels.
    assert (
        shown[4].startswith("Editor edited") and "Lifecycle stage: Potential → Customer" in shown[4]
    )
    assert shown[5].startswith("Editor created the contact") and "Company: — → Acme" in shown[5]
    assert re.search(r'<time class="muted" datetime="\d{4}-\d\d-\d\dT', page)


def test_the_panel_refreshes_itself_after_each_edit(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    page = editor_client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    assert re.search(
        # The page shows the history inside the chronicle's timeline (tests/test_chronicle.py).
        rf'id="timeline"[^>]*hx-get="/contacts/{contact_id}/timeline"'
        r' hx-trigger="contactChanged from:body"',
        page,
        re.S,
    )
    resp = editor_client.post(
        f"/contacts/{contact_id}/field/city", data={"city": "Тверь", "version": 1}, headers=HX
    )
    assert resp.headers["HX-Trigger"] == "contactChanged"

    panel = editor_client.get(f"/contacts/{contact_id}/timeline", headers=HX)
    html = panel.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="timeline"')
    assert "<html" not in html
    assert "City: — → Тверь" in entries_in(html)[0]
    # Without htmx the panel URL leads to the page.
    resp = editor_client.get(f"/contacts/{contact_id}/timeline")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(
        f"/contacts/{contact_id}#timeline"
    )


def test_edits_of_emails_phones_and_custom_fields_are_recorded(app, editor_client, users):
    from .test_contact_page import make_custom_fields

    make_custom_fields(app)
    contact_id = make_contact(app, users["editor"], emails=["a@example.com"])
    editor_client.post(
        f"/contacts/{contact_id}/field/emails",
        data={"version": 1, "emails-0-value": "b@example.com", "emails-0-label": "personal"},
        headers=HX,
    )
    editor_client.post(
        f"/contacts/{contact_id}/field/custom__plan",
        data={"version": 2, "custom__plan": "Basic"},
        headers=HX,
    )
    editor_client.post(
        f"/contacts/{contact_id}/field/birth_date",
        data={"version": 3, "birth_date": "1990-05-06"},
        headers=HX,
    )
    shown = entries_in(editor_client.get(f"/contacts/{contact_id}").get_data(as_text=True))
    assert "Birth date: — → May 6, 1990" in shown[0]
    assert "Plan: — → Basic" in shown[1]
    assert "E-mails: a@example.com (work) * → b@example.com (personal) *" in shown[2]


def test_history_entries_carry_the_version_they_made(app, users):
    contact_id = make_contact(app, users["editor"])
    with app.app_context():
        contact = db.session.get(Contact, contact_id)
        contacts.update_contact(db.session, contact, {"city": "Omsk"}, users["editor"], 1)
        tags.add_tag(db.session, contact, tags.get_or_create(db.session, "VIP"), users["admin"])
        contacts.set_archived(db.session, contact, True, users["admin"])
        db.session.commit()
        versions = [(e.action, e.version) for e in contacts.history.entries(db.session, contact_id)]
    assert versions == [("archive", 4), ("tag_add", 3), ("update", 2), ("create", 1)]
