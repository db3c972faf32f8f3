"""CSV export: streamed, all contacts or a list filter or a segment, read back losslessly."""

import csv
import io
import json
from datetime import date

import pytest
from sqlalchemy import delete, select

from crmlite import hookimpl
from crmlite.core import exporting, importing
from crmlite.core.contacts import create_contact, validate
from crmlite.core.tags import add_tag, get_or_create
from crmlite.extensions import db
from crmlite.models import Contact, CustomField, Tag

PEOPLE = [
    {
        "first_name": "Иван",
        "middle_name": "Петрович",
        "last_name": "Сидоров",
        "company": "ООО «Ромашка», филиал",
        "position": "Директор",
        "industry": "Торговля",
        "city": "Москва",
        "country": "Россия",
        "address": "ул. Ленина, 1;\nкв. 2",
        "birth_date": "1980-05-17",
        "gender": "male",
        "source": "event",
        "stage": "customer",
        "temperature": "hot",
        "notes": 'Любит "кавычки", запятые; и\nпереводы строк',
        "emails": [
            {"value": "ivan@romashka.ru", "label": "work"},
            {"value": "ivan@gmail.com", "label": "personal", "primary": True},
            {"value": "i.sidorov@mail.ru", "label": "other"},
        ],
        "phones": [
            {"value": "+7 912 345-67-01", "label": "mobile"},
            {"value": "+7 495 123-45-67", "label": "work"},
        ],
        "custom": {"size": "XL", "visits": "12"},
    },
    {"first_name": "Anna", "last_name": "Lee", "emails": [{"value": "anna@lee.com"}]},
    {
        "company": "Acme Ltd",
        "phones": [{"value": "+7 916 000-00-01", "label": "home"}],
        "source": "referral",
    },
]


def make_people(users):
    db.session.add(CustomField(key="size", label="Size", kind="text"))
    db.session.add(CustomField(key="visits", label="Visits", kind="number", position=1))
    db.session.flush()
    fields = list(db.session.scalars(select(CustomField)))
    made = []
    for i, raw in enumerate(PEOPLE):
        clean = validate({**raw, "owner_id": users["editor"] if i == 0 else None}, "RU", fields)
        made.append(create_contact(db.session, clean, None))
    for name in ("VIP", "Казань, центр", "b2b"):
        add_tag(db.session, made[0], get_or_create(db.session, name), None)
    add_tag(db.session, made[1], get_or_create(db.session, "b2b"), None)
    made[1].external_id = "crm-42"
    db.session.commit()
    return made


def snapshot() -> list[dict]:
    """Every contact as export records, without ids, in a stable order."""
    ids = select(Contact.id)
    rows = []
    for r in exporting.records(db.session, ids):
        r.pop("id")
        r["tags"] = sorted(r["tags"])
        rows.append(r)
    return sorted(rows, key=lambda r: json.dumps(r, default=str, ensure_ascii=False))


def test_round_trip_export_then_import_into_empty_database(app, ctx, users, admin_client, tmp_path):
    make_people(users)
    before = snapshot()
    # A contact without a source comes back with source "import": that is where it came from.
    for row in before:
        row["source"] = row["source"] or "import"
    resp = admin_client.get("/imports/export?format=csv")
    assert resp.status_code == 200
    assert resp.headers["Content-Disposition"].endswith('filename="contacts.csv"')
    assert resp.is_streamed
    body = resp.get_data()
    assert body.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))
    assert len(rows) == 3
    assert {"email_3", "email_3_label", "phone_2", "custom.size", "custom.visits"} <= set(rows[0])

    db.session.execute(delete(Contact))
    db.session.execute(delete(Tag))
    db.session.commit()
    path = tmp_path / "contacts.csv"
    path.write_bytes(body)
    imp = importing.create_import(
        db.session, app.extensions["crmlite.plugins"], str(path), "contacts.csv", None
    )
    db.session.commit()
    assert "" not in imp.options["mapping"]  # every column of our own export is recognised
    counts = importing.run(db.session, app.extensions["crmlite.plugins"], imp.id, None)
    assert (counts["create"], counts["error"]) == (3, 0)
    after = snapshot()
    assert after == before
    ivan = next(r for r in after if r["first_name"] == "Иван")
    assert ivan["emails"][0] == {"value": "ivan@gmail.com", "label": "personal", "primary": True}
    assert ivan["birth_date"] == date(1980, 5, 17) and ivan["owner"] == "editor@example.com"
    assert ivan["tags"] == ["VIP", "b2b", "Казань, центр"]


