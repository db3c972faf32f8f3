"""Demo data: realistic, valid, searchable, deterministic, and consistent with create_contact."""

import re

import phonenumbers
from sqlalchemy import func, select

from crmlite.core.contacts import sort_name
from crmlite.core.demo import generate
from crmlite.core.emails import normalize_email
from crmlite.core.search import contact_tokens, search_condition
from crmlite.core.text import fold
from crmlite.extensions import db
from crmlite.models import (
    Contact,
    ContactEmail,
    ContactHistory,
    ContactPhone,
    SearchToken,
    Tag,
    contact_tags,
)

CYRILLIC = re.compile("[а-яё]", re.I)
LATIN = re.compile("[a-z]", re.I)


def _contacts():
    return list(db.session.scalars(select(Contact).order_by(Contact.id)))


def test_demo_contacts_are_realistic_and_valid(ctx, users):
    assert generate(db.session, 300, seed=7) == 300
    contacts = _contacts()
    assert len(contacts) == 300
    names = [c.full_name for c in contacts]
    assert sum(bool(CYRILLIC.search(n)) for n in names) > 150
    assert sum(bool(LATIN.search(n)) and not CYRILLIC.search(n) for n in names) > 30
    # Russian women carry the female form of the surname and a patronymic.
    assert any(c.last_name.endswith("ова") and c.middle_name.endswith("на") for c in contacts)
    assert any(c.company.startswith("ООО «") for c in contacts)
    assert any(c.country == "Россия" and c.city for c in contacts)
    # Owners are the existing users.
    assert {c.owner_id for c in contacts} - {None} <= set(users.values())
    assert any(c.owner_id for c in contacts)
    for c in contacts:
        assert c.sort_name == sort_name(c.last_name, c.first_name, c.middle_name, c.company)
        assert c.company_key == fold(c.company)
        assert c.stage in ("potential", "customer", "key_client", "former")

    emails = list(db.session.scalars(select(ContactEmail.email)))
    assert len(emails) > 250
    for email in emails:
        assert normalize_email(email) == email

    phones = list(db.session.scalars(select(ContactPhone.e164)))
    assert len(phones) > 250
    assert sum(p.startswith("+79") for p in phones) > len(phones) / 2
    assert any(p.startswith(("+44", "+1")) for p in phones)
    for e164 in phones:
        number = phonenumbers.parse(e164, None)
        assert phonenumbers.is_valid_number(number), e164
        assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == e164

    # Exactly one primary e-mail and phone per contact that has any.
    primaries = db.session.execute(
        select(
            ContactEmail.contact_id, func.sum(ContactEmail.is_primary.cast(db.Integer))
        ).group_by(ContactEmail.contact_id)
    ).all()
    assert all(n == 1 for _cid, n in primaries)

    # One "create" history entry per contact, and tags made the usual way.
    assert db.session.scalar(select(func.count()).select_from(ContactHistory)) == 300
    assert set(db.session.scalars(select(ContactHistory.action))) == {"create"}
    tag_names = set(db.session.scalars(select(Tag.name)))
    assert {"VIP", "Рассылка"} <= tag_names
    assert db.session.scalar(select(func.count()).select_from(contact_tags)) > 50


def test_search_tokens_match_contact_tokens(ctx):
    generate(db.session, 300, seed=3)
    for contact in _contacts()[::7]:
        stored = set(
            db.session.scalars(
                select(SearchToken.token).where(SearchToken.contact_id == contact.id)
            )
        )
        assert stored == contact_tokens(
            contact.first_name,
            contact.last_name,
            contact.middle_name,
            contact.company,
            [e.email for e in contact.emails],
            [p.e164 for p in contact.phones],
        ), contact.full_name
    # Every token carries its contact's sort name (the name order of search results).
    stale = (
        select(func.count())
        .select_from(SearchToken)
        .join(Contact, Contact.id == SearchToken.contact_id)
        .where(SearchToken.sort_name != Contact.sort_name)
    )
    assert db.session.scalar(stale) == 0


def test_same_seed_same_people_and_appending_continues_ids(ctx):
    generate(db.session, 120, seed=5)
    first = [(c.last_name, c.first_name, c.middle_name) for c in _contacts()]
    generate(db.session, 120, seed=5)
    contacts = _contacts()
    assert len(contacts) == 240
    assert [c.id for c in contacts] == list(range(contacts[0].id, contacts[0].id + 240))
    again = [(c.last_name, c.first_name, c.middle_name) for c in contacts[120:]]
    assert again == first
    generate(db.session, 120, seed=6)
    other = [(c.last_name, c.first_name, c.middle_name) for c in _contacts()[240:]]
    assert other != first


