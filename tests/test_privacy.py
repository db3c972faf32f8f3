"""Privacy requests (GDPR, 152-FZ): one person's data as a ZIP, erasure in place, the log,
admin-only routes, and an erased person who never shows up again anywhere."""

import csv
import io
import json
import re
import zipfile
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, or_, select

from crmlite.core import campaigns, consent, dashboard, interactions, privacy
from crmlite.core import saved_segments as saved_core
from crmlite.core.contacts import create_contact, validate
from crmlite.core.custom_fields import create_field
from crmlite.core.tags import add_tag, get_or_create
from crmlite.extensions import db
from crmlite.models import (
    Campaign,
    CampaignRecipient,
    Contact,
    ContactConsent,
    ContactEmail,
    ContactHistory,
    ContactPhone,
    DuplicatePair,
    ImportItem,
    Interaction,
    MatchKey,
    OutboxMessage,
    PrivacyRequest,
    Reminder,
    SearchToken,
    contact_tags,
)
from crmlite.models.types import utcnow

NAME = "Загорская Ксения Павловна"
EMAIL = "ksenia.zagorskaya@example.ru"
PHONE = "+79123456701"
TODAY = date.today()
BOUGHT = [
    (datetime.combine(TODAY - timedelta(days=3), datetime.min.time()), 123450, "RUB"),
    (datetime.combine(TODAY - timedelta(days=40), datetime.min.time()), 9900, "EUR"),
]


def _add(contact_id, kind_key, raw, user_id):
    kind = interactions.all_kinds(None)[kind_key]
    clean = interactions.validate(kind, raw)
    return interactions.add(db.session, None, contact_id, kind, clean, user_id)


@pytest.fixture
def person(app, users):
    """Ксения with every kind of data, plus a bystander (Boris) who must stay untouched.
    Returns ids: person, other, saved (a saved segment matching Ксения)."""
    with app.app_context():
        create_field(db.session, "Shoe size", "number")
        fields = []
        from crmlite.core.contacts import custom_fields

        fields = custom_fields(db.session)
        raw = {
            "last_name": "Загорская",
            "first_name": "Ксения",
            "middle_name": "Павловна",
            "company": "ООО Ромашка",
            "position": "Директор",
            "industry": "Торговля",
            "city": "Казань",
            "country": "Россия",
            "address": "ул. Баумана, 5",
            "birth_date": "1988-04-02",
            "gender": "female",
            "source": "event",
            "temperature": "hot",
            "owner_id": users["editor"],
            "notes": "Любит зелёный чай",
            "emails": [{"value": EMAIL, "label": "work"}],
            "phones": [{"value": "8 912 345-67-01", "label": "mobile"}],
            "custom": {"shoe_size": "38"},
        }
        person = create_contact(db.session, validate(raw, "RU", fields), users["editor"])
        other = create_contact(
            db.session,
            validate({"first_name": "Boris", "last_name": "Smith", "emails": ["b@acme.com"]}),
            users["editor"],
        )
        person.external_id = "crm-77"
        add_tag(db.session, person, get_or_create(db.session, "VIP"), users["editor"])
        consent.record(
            db.session,
            person.id,
            "email",
            "marketing",
            "granted",
            source="web form",
            wording_version="v2",
            user_id=users["editor"],
        )
        _add(person.id, "note", {"text": "Звонить после обеда"}, users["editor"])
        for at, minor, currency in BOUGHT:
            item = _add(
                person.id,
                "purchase",
                {"text": "Чайник", "amount": str(minor / 100), "currency": currency},
                users["editor"],
            )
            item.occurred_at = at
            item.external_id = f"order-{minor}"
        _add(person.id, "feedback", {"score": "9", "text": "Всё отлично"}, users["editor"])
        interactions.refresh_stats(db.session, [person.id])
        db.session.add(
            Reminder(
                contact_id=person.id,
                assignee_id=users["editor"],
                due_on=TODAY + timedelta(days=7),
                note="Поздравить Ксению",
            )
        )
        # The duplicate finder keeps its own keys; one more and a pair make sure they go.
        db.session.add(MatchKey(key="test:privacy", contact_id=person.id))
        low, high = sorted((person.id, other.id))
        pair = (DuplicatePair.contact_a_id == low, DuplicatePair.contact_b_id == high)
        if db.session.scalar(select(DuplicatePair.id).where(*pair)) is None:
            db.session.add(DuplicatePair(contact_a_id=low, contact_b_id=high, score=40, reasons=[]))
        campaign = Campaign(name="Весна", segment_key="potential", sender="outbox")
        db.session.add(campaign)
        db.session.flush()
        db.session.add(
            CampaignRecipient(campaign_id=campaign.id, contact_id=person.id, address=EMAIL)
        )
        db.session.add(
            OutboxMessage(
                channel="email", to_address=EMAIL, body="Ксения, привет", contact_id=person.id
            )
        )
        seg = saved_core.create(
            db.session,
            users["admin"],
            "Казань",
            {"match": "all", "rules": [{"field": "city", "op": "contains", "value": "казань"}]},
            shared=True,
        )
        db.session.commit()
        ids = {"person": person.id, "other": other.id, "saved": seg.id}
        db.session.remove()
    return ids


