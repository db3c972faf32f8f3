"""Bulk actions from the contact list: selected rows or all matching a filter, set-based."""

import re

import pytest
from sqlalchemy import event, func, insert, select

from crmlite.core import bulk
from crmlite.core import contacts as contacts_core
from crmlite.core import tags as tags_core
from crmlite.core.listing import ContactFilter
from crmlite.extensions import db
from crmlite.models import Contact, ContactHistory, SearchToken, Tag, contact_tags
from crmlite.models.types import utcnow

HTMX = {"HX-Request": "true"}


def seed(n_moscow=300, n_other=50):
    """n_moscow contacts of company 'Moskva Trade' and n_other of 'Other', via set-based SQL,
    with search tokens so the search filter finds them."""
    now = utcnow()
    rows = []
    for i in range(n_moscow + n_other):
        company = "Moskva Trade" if i < n_moscow else "Other"
        rows.append(
            {
                "first_name": f"F{i:04d}",
                "last_name": "Bulk",
                "company": company,
                "company_key": company.lower(),
                "sort_name": f"bulk f{i:04d}",
                "stage": "potential" if i % 3 else "customer",
                "created_at": now,
                "updated_at": now,
                "custom": {},
            }
        )
    db.session.execute(insert(Contact), rows)
    ids = list(db.session.scalars(select(Contact.id).order_by(Contact.id)))
    tokens = []
    for cid, row in zip(ids, rows, strict=True):
        for word in {row["company"].split()[0].lower(), "bulk"}:
            tokens.append({"contact_id": cid, "token": word, "sort_name": row["sort_name"]})
    db.session.execute(insert(SearchToken), tokens)
    db.session.commit()
    return ids


@pytest.fixture
def many(app, users):
    with app.test_request_context():
        ids = seed()
        db.session.remove()
    return ids


def history_rows(action=None):
    stmt = select(func.count()).select_from(ContactHistory)
    if action:
        stmt = stmt.where(ContactHistory.action == action)
    return db.session.scalar(stmt)


def tagged(name):
    return db.session.scalar(
        select(func.count())
        .select_from(contact_tags)
        .join(Tag, Tag.id == contact_tags.c.tag_id)
        .where(Tag.name == name)
    )


def post_all(client, action, headers=None, **fields):
    data = {"action": action, "all": "1", "q": "moskva", **fields}
    return client.post("/contacts/bulk", data=data, headers=headers or {})


def test_add_tag_to_all_matching_the_filter(app, editor_client, many, users):
    resp = post_all(editor_client, "add_tag", tag_name="vip")
    assert resp.status_code == 302
    page = editor_client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Tag “vip” added to 300 contacts." in page
    with app.test_request_context():
        assert tagged("vip") == 300
        entries = db.session.scalars(
            select(ContactHistory).where(ContactHistory.action == "tag_add")
        ).all()
        assert len(entries) == 300
        assert {e.user_id for e in entries} == {users["editor"]}
        assert entries[0].changes == {"tags": [None, "vip"]}
        # A tag is not a form field: the contact rows are left alone (no new version, so an
        # open edit form saves without a conflict) and the history carries the current one.
        versions = dict(
            db.session.execute(
                select(Contact.id, Contact.version).where(Contact.company == "Moskva Trade")
            ).all()
        )
        assert set(versions.values()) == {1}
        assert {e.version for e in entries} == {1}
        assert history_rows() == 300  # nobody else got an entry


def test_adding_a_tag_twice_changes_only_the_new_ones(app, editor_client, many):
    editor_client.post(
        "/contacts/bulk", data={"action": "add_tag", "tag_name": "VIP", "ids": many[:5]}
    )
    resp = post_all(editor_client, "add_tag", tag_name="vip")  # same tag, other case
    page = editor_client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Tag “VIP” added to 295 contacts." in page
    with app.test_request_context():
        assert db.session.scalar(select(func.count()).select_from(Tag)) == 1
        assert tagged("VIP") == 300
        assert history_rows("tag_add") == 300
    resp = post_all(editor_client, "add_tag", tag_name="vip")
    page = editor_client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Nothing changed" in page


