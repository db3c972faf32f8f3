"""The contact page: create, view, archive, restore, delete, viewers, escaping, query count."""

import re

from sqlalchemy import event, func, select

from crmlite.core import contacts, tags
from crmlite.extensions import db
from crmlite.models import Contact, ContactHistory, CustomField

HX = {"HX-Request": "true"}


def make_contact(app, user_id=None, **fields) -> int:
    """A contact made through core, as another screen or an import would."""
    raw = {"first_name": "Ivan", "last_name": "Petrov", **fields}
    with app.app_context():
        clean = contacts.validate(raw, region="RU")
        contact = contacts.create_contact(db.session, clean, user_id)
        db.session.commit()
        return contact.id


def make_custom_fields(app) -> None:
    with app.app_context():
        db.session.add_all(
            [
                CustomField(key="shoe_size", label="Shoe size", kind="number", position=0),
                CustomField(key="met_on", label="Met on", kind="date", position=1),
                CustomField(
                    key="plan", label="Plan", kind="choice", choices=["Basic", "Pro"], position=2
                ),
                CustomField(key="nickname", label="Nickname", kind="text", position=3),
            ]
        )
        db.session.commit()


def load(app, contact_id: int) -> Contact | None:
    with app.app_context():
        contact = contacts.load_contact(db.session, contact_id)
        if contact is not None:
            db.session.expunge_all()
        return contact


def history_actions(app, contact_id: int) -> list[str]:
    with app.app_context():
        return list(
            db.session.scalars(
                select(ContactHistory.action)
                .where(ContactHistory.contact_id == contact_id)
                .order_by(ContactHistory.id)
            )
        )


def version_in(html: str) -> int:
    match = re.search(r'name="version"[^>]*value="(\d+)"', html)
    assert match, "no version in the form"
    return int(match.group(1))


NEW_CONTACT = {
    "first_name": "Анна",
    "middle_name": "Сергеевна",
    "last_name": "Иванова",
    "emails-0-value": "anna@work.example",
    "emails-0-label": "work",
    "emails-1-value": "Anna.Home@Example.com",
    "emails-1-label": "personal",
    "emails-primary": "1",
    "phones-0-value": "8 912 345-67-89",
    "phones-0-label": "mobile",
    "phones-primary": "0",
    "company": "Ромашка",
    "position": "CTO",
    "industry": "Retail",
    "city": "Казань",
    "country": "Россия",
    "address": "ул. Баумана, 1",
    "birth_date": "1985-04-12",
    "gender": "female",
    "source": "referral",
    "stage": "key_client",
    "temperature": "hot",
    "notes": "Met at the fair.\nCall in May.",
    "custom__shoe_size": "38,5",
    "custom__met_on": "2024-09-01",
    "custom__plan": "Pro",
    "custom__nickname": "Аня",
}


# -- create ------------------------------------------------------------------------------


def test_new_form_has_rows_custom_fields_and_owner_defaulting_to_me(app, editor_client, users):
    make_custom_fields(app)
    page = editor_client.get("/contacts/new").get_data(as_text=True)
    # Several e-mail and phone rows, each with a label and a "primary" radio.
    for kind in ("emails", "phones"):
        assert f'name="{kind}-0-value"' in page and f'name="{kind}-1-value"' in page
        assert f'name="{kind}-0-label"' in page
        assert re.search(rf'type="radio" name="{kind}-primary" value="0"\s*checked', page)
    # Custom fields by kind.
    assert re.search(r'name="custom__met_on" type="date"', page)
    assert 'inputmode="decimal"' in page
    assert '<option value="Pro">Pro</option>' in page
    # Translated choice labels and the owner preselected.
    assert '<option value="key_client">Key client</option>' in page
    assert re.search(rf'<option selected value="{users["editor"]}">Editor</option>', page)


def test_create_saves_every_field_and_opens_the_contact(app, editor_client, users):
    make_custom_fields(app)
    resp = editor_client.post("/contacts/new", data={**NEW_CONTACT, "owner_id": users["admin"]})
    assert resp.status_code == 302
    contact_id = int(resp.headers["Location"].rsplit("/", 1)[1])

    contact = load(app, contact_id)
    assert (contact.first_name, contact.last_name, contact.middle_name) == (
        "Анна",
        "Иванова",
        "Сергеевна",
    )
    assert [(e.email, e.label, e.is_primary) for e in contact.emails] == [
        ("anna.home@example.com", "personal", True),
        ("anna@work.example", "work", False),
    ]
    assert [(p.e164, p.is_primary) for p in contact.phones] == [("+79123456789", True)]
    assert contact.birth_date.isoformat() == "1985-04-12"
    assert (contact.source, contact.stage, contact.temperature) == ("referral", "key_client", "hot")
    assert contact.owner_id == users["admin"]
    assert contact.created_by_id == users["editor"]
    assert contact.custom == {
        "shoe_size": "38.5",
        "met_on": "2024-09-01",
        "plan": "Pro",
        "nickname": "Аня",
    }

    page = editor_client.get(resp.headers["Location"])
    html = page.get_data(as_text=True)
    assert "Contact created." in html
    assert "Иванова Анна Сергеевна" in html
    assert "+7 912 345-67-89" in html  # stored E.164, shown formatted
    for label in ("Key client", "Referral", "Hot", "Female", "Admin", "Apr 12, 1985"):
        assert label in html
    assert "Shoe size" in html and "38.5" in html and "Sep 1, 2024" in html
    assert history_actions(app, contact_id) == ["create"]


