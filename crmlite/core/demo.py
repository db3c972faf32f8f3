"""Demo data: realistic Russian and English contacts, fast enough for 1,000,000 rows.

Rows are built as plain tuples with precomputed ids and written per chunk in one
transaction: raw executemany on SQLite, COPY on PostgreSQL (psycopg), Core executemany
elsewhere. No ORM object is made per contact. Everything create_contact would write is
written too: the contact with sort_name and company_key, its e-mails and phones, its
search tokens (the same set contact_tokens returns), its tags and one "create" history row.

Each contact also gets a chronicle (about INTERACTIONS_PER_CONTACT interactions on average:
notes, calls, meetings, support requests, NPS feedback and purchases with a long-tailed count
and amount, some buyers having stopped buying long ago) and the summary columns that
core.interactions.refresh_stats would compute from it, so lifecycle segments, RFM and the
dashboard have something realistic to show.
"""

import json
import math
import multiprocessing
import random
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from queue import Empty
from typing import Any

from sqlalchemy import Index, func, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ..extensions import db
from ..models import Contact, ContactEmail, ContactHistory, ContactPhone, Interaction, User
from ..models.types import utcnow
from . import tags as tags_core
from .contacts import sort_name
from .text import fold, words

CHUNK = 10_000
# From this many contacts on, rows are generated in a second process while this one writes,
# and secondary indexes are dropped and rebuilt afterwards: one sort per index is much
# faster than a million random b-tree inserts.
BIG = 100_000
DUPLICATE_SHARE = 0.01
# The chronicle: interactions per contact on average (purchases included), share of
# contacts who ever bought, and of buyers who stopped buying at some point.
# 2 keeps `crmlite demo --contacts 1000000` under 3 minutes; bench/segments.py asks for 5.
INTERACTIONS_PER_CONTACT = 2.0
BUYER_SHARE = 0.55
CHURN_SHARE = 0.35

# --- Russian names ------------------------------------------------------------------

# (name, patronymic of his son, patronymic of his daughter)
RU_MALE = [
    ("Александр", "Александрович", "Александровна"),
    ("Алексей", "Алексеевич", "Алексеевна"),
    ("Анатолий", "Анатольевич", "Анатольевна"),
    ("Андрей", "Андреевич", "Андреевна"),
    ("Антон", "Антонович", "Антоновна"),
    ("Аркадий", "Аркадьевич", "Аркадьевна"),
    ("Артём", "Артёмович", "Артёмовна"),
    ("Борис", "Борисович", "Борисовна"),
    ("Вадим", "Вадимович", "Вадимовна"),
    ("Валерий", "Валерьевич", "Валерьевна"),
    ("Василий", "Васильевич", "Васильевна"),
    ("Виктор", "Викторович", "Викторовна"),
    ("Владимир", "Владимирович", "Владимировна"),
    ("Владислав", "Владиславович", "Владиславовна"),
    ("Геннадий", "Геннадьевич", "Геннадьевна"),
    ("Георгий", "Георгиевич", "Георгиевна"),
    ("Григорий", "Григорьевич", "Григорьевна"),
    ("Денис", "Денисович", "Денисовна"),
    ("Дмитрий", "Дмитриевич", "Дмитриевна"),
    ("Евгений", "Евгеньевич", "Евгеньевна"),
    ("Егор", "Егорович", "Егоровна"),
    ("Иван", "Иванович", "Ивановна"),
    ("Игорь", "Игоревич", "Игоревна"),
    ("Илья", "Ильич", "Ильинична"),
    ("Кирилл", "Кириллович", "Кирилловна"),
    ("Константин", "Константинович", "Константиновна"),
    ("Леонид", "Леонидович", "Леонидовна"),
    ("Максим", "Максимович", "Максимовна"),
    ("Матвей", "Матвеевич", "Матвеевна"),
    ("Михаил", "Михайлович", "Михайловна"),
    ("Никита", "Никитич", "Никитична"),
    ("Николай", "Николаевич", "Николаевна"),
    ("Олег", "Олегович", "Олеговна"),
    ("Павел", "Павлович", "Павловна"),
    ("Пётр", "Петрович", "Петровна"),
    ("Роман", "Романович", "Романовна"),
    ("Руслан", "Русланович", "Руслановна"),
    ("Семён", "Семёнович", "Семёновна"),
    ("Сергей", "Сергеевич", "Сергеевна"),
    ("Станислав", "Станиславович", "Станиславовна"),
    ("Степан", "Степанович", "Степановна"),
    ("Тимур", "Тимурович", "Тимуровна"),
    ("Фёдор", "Фёдорович", "Фёдоровна"),
    ("Юрий", "Юрьевич", "Юрьевна"),
    ("Ярослав", "Ярославович", "Ярославовна"),
]
RU_FEMALE = (
    "Анна Мария Елена Ольга Наталья Татьяна Ирина Светлана Екатерина Юлия Анастасия Дарья "
    "Марина Людмила Галина Валентина Ксения Алина Виктория Полина Софья Вера Надежда Любовь "
    "Евгения Алёна Кристина Оксана Елизавета Валерия Яна Вероника Лариса Нина Тамара "
    "Маргарита Диана Ульяна Жанна Инна"
).split()
# Male forms; female forms follow the usual rules (see _female_surname).
RU_SURNAMES = (
    "Иванов Смирнов Кузнецов Попов Васильев Петров Соколов Михайлов Новиков Фёдоров Морозов "
    "Волков Алексеев Лебедев Семёнов Егоров Павлов Козлов Степанов Николаев Орлов Андреев "
    "Макаров Никитин Захаров Зайцев Соловьёв Борисов Яковлев Григорьев Романов Воробьёв "
    "Сергеев Кузьмин Фролов Александров Дмитриев Королёв Гусев Киселёв Ильин Максимов "
    "Поляков Сорокин Виноградов Ковалёв Белов Медведев Антонов Тарасов Жуков Баранов "
    "Филиппов Комаров Давыдов Беляев Герасимов Богданов Осипов Сидоров Матвеев Титов Марков "
    "Миронов Крылов Куликов Карпов Власов Мельников Денисов Гаврилов Тихонов Казаков "
    "Афанасьев Данилов Савельев Тимофеев Фомин Чернов Абрамов Мартынов Ефимов Федотов "
    "Щербаков Назаров Калинин Исаев Чернышёв Быков Маслов Родионов Коновалов Лазарев Воронин "
    "Климов Филатов Пономарёв Голубев Кудрявцев Прохоров Наумов Потапов Журавлёв Овчинников "
    "Трофимов Леонов Соболев Ермаков Колесников Гончаров Емельянов Никифоров Грачёв Котов "
    "Гришин Ефремов Архипов Громов Кириллов Малышев Панов Моисеев Румянцев Акимов Кондратьев "
    "Бирюков Горбунов Анисимов Тихомиров Галкин Лукьянов Михеев Скворцов Юдин Белоусов "
    "Нестеров Симонов Прокофьев Харитонов Князев Цветков Левин Логинов Горшков Савин Краснов "
    "Демидов Елисеев Рыбаков Сафонов Плотников Хохлов Жданов Вишневский Ковальский "
    "Покровский Соколовский Заречный Толстой Шевченко Коваленко Бондаренко Ткаченко "
    "Кравченко Лысенко Руденко"
).split()

