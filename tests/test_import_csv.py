"""The CSV importer and the import pipeline: encodings, separators, mapping, dry run, run,
second run, rejected rows, undo, failure part-way and resume. Files are made here."""

import csv
import io

import pytest
from sqlalchemy import func, select

from crmlite import hookimpl
from crmlite.builtin.csv_importer import CsvImporter, detect_delimiter, detect_encoding
from crmlite.core import importing
from crmlite.core.contacts import create_contact, load_contact, validate
from crmlite.core.import_mapping import auto_map
from crmlite.extensions import db
from crmlite.models import Contact, ContactHistory, CustomField, Import, ImportItem, ImportMapping

GOOGLE = (
    "Name,Given Name,Additional Name,Family Name,Birthday,Group Membership,"
    "E-mail 1 - Type,E-mail 1 - Value,E-mail 2 - Type,E-mail 2 - Value,"
    "Phone 1 - Type,Phone 1 - Value,Organization 1 - Name,Organization 1 - Title\n"
    "Anna Smith,Anna,,Smith,1985-03-14,* myContacts ::: Friends,* Work,anna@acme.com,"
    "Home,anna.smith@gmail.com,Mobile,+7 912 345-67-01,Acme,CEO\n"
    "Bob Brown,Bob,,Brown,,* myContacts,* Home,bob@example.org,,,Work,+7 495 123-45-67,,\n"
)
RUSSIAN = (
    "Фамилия;Имя;Отчество;Телефон;Почта;Компания;Должность;Город;Дата рождения\n"
    "Иванов;Иван;Иванович;8 (912) 345-67-02;ivanov@mail.ru;ООО Ромашка;Директор;Москва;17.05.1980\n"
    "Петрова;Мария;Сергеевна;+7 916 000-00-01;petrova@yandex.ru;АО Север;Бухгалтер;Казань;\n"
    "Сидоров;Пётр;;12345;sidorov@mail;ИП Сидоров;;Тверь;31.02.1990\n"
)
OUTLOOK = (
    "First Name,Last Name,E-mail Address,Mobile Phone,Business Phone,Company,Job Title,"
    "Business City,Birthday\r\n"
    "John,Doe,john.doe@contoso.com,+7 912 345-67-03,+7 495 123-45-68,Contoso,Manager,London,"
    "0/0/00\r\n"
)


def write(tmp_path, name: str, text: str, encoding: str) -> str:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def pm(app):
    return app.extensions["crmlite.plugins"]


def start(app, path: str, **kw) -> Import:
    imp = importing.create_import(db.session, pm(app), path, path.rsplit("/", 1)[-1], None, **kw)
    db.session.commit()
    return imp


def run_file(app, path: str, **kw) -> tuple[Import, dict]:
    imp = start(app, path, **kw)
    importing.dry_run(db.session, pm(app), imp)
    db.session.commit()
    counts = importing.run(db.session, pm(app), imp.id, None)
    return db.session.get(Import, imp.id), counts


def contact_by_email(email: str) -> Contact:
    from crmlite.models import ContactEmail

    cid = db.session.scalar(select(ContactEmail.contact_id).where(ContactEmail.email == email))
    return load_contact(db.session, cid)


def test_detects_encodings_and_separators():
    assert detect_encoding("\ufeffa,b".encode()) == "utf-8-sig"
    assert detect_encoding("a,b\nИван,Петров".encode()) == "utf-8"
    assert detect_encoding("Фамилия;Имя\nИванов;Иван".encode("cp1251")) == "cp1251"
    assert detect_encoding("First;Last\nMaja;Öztürk Straße".encode("cp1252")) == "cp1252"
    assert detect_encoding("a,b".encode("utf-16")) == "utf-16"
    assert detect_encoding("first,last\nAnn,Lee\n".encode("utf-16-le")) == "utf-16-le"
    assert detect_delimiter("a;b;c\n1;2;3\n") == ";"
    assert detect_delimiter("a\tb, c\tc\n1\t2, 3\t3\n") == "\t"
    assert detect_delimiter('name,note\n"Lee","x; y; z"\n') == ","