def test_create_with_a_bad_email_or_phone_saves_nothing_and_says_why(app, editor_client, users):
    data = {**NEW_CONTACT, "emails-1-value": "anna@", "phones-0-value": "12"}
    resp = editor_client.post("/contacts/new", data=data)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "“anna@” is not a valid e-mail address." in html
    assert "“12” is not a phone number." in html or "“12” is not a valid phone number." in html
    assert "nothing was saved" in html
    # What the user typed is still there.
    assert 'value="anna@"' in html and 'value="Иванова"' in html
    with app.app_context():
        assert db.session.scalar(select(func.count(Contact.id))) == 0


def test_create_refuses_impossible_values(app, editor_client, users):
    make_custom_fields(app)
    data = {
        "last_name": "Smith",
        "birth_date": "2999-01-01",
        "custom__shoe_size": "big",
        "custom__met_on": "31.02.2020",
        "stage": "boss",
    }
    resp = editor_client.post("/contacts/new", data=data)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "A birth date must be between 1900 and today." in html
    assert "“big” is not a number." in html
    assert "is not a real date" in html
    assert "Choose one of:" in html
    with app.app_context():
        assert db.session.scalar(select(func.count(Contact.id))) == 0


def test_a_contact_needs_a_name_company_email_or_phone(app, editor_client, users):
    resp = editor_client.post("/contacts/new", data={"city": "Omsk"})
    assert resp.status_code == 422
    assert "Give the contact a name, a company, an e-mail or a phone." in resp.get_data(
        as_text=True
    )


# -- view --------------------------------------------------------------------------------


def test_unknown_contact_is_404(editor_client):
    assert editor_client.get("/contacts/999").status_code == 404
    assert editor_client.get("/contacts/999/edit").status_code == 404
    assert editor_client.get("/contacts/999/field/company/edit", headers=HX).status_code == 404
    assert editor_client.post("/contacts/999/archive").status_code == 404


def test_page_shows_fields_tags_and_history_with_human_labels(app, editor_client, users):
    contact_id = make_contact(
        app,
        users["editor"],
        company="Acme",
        stage="former",
        temperature="cold",
        source="web_form",
        gender="male",
        phones=[{"value": "+44 20 7946 0958", "label": "work"}],
    )
    with app.app_context():
        contact = db.session.get(Contact, contact_id)
        tags.add_tag(db.session, contact, tags.get_or_create(db.session, "VIP"), users["editor"])
        db.session.commit()
    html = editor_client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    for text in ("Former", "Cold", "Web form", "Male", "Acme", "+44 20 7946 0958", "VIP"):
        assert text in html
    assert "Lifecycle stage" in html and "Temperature" in html
    assert 'id="timeline"' in html
    assert html.index("added a tag") < html.index("created the contact")  # newest first


# -- archive, restore, delete ------------------------------------------------------------