# --- English names -------------------------------------------------------------------

EN_MALE = (
    "James John Robert Michael William David Richard Joseph Thomas Charles Daniel Matthew "
    "Anthony Mark Paul Steven Andrew Joshua Kevin Brian George Edward Oliver Harry Jack "
    "Henry Samuel Benjamin Lucas Ryan"
).split()
EN_FEMALE = (
    "Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Emily Emma "
    "Olivia Sophie Charlotte Amelia Grace Chloe Hannah Lucy Rachel Laura Rebecca Katherine "
    "Megan Victoria Alice Helen Anna Julia"
).split()
EN_SURNAMES = (
    "Smith Johnson Williams Brown Jones Miller Davis Wilson Taylor Anderson Thomas Moore "
    "Martin Jackson Thompson White Harris Clark Lewis Walker Hall Young King Wright Scott "
    "Green Baker Adams Nelson Hill Campbell Mitchell Roberts Carter Phillips Evans Turner "
    "Parker Collins Edwards Stewart Morris Murphy Cook Rogers Morgan Cooper Peterson Reed "
    "Bailey Bell Kelly Howard Ward Cox Richardson Wood Watson Brooks Bennett Gray Hughes "
    "Price Patel Khan O'Brien O'Connor MacDonald Fletcher Hunter Palmer Lloyd"
).split()
EN_NICKNAMES = {
    "William": "Bill",
    "Robert": "Bob",
    "Elizabeth": "Liz",
    "Katherine": "Kate",
    "Michael": "Mike",
    "Thomas": "Tom",
    "Joseph": "Joe",
    "Richard": "Rick",
    "Daniel": "Dan",
    "Rebecca": "Becky",
    "Samuel": "Sam",
    "Benjamin": "Ben",
    "Victoria": "Vicky",
}
RU_VARIANTS = {"Наталья": "Наталия", "Софья": "София", "Юлия": "Юля", "Дарья": "Дария"}

# --- Companies, positions, places ----------------------------------------------------

