"""Duplicate matching: each case of the issue with real contacts in the database, found by a
full scan (or kept out of the review list, for the hard negatives)."""

from datetime import date

import pytest

from crmlite.core import contacts as core
from crmlite.core import dedup
from crmlite.core.dedup_reasons import describe_all
from crmlite.core.names import (
    canonical_first_name,
    company_key,
    email_key,
    is_role_address,
    skeleton,
)
from crmlite.extensions import db
from crmlite.models import Contact, DuplicatePair


def add(**raw) -> int:
    for key in ("emails", "phones"):
        if key in raw:
            raw[key] = [{"value": v} for v in raw[key]]
    clean = core.validate(raw)
    return core.create_contact(db.session, clean, None).id


def pairs() -> dict[frozenset, DuplicatePair]:
    return {frozenset((p.contact_a_id, p.contact_b_id)): p for p in db.session.query(DuplicatePair)}


def found(a: int, b: int) -> DuplicatePair | None:
    return pairs().get(frozenset((a, b)))


def scan_and_get(a: int, b: int) -> DuplicatePair | None:
    db.session.commit()
    dedup.scan(db.session)
    return found(a, b)


# -- normalization ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "forms",
    [
        ("Иванов", "Ivanov", "IVANOV"),
        ("Юлия", "Yulia", "Iuliia", "Julia", "Yuliya"),
        ("Щукин", "Shchukin", "Schukin"),
        ("Дмитрий", "Dmitry", "Dmitriy", "Dmitrii"),
        ("Журавлёв", "Zhuravlev", "Журавлев"),
        ("Хабаров", "Khabarov"),
        ("Цой", "Tsoi", "Tsoy"),
        ("Петровский", "Petrovsky", "Petrovskiy"),
        ("Сергей", "Sergei", "Sergey"),
        ("Наталья", "Natalia", "Наталия", "Natalya"),
    ],
)
def test_transliteration_gives_one_skeleton(forms):
    assert len({skeleton(f) for f in forms}) == 1, [skeleton(f) for f in forms]


@pytest.mark.parametrize(
    "forms",
    [
        ("Александр", "Саша", "Шура", "Alexander", "Alex", "Sasha"),
        ("Елена", "Лена", "Elena", "Helen", "Lena"),
        ("Дмитрий", "Дима", "Dima"),
        ("Екатерина", "Катя", "Katya", "Catherine"),
        ("Анастасия", "Настя"),
        ("Михаил", "Миша", "Michael"),
        ("Владимир", "Вова", "Володя"),
        ("Алексей", "Лёша", "Alexey"),
        ("Евгений", "Женя"),
        ("Юлия", "Юля", "Julia"),
        ("William", "Bill"),
        ("Robert", "Bob"),
        ("Elizabeth", "Liz", "Елизавета", "Лиза"),
    ],
)
def test_diminutives_fold_to_one_name(forms):
    assert len({canonical_first_name(f) for f in forms}) == 1


def test_email_company_and_role_keys():
    assert email_key("Ivan.Petrov+crm@GoogleMail.com") == email_key("ivanpetrov@gmail.com")
    assert email_key("ivan+news@mail.ru") == "ivan@mail.ru"
    assert email_key("i.van@mail.ru") != email_key("ivan@mail.ru")  # dots matter off Gmail
    assert (
        company_key("ООО «Ромашка»") == company_key("Ромашка LLC") == company_key("Romashka, Ltd.")
    )
    assert company_key("Ромашка") != company_key("Лютик")
    assert is_role_address("info@romashka.ru") and is_role_address("Sales@x.com")
    assert not is_role_address("ivan@romashka.ru")


# -- pairs found ---------------------------------------------------------------------------


def test_gmail_dots_and_tags(ctx):
    a = add(first_name="Ivan", last_name="Petrov", emails=["ivan.petrov@gmail.com"])
    b = add(first_name="Иван", last_name="Петров", emails=["IvanPetrov+crm@googlemail.com"])
    pair = scan_and_get(a, b)
    assert pair is not None and pair.score >= 60
    text = describe_all(pair.reasons)
    assert "same e-mail ivan.petrov@gmail.com" in text
    assert "names match after transliteration" in text


def test_phone_typed_differently(ctx):
    a = add(first_name="Olga", last_name="Kim", phones=["+7 912 345-67-89"])
    b = add(first_name="Ольга", last_name="Ким", phones=["8 (912) 3456789"])
    pair = scan_and_get(a, b)
    assert pair is not None
    assert "same phone +7 912 345-67-89" in describe_all(pair.reasons)


def test_ivanov_transliteration_with_birth_date(ctx):
    born = date(1985, 3, 14)
    a = add(first_name="Иван", last_name="Иванов", birth_date=born.isoformat(), city="Орёл")
    b = add(first_name="Ivan", last_name="Ivanov", birth_date=born.isoformat(), city="Orel")
    pair = scan_and_get(a, b)
    assert pair is not None
    text = describe_all(pair.reasons)
    assert "names match after transliteration" in text and "same birth date 1985-03-14" in text
    # In a million contacts two Ivan Ivanovs share a birthday by chance: not without the city.
    c = add(first_name="Иван", last_name="Иванов", birth_date=born.isoformat(), city="Тула")
    assert found(a, c) is None and scan_and_get(b, c) is None