def _zip(data: bytes) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(data))


def _csv_rows(archive: zipfile.ZipFile, name: str) -> list[dict]:
    raw = archive.read(name)
    assert raw.startswith(b"\xef\xbb\xbf"), f"{name} has no BOM for Excel"
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


# -- export ------------------------------------------------------------------------------


def test_export_zip_holds_every_section(app, person, admin_client, users):
    page = admin_client.get(f"/contacts/{person['person']}")
    assert "Download personal data (ZIP)" in page.get_data(as_text=True)
    resp = admin_client.post(f"/contacts/{person['person']}/privacy/export")
    assert resp.status_code == 200
    assert resp.mimetype == "application/zip"
    assert f"contact-{person['person']}-personal-data.zip" in resp.headers["Content-Disposition"]
    archive = _zip(resp.data)
    assert set(archive.namelist()) == {
        "README.txt",
        "contact.json",
        "contact.csv",
        "interactions.csv",
        "consents.csv",
        "history.csv",
    }
    readme = archive.read("README.txt").decode()
    assert f"contact #{person['person']}" in readme and "Admin" in readme

    data = json.loads(archive.read("contact.json"))
    c = data["contact"]
    assert (c["last_name"], c["first_name"], c["middle_name"]) == (
        "Загорская",
        "Ксения",
        "Павловна",
    )
    assert c["city"] == "Казань" and c["address"] == "ул. Баумана, 5"
    assert c["birth_date"] == "1988-04-02" and c["gender"] == "female"
    assert c["external_id"] == "crm-77" and c["owner"] == "Editor"
    assert c["notes"] == "Любит зелёный чай"
    assert c["custom"] == {"shoe_size": {"label": "Shoe size", "value": "38"}}
    assert [e["email"] for e in c["emails"]] == [EMAIL]
    assert [p["phone"] for p in c["phones"]] == [PHONE]
    assert c["tags"] == ["VIP"]
    assert c["purchase_count"] == 2 and c["purchase_total_minor"] == 133350
    assert [(x["channel"], x["purpose"], x["status"], x["source"]) for x in data["consents"]] == [
        ("email", "marketing", "granted", "web form")
    ]
    kinds = [i["kind"] for i in data["interactions"]]
    assert sorted(kinds) == ["feedback", "note", "purchase", "purchase"]
    purchases = [i for i in data["interactions"] if i["kind"] == "purchase"]
    assert {(p["amount"], p["currency"]) for p in purchases} == {("1234.5", "RUB"), ("99", "EUR")}
    actions = [h["action"] for h in data["history"]]
    assert actions[0] == "create" and "consent" in actions and "tag_add" in actions
    assert data["reminders"][0]["note"] == "Поздравить Ксению"
    assert data["messages"][0]["campaign"] == "Весна" and data["messages"][0]["address"] == EMAIL

    (row,) = _csv_rows(archive, "contact.csv")
    assert row["first_name"] == "Ксения" and row["emails"] == EMAIL and row["phones"] == PHONE
    assert row["custom.shoe_size"] == "38" and row["tags"] == "VIP"
    rows = _csv_rows(archive, "interactions.csv")
    assert {(r["kind"], r["amount"]) for r in rows if r["kind"] == "purchase"} == {
        ("purchase", "1234.5"),
        ("purchase", "99"),
    }
    assert any(r["text"] == "Звонить после обеда" for r in rows)
    (consent_row,) = _csv_rows(archive, "consents.csv")
    assert consent_row["status"] == "granted" and consent_row["wording_version"] == "v2"
    history_rows = _csv_rows(archive, "history.csv")
    assert len(history_rows) == len(data["history"])
    assert any("Загорская" in r["changes"] for r in history_rows)

    with app.app_context():
        (entry,) = db.session.scalars(select(PrivacyRequest)).all()
        assert (entry.kind, entry.contact_id, entry.performed_by_id) == (
            "export",
            person["person"],
            users["admin"],
        )


