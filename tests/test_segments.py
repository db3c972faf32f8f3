"""Segments from plugins (hook register_segments): the Segments page with lazy counts, and a
segment opened in the standard contact list, with its count and bulk actions."""

from contextlib import contextmanager
from datetime import date

import pytest
from sqlalchemy import extract, select

from crmlite import hookimpl
from crmlite.core import contacts, segments
from crmlite.extensions import db
from crmlite.models import Contact, Tag
from crmlite.plugins import SettingField

HX = {"HX-Request": "true"}


class HasCompany:
    key = "test_has_company"
    label = "Works at a company"
    description = "Contacts with a company name"

    def condition(self, params, today):
        return Contact.company != ""


class BornSince:
    key = "test_born_since"
    label = "Born in or after a year"
    params = [SettingField("year", "Year", "int", 1990)]

    def condition(self, params, today):
        return Contact.birth_date >= date(params["year"], 1, 1)


class BirthdayThisMonth:
    key = "test_birthday_month"
    label = "Birthday this month"

    def condition(self, params, today):
        return extract("month", Contact.birth_date) == today.month


class SegmentsPlugin:
    @hookimpl
    def register_segments(self):
        return [HasCompany(), BornSince(), BirthdayThisMonth()]


@contextmanager
def registered(app):
    pm = app.extensions["crmlite.plugins"]
    pm.register(SegmentsPlugin(), name="test_segments")
    try:
        yield pm
    finally:
        pm.unregister(name="test_segments")


@pytest.fixture
def people(app):
    """Five contacts; ids by first name."""
    rows = [
        {"first_name": "Anna", "company": "Acme", "birth_date": "1995-05-03"},
        {"first_name": "Boris", "company": "Acme", "birth_date": "1980-05-20"},
        {"first_name": "Vera", "birth_date": "1999-12-01"},
        {"first_name": "Gleb", "company": "Initech"},
        {"first_name": "Dina", "company": "Gone Ltd", "birth_date": "2000-01-01"},
    ]
    with app.app_context():
        ids = {}
        for raw in rows:
            contact = contacts.create_contact(
                db.session, contacts.validate({"last_name": "Test", **raw}), None
            )
            ids[raw["first_name"]] = contact.id
        db.session.flush()
        contacts.set_archived(db.session, db.session.get(Contact, ids["Dina"]), True, None)
        db.session.commit()
    return ids


def names_in(html: str, people: dict) -> set[str]:
    return {name for name, cid in people.items() if f'href="/contacts/{cid}"' in html}


def test_hook_register_segments(app, editor_client, people):
    with registered(app) as pm:
        assert [s.key for s in segments.all_segments(pm)][-3:] == [
            "test_has_company",
            "test_born_since",
            "test_birthday_month",
        ]
        page = editor_client.get("/segments").get_data(as_text=True)
        assert "Works at a company" in page and "Contacts with a company name" in page
        assert "Born in or after a year" in page
        # Counts load lazily, one request per segment as its row comes into view.
        assert 'hx-get="/segments/test_has_company/count" hx-trigger="revealed"' in page
        assert 'hx-get="/segments/test_born_since/count?seg_year=1990"' in page
        assert 'name="seg_year" value="1990"' in page
        count = editor_client.get("/segments/test_has_company/count", headers=HX)
        # Archived Dina is not counted, as the list does not show her.
        assert count.get_data(as_text=True) == "3 contacts"
        assert editor_client.get("/segments/test_born_since/count?seg_year=1999").text == (
            "1 contact"
        )
        assert editor_client.get("/segments/nope/count").status_code == 404
    assert "Works at a company" not in editor_client.get("/segments").get_data(as_text=True)