def test_remove_tag_from_selected_rows(app, editor_client, many):
    post_all(editor_client, "add_tag", tag_name="lead")
    resp = editor_client.post(
        "/contacts/bulk", data={"action": "remove_tag", "tag_name": "Lead", "ids": many[:7]}
    )
    page = editor_client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Tag “lead” removed from 7 contacts." in page
    with app.test_request_context():
        assert tagged("lead") == 293
        removed = db.session.scalars(
            select(ContactHistory).where(ContactHistory.action == "tag_remove")
        ).all()
        assert sorted(e.contact_id for e in removed) == many[:7]
        assert removed[0].changes == {"tags": ["lead", None]}


def test_set_stage_records_each_contacts_old_stage(app, editor_client, many):
    resp = post_all(editor_client, "set_stage", new_stage="key_client")
    page = editor_client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Stage set to “Key client” for 300 contacts." in page
    with app.test_request_context():
        assert db.session.scalar(select(func.count()).where(Contact.stage == "key_client")) == 300
        entries = db.session.scalars(select(ContactHistory)).all()
        assert len(entries) == 300
        olds = sorted(e.changes["stage"][0] for e in entries)
        assert olds.count("customer") == 100 and olds.count("potential") == 200
        assert all(e.changes["stage"][1] == "key_client" for e in entries)


def test_set_owner_and_clear_owner(app, editor_client, many, users):
    resp = editor_client.post(
        "/contacts/bulk",
        data={"action": "set_owner", "new_owner": users["admin"], "ids": many[:10]},
    )
    page = editor_client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Owner set to Admin for 10 contacts." in page
    resp = post_all(editor_client, "set_owner", new_owner="none")
    page = editor_client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Owner cleared for 10 contacts." in page  # the other 290 had no owner already
    with app.test_request_context():
        entries = db.session.scalars(select(ContactHistory).order_by(ContactHistory.id)).all()
        assert [e.changes for e in entries[:1]] == [{"owner_id": [None, users["admin"]]}]
        assert entries[-1].changes == {"owner_id": [users["admin"], None]}
        assert db.session.scalar(select(func.count()).where(Contact.owner_id.is_not(None))) == 0


def test_archive_all_matching_then_restore_from_the_archived_view(app, editor_client, many):
    resp = post_all(editor_client, "archive", headers=HTMX)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "300 contacts archived." in html
    # The list refreshed: only the non-matching remain... but the filter is q=moskva.
    assert "No contacts match." in html
    assert len(re.findall(r'name="ids"', editor_client.get("/").get_data(as_text=True))) == 50
    count = editor_client.get("/contacts/count").get_data(as_text=True)
    assert count.startswith("50 contacts")
    archived = editor_client.get("/?archived=1&q=moskva").get_data(as_text=True)
    assert 'value="restore"' in archived and 'value="archive"' not in archived
    resp = post_all(editor_client, "restore", archived="1")
    page = editor_client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "300 contacts restored." in page
    with app.test_request_context():
        assert history_rows("archive") == 300 and history_rows("restore") == 300
        assert db.session.scalar(select(func.count()).where(Contact.is_archived)) == 0
        assert db.session.scalar(select(func.max(Contact.version))) == 3


@pytest.mark.parametrize(
    "data, message",
    [
        ({"action": "add_tag", "tag_name": "vip"}, "Select some contacts first."),
        ({"action": "explode", "all": "1"}, "Choose what to do with the selected contacts."),
        ({"action": "add_tag", "tag_name": "   ", "all": "1"}, "A tag needs a name."),
        ({"action": "remove_tag", "tag_name": "ghost", "all": "1"}, "There is no tag “ghost”."),
        ({"action": "set_stage", "new_stage": "boss", "all": "1"}, "Choose a stage."),
        ({"action": "set_owner", "new_owner": "", "all": "1"}, "Choose the new owner."),
        ({"action": "set_owner", "new_owner": "999999", "all": "1"}, "Choose an existing user"),
        ({"action": "archive", "ids": ["1", "x"]}, "“x” is not a contact id."),
    ],
)
def test_bad_input_gets_a_message_and_changes_nothing(app, editor_client, many, data, message):
    resp = editor_client.post("/contacts/bulk", data=data)
    assert resp.status_code == 302
    page = editor_client.get(resp.headers["Location"]).get_data(as_text=True)
    assert message in page
    # Over HTMX: 422, the message next to the bulk bar, the list (and its selection) untouched.
    resp = editor_client.post("/contacts/bulk", data=data, headers=HTMX)
    assert resp.status_code == 422
    assert resp.headers["HX-Reswap"] == "none"
    body = resp.get_data(as_text=True)
    assert 'id="bulk-message"' in body and 'hx-swap-oob="true"' in body and message in body
    with app.test_request_context():
        assert history_rows() == 0
        assert db.session.scalar(select(func.count()).select_from(Tag)) == 0
        assert db.session.scalar(select(func.max(Contact.version))) == 1


