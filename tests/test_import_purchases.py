"""Purchases through the import pipeline: a shop system's UTF-8 export and a Russian Excel
file (Windows-1251, ";", "1 234,50", dd.mm.yyyy); the web flow (upload, dry run, run,
report, rejected rows, undo) and the CLI; potential -> customer; a second upload adds
nothing; bad rows rejected with reasons. Files are written here."""

import csv
import io
import re
from datetime import datetime

import pytest
from sqlalchemy import func, select

from crmlite.core import importing, purchase_import
from crmlite.core.contacts import create_contact, validate
from crmlite.extensions import db
from crmlite.models import Contact, ContactHistory, Import, Interaction

# A shop system's export: English headers, UTF-8, ISO dates with a time, dot decimals.
SHOP = (
    "Order ID,Order date,Customer ID,Email,Phone,Items,Total,Currency\n"
    "A-1001,2026-01-15T10:30:00,C-1,,,Coffee beans 1 kg,1234.50,RUB\n"
    'A-1002,2026-02-01 18:05,,anna@shop.ru,,Grinder,"4 990,00 ₽",\n'
    "A-1003,2026-02-03,,,+7 912 000-00-03,Mug x2,780,\n"
    "A-1004,2026-03-01,C-404,nobody@shop.ru,,Tea,300,RUB\n"
)
# Russian Excel: cp1251, ";", "1 234,50" with NBSP thousands and "руб.", dd.mm.yyyy dates.
EXCEL = (
    "Номер заказа;Дата;Телефон;Почта;Товар;Сумма\r\n"
    "Z-1;05.01.2026;8 (912) 000-00-03;;Чайник;1\xa0234,50 руб.\r\n"
    "Z-2;06.01.26 14:30;;anna@shop.ru;Фильтр;1 234,50\r\n"
    "Z-3;31.02.2026;;anna@shop.ru;Ошибка даты;100\r\n"
    "Z-4;07.01.2026;;twin@shop.ru;Двойник;100\r\n"
    "Z-5;08.01.2026;;anna@shop.ru;Сумма;сто рублей\r\n"
    "Z-1;09.01.2026;;anna@shop.ru;Повтор заказа;50\r\n"
)


def pm(app):
    return app.extensions["crmlite.plugins"]


def add_contact(raw: dict, stage: str = "potential") -> int:
    contact = create_contact(db.session, validate({**raw, "stage": stage}, "RU", []), None)
    db.session.commit()
    return contact.id


@pytest.fixture
def shop_contacts(app):
    """Ivan (external id C-1), Anna (by e-mail), Petr (by phone); two contacts sharing
    twin@shop.ru."""
    with app.app_context():
        ids = {
            "ivan": add_contact({"first_name": "Ivan", "last_name": "Petrov"}),
            "anna": add_contact({"first_name": "Anna", "emails": ["anna@shop.ru"]}),
            "petr": add_contact(
                {"first_name": "Petr", "phones": ["+7 912 000-00-03"]}, stage="key_client"
            ),
            "twin1": add_contact({"first_name": "Twin", "emails": ["twin@shop.ru"]}),
            "twin2": add_contact({"first_name": "Twin", "emails": ["twin@shop.ru"]}),
        }
        db.session.get(Contact, ids["ivan"]).external_id = "C-1"
        db.session.commit()
        return ids


def write(tmp_path, name: str, text: str, encoding: str) -> str:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return str(path)


def purchases_of(contact_id: int) -> list[tuple]:
    return list(
        db.session.execute(
            select(Interaction.external_id, Interaction.amount_minor, Interaction.currency)
            .where(Interaction.contact_id == contact_id, Interaction.kind == "purchase")
            .order_by(Interaction.occurred_at)
        ).all()
    )