# -- erasure -----------------------------------------------------------------------------


def _count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def test_erasure_removes_everything_personal_and_keeps_purchases(app, person, users):
    pid, oid = person["person"], person["other"]
    with app.app_context():
        privacy.erase(db.session, pid, users["admin"], "Request by e-mail of 2 March")
        db.session.commit()
        db.session.expunge_all()

        c = db.session.get(Contact, pid)
        for name in privacy.ERASED_TEXT:
            assert getattr(c, name) == "", name
        for name in privacy.ERASED_NONE:
            assert getattr(c, name) is None, name
        assert c.custom == {}
        assert c.is_archived and c.erased_at is not None
        for model in (ContactEmail, ContactPhone, SearchToken, ContactConsent, Reminder, MatchKey):
            assert _count(model, model.contact_id == pid) == 0, model.__name__
        assert _count(contact_tags, contact_tags.c.contact_id == pid) == 0
        assert _count(OutboxMessage, OutboxMessage.contact_id == pid) == 0
        assert _count(ImportItem, ImportItem.contact_id == pid) == 0
        pair = or_(DuplicatePair.contact_a_id == pid, DuplicatePair.contact_b_id == pid)
        assert _count(DuplicatePair, pair) == 0
        (recipient,) = db.session.scalars(
            select(CampaignRecipient).where(CampaignRecipient.contact_id == pid)
        )
        assert recipient.address == ""
        # Purchases only, with date, amount and currency and nothing else.
        kept = db.session.scalars(
            select(Interaction).where(Interaction.contact_id == pid).order_by(Interaction.id)
        ).all()
        assert [(i.kind, i.occurred_at, i.amount_minor, i.currency) for i in kept] == [
            ("purchase", at, minor, cur) for at, minor, cur in BOUGHT
        ]
        for item in kept:
            assert (item.text, item.data, item.external_id, item.author_id) == ("", {}, None, None)
        assert (c.purchase_count, c.purchase_total_minor) == (2, 133350)
        assert c.last_nps is None
        # One history entry, with no personal values.
        (entry,) = db.session.scalars(
            select(ContactHistory).where(ContactHistory.contact_id == pid)
        )
        assert (entry.action, entry.user_id, entry.changes) == ("erased", users["admin"], {})
        (log,) = db.session.scalars(select(PrivacyRequest))
        assert (log.kind, log.contact_id, log.performed_by_id, log.reason) == (
            "erasure",
            pid,
            users["admin"],
            "Request by e-mail of 2 March",
        )
        # The bystander keeps everything.
        other = db.session.get(Contact, oid)
        assert other.first_name == "Boris" and not other.is_archived
        assert _count(ContactEmail, ContactEmail.contact_id == oid) == 1
        # Nothing personal is left anywhere in the contact's rows.
        blob = json.dumps(privacy.collect(db.session, pid), ensure_ascii=False, default=str)
        for trace in ("Ксения", "Загорская", EMAIL, "912345", "Казань", "чай", "crm-77"):
            assert trace not in blob, trace


def test_reason_required_and_erasure_happens_once(app, person, users):
    pid = person["person"]
    with app.app_context():
        for reason in ("", "   ", None):
            with pytest.raises(privacy.PrivacyError, match="Say why"):
                privacy.erase(db.session, pid, users["admin"], reason)
        db.session.rollback()
        assert db.session.get(Contact, pid).first_name == "Ксения"
        assert _count(PrivacyRequest) == 0
        privacy.erase(db.session, pid, users["admin"], "asked in person")
        db.session.commit()
        with pytest.raises(privacy.PrivacyError, match="already erased"):
            privacy.erase(db.session, pid, users["admin"], "again")


