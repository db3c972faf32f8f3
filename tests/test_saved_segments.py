"""Saved segments: each rule type on a small hand-made base, AND/OR, validation messages,
privacy and sharing, and a saved segment opened as the contact list (?saved=<id>) with its
count, bulk actions and CSV export; also `crmlite export --segment saved:<id>`."""

import csv
import io
from datetime import date, datetime, timedelta

import pytest

from crmlite.core import consent, contacts, interactions
from crmlite.core import saved_segments as core
from crmlite.core import tags as tags_core
from crmlite.core.custom_fields import create_field
from crmlite.extensions import db
from crmlite.models import Contact, Interaction, SavedSegment, Tag
from tests.conftest import login

HX = {"HX-Request": "true"}
TODAY = date(2026, 6, 1)


@pytest.fixture
def base(app, users):
    """Five contacts with names (Cyrillic too), purchases, NPS, consent, tags and a custom
    field. Returns ids by first name, plus "tag" (VIP's id)."""
    with app.app_context():
        create_field(db.session, "Promo code", "text")
        create_field(db.session, "Shoe size", "number")
        rows = [
            {
                "first_name": "Анна",
                "last_name": "Ёлкина",
                "company": "ООО Ромашка",
                "city": "МОСКВА",
                "emails": ["anna@romashka.ru"],
                "phones": ["+7 912 345-67-89"],
                "birth_date": "1990-05-03",
                "stage": "customer",
                "temperature": "hot",
                "source": "referral",
                "gender": "female",
                "owner_id": users["editor"],
                "notes": "Любит зелёный чай",
                "custom": {"promo_code": "SPRING25", "shoe_size": "38"},
            },
            {
                "first_name": "Boris",
                "last_name": "Smith",
                "company": "Acme",
                "city": "Berlin",
                "emails": ["boris@acme.com"],
                "birth_date": "1985-12-20",
                "temperature": "cold",
                "source": "ads",
                "custom": {"shoe_size": "44"},
            },
            {"first_name": "Vera", "last_name": "Green", "city": "Москва", "source": "event"},
            {
                "first_name": "Gleb",
                "last_name": "Brown",
                "company": "Initech",
                "emails": ["gleb@initech.io"],
            },
            {"first_name": "Dina", "last_name": "Gone", "emails": ["dina@acme.com"]},
        ]
        ids = {}
        custom = contacts.custom_fields(db.session)
        for raw in rows:
            contact = contacts.create_contact(
                db.session, contacts.validate(raw, custom_fields=custom), None
            )
            ids[raw["first_name"]] = contact.id
        db.session.flush()
        vip = tags_core.get_or_create(db.session, "VIP")
        tagged = [db.session.get(Contact, ids[name]) for name in ("Анна", "Gleb")]
        for contact in tagged:
            contact.tags.append(vip)
        purchases = {
            # name: [(date, amount minor)]
            "Анна": [(datetime(2026, 1, 5), 100_00), (datetime(2026, 5, 20), 300_00)],
            "Boris": [(datetime(2025, 1, 10), 5000_00)],
            "Gleb": [(datetime(2025, 6, 1), 10_00)] * 4,
        }
        for name, items in purchases.items():
            for when, amount in items:
                db.session.add(
                    Interaction(
                        contact_id=ids[name],
                        kind="purchase",
                        amount_minor=amount,
                        occurred_at=when,
                    )
                )
        db.session.add(
            Interaction(contact_id=ids["Анна"], kind="feedback", score=9, occurred_at=TODAY_DT)
        )
        db.session.add(
            Interaction(contact_id=ids["Boris"], kind="feedback", score=3, occurred_at=TODAY_DT)
        )
        interactions.refresh_stats(db.session, list(ids.values()))
        consent.record(db.session, ids["Анна"], "email", "marketing", "granted", source="form")
        consent.record(db.session, ids["Boris"], "email", "marketing", "withdrawn")
        contacts.set_archived(db.session, db.session.get(Contact, ids["Dina"]), True, None)
        db.session.commit()
        ids["tag"] = vip.id
        db.session.remove()
    return ids


TODAY_DT = datetime(2026, 5, 30)


def matches(app, ids, *rules, match="all"):
    """First names matched by the rules (archived Dina never is, like the list)."""
    definition = {
        "match": match,
        "rules": [dict(zip(("field", "op", "value"), r, strict=True)) for r in rules],
    }
    with app.app_context():
        cond = core.to_condition(db.session, definition, today=TODAY)
        found = set(
            db.session.scalars(db.select(Contact.id).where(~Contact.is_archived, cond)).all()
        )
    return {name for name, cid in ids.items() if name != "tag" and cid in found}