def test_headers_are_recognised_for_common_exports():
    google = GOOGLE.splitlines()[0].split(",")
    assert auto_map(google) == [
        "full_name",
        "first_name",
        "middle_name",
        "last_name",
        "birth_date",
        "tags",
        "email.1.label",
        "email.1",
        "email.2.label",
        "email.2",
        "phone.1.label",
        "phone.1",
        "company",
        "position",
    ]
    outlook = OUTLOOK.splitlines()[0].split(",")
    assert auto_map(outlook)[2:6] == ["email.1", "phone:mobile", "phone:work", "company"]
    russian = RUSSIAN.splitlines()[0].split(";")
    assert auto_map(russian) == [
        "last_name",
        "first_name",
        "middle_name",
        "phone",
        "email",
        "company",
        "position",
        "city",
        "birth_date",
    ]
    assert auto_map(
        ["ID", "source_id", "E-mail", "Email", "email_2_label", "custom.size"], ["size"]
    ) == [
        "external_id",
        "external_id",
        "email",
        "email",
        "email.2.label",
        "custom.size",
    ]
    assert auto_map(["First Name", "Last Name", "E-mail 1 - Label", "E-mail 1 - Value"]) == [
        "first_name",
        "last_name",
        "email.1.label",
        "email.1",
    ]


def test_google_csv_utf8_with_bom(app, ctx, tmp_path):
    path = write(tmp_path, "google.csv", "\ufeff" + GOOGLE, "utf-8")
    imp, counts = run_file(app, path)
    assert imp.options["encoding"] == "utf-8-sig" and imp.options["delimiter"] == ","
    assert (counts["create"], counts["error"]) == (2, 0)
    anna = contact_by_email("anna@acme.com")
    assert (anna.first_name, anna.last_name, anna.company, anna.position) == (
        "Anna",
        "Smith",
        "Acme",
        "CEO",
    )
    assert [(e.email, e.label, e.is_primary) for e in anna.emails] == [
        ("anna@acme.com", "work", True),
        ("anna.smith@gmail.com", "personal", False),
    ]
    assert [(p.e164, p.label) for p in anna.phones] == [("+79123456701", "mobile")]
    assert [t.name for t in anna.tags] == ["Friends"]
    assert str(anna.birth_date) == "1985-03-14"
    assert anna.source == "import"
    # Linked to the import, with an "import" history entry.
    item = db.session.scalar(select(ImportItem).where(ImportItem.contact_id == anna.id))
    assert (item.import_id, item.action) == (imp.id, "create")
    actions = db.session.scalars(
        select(ContactHistory.action).where(ContactHistory.contact_id == anna.id)
    ).all()
    assert actions == ["import"]


def test_russian_excel_cp1251_semicolons_rejects_bad_rows_with_reasons(app, ctx, tmp_path):
    path = write(tmp_path, "клиенты.csv", RUSSIAN, "cp1251")
    imp = start(app, path)
    assert imp.options["encoding"] == "cp1251" and imp.options["delimiter"] == ";"
    preview = importing.dry_run(db.session, pm(app), imp)
    db.session.commit()
    assert preview["counts"] == {"create": 2, "error": 1}
    assert db.session.scalar(select(func.count(Contact.id))) == 0  # the dry run wrote nothing
    bad = preview["errors"][0]
    assert bad["row"] == 3
    assert "phone" in bad["reason"] or "12345" in bad["reason"]

    counts = importing.run(db.session, pm(app), imp.id, None)
    assert (counts["create"], counts["error"]) == (2, 1)
    ivan = contact_by_email("ivanov@mail.ru")
    assert (ivan.last_name, ivan.first_name, ivan.middle_name, ivan.city) == (
        "Иванов",
        "Иван",
        "Иванович",
        "Москва",
    )
    assert ivan.phones[0].e164 == "+79123456702"
    assert str(ivan.birth_date) == "1980-05-17"
    # The rejected rows file: the row as it was, and every reason.
    text = "".join(importing.rejected_csv(db.session, db.session.get(Import, imp.id)))
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][:2] == ["Фамилия", "Имя"] and rows[0][-2:] == ["row", "reason"]
    assert rows[1][0] == "Сидоров" and rows[1][-2] == "3"
    reason = rows[1][-1]
    assert "12345" in reason and "sidorov@mail" in reason and "31.02.1990" in reason


def test_outlook_utf16_and_tab_separated(app, ctx, tmp_path):
    path = write(tmp_path, "outlook.csv", OUTLOOK, "utf-16")
    _imp, counts = run_file(app, path)
    assert counts["create"] == 1
    john = contact_by_email("john.doe@contoso.com")
    assert (john.company, john.position, john.city, john.birth_date) == (
        "Contoso",
        "Manager",
        "London",
        None,
    )
    assert [(p.e164, p.label, p.is_primary) for p in john.phones] == [
        ("+79123456703", "mobile", True),
        ("+74951234568", "work", False),
    ]

    tsv = (
        "first_name\tlast_name\temail\tphone\ttags\n"
        "Ольга\tКим\tkim@example.com\t+7 912 345-67-04\tVIP; Казань\n"
    )
    _imp, counts = run_file(app, write(tmp_path, "list.txt", tsv, "utf-8"))
    assert counts["create"] == 1
    kim = contact_by_email("kim@example.com")
    assert sorted(t.name for t in kim.tags) == ["VIP", "Казань"]