def test_viewer_cannot_bulk(app, viewer_client, many):
    resp = post_all(viewer_client, "archive")
    assert resp.status_code == 403
    with app.test_request_context():
        assert db.session.scalar(select(func.count()).where(Contact.is_archived)) == 0


def test_bulk_bar_carries_the_filter_and_the_all_matching_choice(editor_client, many):
    html = editor_client.get("/?q=moskva&stage=customer&sort=newest").get_data(as_text=True)
    form = re.search(r'<form id="bulk-form".*?</form>', html, re.S).group(0)
    for name, value in (("q", "moskva"), ("stage", "customer"), ("sort", "newest")):
        assert f'<input type="hidden" name="{name}" value="{value}">' in form
    assert 'name="all" value="1"' in form and 'id="match-count"' in form
    resp = editor_client.post(
        "/contacts/bulk",
        data={
            "action": "add_tag",
            "tag_name": "hot lead",
            "all": "1",
            "q": "moskva",
            "stage": "customer",
        },
        headers=HTMX,
    )
    body = resp.get_data(as_text=True)
    assert "Tag “hot lead” added to 100 contacts." in body
    assert 'class="tag"' in body and "hot lead" in body  # the refreshed rows show the tag


def test_bulk_is_a_fixed_number_of_statements(app, users):
    """Set-based: as many SQL statements for 350 contacts as for 35."""
    with app.test_request_context():
        ids = seed(300, 50)

        def statements(action, chosen, **kw):
            seen = []

            def count(conn, cursor, statement, *args):
                seen.append(statement)

            event.listen(db.engine, "before_cursor_execute", count)
            try:
                result = bulk.run(db.session, action, chosen, None, **kw)
            finally:
                event.remove(db.engine, "before_cursor_execute", count)
            db.session.commit()
            return result.changed, len(seen)

        tags_core.get_or_create(db.session, "x")  # creating the tag is not per contact
        few = bulk.scope(ids[:35], None)
        everyone = bulk.scope(None, ContactFilter())
        for action, kw in (
            ("add_tag", {"tag_name": "x"}),
            ("set_stage", {"stage": "former"}),
            ("set_owner", {"owner_id": None}),
            ("archive", {}),
        ):
            n_few, q_few = statements(action, few, **kw)
            if action == "archive":
                everyone = bulk.scope(None, ContactFilter())
            n_all, q_all = statements(action, everyone, **kw)
            assert q_few == q_all, action
            if action != "set_owner":
                assert (n_few, n_all) == (35, 315), action


def test_tag_merge_after_bulk_keeps_counts(app, editor_client, many):
    """A tag added in bulk is an ordinary tag: the tags core sees every contact."""
    post_all(editor_client, "add_tag", tag_name="a")
    with app.test_request_context():
        counts = dict((t.name, n) for t, n in tags_core.with_counts(db.session))
        assert counts == {"a": 300}
        c = db.session.get(Contact, many[0])
        assert [t.name for t in c.tags] == ["a"]
    # An edit form opened before the bulk tag still saves, and the tag stays.
    with app.test_request_context():
        contact = contacts_core.get_contact(db.session, many[0])
        contacts_core.update_contact(db.session, contact, {"city": "Tver"}, None, base_version=1)
        db.session.commit()
        contact = contacts_core.load_contact(db.session, many[0])
        assert contact.city == "Tver" and [t.name for t in contact.tags] == ["a"]
        assert contact.version == 2
