"""The contact list page: rows, filters, sorting, keyset pages, lazy count, query count."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import event, insert, select, text, update

from crmlite.core import contacts as contacts_core
from crmlite.core import listing
from crmlite.core import tags as tags_core
from crmlite.core.listing import ContactFilter
from crmlite.extensions import db
from crmlite.models import Contact, contact_tags
from crmlite.models.types import utcnow

HTMX = {"HX-Request": "true"}


def make(user_id=None, **raw):
    clean = contacts_core.validate(raw)
    return contacts_core.create_contact(db.session, clean, user_id)


def make_many(n, prefix="Person", **extra):
    """n contacts named '<prefix> 0000'.. created with set-based SQL (fast, deterministic)."""
    now = utcnow()
    rows = [
        {
            "first_name": f"{i:04d}",
            "last_name": prefix,
            "sort_name": f"{prefix.lower()} {i:04d}",
            "company_key": f"company {i % 7}",
            "company": f"Company {i % 7}",
            "created_at": now,
            "updated_at": now + timedelta(seconds=i),
            "stage": "potential",
            "custom": {},
            **extra,
        }
        for i in range(n)
    ]
    db.session.execute(insert(Contact), rows)
    db.session.commit()


def names(html: str) -> list[str]:
    return re.findall(r'<a href="/contacts/\d+">([^<]+)</a>', html)


@pytest.fixture
def sample(app, users):
    with app.test_request_context():
        ivan = make(
            users["editor"],
            first_name="Иван",
            last_name="Петров",
            company="ООО «Ромашка»",
            emails=["ivan@example.com", "second@example.com"],
            phones=["8 912 345-67-89"],
            stage="customer",
            temperature="hot",
            source="event",
        )
        anna = make(
            users["admin"],
            first_name="Anna",
            last_name="Smith",
            company="Acme",
            emails=["anna@acme.com"],
            stage="potential",
            temperature="cold",
            source="ads",
        )
        old = make(None, first_name="Old", last_name="Archived", owner_id=None)
        contacts_core.set_archived(db.session, old, True, None)
        vip = tags_core.get_or_create(db.session, "VIP")
        vip.colour = "#dc3545"
        tags_core.add_tag(db.session, ivan, vip, None)
        db.session.commit()
        ids = {"ivan": ivan.id, "anna": anna.id, "old": old.id, "vip": vip.id}
        db.session.remove()
    return ids


def test_list_shows_rows_with_primary_email_formatted_phone_tags_and_owner(editor_client, sample):
    html = editor_client.get("/").get_data(as_text=True)
    assert names(html) == ["Smith Anna", "Петров Иван"]  # archived hidden; A-Z, Latin first
    assert "ivan@example.com" in html and "second@example.com" not in html
    assert "+7 912 345-67-89" in html
    assert 'class="tag" style="background: #dc3545">VIP</span>' in html
    assert "Customer" in html and "Hot" in html and "Editor" in html
    assert 'href="/contacts/new"' in html
    assert 'name="ids"' in html and 'id="bulk-form"' in html


def test_viewer_sees_no_checkboxes_bulk_bar_or_new_button(viewer_client, sample):
    html = viewer_client.get("/").get_data(as_text=True)
    assert names(html) == ["Smith Anna", "Петров Иван"]
    assert 'name="ids"' not in html
    assert "bulk-form" not in html
    assert "/contacts/new" not in html


def test_search_box_is_live_and_the_filters_work_without_js(editor_client, sample):
    html = editor_client.get("/").get_data(as_text=True)
    search = re.search(r'<input type="search".*?>', html, re.S).group(0)
    assert 'hx-trigger="search, keyup changed delay:200ms"' in search
    assert 'hx-push-url="true"' in search and 'hx-target="#results"' in search
    assert re.search(r'<form id="contact-filters"[^>]*method="get"', html)


def test_filters_narrow_the_list(editor_client, sample, users):
    def shown(query):
        return names(editor_client.get("/?" + query).get_data(as_text=True))

    assert shown(f"tag={sample['vip']}") == ["Петров Иван"]
    assert shown(f"owner={users['admin']}") == ["Smith Anna"]
    assert shown("owner=none") == []
    assert shown("stage=potential") == ["Smith Anna"]
    assert shown("temperature=hot") == ["Петров Иван"]
    assert shown("source=ads") == ["Smith Anna"]
    assert shown("archived=1") == ["Archived Old"]
    assert shown("q=acme") == ["Smith Anna"]
    assert shown(f"q=иван&tag={sample['vip']}&stage=customer") == ["Петров Иван"]
    # A malformed value is ignored rather than an error.
    assert shown("stage=bogus&tag=x&owner=-1") == ["Smith Anna", "Петров Иван"]


def test_empty_states_say_what_to_do(editor_client, sample):
    html = editor_client.get("/?q=nobody-like-this").get_data(as_text=True)
    assert "No contacts match." in html and "Clear the filters" in html
    html = editor_client.get("/?q=nobody&archived=1").get_data(as_text=True)
    assert "No contacts match." in html


def test_empty_database_invites_the_first_contact(editor_client):
    html = editor_client.get("/").get_data(as_text=True)
    assert "No contacts yet." in html and "Add the first one" in html


def test_htmx_search_returns_only_the_results_block(editor_client, sample):
    resp = editor_client.get("/?q=петр", headers=HTMX)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "<html" not in html and "contact-filters" not in html
    assert names(html) == ["Петров Иван"]
    assert 'hx-get="/contacts/count?q=%D0%BF%D0%B5%D1%82%D1%80"' in html


def test_history_restore_gets_the_full_page(editor_client, sample):
    headers = {**HTMX, "HX-History-Restore-Request": "true"}
    html = editor_client.get("/?q=петр", headers=headers).get_data(as_text=True)
    assert "<html" in html and "contact-filters" in html


def test_lazy_count_uses_the_same_filters(editor_client, viewer_client, sample):
    html = editor_client.get("/").get_data(as_text=True)
    assert 'hx-get="/contacts/count"' in html and 'hx-trigger="load"' in html
    assert editor_client.get("/contacts/count").get_data(as_text=True).startswith("2 contacts")
    assert (
        editor_client.get("/contacts/count?q=anna").get_data(as_text=True).startswith("1 contact<")
    )
    assert "1 contact" in editor_client.get("/contacts/count?archived=1").get_data(as_text=True)
    # The bulk bar's "all N matching" number is filled in out of band.
    assert 'id="match-count" hx-swap-oob="true">2<' in editor_client.get(
        "/contacts/count"
    ).get_data(as_text=True)
    assert "match-count" not in viewer_client.get("/contacts/count").get_data(as_text=True)


def test_count_formats_thousands(editor_client, app):
    with app.test_request_context():
        make_many(1234)
    assert editor_client.get("/contacts/count").get_data(as_text=True).startswith("1,234 contacts")


@pytest.mark.parametrize("sort", ["name", "newest", "updated", "company"])
def test_keyset_pages_cover_every_contact_once_in_order(editor_client, app, sort):
    with app.test_request_context():
        make_many(123)
        expected_order = {
            "name": [Contact.sort_name, Contact.id],
            "newest": [Contact.id.desc()],
            "updated": [Contact.updated_at.desc(), Contact.id.desc()],
            "company": [Contact.company_key, Contact.id],
        }[sort]
        expected = [
            c.full_name for c in db.session.scalars(select(Contact).order_by(*expected_order))
        ]
    seen = []
    url = f"/?sort={sort}"
    html = editor_client.get(url).get_data(as_text=True)
    seen += names(html)
    assert len(seen) == 50
    pages = 1
    while True:
        more = re.search(
            r'hx-get="(/\?[^"]*after=[^"]+)" hx-trigger="revealed" hx-swap="afterend"', html
        )
        if not more:
            break
        url = more.group(1).replace("&amp;", "&")
        html = editor_client.get(url, headers=HTMX).get_data(as_text=True)
        assert "<table" not in html  # only rows, appended after the last one
        seen += names(html)
        pages += 1
    assert pages == 3
    assert seen == expected
    # The last page has no "More" link: the out-of-band update empties it.
    assert '<p id="more-contacts" hx-swap-oob="true"></p>' in html


def test_more_link_works_without_javascript(editor_client, app):
    with app.test_request_context():
        make_many(60)
    html = editor_client.get("/").get_data(as_text=True)
    link = re.search(r'<p id="more-contacts"><a href="([^"]+)">More</a>', html).group(1)
    page2 = editor_client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    assert "<html" in page2
    assert names(page2) == [f"Person {i:04d}" for i in range(50, 60)]
    assert 'id="more-contacts"></p>' in page2


def test_a_bad_cursor_starts_from_the_first_page(editor_client, app):
    with app.test_request_context():
        make_many(3)
    for bad in ("garbage", "eyJ4Ijox", listing.encode_cursor.__name__):
        html = editor_client.get(f"/?after={bad}").get_data(as_text=True)
        assert names(html)[0] == "Person 0000"


def test_a_cursor_from_another_sort_order_is_ignored(editor_client, app):
    with app.test_request_context():
        make_many(60)
        first = db.session.scalars(select(Contact).order_by(Contact.sort_name)).first()
        cursor = listing.encode_cursor("name", first)
    html = editor_client.get(f"/?sort=newest&after={cursor}").get_data(as_text=True)
    assert names(html)[0] == "Person 0059"


def test_a_page_takes_a_fixed_number_of_queries(app, users):
    """No N+1: 5 rows and 50 rows with emails, phones, tags and owners cost the same."""
    with app.test_request_context():
        tag = tags_core.get_or_create(db.session, "lead")
        for i in range(60):
            c = make(
                users["editor"],
                first_name=f"N{i:03d}",
                last_name="Query",
                emails=[f"q{i}@example.com"],
                phones=[f"+7912000{i:04d}"],
            )
            db.session.execute(insert(contact_tags).values(contact_id=c.id, tag_id=tag.id))
        db.session.commit()

        def queries(flt):
            statements = []

            def count(conn, cursor, statement, *args):
                statements.append(statement)

            event.listen(db.engine, "before_cursor_execute", count)
            try:
                page = listing.page(db.session, flt)
                for c in page.contacts:  # what the template touches
                    _ = (c.primary_email, c.primary_phone, [t.name for t in c.tags], c.owner)
            finally:
                event.remove(db.engine, "before_cursor_execute", count)
            db.session.expire_all()
            return len(page.contacts), len(statements)

        # The page, then e-mails, phones, tags and owners: one query each.
        assert queries(ContactFilter()) == (50, 5)
        # A one-word search in name order takes its candidates from the token index in the
        # page query itself; a page that is not full adds one count (were there more?).
        assert queries(ContactFilter(q="n00")) == (10, 6)
        assert queries(ContactFilter(q="n0")) == (50, 5)
        # Other orders add one tiny probe per word (how common is it?), whatever the rows.
        assert queries(ContactFilter(q="n0", sort="newest")) == (50, 6)


def test_whole_page_query_count_does_not_grow_with_rows(editor_client, app, users):
    with app.test_request_context():
        for i in range(3):
            make(users["editor"], first_name=f"A{i}", emails=[f"a{i}@example.org"], phones=[])
        db.session.commit()
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    with app.test_request_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert len(names(editor_client.get("/", headers=HTMX).get_data(as_text=True))) == 3
        few = len(statements)
        with app.test_request_context():
            for i in range(40):
                make(users["admin"], first_name=f"B{i}", emails=[f"b{i}@example.org"], phones=[])
            db.session.commit()
        statements.clear()
        assert len(names(editor_client.get("/", headers=HTMX).get_data(as_text=True))) == 43
        many = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert few == many


def _page_statement(flt, after=None):
    captured = []

    def grab(conn, cursor, statement, parameters, context, executemany):
        if not captured:
            captured.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", grab)
    try:
        listing.page(db.session, flt, after)
    finally:
        event.remove(db.engine, "before_cursor_execute", grab)
    return captured[0]


@pytest.mark.parametrize("sort", ["name", "newest", "updated", "company"])
def test_first_and_next_pages_read_an_index_without_sorting_the_table(app, users, sort):
    with app.test_request_context():
        make_many(3000)
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("ANALYZE contacts"))
        else:
            db.session.execute(text("ANALYZE"))
        db.session.commit()
        flt = ContactFilter(sort=sort)
        first = listing.page(db.session, flt)
        for after in (None, first.next_cursor):
            statement, params = _page_statement(flt, after)
            prefix = "EXPLAIN " if db.engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
            raw = db.session.connection().exec_driver_sql(prefix + statement, params).all()
            text_plan = "\n".join(" ".join(str(v) for v in row) for row in raw).lower()
            # Newest-first may walk the primary key itself: also an index, also no sort.
            assert (
                "ix_contacts_archived" in text_plan
                or "primary key" in text_plan
                or ("pk_contacts" in text_plan)
            ), text_plan
            assert "temp b-tree" not in text_plan and "sort" not in text_plan.replace(
                "sort_name", ""
            ), text_plan


def test_a_stage_filter_uses_its_index(app, users):
    with app.test_request_context():
        make_many(3000)
        db.session.execute(update(Contact).where(Contact.id % 10 == 0).values(stage="customer"))
        db.session.execute(
            text("ANALYZE contacts" if db.engine.dialect.name == "postgresql" else "ANALYZE")
        )
        db.session.commit()
        statement, params = _page_statement(ContactFilter(stage="customer"))
        prefix = "EXPLAIN " if db.engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
        raw = db.session.connection().exec_driver_sql(prefix + statement, params).all()
        text_plan = "\n".join(" ".join(str(v) for v in row) for row in raw).lower()
        assert "ix_contacts_stage" in text_plan, text_plan
        assert "temp b-tree" not in text_plan, text_plan


def test_a_common_tag_gives_the_same_list(editor_client, sample, monkeypatch):
    """A common tag is checked per row instead of driving the query: same answer."""
    from crmlite.core import search

    monkeypatch.setattr(search, "RARE", 1)
    html = editor_client.get(f"/?tag={sample['vip']}").get_data(as_text=True)
    assert names(html) == ["Петров Иван"]
    count = editor_client.get(f"/contacts/count?tag={sample['vip']}").get_data(as_text=True)
    assert count.startswith("1 contact<")
