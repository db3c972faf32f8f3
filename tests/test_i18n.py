"""Translations: the Russian catalog covers every marked string, keeps its placeholders, is
compiled, and Russian-speaking users really see Russian (English-speaking ones English)."""

import re
from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from crmlite.core import contacts
from crmlite.extensions import db
from crmlite.models import Contact, Tag, User

ROOT = Path(__file__).resolve().parents[1]
PO = ROOT / "translations" / "ru" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")

# The same extraction as `make translations` (keep the two in step).
EXTRACT = [
    "pybabel", "--quiet", "extract", "-F", str(ROOT / "babel.cfg"),
    "-k", "_l", "-k", "lazy_gettext", "-k", "lazy_ngettext:1,2",
    "--ignore-dirs=.* __pycache__ instance",
]  # fmt: skip


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    CommandLineInterface().run([*EXTRACT, "-o", str(pot), str(ROOT)])
    with pot.open("rb") as f:
        return read_po(f)


@pytest.fixture(scope="module")
def russian():
    with PO.open("rb") as f:
        return read_po(f, locale="ru")


def _key(message):
    return message.id[0] if isinstance(message.id, tuple) else message.id


def _forms(message) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple) else [message.string]


# -- the catalogs ----------------------------------------------------------------------------


def test_extraction_finds_strings_of_python_templates_core_and_partials(extracted):
    ids = {_key(m) for m in extracted if m.id}
    assert "Contacts" in ids  # base.html
    assert "You may not do this." in ids  # templates/_partials/ (babel skips "_" dirs by default)
    assert "“%(value)s” is not a phone number." in ids  # core, _() with keyword arguments
    assert "Potential" in ids  # lazy_gettext in forms
    plural = next(m for m in extracted if _key(m) == "%(count)s contact archived.")
    assert plural.id[1] == "%(count)s contacts archived."  # ngettext keeps its plural


def test_every_message_has_a_russian_translation(extracted, russian):
    missing = []
    for message in extracted:
        if not message.id:
            continue
        translated = russian.get(message.id)
        if (
            translated is None
            or translated.fuzzy
            or not all(f.strip() for f in _forms(translated))
            or len(_forms(translated)) != (3 if isinstance(message.id, tuple) else 1)
        ):
            missing.append(_key(message))
    assert not missing, (
        f"{len(missing)} message(s) lack a Russian translation; run `make translations` "
        "and translate them in translations/ru/LC_MESSAGES/messages.po:\n" + "\n".join(missing)
    )


def test_translations_keep_every_placeholder(russian):
    wrong = []
    for message in russian:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        needed = {name for msgid in ids for name in PLACEHOLDER.findall(msgid)}
        for form in _forms(message):
            found = set(PLACEHOLDER.findall(form))
            if found != needed:
                wrong.append(f"{_key(message)!r}: wants {sorted(needed)}, has {sorted(found)}")
            elif needed:
                form % dict.fromkeys(needed, "1")  # a stray % would break formatting
    assert not wrong, "placeholders differ:\n" + "\n".join(wrong)


def test_compiled_catalog_matches_the_po_file(russian):
    with MO.open("rb") as f:
        compiled = read_mo(f)
    expected = {_plain(m.id): _plain(m.string) for m in russian if m.id and not m.fuzzy}
    actual = {_plain(m.id): _plain(m.string) for m in compiled if m.id}
    stale = sorted(
        str(k[0] if isinstance(k, tuple) else k)
        for k in expected.keys() | actual.keys()
        if expected.get(k) != actual.get(k)
    )
    assert not stale, "messages.mo is out of date; run `make translations`:\n" + "\n".join(stale)