def test_core_count_with_params_and_today(app, people):
    with registered(app) as pm, app.app_context():
        born = segments.get(pm, "test_born_since")
        assert segments.count(db.session, born) == 2  # default year 1990: Anna, Vera
        assert segments.count(db.session, born, {"year": 1970}) == 3
        month = segments.get(pm, "test_birthday_month")
        assert segments.count(db.session, month, today=date(2025, 5, 31)) == 2
        assert segments.count(db.session, month, today=date(2025, 12, 1)) == 1
        assert segments.get(pm, "missing") is None
        params, problems = segments.parse_params(born, {"year": "soon"})
        assert params == {"year": 1990}
        assert problems == ["Year: “soon” is not a whole number; 1990 is used."]


def test_segment_in_the_contact_list(app, editor_client, people):
    with registered(app):
        html = editor_client.get("/?segment=test_has_company").get_data(as_text=True)
        assert names_in(html, people) == {"Anna", "Boris", "Gleb"}
        assert "Works at a company" in html  # the list says which segment it shows
        # Filters and search narrow the segment; the form keeps the segment.
        assert 'name="segment" value="test_has_company"' in html
        narrowed = editor_client.get("/?segment=test_has_company&q=Anna", headers=HX)
        assert names_in(narrowed.get_data(as_text=True), people) == {"Anna"}
        count = editor_client.get("/contacts/count?segment=test_born_since&seg_year=1985")
        assert "2 contacts" in count.get_data(as_text=True)
        params = editor_client.get("/?segment=test_born_since&seg_year=1999").text
        assert names_in(params, people) == {"Vera"}
        assert "Born in or after a year (Year: 1999)" in params
        # The next-page, count and bulk URLs carry the segment and its params.
        assert 'name="seg_year" value="1999"' in params
        assert "/contacts/count?segment=test_born_since&amp;seg_year=1999" in params


def test_bulk_action_on_a_whole_segment(app, editor_client, people):
    with registered(app):
        resp = editor_client.post(
            "/contacts/bulk",
            data={
                "segment": "test_born_since",
                "seg_year": "1990",
                "all": "1",
                "action": "add_tag",
                "tag_name": "young",
            },
        )
        assert resp.status_code == 302
    with app.app_context():
        tag = db.session.scalar(select(Tag).where(Tag.name == "young"))
        tagged = {c.first_name for c in db.session.scalars(select(Contact)) if tag in c.tags}
    assert tagged == {"Anna", "Vera"}


def test_unknown_segment_shows_nothing(app, editor_client, people):
    html = editor_client.get("/?segment=test_has_company", follow_redirects=True).text
    assert names_in(html, people) == set()
    assert "The segment “test_has_company” is not available" in html
    # "All matching" on a missing segment must not reach the whole base.
    editor_client.post(
        "/contacts/bulk",
        data={"segment": "test_has_company", "all": "1", "action": "archive"},
    )
    with app.app_context():
        archived = db.session.scalar(select(Contact.id).where(Contact.is_archived).limit(2))
        assert db.session.query(Contact).filter(Contact.is_archived).count() == 1
        assert archived == people["Dina"]


def test_bad_segment_param_uses_default_and_says_so(app, editor_client, people):
    with registered(app):
        html = editor_client.get("/?segment=test_born_since&seg_year=abc").text
    assert "Year: “abc” is not a whole number; 1990 is used." in html
    assert names_in(html, people) == {"Anna", "Vera"}


def test_segments_page_without_segments(app, viewer_client):
    page = viewer_client.get("/segments").get_data(as_text=True)
    assert "Segments" in page
    assert "Works at a company" not in page


def test_installed_segments_listed_and_open(app, editor_client, people):
    """Every segment installed here (e.g. crmlite-birthdays when pip-installed) is on the
    page with a lazy count, and opens in the contact list."""
    with registered(app) as pm:
        page = editor_client.get("/segments").get_data(as_text=True)
        for segment in segments.all_segments(pm):
            assert f"/segments/{segment.key}/count" in page
            assert str(segment.label) in page
            args = {f"seg_{k}": v for k, v in segments.defaults(segment).items()}
            listed = editor_client.get("/", query_string={"segment": segment.key, **args})
            assert listed.status_code == 200
            assert str(segment.label) in listed.get_data(as_text=True)