RU_COMPANY_NAMES = [
    ("Ромашка", "Розничная торговля"),
    ("Север", "Логистика"),
    ("Вектор", "Информационные технологии"),
    ("Гранит", "Строительство"),
    ("Восход", "Производство"),
    ("Меридиан", "Туризм"),
    ("Альянс", "Финансы"),
    ("Прогресс", "Производство"),
    ("Рассвет", "Сельское хозяйство"),
    ("Сибирь", "Энергетика"),
    ("Волга", "Логистика"),
    ("Урал", "Металлургия"),
    ("Байкал", "Пищевая промышленность"),
    ("Технопром", "Производство"),
    ("Стройинвест", "Строительство"),
    ("Промсервис", "Услуги для бизнеса"),
    ("Энергосбыт", "Энергетика"),
    ("Агрокомплекс", "Сельское хозяйство"),
    ("Медтехника", "Медицина"),
    ("Инфосистемы", "Информационные технологии"),
    ("Логистик-Центр", "Логистика"),
    ("Горизонт", "Недвижимость"),
    ("Кристалл", "Розничная торговля"),
    ("Нева", "Общественное питание"),
    ("Дельта", "Финансы"),
    ("Эталон", "Образование"),
    ("Фармация", "Медицина"),
    ("Стандарт", "Услуги для бизнеса"),
    ("Орбита", "Телекоммуникации"),
    ("Парус", "Туризм"),
    ("Тайга", "Лесная промышленность"),
    ("Созвездие", "Маркетинг"),
]
RU_FORMS = ["ООО"] * 6 + ["АО"] * 2 + ["ПАО", "ЗАО"]
EN_COMPANY_NAMES = [
    ("Acme", "Manufacturing"),
    ("Northwind", "Wholesale"),
    ("Globex", "Energy"),
    ("Initech", "Software"),
    ("Blue Harbor", "Logistics"),
    ("Greenfield", "Agriculture"),
    ("Summit", "Consulting"),
    ("Bright Path", "Education"),
    ("Redwood", "Software"),
    ("Oakridge", "Food and Beverage"),
    ("Silverline", "Media"),
    ("Crescent", "Finance"),
    ("Pioneer", "Construction"),
    ("Sterling", "Finance"),
    ("Riverside", "Healthcare"),
    ("Evergreen", "Real Estate"),
    ("Keystone", "Retail"),
    ("Harbourview", "Hospitality"),
]
EN_SUFFIXES = ["Ltd", "Ltd", "LLC", "Inc.", "Group", "Partners", "plc"]
RU_POSITIONS = [
    "Генеральный директор",
    "Коммерческий директор",
    "Менеджер по продажам",
    "Менеджер по продажам",
    "Главный бухгалтер",
    "Руководитель отдела закупок",
    "Маркетолог",
    "Инженер",
    "Юрист",
    "HR-менеджер",
    "Аналитик",
    "Менеджер проектов",
    "Технический директор",
    "Логист",
    "Офис-менеджер",
    "Владелец",
]
EN_POSITIONS = [
    "CEO",
    "Sales Manager",
    "Sales Manager",
    "Head of Procurement",
    "Marketing Specialist",
    "Accountant",
    "Software Engineer",
    "Project Manager",
    "Office Manager",
    "CTO",
    "Operations Director",
    "Account Executive",
    "Founder",
]
RU_CITIES = (
    ["Москва"] * 8
    + ["Санкт-Петербург"] * 4
    + [
        "Новосибирск",
        "Екатеринбург",
        "Казань",
        "Нижний Новгород",
        "Челябинск",
        "Самара",
        "Омск",
        "Ростов-на-Дону",
        "Уфа",
        "Красноярск",
        "Пермь",
        "Воронеж",
        "Волгоград",
        "Краснодар",
        "Тюмень",
        "Иркутск",
        "Ярославль",
        "Калининград",
    ]
)
RU_STREETS = (
    "Ленина Пушкина Гагарина Советская Мира Садовая Лесная Центральная Московская "
    "Набережная Школьная Молодёжная Заводская Новая Победы"
).split()
UK_CITIES = ["London"] * 4 + [
    "Manchester",
    "Birmingham",
    "Leeds",
    "Glasgow",
    "Edinburgh",
    "Bristol",
]
UK_STREETS = [
    "High Street",
    "Station Road",
    "Church Lane",
    "Park Avenue",
    "Victoria Road",
    "Green Lane",
    "King Street",
    "Queen's Road",
]
# city, area codes
US_CITIES = [
    ("New York", ("212", "646", "718")),
    ("San Francisco", ("415",)),
    ("Chicago", ("312",)),
    ("Boston", ("617",)),
    ("Washington", ("202",)),
    ("Los Angeles", ("310", "213")),
    ("Seattle", ("206",)),
    ("Austin", ("512",)),
    ("Miami", ("305",)),
]
US_STREETS = ["Main St", "Oak Ave", "Maple Dr", "Broadway", "Market St", "5th Ave", "Pine St"]
# Russian mobile operator codes (every number in them is valid for phonenumbers).
RU_MOBILE = [
    *range(900, 907),
    908,
    909,
    *range(910, 930),
    931,
    932,
    937,
    938,
    *range(950, 954),
    958,
    *range(960, 970),
    977,
    978,
    *range(980, 990),
    *range(991, 998),
    999,
]
UK_MOBILE = ["7711", "7722", "7723", "7800", "7812", "7900", "7944", "7956", "7960", "7970"]
RU_MAIL = ["yandex.ru"] * 4 + ["mail.ru"] * 3 + ["gmail.com"] * 2 + ["bk.ru", "list.ru", "ya.ru"]
EN_MAIL = ["gmail.com"] * 4 + ["outlook.com"] * 2 + ["yahoo.com", "icloud.com", "hotmail.co.uk"]