def test_erase_page_confirms_and_refuses_bad_input(app, person, admin_client, users):
    pid = person["person"]
    page = admin_client.get(f"/contacts/{pid}/privacy/erase").get_data(as_text=True)
    assert "Removed" in page and "Kept" in page and "purchases: date, amount" in page
    resp = admin_client.post(
        f"/contacts/{pid}/privacy/erase", data={"reason": " ", "confirm_name": NAME}
    )
    assert resp.status_code == 422
    assert "Say why the data is erased" in resp.get_data(as_text=True)
    resp = admin_client.post(
        f"/contacts/{pid}/privacy/erase", data={"reason": "request", "confirm_name": "Ксения"}
    )
    assert resp.status_code == 422
    assert "Type the contact&#39;s name exactly as shown" in resp.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Contact, pid).erased_at is None
        assert _count(PrivacyRequest) == 0

    resp = admin_client.post(
        f"/contacts/{pid}/privacy/erase",
        data={"reason": "Письмо от 2 марта", "confirm_name": " загорская  ксения павловна "},
        follow_redirects=True,
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "Erased on" in html and "by Admin: Письмо от 2 марта" in html
    assert "Purchases kept for accounting" in html and "1,234.50" in html
    for gone in ("Ксения", "Загорская", EMAIL, "Edit all fields", "Archive", "Restore", "Privacy<"):
        assert gone not in html, gone

    log = admin_client.get("/admin/privacy").get_data(as_text=True)
    assert "Privacy log" in log and "Письмо от 2 марта" in log and f"#{pid}" in log
    assert "Erasure" in log


def test_admin_only(app, person, editor_client, viewer_client):
    pid = person["person"]
    for client in (editor_client, viewer_client):
        page = client.get(f"/contacts/{pid}").get_data(as_text=True)
        assert "Download personal data" not in page and "Erase personal data" not in page
        assert client.post(f"/contacts/{pid}/privacy/export").status_code == 403
        assert client.get(f"/contacts/{pid}/privacy/erase").status_code == 403
        resp = client.post(
            f"/contacts/{pid}/privacy/erase", data={"reason": "x", "confirm_name": NAME}
        )
        assert resp.status_code == 403
        assert client.get("/admin/privacy").status_code == 403
    with app.app_context():
        assert db.session.get(Contact, pid).erased_at is None
        assert _count(PrivacyRequest) == 0


def test_login_required(app, person, client):
    pid = person["person"]
    assert client.post(f"/contacts/{pid}/privacy/export").status_code == 302
    assert client.get("/admin/privacy").status_code == 302


# -- never again -------------------------------------------------------------------------


def _erase(app, pid, user_id):
    with app.app_context():
        privacy.erase(db.session, pid, user_id, "request")
        db.session.commit()


def _absent(html: str) -> None:
    for trace in ("Ксения", "Загорская", EMAIL, "912 345", "912345"):
        assert trace not in html, trace


def test_erased_person_never_reappears(app, person, admin_client, users):
    pid, saved = person["person"], person["saved"]

    def audience() -> int:
        pm = app.extensions["crmlite.plugins"]
        return campaigns.audience(pm, db.session, "active", {}, "outbox", "marketing").total

    with app.app_context():
        before = dashboard.purchases_per_month(db.session, TODAY)
        assert audience() == 1  # Ксения: two recent purchases
    # Before: found everywhere (so the checks below can fail).
    assert "Загорская" in admin_client.get("/?q=Ксения").get_data(as_text=True)
    assert "Загорская" in admin_client.get(f"/?saved={saved}").get_data(as_text=True)
    _erase(app, pid, users["admin"])

    for url in (
        "/",
        "/?archived=1",
        "/?q=Ксения",
        "/?q=Загорская&archived=1",
        f"/?q={EMAIL}",
        "/?q=8 912 345-67-01",
        "/?q=ромашка",
        "/?segment=newcomers",
        "/?segment=active",
        "/?segment=vip",
        f"/?saved={saved}",
        f"/?saved={saved}&archived=1",
    ):
        resp = admin_client.get(url)
        assert resp.status_code == 200, url
        html = resp.get_data(as_text=True)
        # The text people read (the search box's value and links echo the query).
        _absent(re.sub(r"<[^>]*>", " ", html))
        assert f'href="/contacts/{pid}"' not in html, url
    for url, rows in (
        ("/imports/export?format=csv", 1),  # Boris alone
        ("/imports/export?format=csv&archived=1", 0),
        (f"/imports/export?format=csv&saved={saved}", 0),
    ):
        body = admin_client.get(url).get_data(as_text=True)
        _absent(body)
        assert len(list(csv.DictReader(io.StringIO(body.lstrip("\ufeff"))))) == rows, url
    with app.app_context():
        # Still counted in the purchases per month; never among the contacts.
        assert dashboard.purchases_per_month(db.session, TODAY) == before
        assert sum(m.amount_minor for m in before) == 133350
        assert dashboard.segment_counts(db.session, TODAY)["all"] == 1
        assert audience() == 0  # campaigns never reach the erased contact
        # The erased contact still has its purchase summary, yet no segment counts it.
        bought = {"field": "purchase_count", "op": "gt", "value": "0"}
        assert saved_core.count(db.session, {"match": "all", "rules": [bought]}) == 0


def test_erased_contact_cannot_be_changed(app, person, admin_client, editor_client, users):
    pid = person["person"]
    _erase(app, pid, users["admin"])
    with app.app_context():
        version = db.session.get(Contact, pid).version
    attempts = [
        ("post", f"/contacts/{pid}/restore", {}),
        ("post", f"/contacts/{pid}/archive", {}),
        ("get", f"/contacts/{pid}/edit", {}),
        ("post", f"/contacts/{pid}/edit", {"first_name": "Ксения"}),
        ("post", f"/contacts/{pid}/field/first_name", {"first_name": "Ксения"}),
        ("post", f"/contacts/{pid}/tags", {"tag": "VIP"}),
        ("post", f"/contacts/{pid}/interactions", {"kind": "note", "text": "hi"}),
        ("post", f"/contacts/{pid}/delete", {}),
        ("post", "/contacts/bulk", {"action": "restore", "ids": str(pid)}),
    ]
    for client in (admin_client, editor_client):
        for method, url, data in attempts:
            resp = getattr(client, method)(url, data=data)
            if url == "/contacts/bulk":
                continue
            assert resp.status_code == 409, url
            assert "was erased on" in resp.get_data(as_text=True), url
    with app.app_context():
        c = db.session.get(Contact, pid)
        assert (c.version, c.first_name, c.is_archived) == (version, "", True)
        assert (
            _count(Interaction, Interaction.contact_id == pid, Interaction.kind != "purchase") == 0
        )
        assert _count(contact_tags, contact_tags.c.contact_id == pid) == 0
        # Core refuses too (the CLI, jobs and plugins go through it).
        from crmlite.core import contacts as contacts_core

        with pytest.raises(privacy.ContactErased):
            contacts_core.set_archived(db.session, c, False, users["admin"])
        with pytest.raises(privacy.ContactErased):
            contacts_core.update_contact(db.session, c, {"first_name": "X"}, users["admin"])
        assert utcnow() >= c.erased_at


def test_merge_snapshots_go_and_merge_is_refused(app, person, users):
    """A merge's undo snapshot holds the merged person's data: erasing the survivor drops
    it, so no undo can bring the data back; an erased contact cannot be merged."""
    from crmlite.core import merging
    from crmlite.models import Merge

    pid, oid = person["person"], person["other"]
    with app.app_context():
        twin = create_contact(
            db.session, validate({"first_name": "Ксения", "emails": ["k@example.ru"]}), None
        )
        merging.merge(db.session, pid, [twin.id], None, users["admin"])
        db.session.commit()
        assert _count(Merge, Merge.survivor_id == pid) == 1
        privacy.erase(db.session, pid, users["admin"], "request")
        db.session.commit()
        assert _count(Merge) == 0
        with pytest.raises(merging.MergeError, match="erased"):
            merging.merge(db.session, oid, [pid], None, users["admin"])


def test_cli_export_and_erase(app, person, users, tmp_path):
    pid = person["person"]
    runner = app.test_cli_runner()
    out = tmp_path / "k.zip"
    result = runner.invoke(
        args=["privacy", "export", str(pid), str(out), "--by", "admin@example.com"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(_zip(out.read_bytes()).read("contact.json"))["contact"]["city"] == "Казань"
    # Only an admin, and only with a reason; nothing changes otherwise.
    refused = [
        ["privacy", "erase", str(pid), "--reason", "x", "--by", "editor@example.com", "--yes"],
        ["privacy", "erase", str(pid), "--reason", " ", "--by", "admin@example.com", "--yes"],
        ["privacy", "erase", "999999", "--reason", "x", "--by", "admin@example.com", "--yes"],
    ]
    for args in refused:
        result = runner.invoke(args=args)
        assert result.exit_code != 0, args
    assert "not an active admin" in runner.invoke(args=refused[0]).output
    assert "Say why" in runner.invoke(args=refused[1]).output
    with app.app_context():
        assert db.session.get(Contact, pid).erased_at is None
    result = runner.invoke(
        args=["privacy", "erase", str(pid), "--reason", "ticket 9", "--by", "admin@example.com"],
        input="y\n",
    )
    assert result.exit_code == 0, result.output
    assert "purchases are kept" in result.output
    with app.app_context():
        c = db.session.get(Contact, pid)
        assert c.erased_at is not None and c.first_name == ""
        kinds = [r.kind for r in db.session.scalars(select(PrivacyRequest).order_by("id"))]
        assert kinds == ["export", "erasure"]