def test_a_few_duplicates_share_an_email_or_phone(ctx):
    generate(db.session, 2000, seed=11)
    shared_emails = db.session.execute(
        select(ContactEmail.email)
        .group_by(ContactEmail.email)
        .having(func.count(func.distinct(ContactEmail.contact_id)) > 1)
    ).all()
    shared_phones = db.session.execute(
        select(ContactPhone.e164)
        .group_by(ContactPhone.e164)
        .having(func.count(func.distinct(ContactPhone.contact_id)) > 1)
    ).all()
    assert 5 <= len(shared_emails) + len(shared_phones) <= 100


def test_search_finds_a_demo_contact_by_phone_in_national_format(ctx):
    generate(db.session, 300, seed=4)
    phone = db.session.scalar(
        select(ContactPhone).where(ContactPhone.e164.like("+79%")).order_by(ContactPhone.id)
    )
    digits = phone.e164[2:]
    typed = f"8 {digits[:3]} {digits[3:6]}-{digits[6:8]}-{digits[8:]}"
    found = set(db.session.scalars(select(Contact.id).where(search_condition(typed))))
    assert phone.contact_id in found

    contact = db.session.get(Contact, phone.contact_id)
    by_name = set(
        db.session.scalars(
            select(Contact.id).where(search_condition(f"{contact.first_name} {contact.last_name}"))
        )
    )
    assert contact.id in by_name


def test_demo_command(app):
    result = app.test_cli_runner().invoke(args=["demo", "--contacts", "50", "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert "Created 50 contacts" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Contact)) == 50
        assert db.session.scalar(select(func.count()).select_from(ContactHistory)) == 50
        assert db.session.scalar(select(func.count()).select_from(SearchToken)) > 200
        # Without users, demo contacts have no owner.
        assert db.session.scalar(select(func.count()).where(Contact.owner_id.is_not(None))) == 0
        db.session.remove()


def test_a_big_load_rebuilds_its_indexes_and_gives_the_same_rows(ctx, monkeypatch):
    from sqlalchemy import inspect

    from crmlite.core import demo

    generate(db.session, 150, seed=9)
    small = [(c.sort_name, c.company_key) for c in _contacts()]
    db.session.remove()
    db.session.execute(Contact.__table__.delete())
    db.session.commit()
    # The path a million contacts take (rows made in a second process, indexes dropped
    # and rebuilt), shrunk to a few chunks.
    monkeypatch.setattr(demo, "BIG", 100)
    monkeypatch.setattr(demo, "CHUNK", 40)
    assert generate(db.session, 150, seed=9) == 150
    assert [(c.sort_name, c.company_key) for c in _contacts()] == small
    names = {i["name"] for i in inspect(db.engine).get_indexes("search_tokens")}
    assert "ix_search_tokens_token_sort_name" in names
    names = {i["name"] for i in inspect(db.engine).get_indexes("contacts")}
    assert {"ix_contacts_archived_sort_name", "ix_contacts_stage"} <= names
    # A new contact after the load gets the next id (PostgreSQL sequences moved on).
    contact = Contact(first_name="Новый", sort_name="новый", company_key="", custom={})
    db.session.add(contact)
    db.session.commit()
    assert contact.id == max(c.id for c in _contacts()[:-1]) + 1


def test_demo_chronicle_and_its_summary(ctx, users):
    """About five interactions per contact, purchases with a long tail, and the summary
    columns exactly what core.interactions.refresh_stats computes from them."""
    from crmlite.core import interactions
    from crmlite.models import Interaction

    generate(db.session, 400, seed=5, interactions_per_contact=5)
    total = db.session.scalar(select(func.count()).select_from(Interaction))
    assert 3.5 * 400 < total < 6.5 * 400
    kinds = set(db.session.scalars(select(Interaction.kind).distinct()))
    assert {"purchase", "note", "call", "feedback"} <= kinds
    counts = [c.purchase_count for c in _contacts()]
    assert 0.4 < sum(1 for n in counts if n) / len(counts) < 0.7
    assert max(counts) >= 8  # the long tail
    # A contact with a purchase is at least a customer, never potential.
    assert all(c.stage != "potential" for c in _contacts() if c.purchase_count)
    fields = interactions.SUMMARY_ATTRS

    def summary():
        db.session.expire_all()
        return {c.id: tuple(getattr(c, f) for f in fields) for c in _contacts()}

    written = summary()
    interactions.refresh_stats(db.session)
    db.session.commit()
    assert summary() == written


def test_demo_command_without_chronicle(app):
    from crmlite.models import Interaction

    args = ["demo", "--contacts", "30", "--interactions-per-contact", "0"]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Contact)) == 30
        assert db.session.scalar(select(func.count()).select_from(Interaction)) == 0
        assert db.session.scalar(select(func.max(Contact.purchase_count))) == 0
        db.session.remove()