def test_yulia_spellings(ctx):
    a = add(first_name="Юлия", last_name="Смирнова", emails=["ys@mail.ru"])
    b = add(first_name="Iuliia", last_name="Smirnova", emails=["ys@mail.ru"])
    c = add(first_name="Yulia", last_name="Smirnova", birth_date="1990-01-01", city="Казань")
    d = add(first_name="Julia", last_name="Smirnova", birth_date="1990-01-01", city="Kazan")
    assert scan_and_get(a, b) is not None
    pair = found(c, d)
    assert pair is not None and "same city Казань" in describe_all(pair.reasons)


def test_diminutives_alexander_sasha_and_elena_lena(ctx):
    a = add(first_name="Александр", last_name="Орлов", phones=["+79161112233"])
    b = add(first_name="Саша", last_name="Орлов", phones=["+79161112233"])
    c = add(first_name="Елена", last_name="Соколова", emails=["sokolova@yandex.ru"])
    d = add(first_name="Лена", last_name="Соколова", emails=["sokolova@yandex.ru"])
    pair = scan_and_get(a, b)
    assert pair is not None
    assert "Саша / Александр is a short form of the same first name" in describe_all(pair.reasons)
    assert found(c, d) is not None


def test_swapped_first_and_last_name(ctx):
    a = add(first_name="Петр", last_name="Сидоров", emails=["psid@mail.ru"])
    b = add(first_name="Sidorov", last_name="Petr", emails=["psid@mail.ru"])
    pair = scan_and_get(a, b)
    assert pair is not None
    assert "first and last name swapped" in describe_all(pair.reasons)


def test_same_company_in_two_alphabets(ctx):
    a = add(first_name="Анна", last_name="Белова", company="ООО «Ромашка»", city="Тверь")
    b = add(first_name="Anna", last_name="Belova", company="Romashka LLC", city="Tver")
    assert scan_and_get(a, b) is None  # a name, a company and a city: namesakes are common
    for contact_id in (a, b):
        contact = db.session.get(Contact, contact_id)
        core.update_contact(db.session, contact, core.validate({"birth_date": "1990-02-03"}), None)
    pair = scan_and_get(a, b)
    assert pair is not None
    assert "same company ООО «Ромашка»; same city Тверь" in describe_all(pair.reasons)
    # A namesake at the same company in another city is not proposed on that alone.
    c = add(first_name="Анна", last_name="Белова", company="Ромашка, ООО", city="Омск")
    assert scan_and_get(a, c) is None


def test_name_typo_with_birth_date_and_city(ctx):
    a = add(first_name="Константин", last_name="Воробьев", birth_date="1979-11-02", city="Тула")
    b = add(first_name="Констанин", last_name="Воробьёв", birth_date="1979-11-02", city="Тула")
    pair = scan_and_get(a, b)
    assert pair is not None and "similar names" in describe_all(pair.reasons)


# -- hard negatives ------------------------------------------------------------------------


def test_namesakes_in_one_city_with_different_birth_dates(ctx):
    a = add(first_name="Иван", last_name="Иванов", city="Москва", birth_date="1970-05-01")
    b = add(first_name="Иван", last_name="Иванов", city="Москва", birth_date="1992-08-17")
    c = add(first_name="Иван", last_name="Иванов", city="Москва")  # no birth date: unsure
    assert scan_and_get(a, b) is None
    assert found(a, c) is None and found(b, c) is None


def test_family_sharing_a_home_phone(ctx):
    home = "+74951234567"
    a = add(first_name="Сергей", last_name="Кузнецов", phones=[home], city="Москва")
    b = add(first_name="Марина", last_name="Кузнецова", phones=[home], city="Москва")
    c = add(first_name="Олег", last_name="Кузнецов", phones=[home], city="Москва")
    assert scan_and_get(a, b) is None
    assert found(a, c) is None and found(b, c) is None


def test_colleagues_sharing_info_address_and_office_phone(ctx):
    office = "+74957654321"
    people = [
        add(
            first_name=first,
            last_name=last,
            company="ООО «Ромашка»",
            emails=["info@romashka.ru"],
            phones=[office],
        )
        for first, last in (("Анна", "Лебедева"), ("Павел", "Морозов"), ("Игорь", "Волков"))
    ]
    db.session.commit()
    dedup.scan(db.session)
    assert not any(found(a, b) for a in people for b in people if a < b)


def test_two_people_on_one_personal_email_with_different_first_names(ctx):
    a = add(first_name="Мария", last_name="Попова", emails=["popovy@mail.ru"])
    b = add(first_name="Николай", last_name="Попов", emails=["popovy@mail.ru"])
    assert scan_and_get(a, b) is None


def test_role_address_with_the_same_name_is_still_a_duplicate(ctx):
    a = add(first_name="Анна", last_name="Лебедева", emails=["info@romashka.ru"])
    b = add(first_name="Anna", last_name="Lebedeva", emails=["info@romashka.ru"])
    pair = scan_and_get(a, b)
    assert pair is not None
    assert "info@romashka.ru is shared by several contacts" in describe_all(pair.reasons)
