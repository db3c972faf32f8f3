"""Search from the list's search box: name parts in any order, e-mail, phone in any format,
company, Cyrillic case folding; and the token index it runs on."""

import re
from urllib.parse import quote

import pytest
from sqlalchemy import text

from crmlite.core import contacts as contacts_core
from crmlite.core import listing
from crmlite.core.listing import ContactFilter
from crmlite.core.search import query_terms
from crmlite.extensions import db


def make(**raw):
    return contacts_core.create_contact(db.session, contacts_core.validate(raw), None)


@pytest.fixture
def people(app, users):
    with app.test_request_context():
        make(
            first_name="Иван",
            last_name="Петров",
            middle_name="Сергеевич",
            company="ООО «Ромашка»",
            emails=["i.petrov@romashka.ru"],
            phones=["+79123456789"],
        )
        make(first_name="Иванна", last_name="Иванова", company="Лютик", phones=["+74951234567"])
        make(first_name="Пётр", last_name="Ёлкин", emails=["elkin@example.com"])
        make(first_name="John", last_name="Smith", company="Acme Corp", emails=["JOHN@Acme.com"])
        db.session.commit()
        db.session.remove()


def found(client, query: str) -> list[str]:
    html = client.get("/?q=" + quote(query)).get_data(as_text=True)
    return sorted(re.findall(r'<a href="/contacts/\d+">([^<]+)</a>', html))


PETROV = "Петров Иван Сергеевич"


@pytest.mark.parametrize(
    "query",
    ["иван петр", "петр иван", "Петров", "серг", "иван петров сергеевич", "  петров   иван "],
)
def test_any_part_of_the_name_in_any_order(editor_client, people, query):
    assert PETROV in found(editor_client, query)
    assert "Smith John" not in found(editor_client, query)


def test_every_word_must_match(editor_client, people):
    assert found(editor_client, "иван петров") == [PETROV]
    assert found(editor_client, "иван smith") == []


@pytest.mark.parametrize("query", ["иван", "ИВАН", "Иван", "иВаН"])
def test_cyrillic_is_case_insensitive(editor_client, people, query):
    # "иван" is a prefix of Иван, Иванна and Иванова.
    assert found(editor_client, query) == ["Иванова Иванна", PETROV]


def test_yo_and_ye_are_the_same_letter(editor_client, people):
    assert found(editor_client, "елкин") == ["Ёлкин Пётр"]
    assert found(editor_client, "ЁЛКИН ПЕТР") == ["Ёлкин Пётр"]


@pytest.mark.parametrize(
    "query", ["8 912 345-67-89", "+7 (912) 345 67 89", "89123456789", "+79123456789", "912 345"]
)
def test_phone_typed_in_any_format(editor_client, people, query):
    assert found(editor_client, query) == [PETROV]


def test_a_phone_of_someone_else_finds_nobody(editor_client, people):
    assert found(editor_client, "8 912 000-00-00") == []
    assert found(editor_client, "+7 495 123-45-67") == ["Иванова Иванна"]


@pytest.mark.parametrize(
    "query", ["i.petrov@romashka.ru", "I.Petrov@Romashka.RU", "i.petrov@", "i.petrov"]
)
def test_by_email(editor_client, people, query):
    assert found(editor_client, query) == [PETROV]


def test_email_is_found_whatever_case_it_was_typed_in(editor_client, people):
    assert found(editor_client, "john@acme.com") == ["Smith John"]


@pytest.mark.parametrize("query", ["ромашка", "РОМАШ", "ооо ромашка"])
def test_by_company(editor_client, people, query):
    assert found(editor_client, query) == [PETROV]


def test_by_company_in_latin(editor_client, people):
    assert found(editor_client, "acme corp") == ["Smith John"]


def test_punctuation_only_query_shows_everyone(editor_client, people):
    assert len(found(editor_client, "«»!")) == 4


def test_search_follows_an_edit(app, editor_client, people):
    with app.test_request_context():
        from crmlite.models import Contact

        john = db.session.query(Contact).filter_by(last_name="Smith").one()
        contacts_core.update_contact(
            db.session, john, contacts_core.validate({"last_name": "Кузнецов"}), None
        )
        db.session.commit()
    assert found(editor_client, "кузн") == ["Кузнецов John"]
    assert found(editor_client, "smith") == []


def test_query_terms():
    assert query_terms("8 912 345-67-89") == ["79123456789"]
    assert query_terms("+7 (912) 345 67 89") == ["79123456789"]
    assert query_terms("Иван ПЕТРОВ") == ["иван", "петров"]
    assert query_terms("") == []


def test_search_count_matches_the_rows(app, editor_client, people):
    body = editor_client.get("/contacts/count?q=" + quote("ИВАН")).get_data(as_text=True)
    assert body.startswith("2 contacts")


def test_name_search_reads_the_token_index(app, people):
    with app.test_request_context():
        stmt = listing.filtered_ids(ContactFilter(q="иван петр"))
        sql = stmt.compile(db.engine, compile_kwargs={"literal_binds": True})
        explain = "EXPLAIN " if db.engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
        if db.engine.dialect.name == "postgresql":
            db.session.execute(text("SET LOCAL enable_seqscan = off"))  # tiny table: force honesty
        plan = " ".join(
            " ".join(str(v) for v in row) for row in db.session.execute(text(explain + str(sql)))
        ).lower()
        assert "ix_search_tokens_token_sort_name" in plan or "pk_search_tokens" in plan, plan


