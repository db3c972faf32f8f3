"""The crmlite-xlsx plugin (plugins/crmlite-xlsx): Excel workbooks made here with openpyxl, the
way Russian and English teams keep their contact lists, become contact drafts that pass
validation, through the same column mapping as CSV files."""

import io
import zipfile
from datetime import date, datetime

import openpyxl
import pytest

from crmlite.core.contacts import validate
from crmlite.plugins import make_plugin_manager


@pytest.fixture(scope="module")
def pm():
    return make_plugin_manager()


@pytest.fixture(scope="module")
def importer(pm):
    found = [i for batch in pm.hook.register_importers() for i in batch if i.name == "xlsx"]
    assert len(found) == 1
    return found[0]


def workbook(*sheets: tuple[str, list[list]]) -> io.BytesIO:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in sheets:
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    data = io.BytesIO()
    wb.save(data)
    data.seek(0)
    return data


RUSSIAN = [
    [],  # Excel lists often start below a blank row
    [None, None],
    [
        "Фамилия",
        "Имя",
        "Отчество",
        "Телефон",
        "Почта",
        "Компания",
        "Должность",
        "Город",
        "Дата рождения",
        "Примечание",
    ],  # fmt: skip
    [
        "Иванов",
        "Иван",
        "Петрович",
        79161234567,
        "ivan@example.ru",
        "ООО «Ромашка»",
        "Директор",
        "Москва",
        datetime(1980, 5, 3),
        "Постоянный клиент",
    ],  # fmt: skip
    [None] * 10,
    [
        "Смирнова",
        "Анна",
        None,
        "+7 (903) 123-45-67",
        "anna@example.ru",
        None,
        None,
        "Казань",
        date(1992, 12, 31),
        None,
    ],  # fmt: skip
]


def test_plugin_is_installed_with_pip(pm, importer):
    info = next(i for i in pm.crmlite_infos if i.name == "xlsx")
    assert info.source == "pip"
    assert info.version == "0.1.0"
    assert {"register_importers", "detect_importer"} <= set(info.hooks)
    assert importer.tabular and ".xlsx" in importer.extensions


def test_russian_headers_dates_and_numbers_as_phones(importer):
    data = workbook(("Контакты", RUSSIAN), ("Второй лист", [["Имя"], ["Не читается"]]))
    headers, rows = importer.table(data, {})
    assert headers[:3] == ["Фамилия", "Имя", "Отчество"]
    rows = list(rows)
    assert len(rows) == 2  # blank rows skipped; only the first sheet is read
    assert rows[0][3] == "79161234567"  # not 79161234567.0
    assert rows[0][8] == "1980-05-03"  # a date cell as an ISO date

    data.seek(0)
    ivan, anna = importer.parse(data, {})
    assert (ivan["last_name"], ivan["first_name"], ivan["middle_name"]) == (
        "Иванов",
        "Иван",
        "Петрович",
    )
    assert ivan["company"] == "ООО «Ромашка»"
    assert ivan["position"] == "Директор"
    assert ivan["city"] == "Москва"
    assert ivan["birth_date"] == "1980-05-03"
    assert ivan["notes"] == "Постоянный клиент"
    clean = validate(ivan)
    assert clean["phones"][0].value == "+79161234567"
    assert clean["emails"][0].value == "ivan@example.ru"
    assert clean["birth_date"] == date(1980, 5, 3)
    clean = validate(anna)
    assert clean["phones"][0].value == "+79031234567"
    assert clean["birth_date"] == date(1992, 12, 31)
    assert "company" not in anna


def test_google_headers_and_a_saved_mapping(importer):
    rows = [
        [
            "Name",
            "Given Name",
            "Family Name",
            "E-mail 1 - Type",
            "E-mail 1 - Value",
            "Phone 1 - Type",
            "Phone 1 - Value",
            "Group Membership",
            "Birthday",
        ],  # fmt: skip
        [
            "Olga Petrova",
            "Olga",
            "Petrova",
            "* Work",
            "olga@example.com",
            "Mobile",
            "+7 916 555-00-11",
            "VIP ::: * myContacts",
            "1985-07-14",
        ],  # fmt: skip
    ]
    (olga,) = importer.parse(workbook(("Sheet1", rows)), {})
    assert (olga["first_name"], olga["last_name"]) == ("Olga", "Petrova")
    assert olga["emails"] == [{"value": "olga@example.com", "label": "work", "primary": True}]
    assert olga["phones"][0]["label"] == "mobile"
    assert olga["tags"] == ["VIP"]
    assert validate(olga)["phones"][0].value == "+79165550011"

    # A mapping chosen on the mapping page overrides the automatic one, column by column.
    mapping = ["", "last_name", "first_name", "", "email", "", "phone:work", "", ""]
    (swapped,) = importer.parse(workbook(("Sheet1", rows)), {"mapping": mapping})
    assert (swapped["first_name"], swapped["last_name"]) == ("Petrova", "Olga")
    assert swapped["phones"] == [{"value": "+7 916 555-00-11", "label": "work"}]


