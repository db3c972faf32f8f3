"""`crmlite dedup scan` and `crmlite dedup candidates --format csv`."""

import csv
import io

from crmlite.core import contacts as core
from crmlite.extensions import db
from crmlite.models import DuplicatePair

HEADER = (
    "pair_id,score,contact_a_id,contact_a_external_id,contact_a_name,contact_b_id,"
    "contact_b_external_id,contact_b_name,reasons"
)


def add(external_id=None, **raw) -> int:
    for key in ("emails", "phones"):
        if key in raw:
            raw[key] = [{"value": v} for v in raw[key]]
    contact = core.create_contact(db.session, core.validate(raw), None)
    contact.external_id = external_id
    return contact.id


def people() -> dict[str, int]:
    ids = {
        "ivanov": add("crm-1", first_name="Иван", last_name="Иванов", phones=["+79123456789"]),
        "ivanov2": add("crm-2", first_name="Ivan", last_name="Ivanov", phones=["89123456789"]),
        "lena": add(
            None, first_name="Елена", last_name="Козлова", birth_date="1991-02-03", city="Сочи"
        ),
        "lena2": add(
            "crm-9", first_name="Лена", last_name="Козлова", birth_date="1991-02-03", city="Сочи"
        ),
        "boris": add("crm-3", first_name="Борис", last_name="Гусев"),
    }
    db.session.execute(DuplicatePair.__table__.delete())  # as before the first scan
    db.session.commit()
    return ids


def test_scan_prints_counts_and_time(app, ctx):
    people()
    result = app.test_cli_runner().invoke(args=["dedup", "scan"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Scanned 5 contacts in ")
    assert "2 possible duplicates (2 new, 0 updated, 0 gone)" in result.output
    assert db.session.query(DuplicatePair).count() == 2


def test_candidates_as_csv(app, ctx):
    ids = people()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["dedup", "scan"]).exit_code == 0
    result = runner.invoke(args=["dedup", "candidates", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == HEADER
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert len(rows) == 2
    assert int(rows[0]["score"]) >= int(rows[1]["score"]) >= 60  # best first
    by_a = {int(r["contact_a_id"]): r for r in rows}
    phone = by_a[ids["ivanov"]]
    assert phone["contact_b_id"] == str(ids["ivanov2"])
    assert (phone["contact_a_external_id"], phone["contact_b_external_id"]) == ("crm-1", "crm-2")
    assert (phone["contact_a_name"], phone["contact_b_name"]) == ("Иванов Иван", "Ivanov Ivan")
    assert "same phone +7 912 345-67-89" in phone["reasons"]
    lena = by_a[ids["lena"]]
    assert lena["contact_a_external_id"] == "" and lena["contact_b_external_id"] == "crm-9"
    assert "Лена / Елена is a short form of the same first name" in lena["reasons"]
    assert "same birth date 1991-02-03" in lena["reasons"]
    # --min-score keeps the pairs at or above it.
    top = max(int(r["score"]) for r in rows)
    result = runner.invoke(args=["dedup", "candidates", "--min-score", str(top)])
    kept = list(csv.DictReader(io.StringIO(result.output)))
    assert kept and all(int(r["score"]) == top for r in kept) and len(kept) < 3


def test_dismissed_pairs_are_not_candidates(app, ctx):
    people()
    runner = app.test_cli_runner()
    runner.invoke(args=["dedup", "scan"])
    pair = db.session.query(DuplicatePair).order_by(DuplicatePair.id).first()
    pair.status = "dismissed"
    db.session.commit()
    runner.invoke(args=["dedup", "scan"])
    rows = list(csv.DictReader(io.StringIO(runner.invoke(args=["dedup", "candidates"]).output)))
    assert [r["pair_id"] for r in rows] != [] and str(pair.id) not in {r["pair_id"] for r in rows}


def test_bad_options_are_refused(app, ctx):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["dedup", "candidates", "--min-score", "150"])
    assert result.exit_code != 0 and "--min-score" in result.output
    result = runner.invoke(args=["dedup", "candidates", "--format", "xml"])
    assert result.exit_code != 0 and "'xml' is not 'csv'" in result.output