@pytest.mark.parametrize("rare", [1, 2, 5000])
def test_common_and_rare_words_find_the_same_contacts(editor_client, people, monkeypatch, rare):
    """Whether a word counts as rare (drives the query) or common (checked per row, or
    intersected in the token index) changes the plan, never the answer."""
    from crmlite.core import search

    monkeypatch.setattr(search, "RARE", rare)
    assert found(editor_client, "иван") == ["Иванова Иванна", PETROV]
    assert found(editor_client, "иван петр") == [PETROV]
    assert found(editor_client, "ооо ромашка сергеевич") == [PETROV]
    assert found(editor_client, "иван smith") == []
    count = editor_client.get("/contacts/count?q=" + quote("иван")).get_data(as_text=True)
    assert count.startswith("2 contacts")


@pytest.mark.parametrize("rare", [1, 5000])
@pytest.mark.parametrize("cap", [1, 5000])
def test_search_results_page_by_keyset(app, editor_client, users, monkeypatch, rare, cap):
    """A search over more than a page scrolls on to the next rows, whichever plan it gets
    (on PostgreSQL two words may be intersected first: cap 1 turns that off)."""
    from crmlite.core import search

    monkeypatch.setattr(search, "RARE", rare)
    monkeypatch.setattr(search, "INTERSECTION_CAP", cap)
    with app.test_request_context():
        for i in range(60):
            make(first_name=f"Ян{i:02d}", last_name="Кузнецов")
        make(first_name="Ян", last_name="Другой")
        db.session.commit()
    html = editor_client.get("/?q=" + quote("кузнецов ян")).get_data(as_text=True)
    first = re.findall(r'<a href="/contacts/\d+">([^<]+)</a>', html)
    nxt = re.search(r'hx-get="([^"]*after=[^"]+)" hx-trigger="revealed"', html).group(1)
    rest = editor_client.get(nxt.replace("&amp;", "&"), headers={"HX-Request": "true"})
    second = re.findall(r'<a href="/contacts/\d+">([^<]+)</a>', rest.get_data(as_text=True))
    assert first + second == [f"Кузнецов Ян{i:02d}" for i in range(60)]


def shown(client, query: str) -> list[str]:
    """The names in the order the list shows them."""
    html = client.get("/?q=" + quote(query)).get_data(as_text=True)
    return re.findall(r'<a href="/contacts/\d+">([^<]+)</a>', html)


def test_results_follow_a_rename_in_name_order(app, editor_client, users):
    """The name order of search results comes from the token index: a rename moves the
    contact there too."""
    with app.test_request_context():
        make(first_name="Борис", last_name="Иванов")
        vera = make(first_name="Вера", last_name="Иванова").id
        db.session.commit()
        assert shown(editor_client, "иванов") == ["Иванов Борис", "Иванова Вера"]
        contact = contacts_core.get_contact(db.session, vera)
        contacts_core.update_contact(
            db.session, contact, contacts_core.validate({"last_name": "Аиванова"}), None
        )
        db.session.commit()
    assert shown(editor_client, "вера") == ["Аиванова Вера"]
    assert shown(editor_client, "иванов") == ["Иванов Борис"]
    with app.test_request_context():
        contact = contacts_core.get_contact(db.session, vera)
        contacts_core.update_contact(
            db.session,
            contact,
            contacts_core.validate({"last_name": "Иванова", "first_name": "Ада"}),
            None,
        )
        db.session.commit()
    assert shown(editor_client, "иванов") == ["Иванов Борис", "Иванова Ада"]


def test_a_page_is_full_even_when_filters_drop_the_first_matches(app, users):
    """The name-ordered candidates come a few pages at a time; when archived contacts or
    other filters drop them all, the list still finds the matching ones further on."""
    with app.test_request_context():
        made = [make(first_name=f"Ян{i:02d}", last_name="Кузнецов") for i in range(20)]
        for contact in made[:15]:
            contacts_core.set_archived(db.session, contact, True, None)
        for contact in made[15:18]:
            contacts_core.update_contact(
                db.session, contact, contacts_core.validate({"stage": "customer"}), None
            )
        db.session.commit()
        names = [
            c.first_name for c in listing.page(db.session, ContactFilter(q="кузн"), size=3).contacts
        ]
        assert names == ["Ян15", "Ян16", "Ян17"]
        first = listing.page(db.session, ContactFilter(q="кузн"), size=4)
        rest = listing.page(db.session, ContactFilter(q="кузн"), first.next_cursor, size=4)
        assert [c.first_name for c in first.contacts + rest.contacts] == [
            f"Ян{i}" for i in range(15, 20)
        ]
        assert rest.next_cursor is None
        stage = ContactFilter(q="кузн", stage="customer")
        assert [c.first_name for c in listing.page(db.session, stage, size=2).contacts] == [
            "Ян15",
            "Ян16",
        ]
        archived = ContactFilter(q="кузнецов ян", archived=True)
        assert len(listing.page(db.session, archived, size=20).contacts) == 15


def test_a_contact_matching_through_several_words_is_listed_once(app, users):
    """'иван' matches Иванов, Иван and Иванович of the same man: one row, and paging on
    finds every one of them exactly once."""
    with app.test_request_context():
        for i in range(12):
            make(first_name="Иван", last_name=f"Иванов{i:02d}", middle_name="Иванович")
        db.session.commit()
        seen, cursor = [], None
        while True:
            page = listing.page(db.session, ContactFilter(q="иван"), cursor, size=5)
            seen += [c.last_name for c in page.contacts]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == [f"Иванов{i:02d}" for i in range(12)]