def test_text_rules_fold_case_including_cyrillic(app, base):
    assert matches(app, base, ("city", "contains", "москв")) == {"Анна", "Vera"}
    assert matches(app, base, ("city", "equals", "москва")) == {"Анна", "Vera"}
    assert matches(app, base, ("last_name", "contains", "ЕЛКИН")) == {"Анна"}  # ё = е
    assert matches(app, base, ("notes", "contains", "ЗЕЛЁНЫЙ")) == {"Анна"}
    assert matches(app, base, ("company", "contains", "ромашка")) == {"Анна"}
    # The full name reads "last first middle".
    assert matches(app, base, ("name", "contains", "smith bor")) == {"Boris"}
    assert matches(app, base, ("name", "contains", "boris smith")) == set()
    assert matches(app, base, ("company", "empty", "")) == {"Vera"}
    assert matches(app, base, ("company", "not_empty", "")) == {"Анна", "Boris", "Gleb"}
    assert matches(app, base, ("city", "contains", "%")) == set()  # LIKE characters are text


def test_email_phone_birth_and_choice_rules(app, base):
    assert matches(app, base, ("email", "has", "")) == {"Анна", "Boris", "Gleb"}
    assert matches(app, base, ("email", "none", "")) == {"Vera"}
    assert matches(app, base, ("email", "domain", "ACME.com")) == {"Boris"}
    assert matches(app, base, ("phone", "has", "")) == {"Анна"}
    assert matches(app, base, ("phone", "none", "")) == {"Boris", "Vera", "Gleb"}
    assert matches(app, base, ("birth_date", "before", "1990-01-01")) == {"Boris"}
    assert matches(app, base, ("birth_date", "after", "1990-01-01")) == {"Анна"}
    assert matches(app, base, ("birth_date", "month", "12")) == {"Boris"}
    assert matches(app, base, ("stage", "is", "customer")) == {"Анна"}
    assert matches(app, base, ("stage", "is_not", "customer")) == {"Boris", "Vera", "Gleb"}
    assert matches(app, base, ("temperature", "none", "")) == {"Vera", "Gleb"}
    assert matches(app, base, ("source", "is", "event")) == {"Vera"}
    assert matches(app, base, ("gender", "is", "female")) == {"Анна"}
    assert matches(app, base, ("tag", "has", str(base["tag"]))) == {"Анна", "Gleb"}
    assert matches(app, base, ("tag", "has_not", str(base["tag"]))) == {"Boris", "Vera"}


def test_owner_dates_and_custom_rules(app, base, users):
    assert matches(app, base, ("owner", "is", str(users["editor"]))) == {"Анна"}
    assert matches(app, base, ("owner", "none", "")) == {"Boris", "Vera", "Gleb"}
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    assert matches(app, base, ("created_at", "before", tomorrow)) == {
        "Анна",
        "Boris",
        "Vera",
        "Gleb",
    }
    assert matches(app, base, ("updated_at", "after", tomorrow)) == set()
    assert matches(app, base, ("custom:promo_code", "contains", "spring")) == {"Анна"}
    assert matches(app, base, ("custom:promo_code", "empty", "")) == {"Boris", "Vera", "Gleb"}
    assert matches(app, base, ("custom:shoe_size", "gt", "40")) == {"Boris"}


def test_purchase_nps_and_consent_rules(app, base):
    assert matches(app, base, ("purchase_count", "eq", "0")) == {"Vera"}
    assert matches(app, base, ("purchase_count", "gt", "3")) == {"Gleb"}
    assert matches(app, base, ("purchase_count", "lt", "2")) == {"Boris", "Vera"}
    # Money is typed in roubles, compared in kopecks.
    assert matches(app, base, ("purchase_total", "gt", "399,99")) == {"Анна", "Boris"}
    assert matches(app, base, ("purchase_total", "eq", "400")) == {"Анна"}
    assert matches(app, base, ("purchase_avg", "lt", "1 000.50")) == {"Анна", "Gleb"}
    assert matches(app, base, ("last_purchase", "after", "2026-01-01")) == {"Анна"}
    assert matches(app, base, ("last_purchase", "before", "2025-06-01")) == {"Boris"}
    assert matches(app, base, ("last_purchase", "within", "30")) == {"Анна"}  # to 2026-06-01
    assert matches(app, base, ("first_purchase", "before", "2025-02-01")) == {"Boris"}
    assert matches(app, base, ("nps", "gt", "8")) == {"Анна"}
    assert matches(app, base, ("nps", "empty", "")) == {"Vera", "Gleb"}
    assert matches(app, base, ("consent:email:marketing", "granted", "")) == {"Анна"}
    assert matches(app, base, ("consent:email:marketing", "withdrawn", "")) == {"Boris"}
    assert matches(app, base, ("consent:email:marketing", "unknown", "")) == {"Vera", "Gleb"}