def run_file(app, path: str, **kw) -> tuple[Import, dict, dict]:
    imp = importing.create_import(
        db.session, pm(app), path, path.rsplit("/", 1)[-1], None, kind="purchases", **kw
    )
    db.session.commit()
    preview = importing.dry_run(db.session, pm(app), imp)
    db.session.commit()
    counts = importing.run(db.session, pm(app), imp.id, None)
    return db.session.get(Import, imp.id), preview, counts


# --- cells ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("2026-03-31", datetime(2026, 3, 31)),
        ("31.03.2026", datetime(2026, 3, 31)),
        ("31.03.26", datetime(2026, 3, 31)),
        ("31.03.2026 14:05", datetime(2026, 3, 31, 14, 5)),
        ("2026-03-31T14:05:09", datetime(2026, 3, 31, 14, 5, 9)),
        ("31/03/2026", datetime(2026, 3, 31)),
    ],
)
def test_dates_from_shops_and_excel(raw, expected):
    assert purchase_import.parse_when(raw) == expected


@pytest.mark.parametrize("raw", ["31.02.2026", "March 3", "2026-13-01", ""])
def test_bad_dates_are_refused(raw):
    with pytest.raises(ValueError):
        purchase_import.parse_when(raw)


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("1 234,50", (123450, None)),
        ("1\xa0234,50", (123450, None)),
        ("1234.50", (123450, None)),
        ("1 234,50 ₽", (123450, "RUB")),
        ("1 234,50 руб.", (123450, "RUB")),
        ("$1,234.50", (123450, "USD")),
        ("780", (78000, None)),
    ],
)
def test_amounts_in_every_spelling(raw, expected):
    assert purchase_import.parse_money(raw) == expected


def test_headers_are_recognised_in_english_and_russian():
    assert purchase_import.auto_map(
        ["Order ID", "Order date", "Customer ID", "Email", "Phone", "Items", "Total", "Currency"]
    ) == ["order", "date", "external_id", "email", "phone", "text", "amount", "currency"]
    assert purchase_import.auto_map(["Номер заказа", "Дата", "Телефон", "Товар", "Сумма"]) == [
        "order",
        "date",
        "phone",
        "text",
        "amount",
    ]


# --- the pipeline ---------------------------------------------------------------------


def test_shop_export_adds_purchases_and_promotes_potential_contacts(app, tmp_path, shop_contacts):
    path = write(tmp_path, "orders.csv", SHOP, "utf-8")
    with app.app_context():
        imp, preview, counts = run_file(app, path)
        assert preview["counts"] == {"create": 3, "error": 1}
        outcomes = {e["row"]: e for e in preview["rows"]}
        assert outcomes[1]["name"] == "Petrov Ivan" and "1 234.50 RUB" in outcomes[1]["detail"]
        # Not found: the reason names every key that was tried.
        assert "external id C-404" in outcomes[4]["reason"]
        assert "e-mail nobody@shop.ru" in outcomes[4]["reason"]
        assert (counts["create"], counts["error"]) == (3, 1)

        ivan = db.session.get(Contact, shop_contacts["ivan"])
        assert purchases_of(ivan.id) == [("A-1001", 123450, "RUB")]
        assert (ivan.stage, ivan.purchase_count, ivan.purchase_total_minor) == (
            "customer",
            1,
            123450,
        )
        assert ivan.last_purchase_at == datetime(2026, 1, 15, 10, 30)
        # The promotion is in the contact's history.
        changes = db.session.scalars(
            select(ContactHistory.changes).where(ContactHistory.contact_id == ivan.id)
        ).all()
        assert {"stage": ["potential", "customer"]} in changes
        # A key client stays one; the currency defaults to RUB when the cell is empty.
        petr = db.session.get(Contact, shop_contacts["petr"])
        assert petr.stage == "key_client" and purchases_of(petr.id) == [("A-1003", 78000, "RUB")]
        interaction = db.session.scalar(
            select(Interaction).where(Interaction.external_id == "A-1002")
        )
        assert (interaction.text, interaction.import_id) == ("Grinder", imp.id)

        # A second upload of the same file adds nothing.
        imp2, preview2, counts2 = run_file(app, path)
        assert preview2["counts"] == {"unchanged": 3, "error": 1}
        assert "already imported (order A-1001)" in preview2["rows"][0]["reason"]
        assert db.session.scalar(select(func.count(Interaction.id))) == 3


