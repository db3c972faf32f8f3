"""Labelled data for the duplicate finder: people, their duplicate records, and hard negatives.

    .venv/bin/python bench/dedup_data.py --contacts 10000 --csv bench/dedup-10k.csv
    .venv/bin/python bench/dedup_data.py --contacts 100000   # into CRMLITE_DATABASE_URL

A seeded generator of people (about 70% Russian, with patronymics; the rest English), each
written as one contact; about 9% of them are entered again (a sixth of those twice), with
the variations real bases have:

- typo: one edit (a neighbour key, a dropped, doubled or swapped letter) in a name;
- translit: a Russian name typed in Latin, in one of four systems (Юлия: Iuliia in the
  passport system, Yuliya in BGN, Yulia in the everyday one, Julia in the J one; Щукин:
  Shchukin or Schukin; Александр sometimes Alexander);
- diminutive: Саша for Александр, Лена for Елена, Bill for William;
- swapped: first and last name in each other's fields;
- phone_format: the same number typed as 8 912 ..., +7 (912) ..., 912 ... (normalized to the
  same E.164 on the way into the database, kept as typed in the CSV);
- email_format: gmail dots, a +tag, upper case, googlemail.com / ya.ru aliases;
- company_form: ООО «Ромашка» written Ромашка, ООО or Romashka LLC;
- missing_fields: no patronymic, birth date, company or city on the second record;
- birth_date_only: no e-mail or phone in common, only a similar name, the birth date and city.
- via_third: of a person's three records, the second and the third have nothing in common
  but through the first (a pair only a finder that groups can propose).

Every duplicate keeps evidence a careful human would accept: a shared e-mail or phone, or
the same birth date and city. Hard negatives are different people who share something:

- namesake: the same first and last name in the same city (other birth date, e-mail, phone);
- family: the same surname (its female form for women), home phone and address, other first
  names (a spouse, a child); one family in ten also shares a family e-mail;
- colleague: the same company, and its info@ address or office phone.

Ground truth: every contact's external_id is "p<person>-<n>"; two contacts are a true
duplicate pair when their person is the same. Truth keeps, per person, the variation kinds of
each of its records and the household, namesake group and company it belongs to, so the
benchmark can sort misses and false positives by category.

Contacts go straight into a crmlite database in bulk, like crmlite/core/demo.py (executemany
on SQLite, COPY on PostgreSQL, secondary indexes rebuilt after a big load), or into a CSV
that `crmlite import` reads (phones as typed there).
"""

from __future__ import annotations

import csv
import random
import sys
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

from crmlite.core.contacts import sort_name  # noqa: E402
from crmlite.core.demo import (  # noqa: E402
    EN_FEMALE,
    EN_MALE,
    EN_POSITIONS,
    EN_SURNAMES,
    RU_CITIES,
    RU_FEMALE,
    RU_MALE,
    RU_MOBILE,
    RU_POSITIONS,
    RU_STREETS,
    RU_SURNAMES,
    UK_CITIES,
    UK_MOBILE,
    UK_STREETS,
    US_CITIES,
    US_STREETS,
    _female_surname,
    person_tokens,
    translit,
)
from crmlite.core.emails import normalize_email  # noqa: E402
from crmlite.core.phones import normalize_phone  # noqa: E402
from crmlite.core.text import fold  # noqa: E402

CHUNK = 10_000
# Share of people entered twice, and of those entered three times.
DUPLICATE_SHARE = 0.09
TRIPLE_SHARE = 0.17
# Share of people who come with family members (1 or 2) / with a namesake in their city.
HOUSEHOLD_SHARE = 0.05
NAMESAKE_SHARE = 0.03
# Employees who list the office phone / the company's info@ address.
OFFICE_PHONE_SHARE = 0.2
INFO_EMAIL_SHARE = 0.06
PEOPLE_PER_COMPANY = 12
# Nobody in a customer base is younger than this (and no birth date is in the future).
LATEST_BIRTH = date(2008, 12, 31)

# The categories the benchmark reports, in this order.
VARIATIONS = (
    "typo",
    "translit",
    "diminutive",
    "swapped",
    "exact_name",
    "phone_format",
    "email_format",
    "company_form",
    "missing_fields",
    "birth_date_only",
    "via_third",
)
NEGATIVES = ("namesake", "family", "colleague", "other")

RU_SURNAMES_ALL = [*RU_SURNAMES, "Щукин", "Шевчук", "Юсупов", "Яшин", "Хабибуллин", "Цыганов"]