TAGS = [  # name, share of contacts
    ("Рассылка", 0.25),
    ("Newsletter", 0.10),
    ("Конференция 2025", 0.08),
    ("Вебинар", 0.06),
    ("Партнёр", 0.05),
    ("Холодный обзвон", 0.05),
    ("Важно", 0.04),
    ("VIP", 0.03),
    ("Expo London", 0.02),
    ("Tender", 0.02),
]
STAGES = ["potential"] * 55 + ["customer"] * 30 + ["key_client"] * 5 + ["former"] * 10
TEMPERATURES = [None] * 20 + ["cold"] * 40 + ["warm"] * 28 + ["hot"] * 12
SOURCES = (
    [None] * 10
    + ["web_form"] * 30
    + ["import"] * 20
    + ["event"] * 15
    + ["referral"] * 12
    + ["ads"] * 10
    + ["other"] * 3
)

_TRANSLIT = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        "a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh shch - y - e yu ya".split(),
        strict=True,
    )
)


@lru_cache(maxsize=4096)
def translit(text: str) -> str:
    """'Фёдоров' -> 'fedorov': lower-case Latin for e-mail addresses and Latin spellings."""
    out = []
    for ch in text.lower():
        if ch in _TRANSLIT:
            out.append(_TRANSLIT[ch].strip("-"))
        elif ch.isascii() and ch.isalnum():
            out.append(ch)
        elif ch in " -":
            out.append("-")
    return "".join(out).strip("-")


def _female_surname(male: str) -> str:
    if male.endswith(("ов", "ев", "ёв", "ин", "ын")):
        return male + "а"
    if male.endswith(("ский", "цкий")):
        return male[:-2] + "ая"
    if male.endswith(("ый", "ой")):
        return male[:-2] + "ая"
    return male  # -енко and the like do not change


_ascii_words = re.compile(r"\w+").findall  # words() of text that fold() leaves alone


@lru_cache(maxsize=65536)
def _words(text: str) -> tuple[str, ...]:
    return tuple(words(text))


def _company_pool() -> tuple[list[tuple[str, str, str]], list[tuple[str, str, str]]]:
    """(company, industry, mail domain) for Russian and English companies."""
    pick = random.Random(0)
    ru = []
    for name, industry in RU_COMPANY_NAMES:
        for form in sorted(set(RU_FORMS)):
            ru.extend(
                [(f"{form} «{name}»", industry, translit(name) + ".ru")] * RU_FORMS.count(form)
            )
    en = []
    for name, industry in EN_COMPANY_NAMES:
        domain = name.lower().replace(" ", "") + pick.choice([".com", ".co.uk", ".io"])
        for suffix in EN_SUFFIXES:
            en.append((f"{name} {suffix}", industry, domain))
    return ru, en


RU_COMPANIES, EN_COMPANIES = _company_pool()


class _Person:
    __slots__ = (
        "lang",
        "gender",
        "first",
        "last",
        "middle",
        "company",
        "industry",
        "domain",
        "position",
        "city",
        "country",
        "address",
        "emails",
        "phones",
    )