def test_russian_excel_file_with_bad_rows(app, tmp_path, shop_contacts):
    path = write(tmp_path, "продажи.csv", EXCEL, "cp1251")
    with app.app_context():
        imp, preview, counts = run_file(app, path)
        assert imp.options["encoding"] == "cp1251" and imp.options["delimiter"] == ";"
        assert (counts["create"], counts["error"]) == (2, 4)
        reasons = {e["row"]: e["reason"] for e in preview["errors"]}
        assert "31.02.2026" in reasons[3]
        assert "belongs to 2 contacts" in reasons[4] and "twin@shop.ru" in reasons[4]
        assert "сто рублей" in reasons[5]
        assert "order Z-1 is already on row 1" in reasons[6]
        anna = db.session.get(Contact, shop_contacts["anna"])
        assert purchases_of(anna.id) == [("Z-2", 123450, "RUB")]
        assert anna.stage == "customer"
        assert purchases_of(shop_contacts["petr"]) == [("Z-1", 123450, "RUB")]
        # Nothing is written for the rejected rows: the twins have no purchase.
        for twin in ("twin1", "twin2"):
            assert purchases_of(shop_contacts[twin]) == []
        rejected = "".join(importing.rejected_csv(db.session, imp)).lstrip("\ufeff")
        rows = list(csv.reader(io.StringIO(rejected)))
        assert rows[0][-2:] == ["row", "reason"] and len(rows) == 5
        assert rows[1][1] == "31.02.2026"


def test_undo_removes_the_purchases_and_the_promotions_it_caused(app, tmp_path, shop_contacts):
    path = write(tmp_path, "orders.csv", SHOP, "utf-8")
    with app.app_context():
        # Anna already has a purchase of her own: undo leaves her a customer.
        anna = shop_contacts["anna"]
        db.session.add(
            Interaction(contact_id=anna, kind="purchase", amount_minor=100, currency="RUB")
        )
        db.session.commit()
        imp, _preview, _counts = run_file(app, path)
        result = importing.undo(db.session, imp.id, None)
        assert result == {"deleted": 3, "demoted": 1}
        ivan = db.session.get(Contact, shop_contacts["ivan"])
        assert (ivan.stage, ivan.purchase_count, ivan.last_purchase_at) == ("potential", 0, None)
        assert db.session.get(Contact, anna).stage == "customer"
        assert db.session.get(Contact, anna).purchase_count == 1
        assert db.session.get(Contact, shop_contacts["petr"]).stage == "key_client"
        assert db.session.scalar(select(func.count(Interaction.id))) == 1
        imp = db.session.get(Import, imp.id)
        assert imp.status == "undone" and imp.counts["undo_demoted"] == 1


def test_a_mapping_without_contact_or_amount_is_refused(app, tmp_path):
    path = write(tmp_path, "x.csv", "Name,When,Sum\nAnn,2026-01-01,10\n", "utf-8")
    with app.app_context():
        imp = importing.create_import(db.session, pm(app), path, "x.csv", None, kind="purchases")
        with pytest.raises(importing.ImportProblem, match="identifies the contact"):
            importing.dry_run(db.session, pm(app), imp)
        with pytest.raises(importing.ImportProblem, match="identifies the contact"):
            importing.set_mapping(db.session, imp, ["", "date", "amount"])
        importing.set_mapping(db.session, imp, ["email", "date", "amount"])
        assert imp.options["mapping"] == ["email", "date", "amount"]


# --- web ------------------------------------------------------------------------------