RU_DIMINUTIVES = {
    "Александр": ["Саша", "Шура"],
    "Алексей": ["Лёша", "Алёша"],
    "Анатолий": ["Толя"],
    "Андрей": ["Андрюша"],
    "Борис": ["Боря"],
    "Валерий": ["Валера"],
    "Василий": ["Вася"],
    "Виктор": ["Витя"],
    "Владимир": ["Вова", "Володя"],
    "Владислав": ["Влад", "Слава"],
    "Геннадий": ["Гена"],
    "Георгий": ["Жора", "Гоша"],
    "Григорий": ["Гриша"],
    "Дмитрий": ["Дима", "Митя"],
    "Евгений": ["Женя"],
    "Иван": ["Ваня"],
    "Илья": ["Илюша"],
    "Константин": ["Костя"],
    "Леонид": ["Лёня"],
    "Максим": ["Макс"],
    "Михаил": ["Миша"],
    "Николай": ["Коля"],
    "Павел": ["Паша"],
    "Пётр": ["Петя"],
    "Роман": ["Рома"],
    "Семён": ["Сёма"],
    "Сергей": ["Серёжа"],
    "Станислав": ["Стас"],
    "Степан": ["Стёпа"],
    "Фёдор": ["Федя"],
    "Юрий": ["Юра"],
    "Ярослав": ["Слава"],
    "Анна": ["Аня"],
    "Мария": ["Маша"],
    "Елена": ["Лена"],
    "Ольга": ["Оля"],
    "Наталья": ["Наташа"],
    "Татьяна": ["Таня"],
    "Ирина": ["Ира"],
    "Светлана": ["Света"],
    "Екатерина": ["Катя"],
    "Юлия": ["Юля"],
    "Анастасия": ["Настя"],
    "Дарья": ["Даша"],
    "Людмила": ["Люда"],
    "Галина": ["Галя"],
    "Валентина": ["Валя"],
    "Ксения": ["Ксюша"],
    "Виктория": ["Вика"],
    "Полина": ["Поля"],
    "Софья": ["Соня"],
    "Надежда": ["Надя"],
    "Любовь": ["Люба"],
    "Евгения": ["Женя"],
    "Елизавета": ["Лиза"],
    "Валерия": ["Лера"],
    "Маргарита": ["Рита"],
    "Тамара": ["Тома"],
}
EN_DIMINUTIVES = {
    "James": ["Jim", "Jimmy"],
    "Robert": ["Bob", "Rob"],
    "Michael": ["Mike"],
    "William": ["Bill", "Will"],
    "David": ["Dave"],
    "Richard": ["Rick", "Dick"],
    "Joseph": ["Joe"],
    "Thomas": ["Tom"],
    "Charles": ["Charlie"],
    "Daniel": ["Dan", "Danny"],
    "Matthew": ["Matt"],
    "Anthony": ["Tony"],
    "Steven": ["Steve"],
    "Andrew": ["Andy"],
    "Joshua": ["Josh"],
    "Edward": ["Ed", "Ted"],
    "Samuel": ["Sam"],
    "Benjamin": ["Ben"],
    "Patricia": ["Pat", "Patty"],
    "Jennifer": ["Jen", "Jenny"],
    "Elizabeth": ["Liz", "Beth"],
    "Susan": ["Sue"],
    "Jessica": ["Jess"],
    "Katherine": ["Kate", "Kathy"],
    "Rebecca": ["Becky"],
    "Victoria": ["Vicky"],
    "Megan": ["Meg"],
}

# --- Transliteration systems ---------------------------------------------------------

_COMMON = dict(
    zip("абвгдзиклмнопрстуфыэ", "a b v g d z i k l m n o p r s t u f y e".split(), strict=True)
)
SYSTEMS: dict[str, dict[str, str]] = {
    # Russian passports since 2014 (ICAO Doc 9303): Iuliia, Dmitrii, Shchukin.
    "passport": {
        **_COMMON,
        **dict(zip("еёжйхцчшщъьюя", "e e zh i kh ts ch sh shch ie - iu ia".split(), strict=True)),
    },
    # BGN/PCGN: Yuliya, Dmitriy, Yevgeniy.
    "bgn": {
        **_COMMON,
        **dict(zip("еёжйхцчшщъьюя", "e e zh y kh ts ch sh shch - - yu ya".split(), strict=True)),
    },
    # What people type: Yulia, Dmitry, Schukin, Alexander.
    "simple": {
        **_COMMON,
        **dict(zip("еёжйхцчшщъьюя", "e yo zh y h ts ch sh sch - - yu ya".split(), strict=True)),
    },
    # The J spelling of German and Scandinavian documents: Julia, Jurij, Schukin.
    "j": {
        **_COMMON,
        **dict(zip("еёжйхцчшщъьюя", "e e zh j h c ch sh sch - - ju ja".split(), strict=True)),
    },
}
# English spellings that follow no system but are what people write.
CONVENTIONAL = {"Александр": "Alexander", "Алексей": "Alexei", "Пётр": "Peter", "Юлия": "Julia"}
_VOWELS = set("аеёиоуыэюяьъ")


@lru_cache(maxsize=65536)
def transliterate(word: str, system: str) -> str:
    """'Юлия' -> 'Iuliia' (passport), 'Yuliya' (bgn), 'Yulia' (simple), 'Julia' (j)."""
    table = SYSTEMS[system]
    low = word.lower()
    out = []
    i = 0
    while i < len(low):
        ch = low[i]
        rest = low[i:]
        if system in ("simple", "j") and rest in ("ия", "ья"):
            out.append("ia")
            break
        if system == "simple" and rest in ("ий", "ый") and i > 1:
            out.append("y")
            break
        if system == "bgn" and rest == "ий":
            out.append("iy")
            break
        if system == "j" and rest == "ий":
            out.append("ij")
            break
        if system == "simple" and rest.startswith("кс"):
            out.append("x")
            i += 2
            continue
        if system == "bgn" and ch == "е" and (i == 0 or low[i - 1] in _VOWELS):
            out.append("ye")
        elif ch in table:
            out.append(table[ch].strip("-"))
        elif ch.isascii():
            out.append(ch)
        i += 1
    latin = "".join(out)
    return "-".join(part[:1].upper() + part[1:] for part in latin.split("-"))


# --- Typos ---------------------------------------------------------------------------

_ROWS = ["йцукенгшщзхъ", "фывапролджэ", "ячсмитьбю", "qwertyuiop", "asdfghjkl", "zxcvbnm"]
_NEIGHBOURS = {
    ch: row[max(i - 1, 0) : i] + row[i + 1 : i + 2] for row in _ROWS for i, ch in enumerate(row)
}


def typo(word: str, rnd: random.Random) -> str:
    """One edit, never on the first letter: a neighbour key, a dropped, doubled or swapped
    letter. Case follows the letter it replaces."""
    if len(word) < 4:
        return word
    i = 1 + int(rnd.random() * (len(word) - 2))
    kind = int(rnd.random() * 4)
    ch = word[i]
    if kind == 0 and _NEIGHBOURS.get(ch.lower()):
        near = _NEIGHBOURS[ch.lower()]
        new = near[int(rnd.random() * len(near))]
        return word[:i] + (new.upper() if ch.isupper() else new) + word[i + 1 :]
    if kind == 1:
        return word[:i] + word[i + 1 :]
    if kind == 2:
        return word[:i] + ch + word[i:]
    if word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + word[i + 1 :]