def _plain(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


# -- what people see -------------------------------------------------------------------------


def _set_language(app, user_id: int, language: str | None) -> None:
    with app.app_context():
        db.session.get(User, user_id).language = language
        db.session.commit()


def _contact(app, user_id: int, **fields) -> int:
    raw = {"first_name": "Ivan", "last_name": "Petrov", "stage": "key_client", **fields}
    with app.app_context():
        contact = contacts.create_contact(db.session, contacts.validate(raw), user_id)
        db.session.commit()
        return contact.id


def test_a_russian_user_sees_the_contact_list_in_russian(app, users, editor_client):
    _set_language(app, users["editor"], "ru")
    _contact(app, users["editor"], temperature="hot")
    html = editor_client.get("/").get_data(as_text=True)
    assert '<html lang="ru">' in html
    assert ">Контакты</a>" in html  # the nav
    assert "Новый контакт" in html and "Любая стадия" in html
    assert "Ключевой клиент" in html  # the stage of the row and the filter's choices
    assert "Горячий" in html
    assert editor_client.get("/contacts/count").get_data(as_text=True).startswith("1 контакт<")
    assert ">Contacts</a>" not in html and "Key client" not in html


def test_russian_plural_forms_follow_the_number(app, users, editor_client):
    _set_language(app, users["editor"], "ru")
    for i in range(3):
        _contact(app, users["editor"], first_name=f"Ivan{i}")
    assert "3 контакта" in editor_client.get("/contacts/count").get_data(as_text=True)
    for i in range(3, 5):
        _contact(app, users["editor"], first_name=f"Ivan{i}")
    assert "5 контактов" in editor_client.get("/contacts/count").get_data(as_text=True)


def test_a_russian_user_sees_the_contact_page_in_russian(app, users, editor_client):
    _set_language(app, users["editor"], "ru")
    contact_id = _contact(app, users["editor"], gender="female", source="referral")
    html = editor_client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    for text in ("ФИО", "Стадия", "Ключевой клиент", "Ответственный", "Пол", "Женский",
                 "Рекомендация", "Хроника", "создал(а) контакт", "В архив"):  # fmt: skip
        assert text in html, text
    assert "Lifecycle stage" not in html and "History" not in html


def test_a_russian_admin_sees_the_admin_pages_in_russian(app, users, admin_client):
    _set_language(app, users["admin"], "ru")
    html = admin_client.get("/admin/users").get_data(as_text=True)
    assert "Пользователи" in html and "Дополнительные поля" in html
    assert "Администратор" in html and "Наблюдатель" in html and "Редактор" in html
    assert "Активен" in html
    html = admin_client.get("/admin/fields").get_data(as_text=True)
    assert "Дополнительных полей пока нет." in html and "Добавить поле" in html
    assert "Custom fields" not in html


def test_an_english_user_sees_english(app, users, editor_client):
    _set_language(app, users["editor"], "en")
    _contact(app, users["editor"])
    # The browser asking for Russian does not override the user's own choice.
    html = editor_client.get("/", headers={"Accept-Language": "ru"}).get_data(as_text=True)
    assert '<html lang="en">' in html
    assert ">Contacts</a>" in html and "Key client" in html
    assert "Контакты" not in html
    count = editor_client.get("/contacts/count", headers={"Accept-Language": "ru"})
    assert count.get_data(as_text=True).startswith("1 contact<")


def test_the_browser_language_is_used_when_the_user_chose_none(app, users, editor_client):
    _set_language(app, users["editor"], None)
    html = editor_client.get("/", headers={"Accept-Language": "ru-RU,ru;q=0.9"}).get_data(
        as_text=True
    )
    assert ">Контакты</a>" in html


def test_the_login_page_follows_accept_language(client, users):
    html = client.get("/login", headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"}).get_data(
        as_text=True
    )
    assert "Войти" in html and "Пароль" in html
    html = client.get("/login", headers={"Accept-Language": "en-US,en"}).get_data(as_text=True)
    assert "Log in" in html and "Password" in html and "Войти" not in html
    resp = client.post(
        "/login",
        data={"email": "editor@example.com", "password": "wrong password"},
        headers={"Accept-Language": "ru"},
    )
    assert "Неверный e-mail или пароль." in resp.get_data(as_text=True)


def test_a_core_error_reaches_a_russian_user_in_russian(app, users, editor_client):
    _set_language(app, users["editor"], "ru")
    resp = editor_client.post(
        "/contacts/new",
        data={"first_name": "Анна", "phones-0-value": "12", "emails-0-value": "anna@"},
    )
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "«12» — не номер телефона." in html or "«12» — несуществующий номер телефона." in html
    assert "«anna@» — неправильный адрес e-mail." in html
    assert "Исправьте отмеченные поля; ничего не сохранено." in html
    with app.app_context():
        assert db.session.query(Contact).count() == 0


def test_bulk_messages_are_russian_with_the_right_plural(app, users, editor_client):
    _set_language(app, users["editor"], "ru")
    ids = [_contact(app, users["editor"], first_name=f"Ivan{i}") for i in range(2)]
    resp = editor_client.post(
        "/contacts/bulk",
        data={"action": "add_tag", "tag_name": "vip", "ids": [str(i) for i in ids]},
        follow_redirects=True,
    )
    assert "Тег «vip» добавлен 2 контактам." in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.query(Tag).filter_by(name="vip").count() == 1


def test_wtforms_own_messages_are_russian_too(app, users, admin_client):
    _set_language(app, users["admin"], "ru")
    resp = admin_client.post(
        "/admin/users/new", data={"email": "", "password": "", "role": "editor"}
    )
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert "Обязательное поле." in html
    assert "This field is required." not in html