def test_second_import_updates_never_duplicates(app, ctx, tmp_path):
    path = write(tmp_path, "google.csv", GOOGLE, "utf-8")
    run_file(app, path)
    again = write(tmp_path, "google-again.csv", GOOGLE, "utf-8")
    imp = start(app, again)
    preview = importing.dry_run(db.session, pm(app), imp)
    db.session.commit()
    assert preview["counts"] == {"unchanged": 2}
    counts = importing.run(db.session, pm(app), imp.id, None)
    assert (counts["create"], counts["unchanged"]) == (0, 2)
    assert db.session.scalar(select(func.count(Contact.id))) == 2

    # Changed values: matched by e-mail, updated; a new phone is added, not replacing.
    changed = GOOGLE.replace("Acme,CEO", "Acme,Chairman").replace(
        "Work,+7 495 123-45-67", "Work,+7 495 123-45-69"
    )
    imp, counts = run_file(app, write(tmp_path, "changed.csv", changed, "utf-8"))
    assert (counts["create"], counts["update"]) == (0, 2)
    anna = contact_by_email("anna@acme.com")
    assert anna.position == "Chairman"
    bob = contact_by_email("bob@example.org")
    assert [p.e164 for p in bob.phones] == ["+74951234567", "+74951234569"]
    assert db.session.scalar(select(func.count(Contact.id))) == 2


def test_match_by_external_id_then_email_then_phone_and_possible_duplicates(app, ctx, tmp_path):
    existing = create_contact(
        db.session,
        validate({"first_name": "Olga", "last_name": "Name", "phones": ["+7 912 345-67-05"]}),
        None,
    )
    create_contact(db.session, validate({"first_name": "Lena", "last_name": "Ivanova"}), None)
    db.session.commit()
    text = (
        "id,first name,last name,phone\n"
        "A-1,Olga,Newname,+7 912 345-67-05\n"  # the phone matches: an update
        "A-1,Olga,Newname,\n"  # the same external id again: that same contact
        "B-2,Lena,Ivanova,\n"  # same name, no key: a possible duplicate
    )
    path = write(tmp_path, "ids.csv", text, "utf-8")
    imp = start(app, path)
    preview = importing.dry_run(db.session, pm(app), imp)
    db.session.commit()
    assert [r["action"] for r in preview["rows"]] == ["update", "unchanged", "create"]
    assert preview["rows"][2]["duplicate_of"] is not None
    counts = importing.run(db.session, pm(app), imp.id, None)
    assert (counts["update"], counts["create"], counts["duplicate"]) == (1, 1, 1)
    contact = load_contact(db.session, existing.id)
    assert (contact.last_name, contact.external_id) == ("Newname", "A-1")
    # Matched by external id next time, even with nothing else in common.
    again = write(tmp_path, "ids2.csv", "external_id,company\nA-1,Acme\n", "utf-8")
    _imp, counts = run_file(app, again)
    assert counts["update"] == 1
    assert load_contact(db.session, existing.id).company == "Acme"


def test_possible_duplicates_are_of_contacts_from_before_the_import(app, ctx, tmp_path):
    """The dry run promises what the run does: namesakes within the file are not flagged by
    either (the duplicate finder weighs them afterwards), a namesake already there is."""
    create_contact(db.session, validate({"first_name": "Lena", "last_name": "Ivanova"}), None)
    db.session.commit()
    rows = (
        "Lena,Ivanova,Тверь\n"  # as an existing contact: flagged
        "Пётр,Смирнов,Тверь\n"
        "Пётр,Смирнов,Казань\n"  # a namesake of the row above only: not flagged
    )
    text = "first name,last name,city\n" + rows * 2
    imp = start(app, write(tmp_path, "names.csv", text, "utf-8"))
    preview = importing.dry_run(db.session, pm(app), imp)
    db.session.commit()
    assert preview["counts"] == {"create": 6, "duplicate": 2}
    counts = importing.run(db.session, pm(app), imp.id, None, batch_size=2)
    assert (counts["create"], counts["duplicate"]) == (6, 2)