class _Generator:
    def __init__(self, seed: int, russian_share: float = 0.75):
        self.r = random.Random(seed)
        self.russian_share = russian_share
        rnd = self.r.random
        # random.choice/randrange cost ~1 µs each; this is ~0.1 µs and just as deterministic.
        self.pick = lambda seq: seq[int(rnd() * len(seq))]
        self.below = lambda n: int(rnd() * n)
        self.recent: list[_Person] = []

    def person(self) -> _Person:
        rnd, pick, below = self.r.random, self.pick, self.below
        if self.recent and rnd() < DUPLICATE_SHARE:
            return self.duplicate(pick(self.recent))
        p = _Person()
        russian = rnd() < self.russian_share
        p.lang = "ru" if russian else "en"
        female = rnd() < 0.5
        p.gender = "female" if female else "male"
        if russian:
            father = pick(RU_MALE)
            surname = pick(RU_SURNAMES)
            if female:
                p.first, p.last, p.middle = pick(RU_FEMALE), _female_surname(surname), father[2]
            else:
                p.first, p.last, p.middle = pick(RU_MALE)[0], surname, father[1]
            if rnd() < 0.08:
                p.middle = ""
        else:
            p.first = pick(EN_FEMALE if female else EN_MALE)
            p.last = pick(EN_SURNAMES)
            p.middle = ""
        if rnd() < 0.85:
            p.company, p.industry, p.domain = pick(RU_COMPANIES if russian else EN_COMPANIES)
            p.position = pick(RU_POSITIONS if russian else EN_POSITIONS)
        else:
            p.company = p.industry = p.domain = p.position = ""
        n = 1 + below(120)
        if russian:
            p.city, p.country = pick(RU_CITIES), "Россия"
            p.address = f"ул. {pick(RU_STREETS)}, д. {n}"
            if rnd() < 0.5:
                p.address += f", {'офис' if p.company else 'кв.'} {1 + below(300)}"
            p.phones = [f"+7{pick(RU_MOBILE)}{below(10_000_000):07d}"]
            if rnd() < 0.15:
                p.phones.append(f"+7{pick(RU_MOBILE)}{below(10_000_000):07d}")
        elif rnd() < 0.6:
            p.city, p.country = pick(UK_CITIES), "United Kingdom"
            p.address = f"{n} {pick(UK_STREETS)}"
            p.phones = [f"+44{pick(UK_MOBILE)}{below(1_000_000):06d}"]
        else:
            city, codes = pick(US_CITIES)
            p.city, p.country = city, "United States"
            p.address = f"{n} {pick(US_STREETS)}"
            p.phones = [f"+1{pick(codes)}{200 + below(800)}{below(10_000):04d}"]
        if rnd() < 0.1:
            p.phones = []
        p.emails = self.emails(p) if rnd() < 0.9 else []
        if len(self.recent) < 1000:
            self.recent.append(p)
        else:
            self.recent[below(1000)] = p
        return p

    def emails(self, p: _Person) -> list[str]:
        pick, below = self.pick, self.below
        first, last = translit(p.first), translit(p.last)
        pattern = below(6)
        if pattern == 0:
            local = f"{first}.{last}"
        elif pattern == 1:
            local = f"{first[0]}.{last}"
        elif pattern == 2:
            local = f"{last}.{first}{70 + below(30)}"
        elif pattern == 3:
            local = f"{last}{1 + below(999)}"
        elif pattern == 4:
            local = f"{first}_{last}{1 + below(99)}"
        else:
            local = f"{first}{last[0]}{1 + below(9999)}"
        personal = f"{local}@{pick(RU_MAIL if p.lang == 'ru' else EN_MAIL)}"
        if p.domain:
            work = f"{first[0]}.{last}@{p.domain}"
            return [work, personal] if self.r.random() < 0.2 else [work]
        return [personal]

    def duplicate(self, o: _Person) -> _Person:
        """The same person entered again: a variant spelling, same e-mail or phone."""
        below = self.below
        p = _Person()
        for name in _Person.__slots__:
            setattr(p, name, getattr(o, name))
        way = below(4)
        if way == 0 and o.lang == "ru":  # typed in Latin
            p.first, p.last, p.middle = (translit(o.first).title(), translit(o.last).title(), "")
        elif way == 1 and ("ё" in o.first + o.last or o.first in RU_VARIANTS):
            p.first = RU_VARIANTS.get(o.first, o.first.replace("ё", "е"))
            p.last = o.last.replace("ё", "е")
        elif way == 2 and o.first in EN_NICKNAMES:
            p.first = EN_NICKNAMES[o.first]
        elif len(o.last) > 4:  # a typo: two letters swapped
            i = 1 + below(len(o.last) - 3)
            p.last = o.last[:i] + o.last[i + 1] + o.last[i] + o.last[i + 2 :]
            p.middle = ""
        keep = below(3)
        p.emails = list(o.emails) if keep != 1 else []
        p.phones = list(o.phones) if keep != 0 or not o.emails else []
        return p


def _national(e164: str) -> str:
    # Valid numbers only: +7 and +1 have one-digit country codes, +44 two.
    return e164[3:] if e164.startswith("+44") else e164[2:]


def person_tokens(first, last, middle, company, emails, phones) -> set[str]:
    """contact_tokens for generated data, with name words cached (same output, much faster)."""
    tokens = set(_words(first))
    tokens.update(_words(last))
    tokens.update(_words(middle))
    tokens.update(_words(company))
    for email in emails:  # already lower-case ASCII, so fold() would not change them
        tokens.add(email)
        local = email.split("@", 1)[0]
        tokens.add(local)
        tokens.update(_ascii_words(local))
    for e164 in phones:
        tokens.add(e164[1:])
        tokens.add(_national(e164))
    tokens.discard("")
    return tokens


# --- Writing -------------------------------------------------------------------------

_TABLES = {
    "contacts": (
        "id first_name last_name middle_name company position industry city country address "
        "birth_date gender source owner_id stage temperature notes custom is_archived "
        "created_at updated_at version sort_name company_key purchase_count "
        "purchase_total_minor purchase_avg_minor first_purchase_at last_purchase_at "
        "last_interaction_at last_nps"
    ).split(),
    "contact_emails": ["id", "contact_id", "email", "label", "is_primary"],
    "contact_phones": ["id", "contact_id", "e164", "label", "is_primary"],
    "search_tokens": ["contact_id", "token", "sort_name"],
    "contact_tags": ["contact_id", "tag_id"],
    "contact_history": ["id", "contact_id", "user_id", "at", "action", "version", "changes"],
    "interactions": (
        "id contact_id kind occurred_at text amount_minor currency status score data "
        "author_id created_at updated_at"
    ).split(),
}