def test_all_versus_any(app, base):
    rules = (("city", "contains", "москва"), ("purchase_count", "gt", "3"))
    assert matches(app, base, *rules, match="all") == set()
    assert matches(app, base, *rules, match="any") == {"Анна", "Vera", "Gleb"}
    both = (("city", "contains", "москва"), ("purchase_count", "gt", "0"))
    assert matches(app, base, *both, match="all") == {"Анна"}


def test_validation_explains_each_refused_rule(app, base):
    definition = {
        "match": "some",
        "rules": [
            {"field": "shoe_colour", "op": "is", "value": "red"},
            {"field": "city", "op": "sounds_like", "value": "x"},
            {"field": "purchase_total", "op": "gt", "value": "lots"},
            {"field": "nps", "op": "eq", "value": "11"},
            {"field": "tag", "op": "has", "value": "999999"},
            {"field": "last_purchase", "op": "before", "value": "2026-02-30"},
            {"field": "city", "op": "contains", "value": ""},
            {"field": "stage", "op": "is", "value": "boss"},
        ],
    }
    with app.app_context():
        errors = core.validate(db.session, definition)
        assert errors == {
            "match": "Match “all” or “any” of the rules.",
            "rule-1": "Rule 1: there is no field “shoe_colour”.",
            "rule-2": "Rule 2: “City” has no operator “sounds_like”.",
            "rule-3": "Rule 3 (Total spent): “lots” is not an amount, e.g. 1500 or 1500.50.",
            "rule-4": "Rule 4 (NPS (latest score)): Enter a number from 0 to 10.",
            "rule-5": "Rule 5 (Tag): That tag does not exist (any more).",
            "rule-6": "Rule 6 (Last purchase): “2026-02-30” is not a date (YYYY-MM-DD).",
            "rule-7": "Rule 7 (City): Enter a value.",
            "rule-8": "Rule 8 (Stage): Choose one of the offered values.",
        }
        assert core.validate(db.session, {"match": "all", "rules": []}) == {
            "rules": "Add at least one rule."
        }
        with pytest.raises(core.SegmentInvalid):
            core.to_condition(db.session, definition)
        # Nothing is saved when anything is refused, the name included.
        with pytest.raises(core.SegmentInvalid) as refused:
            core.create(db.session, base["Анна"], " ", {"match": "all", "rules": []})
        assert refused.value.errors["name"] == "Give the segment a name."
        assert db.session.query(SavedSegment).count() == 0


def rule_form(name, *rules, match="all", shared=False, action="save"):
    data = {"name": name, "match": match, "action": action}
    if shared:
        data["shared"] = "1"
    for n, (field, op, value) in enumerate(rules):
        data.update({f"rules-{n}-field": field, f"rules-{n}-op": op, f"rules-{n}-value": value})
    return data


def names_in(html, ids):
    return {n for n, cid in ids.items() if n != "tag" and f'href="/contacts/{cid}"' in html}