def test_rows_as_records_and_cell_text(importer):
    from crmlite_xlsx import cell_text

    rows = [["ID", "Имя", "Сумма"], [1001.0, "Пётр", 12.5], [1002, "Мария", 0.00001]]
    records = list(importer.rows(workbook(("S", rows))))
    assert records == [
        {"ID": "1001", "Имя": "Пётр", "Сумма": "12.5"},
        {"ID": "1002", "Имя": "Мария", "Сумма": "0.00001"},
    ]
    assert cell_text(datetime(2024, 1, 2, 13, 5)) == "2024-01-02 13:05:00"
    assert cell_text(True) == "true"


def test_id_column_becomes_external_id_and_extra_cells_are_reported(importer):
    rows = [["id", "Имя", "Телефон"], [501, "Пётр", "+7 916 000-00-01", "лишнее"]]
    (draft,) = importer.parse(workbook(("S", rows)), {})
    assert draft["external_id"] == "501"
    assert "3" in draft["_error"] and "4" in draft["_error"]  # data with no header is not lost


def test_a_wrong_sheet_size_does_not_cut_rows(importer, tmp_path):
    """Some programs write <dimension ref="A1"/>; read-only mode must still read every cell."""
    path = tmp_path / "small.xlsx"
    openpyxl_wb = openpyxl.Workbook()
    ws = openpyxl_wb.active
    ws.append(["Имя", "Почта"])
    ws.append(["Вера", "vera@example.ru"])
    openpyxl_wb.save(path)
    patched = io.BytesIO()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(patched, "w") as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                body = body.replace(b'<dimension ref="A1:B2" />', b'<dimension ref="A1" />')
                assert b'<dimension ref="A1" />' in body
            dst.writestr(item, body)
    patched.seek(0)
    (vera,) = importer.parse(patched, {})
    assert vera["emails"][0]["value"] == "vera@example.ru"


def test_not_a_workbook_gets_a_clear_message(importer):
    from crmlite_xlsx import NotAWorkbook

    with pytest.raises(NotAWorkbook, match="not an Excel workbook"):
        importer.table(io.BytesIO(b"Name;Phone\r\nAnna;+7 916 000-00-01\r\n"), {})
    headers, rows = importer.table(workbook(("Empty", [])), {})
    assert headers == [] and list(rows) == []


def test_detect_importer(pm):
    sample = workbook(("S", [["Имя"], ["Анна"]])).getvalue()[:4096]

    def detect(name, data):
        return pm.hook.detect_importer(filename=name, sample=data)

    assert detect("Клиенты.XLSX", b"") == "xlsx"
    assert detect("upload", sample) == "xlsx"
    # A ZIP that is not a workbook, and a CSV, are someone else's.
    other = io.BytesIO()
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("word/document.xml", "<w/>")
    assert detect("upload", other.getvalue()) != "xlsx"
    assert detect("list.csv", b"a,b\r\n") != "xlsx"


def test_import_pipeline_maps_russian_headers_and_a_second_upload_changes_nothing(
    app, ctx, tmp_path
):
    from sqlalchemy import select

    from crmlite.core import importing
    from crmlite.extensions import db
    from crmlite.models import Contact

    plugins = app.extensions["crmlite.plugins"]
    path = tmp_path / "upload"
    path.write_bytes(workbook(("Контакты", RUSSIAN)).getvalue())
    imp = importing.create_import(db.session, plugins, str(path), "клиенты.xlsx", None)
    db.session.commit()
    assert imp.importer == "xlsx"
    assert imp.options["mapping"][:5] == [
        "last_name",
        "first_name",
        "middle_name",
        "phone",
        "email",
    ]
    importing.dry_run(db.session, plugins, imp)
    db.session.commit()
    counts = importing.run(db.session, plugins, imp.id, None)
    assert (counts["create"], counts["error"]) == (2, 0)
    ivan = db.session.scalar(select(Contact).where(Contact.last_name == "Иванов"))
    assert [p.e164 for p in ivan.phones] == ["+79161234567"]
    assert ivan.birth_date == date(1980, 5, 3)
    assert ivan.source == "import"

    again = tmp_path / "again"
    again.write_bytes(path.read_bytes())
    imp = importing.create_import(db.session, plugins, str(again), "upload.bin", None)
    db.session.commit()
    assert imp.importer == "xlsx"  # recognised by its contents
    assert importing.dry_run(db.session, plugins, imp)["counts"] == {"unchanged": 2}