def test_a_row_repeating_an_earlier_batch_is_an_update_in_the_dry_run_too(
    app, ctx, tmp_path, monkeypatch
):
    """The dry run writes nothing, yet a row whose e-mail or phone a row of an earlier batch
    brings shows as an update of that new contact, as the run then does."""
    monkeypatch.setattr(importing, "BATCH", 2)
    text = (
        "first name,last name,email,phone\n"
        "Anna,Smith,anna@example.com,\n"
        "Bob,Brown,,+7 912 345-67-10\n"
        "Carl,Clark,carl@example.com,\n"
        "Anna,Smith,,+7 912 345-67-11\n"  # a new phone only: a new contact
        "Bob,Brown,bob@example.com,8 912 345 67 10\n"  # batch 3, Bob's phone: an update
        "Anna,Smith-Jones,anna@example.com,\n"  # Anna's e-mail: an update
    )
    imp = start(app, write(tmp_path, "repeats.csv", text, "utf-8"))
    preview = importing.dry_run(db.session, pm(app), imp)
    db.session.commit()
    assert [r["action"] for r in preview["rows"]] == ["create"] * 4 + ["update"] * 2
    counts = importing.run(db.session, pm(app), imp.id, None, batch_size=2)
    assert (counts["create"], counts["update"]) == (4, 2)


def test_a_shared_phone_or_address_with_another_first_name_is_another_person(app, ctx, tmp_path):
    """A family's home phone, a company's info@ address: the row is a new contact, never an
    update that renames the one already there."""
    father = create_contact(
        db.session,
        validate({"first_name": "Иван", "last_name": "Петров", "phones": ["+7 912 345-67-77"]}),
        None,
    )
    office = create_contact(
        db.session,
        validate({"first_name": "Anna", "last_name": "Smith", "emails": ["info@acme.ru"]}),
        None,
    )
    db.session.commit()
    text = (
        "first name,last name,phone,email\n"
        "Мария,Петрова,8 912 345-67-77,\n"  # his wife: same home phone
        "John,Brown,,info@acme.ru\n"  # her colleague: same info@ address
        "Ваня,Петров,8 (912) 345 67 77,vanya@example.com\n"  # Ваня is Иван: an update
    )
    _imp, counts = run_file(app, write(tmp_path, "family.csv", text, "utf-8"))
    assert (counts["create"], counts["update"]) == (2, 1)
    assert [e.email for e in load_contact(db.session, father.id).emails] == ["vanya@example.com"]
    assert load_contact(db.session, office.id).first_name == "Anna"
    names = {
        (c.first_name, c.last_name, tuple(p.e164 for p in c.phones))
        for c in db.session.scalars(select(Contact))
    }
    assert ("Мария", "Петрова", ("+79123456777",)) in names
    assert ("John", "Brown", ()) in names


def test_undo_removes_created_and_restores_changed(app, ctx, tmp_path):
    kept = create_contact(
        db.session,
        validate({"first_name": "Anna", "last_name": "Old", "emails": ["anna@acme.com"]}),
        None,
    )
    db.session.commit()
    imp, counts = run_file(app, write(tmp_path, "google.csv", GOOGLE, "utf-8"))
    assert (counts["create"], counts["update"]) == (1, 1)
    anna = load_contact(db.session, kept.id)
    assert anna.last_name == "Smith" and len(anna.emails) == 2 and anna.tags

    result = importing.undo(db.session, imp.id, None)
    assert result == {"deleted": 1, "restored": 1}
    assert db.session.scalar(select(func.count(Contact.id))) == 1
    anna = load_contact(db.session, kept.id)
    assert anna.last_name == "Old"
    assert [e.email for e in anna.emails] == ["anna@acme.com"]
    assert anna.tags == [] and anna.birth_date is None
    actions = db.session.scalars(
        select(ContactHistory.action)
        .where(ContactHistory.contact_id == kept.id)
        .order_by(ContactHistory.id)
    ).all()
    assert actions == ["create", "import", "import_undo"]
    assert db.session.get(Import, imp.id).status == "undone"


def test_failure_part_way_keeps_whole_batches_and_rerun_finishes(app, ctx, tmp_path, monkeypatch):
    lines = ["first_name,last_name,email"]
    lines += [f"P{i},Test,p{i}@example.com" for i in range(25)]
    path = write(tmp_path, "many.csv", "\n".join(lines) + "\n", "utf-8")
    imp = start(app, path)
    real_write = importing._write
    calls = []

    def failing_write(session, imp_, rows, user_id):
        calls.append(len(rows))
        counts = real_write(session, imp_, rows, user_id)
        if len(calls) == 2:
            raise RuntimeError("disk full")  # after writing, before the commit
        return counts

    monkeypatch.setattr(importing, "_write", failing_write)
    with pytest.raises(RuntimeError):
        importing.run(db.session, pm(app), imp.id, None, batch_size=10)
    importing.mark_failed(db.session, imp.id, "disk full")
    imp = db.session.get(Import, imp.id)
    assert (imp.status, imp.committed_row) == ("failed", 10)
    assert db.session.scalar(select(func.count(Contact.id))) == 10  # no half batch

    monkeypatch.setattr(importing, "_write", real_write)
    counts = importing.run(db.session, pm(app), imp.id, None, batch_size=10)
    assert counts["create"] == 25
    assert db.session.scalar(select(func.count(Contact.id))) == 25
    emails = db.session.scalar(select(func.count(func.distinct(Contact.id))))
    assert emails == 25