def test_archive_and_restore(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    resp = editor_client.post(f"/contacts/{contact_id}/archive", follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert "Archived: the contact is hidden from lists" in html
    assert 'class="archived-banner"' in html
    assert f'action="/contacts/{contact_id}/restore"' in html
    assert load(app, contact_id).is_archived

    resp = editor_client.post(f"/contacts/{contact_id}/restore", follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert "Restored" in html and 'class="archived-banner"' not in html
    assert not load(app, contact_id).is_archived
    assert history_actions(app, contact_id) == ["create", "archive", "restore"]


def test_only_admins_delete_permanently(app, editor_client, admin_client, users):
    contact_id = make_contact(app, users["editor"])
    assert "Delete permanently" not in editor_client.get(f"/contacts/{contact_id}").get_data(
        as_text=True
    )
    assert editor_client.get(f"/contacts/{contact_id}/delete").status_code == 403
    assert editor_client.post(f"/contacts/{contact_id}/delete").status_code == 403
    assert load(app, contact_id) is not None

    page = admin_client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    assert "hx-confirm=" in page and "Delete permanently" in page
    confirm = admin_client.get(f"/contacts/{contact_id}/delete").get_data(as_text=True)
    assert "cannot be undone" in confirm

    resp = admin_client.post(f"/contacts/{contact_id}/delete")
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    assert load(app, contact_id) is None
    with app.app_context():
        assert db.session.scalar(select(func.count(ContactHistory.id))) == 0


def test_delete_through_htmx_redirects_to_the_list_with_a_flash(app, admin_client, users):
    contact_id = make_contact(app, users["admin"])
    resp = admin_client.post(f"/contacts/{contact_id}/delete", headers=HX)
    assert resp.status_code == 200
    assert resp.headers["HX-Redirect"] == "/"
    assert load(app, contact_id) is None
    with admin_client.session_transaction() as session:
        assert any("deleted permanently" in m for _c, m in session["_flashes"])


# -- viewers -----------------------------------------------------------------------------


def test_viewer_sees_the_page_without_edit_affordances(app, viewer_client, users):
    contact_id = make_contact(app, users["editor"], company="Acme")
    with app.app_context():
        contact = db.session.get(Contact, contact_id)
        tags.add_tag(db.session, contact, tags.get_or_create(db.session, "VIP"), None)
        db.session.commit()
    html = viewer_client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    assert "Acme" in html and "VIP" in html and "Chronicle" in html
    assert "/field/" not in html  # no click-to-edit
    assert 'name="tag"' not in html and "tag-remove" not in html
    for word in ("Archive", "Edit all fields", "Delete permanently"):
        assert word not in html
    assert (
        viewer_client.get(f"/contacts/{contact_id}/field/company/edit", headers=HX).status_code
        == 403
    )


def test_viewer_posts_are_refused(app, viewer_client, users):
    contact_id = make_contact(app, users["editor"], company="Acme")
    attempts = [
        (f"/contacts/{contact_id}/field/company", {"company": "Hacked", "version": "1"}),
        (f"/contacts/{contact_id}/edit", {"company": "Hacked", "version": "1"}),
        (f"/contacts/{contact_id}/tags", {"tag": "hacked"}),
        (f"/contacts/{contact_id}/archive", {}),
        (f"/contacts/{contact_id}/delete", {}),
        ("/contacts/new", {"first_name": "Hacker"}),
    ]
    for url, data in attempts:
        assert viewer_client.post(url, data=data, headers=HX).status_code == 403, url
    contact = load(app, contact_id)
    assert contact.company == "Acme" and not contact.is_archived and contact.tags == []
    with app.app_context():
        assert db.session.scalar(select(func.count(Contact.id))) == 1


# -- escaping ----------------------------------------------------------------------------

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'


def test_markup_typed_into_fields_is_shown_as_text(app, editor_client, users):
    make_custom_fields(app)
    data = {
        "first_name": SCRIPT,
        "last_name": IMG,
        "company": SCRIPT,
        "position": IMG,
        "address": IMG,
        "notes": SCRIPT + IMG,
        "custom__nickname": IMG,
        "emails-0-label": IMG,
    }
    resp = editor_client.post("/contacts/new", data=data)
    assert resp.status_code == 302
    contact_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    editor_client.post(f"/contacts/{contact_id}/tags", data={"tag": IMG}, headers=HX)

    pages = [
        editor_client.get(f"/contacts/{contact_id}").get_data(as_text=True),
        editor_client.get(f"/contacts/{contact_id}/edit").get_data(as_text=True),
        editor_client.get(f"/contacts/{contact_id}/field/position/edit", headers=HX).get_data(
            as_text=True
        ),
        editor_client.get(f"/contacts/{contact_id}/timeline", headers=HX).get_data(as_text=True),
        editor_client.get(f"/contacts/{contact_id}/tags/suggest?tag=%22", headers=HX).get_data(
            as_text=True
        ),
    ]
    for html in pages:
        assert "<script>alert" not in html
        assert "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[0]
    assert "&lt;img src=x onerror=alert(1)&gt;" in pages[0]
    # A bad value posted inline comes back escaped too.
    resp = editor_client.post(
        f"/contacts/{contact_id}/field/emails",
        data={"emails-0-value": IMG, "version": version_in(pages[1])},
        headers=HX,
    )
    assert resp.status_code == 422
    assert "<img src=x" not in resp.get_data(as_text=True)


# -- speed -------------------------------------------------------------------------------


def count_queries(app, client, url: str) -> int:
    statements = []

    def before(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", before)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", before)
    return len(statements)


def test_the_page_runs_a_fixed_number_of_queries(app, editor_client, users):
    make_custom_fields(app)
    small = make_contact(app, users["editor"], emails=["a@example.com"])
    big = make_contact(
        app,
        users["admin"],
        emails=[f"p{i}@example.com" for i in range(6)],
        phones=[f"+7912345670{i}" for i in range(6)],
    )
    with app.app_context():
        contact = db.session.get(Contact, big)
        for i in range(6):
            tags.add_tag(db.session, contact, tags.get_or_create(db.session, f"tag {i}"), i % 2 + 1)
        for i in range(10):
            contacts.update_contact(
                db.session, contact, {"city": f"City {i}"}, users["editor"], contact.version
            )
        db.session.commit()
    few = count_queries(app, editor_client, f"/contacts/{small}")
    many = count_queries(app, editor_client, f"/contacts/{big}")
    assert few == many
    # The timeline reads two sources (interactions and history); the reminders panel one
    # query, the overdue badge in the navigation one COUNT.
    assert many <= 13