def test_build_save_and_open_as_the_list(app, base, editor_client):
    page = editor_client.get("/segments/saved/new")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="rules-0-field"' in html and "Number of purchases" in html
    assert "Consent: e-mail, marketing" in html and "Promo code" in html
    # Without JS: "Add a rule" posts the form and it comes back with one more row, unsaved.
    added = editor_client.post(
        "/segments/saved/new", data=rule_form("", ("city", "contains", "москва"), action="add")
    ).get_data(as_text=True)
    assert 'name="rules-1-field"' in added and 'name="rules-0-value" aria-label="Value"' in added
    assert 'value="москва"' in added
    assert "Rule 2 (Full name): Enter a value." in added  # the live count says what it lacks
    refreshed = editor_client.post(
        "/segments/saved/new", data=rule_form("", ("city", "contains", "москва"), action="refresh")
    ).get_data(as_text=True)
    assert "2 contacts match" in refreshed
    with app.app_context():
        assert db.session.query(SavedSegment).count() == 0
    # A refused rule: a clear message next to it, nothing saved.
    bad = editor_client.post(
        "/segments/saved/new", data=rule_form("Big", ("purchase_total", "gt", "lots"))
    )
    assert bad.status_code == 422
    assert "“lots” is not an amount" in bad.get_data(as_text=True)
    saved = editor_client.post(
        "/segments/saved/new",
        data=rule_form(
            "Moscow buyers", ("city", "contains", "москва"), ("purchase_count", "gt", "0")
        ),
    )
    assert saved.status_code == 302
    with app.app_context():
        seg = db.session.query(SavedSegment).one()
        assert (seg.name, seg.shared, seg.definition["match"]) == ("Moscow buyers", False, "all")
        seg_id = seg.id
    assert saved.headers["Location"] == f"/?saved={seg_id}"
    listed = editor_client.get(f"/?saved={seg_id}").get_data(as_text=True)
    assert "Saved segment:" in listed and "Moscow buyers" in listed
    assert f'href="/segments/saved/{seg_id}"' in listed  # Edit
    assert names_in(listed, base) == {"Анна"}
    assert f'name="saved" value="{seg_id}"' in listed  # the filter form keeps the segment
    count = editor_client.get(f"/contacts/count?saved={seg_id}").get_data(as_text=True)
    assert "1 contact" in count
    # The segments page lists it with a lazy count.
    segments_page = editor_client.get("/segments").get_data(as_text=True)
    assert "Moscow buyers" in segments_page and "New segment" in segments_page
    assert f'hx-get="/segments/saved/{seg_id}/count" hx-trigger="revealed"' in segments_page
    assert editor_client.get(f"/segments/saved/{seg_id}/count").text == "1 contact"


def test_builder_fragments(app, base, editor_client):
    # Choosing a field swaps in its operators and value input.
    row = editor_client.get(
        "/segments/saved/rule?n=2&rules-2-field=stage&rules-2-op=contains&rules-2-value=x",
        headers=HX,
    )
    html = row.get_data(as_text=True)
    assert 'id="rule-2"' in html and 'name="rules-2-op"' in html
    assert '<option value="is" selected>' in html and 'value="customer"' in html
    assert row.headers["HX-Trigger-After-Swap"] == "rulesChanged"
    row = editor_client.get(
        "/segments/saved/rule?n=2&rules-2-field=last_purchase&rules-2-op=before", headers=HX
    ).get_data(as_text=True)
    assert 'type="date"' in row and "within the last N days" in row
    empty = editor_client.get(
        "/segments/saved/rule?n=2&rules-2-field=nps&rules-2-op=empty", headers=HX
    ).get_data(as_text=True)
    assert 'name="rules-2-value"' not in empty  # "no score yet" takes no value
    added = editor_client.get("/segments/saved/rule?n=3&add=1", headers=HX).get_data(as_text=True)
    assert 'id="rule-3"' in added and "n=4" in added and 'hx-swap-oob="true"' in added
    # The live count, and what an incomplete rule lacks.
    count = editor_client.get(
        "/segments/saved/match-count?match=any&rules-0-field=nps&rules-0-op=gt&rules-0-value=5"
        "&rules-1-field=source&rules-1-op=is&rules-1-value=event",
        headers=HX,
    ).get_data(as_text=True)
    assert "2 contacts match" in count
    lacking = editor_client.get(
        "/segments/saved/match-count?rules-0-field=city&rules-0-op=contains", headers=HX
    ).get_data(as_text=True)
    assert "Rule 1 (City): Enter a value." in lacking


def make(app, owner_id, name, shared, *rules):
    with app.app_context():
        definition = {
            "match": "all",
            "rules": [dict(zip(("field", "op", "value"), r, strict=True)) for r in rules],
        }
        seg = core.create(db.session, owner_id, name, definition, shared)
        db.session.commit()
        return seg.id