# --- Companies -----------------------------------------------------------------------

RU_COMPANY_ROOTS = (
    "Ромашка Север Вектор Гранит Восход Меридиан Альянс Прогресс Рассвет Сибирь Волга Урал "
    "Байкал Технопром Стройинвест Промсервис Энергосбыт Агрокомплекс Медтехника Инфосистемы "
    "Горизонт Кристалл Нева Дельта Эталон Фармация Стандарт Орбита Парус Тайга Созвездие "
    "Феникс Атлант Монолит Ресурс Спектр Триумф Импульс Лидер Гарант Каскад Олимп Фортуна "
    "Аврора Сфера Магистраль Континент Полюс Янтарь Бриз Щит Жемчуг Химпром Юнитех"
).split()
RU_COMPANY_MODS = [
    ""
] * 4 + "Плюс Трейд Групп Сервис Строй Инвест Снаб Логистик Консалт Маркет".split()
RU_FORMS = ["ООО"] * 7 + ["АО", "АО", "ПАО", "ЗАО"]
RU_FORM_LATIN = {"ООО": ["LLC", "Ltd"], "АО": ["JSC"], "ПАО": ["PJSC"], "ЗАО": ["CJSC"]}
EN_COMPANY_ROOTS = (
    "Acme Northwind Globex Initech Greenfield Summit Redwood Oakridge Silverline Crescent "
    "Pioneer Sterling Riverside Evergreen Keystone Harbourview Falcon Horizon Atlas Vertex "
    "Beacon Cobalt Granite Lighthouse Maple Orchid Phoenix Quantum Sapphire Titan Willow"
).split()
# Many companies in a big base: names made of a prefix, a root and a suffix, so two firms
# rarely share a name in one city (some still do, as ООО «Ромашка» does in real life).
RU_COMPANY_PREFIXES = [
    ""
] * 6 + "Нео Евро Транс Мега Гео Техно Агро Эко Спец Регион Проф Интер".split()
EN_COMPANY_PREFIXES = [""] * 5 + "North Blue Prime First United Global Royal Apex Bright".split()
EN_COMPANY_MODS = [""] * 4 + "Systems Solutions Digital Logistics Capital Foods Labs Media".split()
EN_FORMS = ["Ltd", "Ltd", "LLC", "Inc.", "plc"]
EN_FORM_LONG = {"Ltd": "Limited", "LLC": "L.L.C.", "Inc.": "Incorporated", "plc": "PLC"}
# Russian cities with a three-digit area code, for landlines (office and home phones).
RU_AREA = {
    "Москва": "495",
    "Санкт-Петербург": "812",
    "Новосибирск": "383",
    "Екатеринбург": "343",
    "Казань": "843",
    "Нижний Новгород": "831",
    "Челябинск": "351",
    "Самара": "846",
    "Омск": "381",
    "Ростов-на-Дону": "863",
    "Уфа": "347",
    "Красноярск": "391",
    "Пермь": "342",
    "Воронеж": "473",
    "Волгоград": "844",
    "Краснодар": "861",
    "Тюмень": "345",
    "Иркутск": "395",
    "Ярославль": "485",
    "Калининград": "401",
}


@dataclass(slots=True)
class Company:
    id: int
    lang: str
    form: str
    root: str  # "Ромашка-Трейд" / "Acme Systems"
    domain: str
    city: str
    country: str
    office_phone: str  # E.164
    info_email: str

    @property
    def name(self) -> str:
        return f"{self.form} «{self.root}»" if self.lang == "ru" else f"{self.root} {self.form}"

    def variant(self, rnd: random.Random, latin: bool = False) -> str:
        """The same company written another way."""
        if self.lang == "ru":
            if latin or rnd.random() < 0.3:
                forms = RU_FORM_LATIN[self.form]
                root = transliterate(self.root, "simple")
                return f"{root} {forms[int(rnd.random() * len(forms))]}"
            ways = [
                f'{self.form} "{self.root}"',
                f"{self.root}, {self.form}",
                f"{self.form} {self.root}",
                self.root,
                f"{self.form} «{self.root.upper()}»",
            ]
        else:
            ways = [
                f"{self.root} {EN_FORM_LONG[self.form]}",
                f"{self.root.upper()} {self.form.upper()}",
                self.root,
                f"{self.root}, {self.form}",
            ]
        return ways[int(rnd.random() * len(ways))]


# --- People and records --------------------------------------------------------------


@dataclass(slots=True)
class Person:
    id: int
    lang: str
    gender: str
    first: str
    last: str
    middle: str
    company: Company | None
    position: str
    city: str
    country: str
    address: str
    birth: date | None
    emails: list[str]  # as the person gives them (lower case)
    phones: list[tuple[str, str]]  # (E.164, label)
    household: int = 0
    namesake: int = 0


@dataclass(slots=True)
class Record:
    """One contact as entered: the person's data with this record's variations."""

    person: int
    n: int
    first: str
    last: str
    middle: str
    company: str
    position: str
    city: str
    country: str
    address: str
    birth: date | None
    gender: str
    emails: list[tuple[str, str]]  # (as typed, label)
    phones: list[tuple[str, str]]  # (as typed, label)
    kinds: tuple[str, ...] = ()  # variations of this record ((): the first record)
    # A third record with nothing in common with the second but through the first.
    via_third: bool = False

    @property
    def external_id(self) -> str:
        return f"p{self.person}-{self.n}"