def test_export_follows_the_list_filter(app, ctx, users, viewer_client):
    make_people(users)
    tag = db.session.scalar(select(Tag).where(Tag.name == "b2b"))
    body = viewer_client.get(f"/imports/export?tag={tag.id}").get_data().decode("utf-8-sig")
    names = sorted(r["first_name"] for r in csv.DictReader(io.StringIO(body)))
    assert names == ["Anna", "Иван"]
    body = viewer_client.get("/imports/export?q=acme").get_data().decode("utf-8-sig")
    assert [r["company"] for r in csv.DictReader(io.StringIO(body))] == ["Acme Ltd"]
    assert viewer_client.get("/imports/export?format=nope").status_code == 404
    # The contact list links to the export of what it shows.
    page = viewer_client.get("/?q=acme").get_data(as_text=True)
    assert 'href="/imports/export?q=acme"' in page


class _LinesExporter:
    name = "lines"
    label = "Lines"
    extension = "txt"
    mimetype = "text/plain"

    def write(self, rows, stream, options=None):
        for row in rows:
            stream.write(f"{row['last_name']}|{row['first_name']}\n".encode())


class _Segment:
    key = "with-company"
    label = "With a company"

    def condition(self, params, today=None):
        return Contact.company != ""


class _Plugin:
    @hookimpl
    def register_exporters(self):
        return [_LinesExporter()]

    @hookimpl
    def register_segments(self):
        return [_Segment()]


@pytest.fixture
def plugin(app):
    pm = app.extensions["crmlite.plugins"]
    p = _Plugin()
    pm.register(p, name="test-export-plugin")
    yield p
    pm.unregister(p)


def test_hook_register_exporters(app, ctx, users, editor_client, plugin):
    make_people(users)
    page = editor_client.get("/imports/").get_data(as_text=True)
    assert '<option value="lines">Lines</option>' in page
    resp = editor_client.get("/imports/export?format=lines&q=lee")
    assert resp.headers["Content-Disposition"].endswith('filename="contacts.txt"')
    assert resp.get_data(as_text=True) == "Lee|Anna\n"
    # A segment of the list, as the list links to it.
    resp = editor_client.get("/imports/export?format=lines&segment=with-company")
    assert sorted(resp.get_data(as_text=True).splitlines()) == ["|", "Сидоров|Иван"]


def test_cli_export_with_segment_and_cli_import(app, ctx, users, tmp_path, plugin):
    make_people(users)
    runner = app.test_cli_runner()
    out = tmp_path / "companies.csv"
    result = runner.invoke(args=["export", str(out), "--segment", "with-company"])
    assert result.exit_code == 0, result.output
    assert "Exported 2 contacts" in result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text("utf-8-sig"))))
    assert sorted(r["company"] for r in rows) == ["Acme Ltd", "ООО «Ромашка», филиал"]

    result = runner.invoke(args=["export", str(out), "--segment", "nope"])
    assert result.exit_code != 0 and "There is no segment “nope”" in result.output
    result = runner.invoke(args=["export", str(out), "--format", "pdf"])
    assert result.exit_code != 0 and "No exporter 'pdf'" in result.output

    # The CLI import of a hand-made file: dry run first, then the run, with --map.
    src = tmp_path / "people.csv"
    src.write_text("Who;Mail;Town\nКим Ольга;olga@kim.ru;Казань\nBad;not-an-email;\n", "cp1251")
    result = runner.invoke(args=["import", str(src), "--map", "Who=full_name", "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "1 to create" in result.output and "1 rejected" in result.output
    assert "row 2:" in result.output
    assert db.session.scalar(select(Contact.id).where(Contact.last_name == "Ким")) is None
    result = runner.invoke(
        args=["import", str(src), "--map", "Who=full_name", "--map", "Town=city"]
    )
    assert result.exit_code == 0, result.output
    assert "1 created" in result.output and "1 rejected" in result.output
    olga = db.session.scalar(select(Contact).where(Contact.first_name == "Ольга"))
    assert olga.city == "Казань"
    result = runner.invoke(args=["import", str(src), "--map", "Who=salary"])
    assert result.exit_code != 0 and "not a field" in result.output