def _write(conn: Connection, table: str, columns: list[str], rows: list[tuple]) -> None:
    if not rows:
        return
    dialect = conn.dialect.name
    raw = conn.connection.driver_connection
    if dialect == "sqlite":
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        raw.cursor().executemany(sql, rows)
    elif dialect == "postgresql" and hasattr(raw, "cursor") and conn.dialect.driver == "psycopg":
        with raw.cursor() as cur:
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
    else:
        table_obj = db.metadata.tables[table]
        conn.execute(table_obj.insert(), [dict(zip(columns, row, strict=True)) for row in rows])


def _secondary_indexes(tables: Iterable[str]) -> list[Index]:
    return [
        index for name in tables for index in db.metadata.tables[name].indexes if not index.unique
    ]


def bulk_load(
    session: Session,
    chunks: Iterable[dict[str, list[tuple]]],
    columns: dict[str, list[str]] = _TABLES,
    big: bool = False,
    progress: Callable[[int], Any] | None = None,
) -> int:
    """Write chunks of rows ({table: [row tuples in `columns` order]}, each with "contacts")
    straight through the driver: executemany on SQLite, COPY on PostgreSQL. A big load drops
    the secondary indexes of these tables first and rebuilds them after. Returns the contacts
    written. Shared by the demo data and bench/dedup_data.py."""
    indexes = _secondary_indexes(columns) if big else []
    made = 0
    # A connection of our own, so the pragmas below never leak into a pooled session.
    with session.get_bind().connect() as conn:
        raw = conn.connection.driver_connection
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # The rows are consistent by construction; checking every key costs a lookup
            # per row. (foreign_keys only changes outside a transaction: raw connection.)
            raw.execute("PRAGMA foreign_keys=OFF")
            # No fsync per checkpoint while loading; WAL still keeps every commit atomic.
            raw.execute("PRAGMA synchronous=OFF")
            # (A bigger cache_size made CREATE INDEX slower here: the default sorts faster.)
        try:
            for index in indexes:
                index.drop(conn, checkfirst=True)
            conn.commit()
            for chunk in chunks:
                for table, rows in chunk.items():
                    _write(conn, table, columns[table], rows)
                conn.commit()
                n = len(chunk["contacts"])
                made += n
                if progress:
                    progress(n)
        finally:
            conn.rollback()
            for index in indexes:
                index.create(conn, checkfirst=True)
            _finish(conn, analyze=made >= CHUNK)
            conn.commit()
            if sqlite:
                raw.commit()  # pragmas below are silently ignored inside a transaction
                raw.execute("PRAGMA foreign_keys=ON")
                raw.execute("PRAGMA synchronous=NORMAL")
    return made


def _next_id(session: Session, column) -> int:
    return (session.scalar(select(func.max(column))) or 0) + 1


@dataclass
class _Plan:
    """What the producer needs to know: picklable, so it can run in another process."""

    seed: int
    count: int
    russian_share: float
    owners: list[int]
    tag_ids: list[tuple[int, float]]
    contact_id: int
    email_id: int
    phone_id: int
    history_id: int
    now: datetime
    interaction_id: int = 1
    interactions_per_contact: float = INTERACTIONS_PER_CONTACT


RU_NOTES = [
    "Просил перезвонить после праздников",
    "Интересуется оптовыми ценами",
    "Отправили коммерческое предложение",
    "Уточнить условия доставки",
    "Доволен последним заказом",
    "Сравнивает с конкурентами",
]
EN_NOTES = [
    "Asked for a call back next week",
    "Interested in volume pricing",
    "Sent the proposal",
    "Check delivery terms",
    "Happy with the last order",
    "Comparing with competitors",
]
RU_PRODUCTS = ["Кофе в зёрнах, 1 кг", "Чай улун", "Подарочный набор", "Кофемолка", "Капсулы, 50 шт"]
EN_PRODUCTS = ["Coffee beans, 1 kg", "Oolong tea", "Gift box", "Coffee grinder", "Capsules, 50"]
# (kind, share) of the interactions that are not purchases or feedback.
OTHER_KINDS = [("note", 0.40), ("call", 0.35), ("meeting", 0.12), ("support", 0.13)]
# NPS answers lean positive, as they do in practice.
NPS_SCORES = [0, 1, 2, 3, 4, 5, 6] + [7, 8] * 4 + [9, 10] * 6