@dataclass
class Truth:
    """What the benchmark needs to score a finder: who is who, and how records differ."""

    # person -> [(n, kinds)] for every person entered more than once
    groups: dict[int, list[tuple[int, tuple[str, ...]]]] = field(default_factory=dict)
    household: dict[int, int] = field(default_factory=dict)
    namesake: dict[int, int] = field(default_factory=dict)
    # People whose records 2 and 3 are linked only through record 1.
    via_third: set[int] = field(default_factory=set)
    company: array = field(default_factory=lambda: array("l"))  # person -> company id (0)
    contacts: int = 0
    people: int = 0

    def add(self, record: Record, person: Person) -> None:
        self.contacts += 1
        if record.n == 1:
            self.people += 1
            if person.household:
                self.household[person.id] = person.household
            if person.namesake:
                self.namesake[person.id] = person.namesake
            while len(self.company) <= person.id:
                self.company.append(0)
            self.company[person.id] = person.company.id if person.company else 0
        if record.via_third:
            self.via_third.add(record.person)
        if record.n >= 2:
            self.groups.setdefault(record.person, [(1, ())]).append((record.n, record.kinds))

    @property
    def true_pairs(self) -> int:
        return sum(len(g) * (len(g) - 1) // 2 for g in self.groups.values())

    def pair_kinds(self, person: int, n1: int, n2: int) -> tuple[str, ...]:
        kinds = dict(self.groups.get(person, ()))
        both = set(kinds.get(n1, ())) | set(kinds.get(n2, ()))
        if n1 > 1 and n2 > 1 and person in self.via_third:
            both.add("via_third")
        return tuple(k for k in VARIATIONS if k in both)

    def negative_kind(self, pa: int, pb: int, same_name: bool) -> str:
        """Why two different people might look alike: family, namesake, colleague, other."""
        ha, hb = self.household.get(pa), self.household.get(pb)
        if ha and ha == hb:
            return "family"
        na, nb = self.namesake.get(pa), self.namesake.get(pb)
        if (na and na == nb) or same_name:
            return "namesake"
        ca = self.company[pa] if pa < len(self.company) else 0
        cb = self.company[pb] if pb < len(self.company) else 0
        if ca and ca == cb:
            return "colleague"
        return "other"


YANDEX = {"ya.ru", "yandex.ru", "yandex.com", "narod.ru"}


def mailbox(email: str) -> str:
    """The mailbox an address reaches: gmail ignores dots, +tags and googlemail.com; Yandex
    takes ya.ru for yandex.ru, a hyphen for a dot and +tags. Two people never share one
    unless the generator means them to (a family or info@ address)."""
    local, _at, domain = email.lower().partition("@")
    local = local.split("+", 1)[0]
    if domain in ("gmail.com", "googlemail.com"):
        return local.replace(".", "") + "@gmail.com"
    if domain in YANDEX:
        return local.replace("-", ".") + "@yandex.ru"
    return f"{local}@{domain}"


def direct_evidence(a: Record, b: Record) -> bool:
    """Two records share a mailbox, a phone or a birth date."""
    if a.birth and a.birth == b.birth:
        return True
    if {mailbox(e) for e, _l in a.emails} & {mailbox(e) for e, _l in b.emails}:
        return True
    return bool({stored_phone(p) for p, _l in a.phones} & {stored_phone(p) for p, _l in b.phones})


def _male_surname(p: Person) -> str:
    """The family's surname in its male form (Петрова -> Петров, Вишневская -> Вишневский)."""
    if p.lang != "ru" or p.gender != "female":
        return p.last
    if p.last.endswith(("ова", "ева", "ёва", "ина", "ына")):
        return p.last[:-1]
    if p.last.endswith(("ская", "цкая")):
        return p.last[:-2] + "ий"
    return p.last


def parse_external_id(external_id: str | None) -> tuple[int, int] | None:
    """'p12-2' -> (12, 2)."""
    if not external_id or not external_id.startswith("p"):
        return None
    person, _sep, n = external_id[1:].partition("-")
    if not person.isdigit() or not n.isdigit():
        return None
    return int(person), int(n)


class Generator:
    """Deterministic for a seed: the same seed and size give the same records and truth."""

    def __init__(self, seed: int = 1, contacts: int = 10_000, russian_share: float = 0.7):
        self.seed = seed
        self.count = contacts
        self.russian_share = russian_share
        self.r = random.Random(seed)
        self.truth = Truth()
        self.used_emails: set[str] = set()
        self._person_id = 0
        self._group_id = 0
        self._serial = {"ru": 0, "uk": 0, "us": 0, "land": 0}
        self.companies = self._companies(max(8, contacts // PEOPLE_PER_COMPANY))

    # -- small helpers

    def pick(self, seq):
        return seq[int(self.r.random() * len(seq))]

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def _next_group(self) -> int:
        self._group_id += 1
        return self._group_id

    def _unique_number(self, space: str, size: int) -> int:
        """The k-th number of a space, scrambled: distinct for distinct k, so no two people
        share a phone unless the generator means them to."""
        self._serial[space] += 1
        k = self._serial[space] + self.seed * 7919
        return (k * 2_654_435_761) % size  # a prime multiplier: a bijection of 0..size-1

    def mobile(self, country: str, city: str = "") -> str:
        if country == "Россия":
            n = self._unique_number("ru", len(RU_MOBILE) * 10_000_000 - 1)
            return f"+7{RU_MOBILE[n // 10_000_000]}{n % 10_000_000:07d}"
        if country == "United Kingdom":
            n = self._unique_number("uk", len(UK_MOBILE) * 1_000_000 - 1)
            return f"+44{UK_MOBILE[n // 1_000_000]}{n % 1_000_000:06d}"
        codes = dict(US_CITIES).get(city, ("212",))
        n = self._unique_number("us", 8_000_000 - 1)
        return f"+1{codes[n % len(codes)]}{200 + n // 10_000}{n % 10_000:04d}"

    def landline(self, country: str, city: str) -> str:
        area = RU_AREA.get(city)
        if country == "Россия" and area:
            n = self._unique_number("land", 7_000_000 - 1)
            return f"+7{area}{2_000_000 + n:07d}"
        return self.mobile(country, city)

    def _email(self, local: str, domain: str) -> str:
        email = f"{local}@{domain}"
        n = 1
        while mailbox(email) in self.used_emails:
            n += 1 + int(self.r.random() * 90)
            email = f"{local}{n}@{domain}"
        self.used_emails.add(mailbox(email))
        return email

    def personal_email(self, lang: str, first: str, last: str) -> str:
        first, last = translit(first).replace("-", ""), translit(last).replace("-", "")
        domains = (
            ["gmail.com"] * 3 + ["yandex.ru"] * 3 + ["mail.ru"] * 2 + ["ya.ru", "bk.ru", "list.ru"]
            if lang == "ru"
            else ["gmail.com"] * 4 + ["outlook.com"] * 2 + ["yahoo.com", "icloud.com"]
        )
        way = int(self.r.random() * 5)
        local = (
            f"{first}.{last}",
            f"{first[0]}.{last}",
            f"{last}.{first}",
            f"{first}_{last}",
            f"{first}{last[0]}",
        )[way]
        return self._email(local, self.pick(domains))

    def _companies(self, n: int) -> list[Company]:
        companies = []
        domains: set[str] = set()
        for i in range(1, n + 1):
            ru = self.chance(self.russian_share)
            if ru:
                root = self.pick(RU_COMPANY_PREFIXES) + self.pick(RU_COMPANY_ROOTS)
                root = root[:1] + root[1:].lower()
                mod = self.pick(RU_COMPANY_MODS)
                root = f"{root}-{mod}" if mod else root
                form = self.pick(RU_FORMS)
                city, country, tld = self.pick(RU_CITIES), "Россия", ".ru"
                stem = translit(root)
            else:
                root = (self.pick(EN_COMPANY_PREFIXES) + " " + self.pick(EN_COMPANY_ROOTS)).strip()
                mod = self.pick(EN_COMPANY_MODS)
                root = f"{root} {mod}" if mod else root
                form = self.pick(EN_FORMS)
                if self.chance(0.6):
                    city, country, tld = self.pick(UK_CITIES), "United Kingdom", ".co.uk"
                else:
                    city, country, tld = self.pick(US_CITIES)[0], "United States", ".com"
                stem = root.lower().replace(" ", "")
            domain, k = stem + tld, 1
            while domain in domains:
                k += 1
                domain = f"{stem}{k}{tld}"
            domains.add(domain)
            office = self.landline(country, city)
            info = f"info@{domain}"
            self.used_emails.add(mailbox(info))
            companies.append(
                Company(i, "ru" if ru else "en", form, root, domain, city, country, office, info)
            )
        return companies

    def _company_for(self, lang: str) -> Company:
        # Long-tailed sizes: a few big employers, many small firms.
        for _ in range(20):
            c = self.companies[int(len(self.companies) * self.r.random() ** 1.5)]
            if c.lang == lang:
                return c
        return c

    # -- people

    def person(
        self,
        lang: str | None = None,
        gender: str | None = None,
        first: str | None = None,
        last_base: str | None = None,
        city: str | None = None,
    ) -> Person:
        r = self.r
        self._person_id += 1
        lang = lang or ("ru" if r.random() < self.russian_share else "en")
        gender = gender or ("female" if r.random() < 0.5 else "male")
        female = gender == "female"
        if lang == "ru":
            last_base = last_base or self.pick(RU_SURNAMES_ALL)
            last = _female_surname(last_base) if female else last_base
            if first is None:
                first = self.pick(RU_FEMALE) if female else self.pick(RU_MALE)[0]
            father = self.pick(RU_MALE)
            middle = father[2] if female else father[1]
            if self.chance(0.06):
                middle = ""
        else:
            last = last_base or self.pick(EN_SURNAMES)
            first = first or self.pick(EN_FEMALE if female else EN_MALE)
            middle = ""
        company = self._company_for(lang) if self.chance(0.8) else None
        if company and city is None and self.chance(0.85):
            city = company.city
        n = 1 + int(r.random() * 120)
        if lang == "ru":
            city = city or self.pick(RU_CITIES)
            country = "Россия"
            address = f"ул. {self.pick(RU_STREETS)}, д. {n}, кв. {1 + int(r.random() * 300)}"
        elif (city or "") in UK_CITIES or (city is None and self.chance(0.6)):
            city = city or self.pick(UK_CITIES)
            country = "United Kingdom"
            address = f"{n} {self.pick(UK_STREETS)}"
        else:
            city = city or self.pick(US_CITIES)[0]
            country = "United States"
            address = f"{n} {self.pick(US_STREETS)}"
        if company and company.country != country:
            company = None
        born = None
        if self.chance(0.7):
            born = date(1955, 1, 1) + timedelta(days=int(r.random() * 50 * 365))
        phones: list[tuple[str, str]] = []
        if self.chance(0.9):
            phones.append((self.mobile(country, city), "mobile"))
        emails: list[str] = []
        if self.chance(0.85):
            emails.append(self.personal_email(lang, first, last))
        if company:
            if self.chance(0.5):
                f1, l1 = translit(first).replace("-", ""), translit(last).replace("-", "")
                emails.insert(0, self._email(f"{f1[0]}.{l1}", company.domain))
            if self.chance(INFO_EMAIL_SHARE):
                emails.append(company.info_email)
            if self.chance(OFFICE_PHONE_SHARE):
                phones.append((company.office_phone, "work"))
        if not emails and not phones:
            phones.append((self.mobile(country, city), "mobile"))
        position = ""
        if company:
            position = self.pick(RU_POSITIONS if lang == "ru" else EN_POSITIONS)
        return Person(
            self._person_id,
            lang,
            gender,
            first,
            last,
            middle,
            company,
            position,
            city,
            country,
            address,
            born,
            emails,
            phones,
        )

    def record(self, p: Person) -> Record:
        return Record(
            p.id,
            1,
            p.first,
            p.last,
            p.middle,
            p.company.name if p.company else "",
            p.position,
            p.city,
            p.country,
            p.address,
            p.birth,
            p.gender,
            [
                (e, "work" if p.company and e.endswith(p.company.domain) else "personal")
                for e in p.emails
            ],
            list(p.phones),
        )

    # -- duplicates

    def duplicate(self, p: Person, n: int) -> Record:
        """The person entered again, with this record's variations (see the module doc)."""
        r = self.r
        rec = self.record(p)
        rec.n = n
        kinds: list[str] = []
        # What the two records share: e-mail and phone, one of them, or only birth date+city.
        mode = self.pick(["both"] * 40 + ["phone"] * 25 + ["email"] * 22 + ["soft"] * 13)
        if mode in ("both", "phone") and not p.phones:
            mode = "email" if p.emails else "soft"
        if mode in ("both", "email") and not p.emails:
            mode = "phone" if p.phones else "soft"
        if mode == "soft":
            if p.birth is None:  # the person gives a birth date both times
                p.birth = date(1955, 1, 1) + timedelta(days=int(r.random() * 50 * 365))
                rec.birth = p.birth
            rec.city = p.city
            rec.emails = (
                [(self.personal_email(p.lang, p.first, p.last), "personal")]
                if self.chance(0.6)
                else []
            )
            rec.phones = [(self.mobile(p.country, p.city), "mobile")] if self.chance(0.6) else []
            kinds.append("birth_date_only")
        elif mode == "phone":
            rec.emails = (
                [(self.personal_email(p.lang, p.first, p.last), "personal")]
                if self.chance(0.4)
                else []
            )
        elif mode == "email":
            rec.phones = [(self.mobile(p.country, p.city), "mobile")] if self.chance(0.4) else []

        # The name.
        choices = ["typo"] * 22 + ["swapped"] * 8 + ["exact_name"] * 30
        if p.lang == "ru":
            choices += ["translit"] * 24
        dims = (RU_DIMINUTIVES if p.lang == "ru" else EN_DIMINUTIVES).get(p.first)
        if dims:
            choices += ["diminutive"] * 16
        name_kind = self.pick(choices)
        if name_kind == "typo":
            if self.chance(0.8):
                new = typo(p.last, r)
                rec.last = new
            else:
                new = typo(p.first, r)
                known = RU_DIMINUTIVES.keys() | set(RU_FEMALE) | set(EN_MALE) | set(EN_FEMALE)
                rec.first = new if new not in known else p.first
            if (rec.first, rec.last) == (p.first, p.last):
                name_kind = "exact_name"
        elif name_kind == "swapped":
            rec.first, rec.last = p.last, p.first
        elif name_kind == "diminutive":
            rec.first = self.pick(dims)
        elif name_kind == "translit":
            system = self.pick(["passport"] * 3 + ["bgn"] * 2 + ["simple"] * 4 + ["j"])
            rec.first = transliterate(p.first, system)
            if system == "simple" and p.first in CONVENTIONAL and self.chance(0.5):
                rec.first = CONVENTIONAL[p.first]
            rec.last = transliterate(p.last, system)
            rec.middle = transliterate(p.middle, system) if self.chance(0.2) else ""
            rec.address = ""
            if self.chance(0.5):
                rec.city = transliterate(p.city, "simple")
        kinds.insert(0, name_kind)

        # Formats of what is shared.
        if rec.phones and rec.phones[0][0] in dict(p.phones) and self.chance(0.6):
            rec.phones = [(self.typed_phone(e164), label) for e164, label in rec.phones]
            kinds.append("phone_format")
        if rec.emails and rec.emails[0][0] in p.emails and self.chance(0.6):
            typed = [(self.typed_email(e), label) for e, label in rec.emails]
            if typed != rec.emails:
                rec.emails = typed
                kinds.append("email_format")
        if p.company and self.chance(0.4 if name_kind != "translit" else 0.7):
            rec.company = p.company.variant(r, latin=name_kind == "translit")
            kinds.append("company_form")
        missing = False
        if rec.middle and self.chance(0.3):
            rec.middle, missing = "", True
        if mode != "soft" and rec.birth and self.chance(0.25):
            rec.birth, missing = None, True
        if rec.company and self.chance(0.15):
            rec.company, rec.position, missing = "", "", True
        if mode != "soft" and self.chance(0.1):
            rec.city, rec.address, missing = "", "", True
        if missing:
            kinds.append("missing_fields")
        rec.kinds = tuple(k for k in VARIATIONS if k in kinds)
        return rec

    def typed_phone(self, e164: str) -> str:
        """The same number as someone types it."""
        if e164.startswith("+7"):
            d = e164[2:]
            ways = [
                f"8 {d[:3]} {d[3:6]}-{d[6:8]}-{d[8:]}",
                f"+7 ({d[:3]}) {d[3:6]}-{d[6:8]}-{d[8:]}",
                f"{d[:3]} {d[3:6]} {d[6:8]} {d[8:]}",
                f"8{d}",
                f"8 ({d[:3]}) {d[3:]}",
            ]
        elif e164.startswith("+44"):
            d = e164[3:]
            ways = [f"+44 {d[:4]} {d[4:]}", f"+44 (0){d[:4]} {d[4:]}", f"+44-{d[:4]}-{d[4:]}"]
        else:
            d = e164[2:]
            ways = [
                f"+1 ({d[:3]}) {d[3:6]}-{d[6:]}",
                f"+1 {d[:3]}.{d[3:6]}.{d[6:]}",
                f"+1-{d[:3]}-{d[3:6]}-{d[6:]}",
            ]
        return self.pick(ways)

    def typed_email(self, email: str) -> str:
        """The same mailbox written another way (gmail dots, +tag, case, domain alias)."""
        local, _at, domain = email.partition("@")
        way = int(self.r.random() * 4)
        if domain == "gmail.com":
            if way == 0:
                return (local.replace(".", "") if "." in local else local[:2] + "." + local[2:]) + (
                    "@gmail.com"
                )
            if way == 1:
                return f"{local}+{self.pick(['shop', 'news', 'crm', 'work'])}@gmail.com"
            if way == 2:
                return f"{local}@googlemail.com"
            return f"{local.title()}@Gmail.com"
        if domain in ("yandex.ru", "ya.ru"):
            if way == 0:
                return f"{local}@{'ya.ru' if domain == 'yandex.ru' else 'yandex.ru'}"
            if way == 1:
                return f"{local}+{self.pick(['shop', 'news'])}@{domain}"
        if way >= 2:
            return email.upper() if self.chance(0.3) else f"{local.title()}@{domain}"
        return email

    # -- hard negatives

    def family(self, p: Person) -> list[Person]:
        """A spouse and maybe a child: same surname, home phone and address."""
        home = self.landline(p.country, p.city) if self.chance(0.6) else None
        if home is None:
            home = p.phones[0][0] if p.phones and p.phones[0][1] == "mobile" else None
            home = home or self.landline(p.country, p.city)
        p.household = self._next_group()
        if (home, "mobile") not in p.phones:
            p.phones = [*[ph for ph in p.phones if ph[0] != home], (home, "home")]
        base = _male_surname(p)
        family_email = None
        if self.chance(0.1):
            family_email = self._email(
                f"{translit(base)}-family", "mail.ru" if p.lang == "ru" else "gmail.com"
            )
            p.emails.append(family_email)
        members = []
        taken = {p.first}
        for k in range(1 if self.chance(0.6) else 2):
            gender = ("female" if p.gender == "male" else "male") if k == 0 else None
            first = None
            for _ in range(10):
                m = self.person(p.lang, gender, first, last_base=base, city=p.city)
                if m.first not in taken:
                    break
                self._person_id -= 1  # a first name the family has: draw again
            else:
                self._person_id += 1  # keep the last draw
            taken.add(m.first)
            m.address = p.address
            m.household = p.household
            if p.birth:
                delta = (
                    int(self.r.random() * 2000) - 1000
                    if k == 0
                    else 365 * 24 + int(self.r.random() * 3650)
                )
                m.birth = p.birth + timedelta(days=delta)
                if m.birth > LATEST_BIRTH:  # a parent, then, not a child
                    m.birth = p.birth - timedelta(days=delta if k else 365 * 3)
            if m.lang == "ru" and k == 1:  # a child carries the father's name
                father = p.first if p.gender == "male" else None
                if father:
                    pat = next((row for row in RU_MALE if row[0] == father), None)
                    if pat:
                        m.middle = pat[2] if m.gender == "female" else pat[1]
            m.phones = [ph for ph in m.phones if ph[1] != "work"][:1] if self.chance(0.6) else []
            m.phones.append((home, "home"))
            if family_email:
                m.emails.append(family_email)
            members.append(m)
        return members

    def namesake(self, p: Person) -> Person:
        """Another person with the same first and last name in the same city."""
        group = p.namesake or self._next_group()
        p.namesake = group
        m = self.person(p.lang, p.gender, p.first, last_base=_male_surname(p), city=p.city)
        m.last = p.last
        m.namesake = group
        return m

    # -- the stream

    def _cluster(self) -> list[tuple[Record, Person]]:
        p = self.person()
        out = [(self.record(p), p)]
        if self.chance(DUPLICATE_SHARE):
            out.append((self.duplicate(p, 2), p))
            if self.chance(TRIPLE_SHARE):
                out.append((self.duplicate(p, 3), p))
        if self.chance(HOUSEHOLD_SHARE):
            for m in self.family(p):
                out.append((self.record(m), m))
        if self.chance(NAMESAKE_SHARE):
            m = self.namesake(p)
            out.append((self.record(m), m))
        # The first record was made before family() may have added the home phone.
        out[0] = (self.record(p), p)
        for rec, person in out:
            if person is p and rec.n > 1 and p.household and "birth_date_only" not in rec.kinds:
                home = [ph for ph in p.phones if ph[1] == "home"]
                if home and rec.phones and home[0] not in rec.phones and self.chance(0.5):
                    rec.phones.append(home[0])
        if len(out) > 2 and out[2][0].n == 3 and not direct_evidence(out[1][0], out[2][0]):
            out[2][0].via_third = True
        return out

    def chunks(self, size: int = CHUNK) -> Iterator[list[Record]]:
        """Records in chunks, shuffled within a chunk (a duplicate is never next to its
        original by id), until `contacts` records; the truth grows as chunks are taken."""
        made = 0
        while made < self.count:
            target = min(size, self.count - made)
            chunk: list[tuple[Record, Person]] = []
            while len(chunk) < target:
                cluster = self._cluster()
                if len(chunk) + len(cluster) > target:
                    cluster = cluster[:1]
                    cluster[0][1].household = cluster[0][1].namesake = 0
                chunk.extend(cluster)
            self.r.shuffle(chunk)
            for rec, person in chunk:
                self.truth.add(rec, person)
            made += len(chunk)
            yield [rec for rec, _person in chunk]

    def records(self) -> Iterator[Record]:
        for chunk in self.chunks():
            yield from chunk


# --- Stored form ---------------------------------------------------------------------


@lru_cache(maxsize=1 << 16)
def _stored_email(typed: str) -> str:
    return normalize_email(typed)


def stored_email(typed: str) -> str:
    """What crmlite stores for an address as typed (normalize_email)."""
    if typed.islower() and typed.isascii() and "+" not in typed:
        return typed
    return _stored_email(typed)


def stored_phone(typed: str) -> str:
    """What crmlite stores for a number as typed (normalize_phone, region RU)."""
    if typed.startswith("+") and typed[1:].isdigit():
        return typed
    return normalize_phone(typed, "RU")


CONTACT_COLUMNS = (
    "id first_name last_name middle_name company position industry city country address "
    "birth_date gender source stage notes custom is_archived created_at updated_at version "
    "sort_name company_key external_id purchase_count purchase_total_minor"
).split()
TABLES = {
    "contacts": CONTACT_COLUMNS,
    "contact_emails": ["id", "contact_id", "email", "label", "is_primary", "is_valid"],
    "contact_phones": ["id", "contact_id", "e164", "label", "is_primary", "is_valid"],
    "search_tokens": ["contact_id", "token", "sort_name"],
}


def rows_for(records: list[Record], ids: dict[str, int], created: str) -> dict[str, list[tuple]]:
    """Rows of every table for records; ids holds the next id per table and moves on."""
    contacts, emails, phones, tokens = [], [], [], []
    for rec in records:
        cid = ids["contacts"]
        ids["contacts"] += 1
        sname = sort_name(rec.last, rec.first, rec.middle, rec.company)
        contacts.append(
            (
                cid,
                rec.first,
                rec.last,
                rec.middle,
                rec.company,
                rec.position,
                "",
                rec.city,
                rec.country,
                rec.address,
                rec.birth.isoformat() if rec.birth else None,
                rec.gender,
                "import",
                "potential",
                "",
                "{}",
                False,
                created,
                created,
                1,
                sname,
                fold(rec.company)[:200],
                rec.external_id,
                0,
                0,
            )
        )
        seen = set()
        stored_emails = []
        for i, (typed, label) in enumerate(rec.emails):
            email = stored_email(typed)
            if email in seen:
                continue
            seen.add(email)
            stored_emails.append(email)
            emails.append((ids["contact_emails"], cid, email, label, i == 0, True))
            ids["contact_emails"] += 1
        stored_phones = []
        for i, (typed, label) in enumerate(rec.phones):
            e164 = stored_phone(typed)
            if e164 in seen:
                continue
            seen.add(e164)
            stored_phones.append(e164)
            phones.append((ids["contact_phones"], cid, e164, label, i == 0, True))
            ids["contact_phones"] += 1
        for token in person_tokens(
            rec.first, rec.last, rec.middle, rec.company, stored_emails, stored_phones
        ):
            tokens.append((cid, token, sname))
    return {
        "contacts": contacts,
        "contact_emails": emails,
        "contact_phones": phones,
        "search_tokens": tokens,
    }


def load(
    session,
    contacts: int,
    seed: int = 1,
    progress: Callable[[int], Any] | None = None,
) -> Truth:
    """Write `contacts` generated contacts into the database (after any already there);
    return the truth. Big loads drop and rebuild the secondary indexes, like demo.py."""
    from sqlalchemy import func, select

    from crmlite.core.demo import bulk_load
    from crmlite.models import Contact, ContactEmail, ContactPhone
    from crmlite.models.types import utcnow

    ids = {
        "contacts": (session.scalar(select(func.max(Contact.id))) or 0) + 1,
        "contact_emails": (session.scalar(select(func.max(ContactEmail.id))) or 0) + 1,
        "contact_phones": (session.scalar(select(func.max(ContactPhone.id))) or 0) + 1,
    }
    session.commit()
    created = utcnow().replace(microsecond=0).isoformat(sep=" ")
    gen = Generator(seed, contacts)
    chunks = (rows_for(chunk, ids, created) for chunk in gen.chunks())
    bulk_load(session, chunks, TABLES, big=contacts >= 100_000, progress=progress)
    return gen.truth


CSV_HEADER = [
    "external_id",
    "first_name",
    "middle_name",
    "last_name",
    "company",
    "position",
    "city",
    "country",
    "address",
    "birth_date",
    "gender",
    "email 1",
    "email 2",
    "email 3",
    "phone 1",
    "phone 2",
    "phone 3",
]


def write_csv(path: str | Path, contacts: int, seed: int = 1) -> Truth:
    """The same contacts as a CSV `crmlite import` reads; e-mails and phones as typed."""
    gen = Generator(seed, contacts)
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(CSV_HEADER)
        for rec in gen.records():
            emails = [e for e, _label in rec.emails][:3]
            phones = [p for p, _label in rec.phones][:3]
            out.writerow(
                [
                    rec.external_id,
                    rec.first,
                    rec.middle,
                    rec.last,
                    rec.company,
                    rec.position,
                    rec.city,
                    rec.country,
                    rec.address,
                    rec.birth.isoformat() if rec.birth else "",
                    rec.gender,
                    *(emails + [""] * (3 - len(emails))),
                    *(phones + [""] * (3 - len(phones))),
                ]
            )
    return gen.truth


def main() -> None:
    import argparse
    import os
    import time

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--csv", help="write a CSV here instead of loading a database")
    args = parser.parse_args()
    started = time.perf_counter()
    if args.csv:
        truth = write_csv(args.csv, args.contacts, args.seed)
    else:
        os.environ.setdefault("CRMLITE_INSTANCE_PATH", str(HERE / "instance"))
        os.environ.setdefault("CRMLITE_DATABASE_URL", "sqlite:///" + str(HERE / "dedup.db"))
        from flask_migrate import upgrade

        from crmlite.app import create_app
        from crmlite.extensions import db

        app = create_app()
        with app.app_context():
            upgrade()
            truth = load(db.session, args.contacts, args.seed)
    print(
        f"{truth.contacts:,} contacts of {truth.people:,} people, {truth.true_pairs:,} true "
        f"duplicate pairs, in {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()