def test_mapping_overrides_and_saved_mappings(app, ctx, tmp_path):
    db.session.add(CustomField(key="size", label="Size", kind="text"))
    db.session.commit()
    text = "Client,Mail,Shirt\nАнна Ли,anna@lee.ru,M\n"
    path = write(tmp_path, "odd.csv", text, "utf-8")
    imp = start(app, path, overrides={"Client": "full_name", "3": "custom.size"})
    assert imp.options["mapping"] == ["full_name", "email", "custom.size"]
    saved = importing.save_mapping(db.session, imp, "Shop list", None)
    db.session.commit()
    assert db.session.get(ImportMapping, saved.id).mapping["Shirt"] == "custom.size"
    imp2 = start(app, path, saved_mapping=saved.mapping)
    assert imp2.options["mapping"] == ["full_name", "email", "custom.size"]
    importing.dry_run(db.session, pm(app), imp2)
    db.session.commit()
    importing.run(db.session, pm(app), imp2.id, None)
    anna = contact_by_email("anna@lee.ru")
    assert (anna.last_name, anna.first_name, anna.custom) == ("Анна", "Ли", {"size": "M"})
    with pytest.raises(importing.ImportProblem, match="no column"):
        start(app, path, overrides={"Nope": "city"})
    with pytest.raises(importing.ImportProblem, match="not a field"):
        start(app, path, overrides={"Client": "salary"})


def test_undecodable_and_empty_files_get_clear_messages(app, ctx, tmp_path):
    with pytest.raises(importing.ImportProblem, match="empty"):
        importing.store_upload(tmp_path / "up", io.BytesIO(b""), 1000)
    with pytest.raises(importing.ImportProblem, match="larger"):
        importing.store_upload(tmp_path / "up", io.BytesIO(b"x" * 3 * 1024 * 1024), 2 * 1024 * 1024)
    assert list((tmp_path / "up").iterdir()) == []
    with pytest.raises(importing.ImportProblem, match="No importer"):
        start(app, write(tmp_path, "photo.jpg", "\x00\x01", "latin-1"))


class _TestImporter:
    name = "test-lines"
    label = "Test lines"
    extensions = (".lines",)

    def parse(self, stream, options):
        for line in io.TextIOWrapper(stream, encoding="utf-8"):
            first, _, email = line.strip().partition(" ")
            yield {"first_name": first, "emails": [{"value": email}], "tags": ["lines"]}


class _TestPlugin:
    @hookimpl
    def register_importers(self):
        return [_TestImporter()]

    @hookimpl
    def detect_importer(self, filename, sample):
        return "test-lines" if filename.endswith(".lines") else None


@pytest.fixture
def test_plugin(app):
    plugin = _TestPlugin()
    pm(app).register(plugin, name="test-import-plugin")
    yield plugin
    pm(app).unregister(plugin)


def test_hook_register_importers(app, ctx, tmp_path, test_plugin):
    found = importing.importers(pm(app))
    assert {"csv", "test-lines"} <= set(found)
    path = write(tmp_path, "people.dat", "Zoe zoe@example.com\n", "utf-8")
    _imp, counts = run_file(app, path, importer_name="test-lines")
    assert counts["create"] == 1
    zoe = contact_by_email("zoe@example.com")
    assert zoe.first_name == "Zoe" and [t.name for t in zoe.tags] == ["lines"]


def test_hook_detect_importer(app, ctx, tmp_path, test_plugin):
    assert pm(app).hook.detect_importer(filename="a.lines", sample=b"") == "test-lines"
    assert pm(app).hook.detect_importer(filename="A.CSV", sample=b"") == "csv"
    assert pm(app).hook.detect_importer(filename="a.pdf", sample=b"") is None
    imp = start(app, write(tmp_path, "x.lines", "Yan yan@example.com\n", "utf-8"))
    assert imp.importer == "test-lines"
    assert CsvImporter().sniff("a;b\n1;2\n".encode("cp1251")) == {
        "encoding": "utf-8",
        "delimiter": ";",
    }