def upload(client, text: str, name: str, encoding: str, **form):
    data = {"file": (io.BytesIO(text.encode(encoding)), name), **form}
    return client.post("/imports/", data=data, content_type="multipart/form-data")


def test_the_web_flow(app, editor_client, viewer_client, shop_contacts):
    page = editor_client.get("/imports/").get_data(as_text=True)
    assert 'name="kind" value="purchases"' in page
    resp = upload(editor_client, EXCEL, "продажи.csv", "cp1251", kind="purchases")
    assert resp.status_code == 302
    mapping_url = resp.headers["Location"]
    show_url = mapping_url.replace("/mapping", "")
    page = editor_client.get(mapping_url).get_data(as_text=True)
    assert "Order number" in page and "Purchase date" in page
    assert re.search(r'name="col5">.*?<option value="amount" selected>', page, re.S)
    form = dict(re.findall(r'name="(col\d)">.*?<option value="([^"]*)" selected>', page, re.S))
    assert viewer_client.post(mapping_url, data=form).status_code == 403
    resp = editor_client.post(mapping_url, data=form)
    assert resp.status_code == 302

    page = editor_client.get(show_url).get_data(as_text=True)
    assert "Nothing has been written yet" in page
    assert "purchases to add: 2" in page and "rejected: 4" in page
    assert "add purchase for Anna: 1 234.50 RUB, 06.01.2026 14:30" in page
    assert "belongs to 2 contacts" in page

    assert viewer_client.post(f"{show_url}/run").status_code == 403
    editor_client.post(f"{show_url}/run")
    page = editor_client.get(show_url).get_data(as_text=True)
    assert "purchases added: 2" in page and "rejected: 4" in page
    contact = editor_client.get(f"/contacts/{shop_contacts['anna']}").get_data(as_text=True)
    assert "Фильтр" in contact
    with app.app_context():
        assert db.session.get(Contact, shop_contacts["anna"]).stage == "customer"
    resp = editor_client.get(f"{show_url}/rejected.csv")
    assert "сто рублей" in resp.get_data().decode("utf-8-sig")

    editor_client.post(f"{show_url}/undo")
    page = editor_client.get(show_url).get_data(as_text=True)
    assert "Undone: 2 purchases removed; 1 contacts moved back to potential." in page
    with app.app_context():
        assert db.session.get(Contact, shop_contacts["anna"]).stage == "potential"
        assert db.session.scalar(select(func.count(Interaction.id))) == 0


# --- CLI ------------------------------------------------------------------------------


def test_the_cli(app, tmp_path, shop_contacts):
    path = write(tmp_path, "orders.csv", SHOP, "utf-8")
    runner = app.test_cli_runner()
    result = runner.invoke(args=["import", "--kind", "purchases", path, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "'Total'" in result.output and "-> amount" in result.output
    assert "3 purchases to add, 0 already imported, 1 rejected" in result.output
    assert "row 4: no contact found" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count(Interaction.id))) == 0

    result = runner.invoke(args=["import", "--kind", "purchases", path])
    assert result.exit_code == 0, result.output
    assert "3 purchases added, 0 already imported, 1 rejected" in result.output
    result = runner.invoke(args=["import", "--kind", "purchases", path])
    assert "0 purchases added, 3 already imported, 1 rejected" in result.output

    # --map fixes a column the headers do not name.
    odd = write(tmp_path, "odd.csv", "Who,When,Paid\nanna@shop.ru,01.03.2026,10\n", "utf-8")
    args = ["import", "--kind", "purchases", odd, "--map", "Who=email", "--map", "Paid=amount"]
    result = runner.invoke(args=[*args, "--map", "When=date"])
    assert "1 purchases added" in result.output, result.output
    result = runner.invoke(args=["import", "--kind", "purchases", odd, "--map", "Who=salary"])
    assert result.exit_code != 0 and "not a field to import into" in result.output
    with app.app_context():
        assert db.session.get(Contact, shop_contacts["anna"]).purchase_count == 2
