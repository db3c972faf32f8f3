"""A big import is read and checked by a helper process while this one writes: the outcome
(counts, contacts, rejected rows and their reasons, in the user's language, and a clear
message for a broken file) is the one the in-process reading gives."""

import subprocess
import sys

import pytest
from sqlalchemy import select

from crmlite.core import import_reading, importing
from crmlite.extensions import db
from crmlite.models import Contact, Import

ROWS = (
    "Фамилия;Имя;Телефон;Почта;Дата рождения;Теги\n"
    "Иванов;Иван;8 (912) 345-67-02;ivanov@mail.ru;17.05.1980;VIP\n"
    "Петрова;Мария;+7 916 000-00-01;petrova@yandex.ru;;\n"
    "Сидоров;Пётр;12345;sidorov@mail;31.02.1990;\n"  # three problems: rejected
    "Иванов;Ваня;+7 912 345 67 02;;;опт\n"  # the same person again: an update
)


def run_import(app, tmp_path, name: str, text: str, encoding: str = "cp1251"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    pm = app.extensions["crmlite.plugins"]
    imp = importing.create_import(db.session, pm, str(path), name, None)
    db.session.commit()
    counts = importing.run(db.session, pm, imp.id, None, batch_size=2)
    reasons = "".join(importing.rejected_csv(db.session, db.session.get(Import, imp.id)))
    people = db.session.execute(
        select(Contact.last_name, Contact.first_name, Contact.birth_date).order_by(Contact.id)
    ).all()
    return counts, reasons, people


def test_a_helper_process_reads_as_this_one_does(app, ctx, tmp_path, monkeypatch):
    alone = run_import(app, tmp_path, "alone.csv", ROWS)
    db.session.execute(Contact.__table__.delete())
    db.session.commit()
    monkeypatch.setattr(import_reading, "PARALLEL_BYTES", 0)  # every file counts as big
    read_here = []
    in_process = import_reading._read
    monkeypatch.setattr(import_reading, "_read", lambda *a: read_here.append(1) or in_process(*a))
    helped = run_import(app, tmp_path, "helped.csv", ROWS)
    assert not read_here, "the rows were read in this process, not by the helper"
    assert helped == alone
    counts, reasons, people = helped
    assert (counts["create"], counts["update"], counts["error"]) == (2, 1, 1)
    assert "not a valid phone number" in reasons and "31.02.1990" in reasons
    assert [p.first_name for p in people] == ["Ваня", "Мария"]  # the file's newer value


def test_the_helper_writes_reasons_in_the_users_language(app, ctx, tmp_path, monkeypatch):
    with app.test_request_context(headers={"Accept-Language": "ru"}):
        _counts, alone, _people = run_import(app, tmp_path, "alone.csv", ROWS)
        db.session.execute(Contact.__table__.delete())
        db.session.commit()
        monkeypatch.setattr(import_reading, "PARALLEL_BYTES", 0)
        _counts, helped, _people = run_import(app, tmp_path, "helped.csv", ROWS)
    assert "не " in alone.lower()  # Russian reasons
    assert helped == alone


def test_a_broken_file_read_by_the_helper_gets_the_same_clear_message(
    app, ctx, tmp_path, monkeypatch
):
    monkeypatch.setattr(import_reading, "PARALLEL_BYTES", 0)
    # Valid UTF-8 for the encoding check at the start, a stray cp1251 byte far below it.
    good = "first_name,last_name\n" + "Anna,Smith\n" * 20_000
    path = tmp_path / "broken.csv"
    path.write_bytes(good.encode() + "Ольга,Иванова\n".encode("cp1251"))
    pm = app.extensions["crmlite.plugins"]
    imp = importing.create_import(db.session, pm, str(path), "broken.csv", None)
    db.session.commit()
    with pytest.raises(importing.ImportProblem, match="not valid utf-8 text"):
        importing.run(db.session, pm, imp.id, None)
    # The batches before the bad byte are in, and nothing after it.
    assert 0 < db.session.get(Import, imp.id).committed_row < 20_001


def test_the_helper_loads_the_checks_without_the_application():
    # The helper's memory is what it imports: the row checks and the CSV importer, not
    # SQLAlchemy, Flask and the models (about 15 MB instead of 75 MB before it reads a row).
    code = (
        "import sys, crmlite.core.import_reading, crmlite.core.import_checking, "
        "crmlite.builtin.csv_importer; "
        "print(sorted(m for m in ('sqlalchemy', 'flask', 'crmlite.models') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