class _Chronicle:
    """Interactions of one contact and the summary columns they give.

    Its own random stream, so adding the chronicle does not change the people generated."""

    def __init__(self, seed: int, now: datetime, per_contact: float):
        self.r = random.Random(seed * 1_000_003 + 17)
        self.enabled = per_contact > 0
        # floor(Exp(mean)) has mean 1 / (e^(1/mean) - 1): purchases and feedback make about
        # 1.8 interactions per contact; the other kinds make up the rest.
        self.other_mean = max(per_contact - 1.8, 0.05) + 0.5
        self.days = [(now - timedelta(days=d)).strftime("%Y-%m-%d ") for d in range(3 * 365 + 2)]
        pick = random.Random(seed)
        self.times = [
            f"{9 + pick.randrange(10):02d}:{pick.randrange(60):02d}:00" for _ in range(97)
        ]
        kinds = []
        for kind, share in OTHER_KINDS:
            kinds += [kind] * int(share * 100)
        self.kinds = kinds

    def _when(self, low: int, high: int) -> str:
        """A moment between low and high days ago (both included)."""
        r = self.r.random
        day = low + int(r() * (high - low + 1))
        return self.days[day] + self.times[int(r() * len(self.times))]

    def make(self, cid, age_days, russian, author, next_id):
        """(rows, summary) for a contact created age_days ago; ids from next_id on."""
        if not self.enabled or age_days < 1:
            return [], (0, 0, None, None, None, None, None)
        r = self.r.random
        rows = []
        purchases = []
        if r() < BUYER_SHARE:
            count = min(1 + int(-math.log(1 - r()) * 2.2), 80)  # long tail: a few buy often
            if r() < CHURN_SHARE:  # stopped buying at some point
                newest = 1 + int(r() * age_days)
            else:  # still buying: the last purchase is recent
                newest = min(1 + int(-math.log(1 - r()) * 60), age_days)
            spend = self.r.lognormvariate(7.6, 0.7)  # this customer's usual check, roubles
            products = RU_PRODUCTS if russian else EN_PRODUCTS
            for i in range(count):
                when = self._when(newest, age_days) if i else self.days[newest] + self.times[0]
                amount = int(spend * self.r.lognormvariate(0, 0.4)) * 100
                item = products[int(r() * len(products))]
                purchases.append((when, amount))
                rows.append((next_id, cid, "purchase", when, item, amount, "RUB", None, None))
                next_id += 1
        nps = None
        if r() < 0.3:
            score = NPS_SCORES[int(r() * len(NPS_SCORES))]
            when = self._when(1, age_days)
            nps = (when, score)
            rows.append((next_id, cid, "feedback", when, "", None, None, None, score))
            next_id += 1
        notes = RU_NOTES if russian else EN_NOTES
        for _ in range(int(-math.log(1 - r()) * self.other_mean)):
            kind = self.kinds[int(r() * len(self.kinds))]
            status = ("closed" if r() < 0.8 else "open") if kind == "support" else None
            when = self._when(1, age_days)
            rows.append(
                (next_id, cid, kind, when, notes[int(r() * len(notes))], None, None, status, None)
            )
            next_id += 1
        rows = [(*row, "{}", author, row[3], row[3]) for row in rows]
        if purchases:
            total = sum(a for _w, a in purchases)
            dates = [w for w, _a in purchases]
            summary = [len(purchases), total, int(total / len(purchases) + 0.5)]
            summary += [min(dates), max(dates)]
        else:
            summary = [0, 0, None, None, None]
        summary.append(max((row[3] for row in rows), default=None))
        summary.append(nps[1] if nps else None)
        return rows, tuple(summary)


def _chunks(plan: _Plan) -> Iterator[dict[str, list[tuple]]]:
    """Rows for every table, CHUNK contacts at a time; the same plan gives the same rows."""
    gen = _Generator(plan.seed, plan.russian_share)
    rnd, below = gen.r.random, gen.below
    owners, tag_ids = plan.owners, plan.tag_ids
    contact_id, email_id = plan.contact_id, plan.email_id
    phone_id, history_id = plan.phone_id, plan.history_id
    chronicle = _Chronicle(plan.seed, plan.now, plan.interactions_per_contact)
    interaction_id = plan.interaction_id
    # Precomputed date texts: formatting a date per row would cost more than the rest.
    days = [(plan.now - timedelta(days=d)).strftime("%Y-%m-%d ") for d in range(3 * 365)]
    born_from = date(plan.now.year - 70, 1, 1)
    birthdays = [(born_from + timedelta(days=d)).isoformat() for d in range(50 * 365)]
    changes = json.dumps({"source": [None, "demo"]})
    made = 0
    while made < plan.count:
        n = min(CHUNK, plan.count - made)
        contacts, emails, phones, tokens, tagged, history = [], [], [], [], [], []
        events = []
        for _ in range(n):
            p = gen.person()
            cid = contact_id
            contact_id += 1
            seconds = below(86400)
            age = below(len(days))
            created = (
                f"{days[age]}{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
            )
            born = birthdays[below(len(birthdays))] if rnd() < 0.7 else None
            owner = owners[below(len(owners))] if owners and rnd() < 0.85 else None
            sname = sort_name(p.last, p.first, p.middle, p.company)
            stage = STAGES[int(rnd() * len(STAGES))]
            rows, summary = chronicle.make(cid, age, p.lang == "ru", owner, interaction_id)
            interaction_id += len(rows)
            events.extend(rows)
            if summary[0] and stage == "potential":  # a purchase makes a customer
                stage = "customer"
            contacts.append(
                (
                    cid,
                    p.first,
                    p.last,
                    p.middle,
                    p.company,
                    p.position,
                    p.industry,
                    p.city,
                    p.country,
                    p.address,
                    born,
                    p.gender,
                    SOURCES[int(rnd() * len(SOURCES))],
                    owner,
                    stage,
                    TEMPERATURES[int(rnd() * len(TEMPERATURES))],
                    "",
                    "{}",
                    False,
                    created,
                    created,
                    1,
                    sname,
                    fold(p.company)[:200],
                    *summary,
                )
            )
            for i, email in enumerate(p.emails):
                label = "work" if email.endswith("@" + p.domain) else "personal"
                emails.append((email_id, cid, email, label, i == 0))
                email_id += 1
            for i, e164 in enumerate(p.phones):
                phones.append((phone_id, cid, e164, "mobile" if i == 0 else "work", i == 0))
                phone_id += 1
            for token in person_tokens(p.first, p.last, p.middle, p.company, p.emails, p.phones):
                tokens.append((cid, token, sname))
            for tag_id, share in tag_ids:
                if rnd() < share:
                    tagged.append((cid, tag_id))
            history.append((history_id, cid, None, created, "create", 1, changes))
            history_id += 1
        made += n
        yield {
            "contacts": contacts,
            "contact_emails": emails,
            "contact_phones": phones,
            "search_tokens": tokens,
            "contact_tags": tagged,
            "contact_history": history,
            "interactions": events,
        }