def test_private_segments_are_their_owners_alone(app, base, users, editor_client):
    mine = make(app, users["editor"], "Mine", False, ("city", "contains", "москва"))
    theirs = make(app, users["admin"], "Admin private", False, ("city", "contains", "москва"))
    page = editor_client.get("/segments").get_data(as_text=True)
    assert "Mine" in page and "Admin private" not in page
    assert editor_client.get(f"/segments/saved/{theirs}").status_code == 404
    assert editor_client.get(f"/segments/saved/{theirs}/count").status_code == 404
    assert editor_client.post(f"/segments/saved/{theirs}", data=rule_form("X")).status_code == 404
    assert editor_client.post(f"/segments/saved/{theirs}/delete").status_code == 404
    # Opened as a list it matches nothing and says so; so do the count and the export.
    listed = editor_client.get(f"/?saved={theirs}").get_data(as_text=True)
    assert names_in(listed, base) == set()
    assert "private to someone else" in listed
    assert "0 contacts" in editor_client.get(f"/contacts/count?saved={theirs}").text
    export = editor_client.get(f"/imports/export?saved={theirs}").get_data(as_text=True)
    assert len(list(csv.reader(io.StringIO(export)))) == 1  # the header only
    assert names_in(editor_client.get(f"/?saved={mine}").text, base) == {"Анна", "Vera"}
    with app.app_context():
        assert db.session.get(SavedSegment, theirs).name == "Admin private"


def test_shared_segments_open_for_all_and_change_for_owner_or_admin(
    app, base, users, viewer_client, admin_client
):
    shared = make(app, users["editor"], "Team Moscow", True, ("city", "contains", "москва"))
    # A viewer opens it read-only.
    page = viewer_client.get(f"/segments/saved/{shared}").get_data(as_text=True)
    assert "Team Moscow" in page and "not change it" in page and "Save segment" not in page
    assert names_in(viewer_client.get(f"/?saved={shared}").text, base) == {"Анна", "Vera"}
    assert viewer_client.get("/segments/saved/new").status_code == 403
    assert viewer_client.post(f"/segments/saved/{shared}", data=rule_form("X")).status_code == 403
    # Another editor may open it but not change it.
    other = app.test_client()
    with app.app_context():
        from crmlite.core.users import create_user

        create_user(db.session, "editor2@example.com", "correct horse battery", "editor", "Ed")
        db.session.commit()
    login(other, "editor2@example.com")
    assert "Team Moscow" in other.get("/segments").text
    assert "Save segment" not in other.get(f"/segments/saved/{shared}").text
    renamed = rule_form("Hijacked", ("city", "contains", "x"))
    assert other.post(f"/segments/saved/{shared}", data=renamed).status_code == 403
    assert other.post(f"/segments/saved/{shared}/delete").status_code == 403
    # An admin may change and delete it.
    changed = admin_client.post(
        f"/segments/saved/{shared}",
        data=rule_form("Team Berlin", ("city", "equals", "berlin"), shared=True),
    )
    assert changed.status_code == 302
    assert names_in(admin_client.get(f"/?saved={shared}").text, base) == {"Boris"}
    assert "Team Berlin" in admin_client.get(f"/?saved={shared}").text
    deleted = admin_client.post(f"/segments/saved/{shared}/delete")
    assert deleted.status_code == 302
    with app.app_context():
        assert db.session.get(SavedSegment, shared) is None


def test_bulk_tag_and_export_on_a_saved_segment(app, base, users, editor_client):
    seg = make(app, users["editor"], "Buyers", False, ("purchase_count", "gt", "0"))
    done = editor_client.post(
        "/contacts/bulk",
        data={"saved": seg, "all": "1", "action": "add_tag", "tag_name": "buyer"},
    )
    assert done.status_code == 302 and done.headers["Location"] == f"/?saved={seg}"
    with app.app_context():
        tag = db.session.query(Tag).filter_by(name="buyer").one()
        tagged = {c.first_name for c in db.session.query(Contact) if tag in c.tags}
    assert tagged == {"Анна", "Boris", "Gleb"}
    export = editor_client.get(f"/imports/export?saved={seg}").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(export)))
    assert sorted(r["first_name"] for r in rows) == ["Boris", "Gleb", "Анна"]


def test_cli_export_saved_segment(app, base, users, tmp_path):
    seg = make(app, users["editor"], "Buyers", False, ("purchase_count", "gt", "3"))
    out = tmp_path / "out.csv"
    result = app.test_cli_runner().invoke(args=["export", str(out), "--segment", f"saved:{seg}"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))
    assert [r["first_name"] for r in rows] == ["Gleb"]
    missing = app.test_cli_runner().invoke(args=["export", str(out), "--segment", "saved:999"])
    assert missing.exit_code != 0 and "no saved segment" in missing.output.lower()