def _produce(plan: _Plan, queue) -> None:  # runs in the child process
    for chunk in _chunks(plan):
        queue.put(chunk)


def _chunks_from_child(plan: _Plan) -> Iterator[dict[str, list[tuple]]]:
    """_chunks computed in a second process, so generating overlaps with writing (2 cores).

    fork, not spawn: spawn re-imports the caller's main module, which breaks any script
    without a __main__ guard. The child touches no database connection.
    """
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue(maxsize=3)
    child = ctx.Process(target=_produce, args=(plan, queue), daemon=True)
    child.start()
    try:
        for _ in range(0, plan.count, CHUNK):
            while True:
                try:
                    yield queue.get(timeout=5)
                    break
                except Empty:
                    if not child.is_alive():
                        raise RuntimeError("the demo data generator stopped") from None
    finally:
        if child.is_alive():
            child.terminate()
        child.join()


def generate(
    session: Session,
    count: int,
    seed: int = 1,
    region: str = "RU",
    progress: Callable[[int], Any] | None = None,
    interactions_per_contact: float = INTERACTIONS_PER_CONTACT,
) -> int:
    """Append `count` demo contacts (ids after the current maximum), each with a chronicle
    of about `interactions_per_contact` interactions (0: none); return how many contacts."""
    plan = _Plan(
        seed=seed,
        count=count,
        russian_share=0.75 if region == "RU" else 0.25,
        owners=list(session.scalars(select(User.id).where(User.active).order_by(User.id))),
        tag_ids=[(tags_core.get_or_create(session, name).id, share) for name, share in TAGS],
        contact_id=_next_id(session, Contact.id),
        email_id=_next_id(session, ContactEmail.id),
        phone_id=_next_id(session, ContactPhone.id),
        history_id=_next_id(session, ContactHistory.id),
        now=utcnow().replace(microsecond=0),
        interaction_id=_next_id(session, Interaction.id),
        interactions_per_contact=interactions_per_contact,
    )
    session.commit()
    big = count >= BIG
    parallel = big and "fork" in multiprocessing.get_all_start_methods()
    chunks = _chunks_from_child(plan) if parallel else _chunks(plan)
    return bulk_load(session, chunks, big=big, progress=progress)


def _finish(conn: Connection, analyze: bool) -> None:
    """Move sequences past the ids we chose, and refresh the planner's statistics."""
    if conn.dialect.name == "postgresql":
        for table in (
            "contacts",
            "contact_emails",
            "contact_phones",
            "contact_history",
            "interactions",
        ):
            conn.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                    f" (SELECT coalesce(max(id), 0) + 1 FROM {table}), false)"
                )
            )
        if analyze:
            conn.commit()
            # VACUUM too: it sets the visibility map, without which an index-only scan
            # (the token index that sorts search results by name) still reads every row
            # from the table: 1.3 s instead of 20 ms for "иван" right after a load.
            # VACUUM runs outside a transaction; the pool resets the isolation level.
            auto = conn.execution_options(isolation_level="AUTOCOMMIT")
            auto.execute(text("VACUUM ANALYZE " + ", ".join([*_TABLES, "tags"])))
    elif conn.dialect.name == "sqlite":
        if not analyze:
            return
        # A full ANALYZE (about 5 s at 1M contacts): with analysis_limit sampling SQLite
        # estimated ~2,000 rows per is_archived value and walked the whole (is_archived,
        # updated_at) index for a stage filter, which made a bulk tag take 16 s.
        conn.exec_driver_sql("ANALYZE")
