"""Quality and speed of the duplicate finder on labelled data: precision, recall, F1, scan time.

    .venv/bin/python bench/dedup.py                          # 10k and 100k contacts, SQLite
    .venv/bin/python bench/dedup.py --sizes 1000000          # 1M (loading takes minutes)
    .venv/bin/python bench/dedup.py --sizes 10000 --database-url postgresql+psycopg://...

Per size it loads bench/dedup_data.py's people (seed --seed) into a fresh database (SQLite
file bench/dedup-<size>.db unless --database-url is given; that database is emptied of
contacts first, so give it one of its own), runs the finder's full scan
(crmlite.core.dedup.scan, timed), reads the candidate pairs the way `crmlite dedup
candidates` does, and scores them against the truth: a pair is right when both external ids
name the same person ("p<person>-<n>").

It prints contacts, true pairs, proposed pairs, precision, recall, F1 and scan seconds; the
same at a few higher minimum scores; recall per variation (typo, translit, diminutive,
swapped, phone format, e-mail format, ...) and false positives per kind (namesake, family,
colleague, other), with a few examples of each, so whoever tunes the matchers sees what to
fix. Not a test: it always exits 0.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter, defaultdict
from itertools import combinations
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.dedup_data import NEGATIVES, VARIATIONS, Generator, Truth, load, parse_external_id  # noqa: E402

TARGET_F1, TARGET_PRECISION = 0.98, 0.99
SWEEP = (70, 80, 90)


def f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def evaluate(truth: Truth, pairs: list[tuple[str, str, int]]) -> dict:
    """Score candidate pairs (external id a, external id b, score) against the truth.

    Returns counts, precision/recall/F1, the found true pairs by person and the false
    positives as (a, b, score) with the people of both sides."""
    found: dict[int, set[tuple[int, int]]] = defaultdict(set)
    false_pos: list[tuple[str, str, int]] = []
    for ext_a, ext_b, score in pairs:
        a, b = parse_external_id(ext_a), parse_external_id(ext_b)
        if a and b and a[0] == b[0]:
            found[a[0]].add((min(a[1], b[1]), max(a[1], b[1])))
        else:
            false_pos.append((ext_a, ext_b, score))
    tp = sum(len(v) for v in found.values())
    proposed = len(pairs)
    true_pairs = truth.true_pairs
    precision = tp / proposed if proposed else 1.0
    recall = tp / true_pairs if true_pairs else 1.0
    return {
        "proposed": proposed,
        "true_pairs": true_pairs,
        "tp": tp,
        "fp": len(false_pos),
        "fn": true_pairs - tp,
        "precision": precision,
        "recall": recall,
        "f1": f1(precision, recall),
        "found": found,
        "false_positives": false_pos,
    }


def misses(truth: Truth, found: dict[int, set[tuple[int, int]]]) -> list[tuple[int, int, int]]:
    """True pairs not proposed, as (person, n1, n2)."""
    out = []
    for person, group in truth.groups.items():
        ns = sorted(n for n, _kinds in group)
        got = found.get(person, set())
        for n1, n2 in combinations(ns, 2):
            if (n1, n2) not in got:
                out.append((person, n1, n2))
    return out


def by_variation(truth: Truth, found, missed) -> dict[str, list[int]]:
    """variation -> [true pairs, found] (a pair counts under each of its variations)."""
    table = {k: [0, 0] for k in VARIATIONS}
    missed_set = {(p, a, b) for p, a, b in missed}
    for person, group in truth.groups.items():
        ns = sorted(n for n, _kinds in group)
        for n1, n2 in combinations(ns, 2):
            for kind in truth.pair_kinds(person, n1, n2):
                table[kind][0] += 1
                if (person, n1, n2) not in missed_set:
                    table[kind][1] += 1
    return table


def candidates_from_cli(app, min_score: int = 0) -> list[tuple[str, str, int]]:
    """(external id a, external id b, score) of every pair `crmlite dedup candidates
    --format csv` writes: the truth read back through the command line's CSV."""
    import csv
    import io

    result = app.test_cli_runner().invoke(
        args=["dedup", "candidates", "--min-score", str(min_score), "--format", "csv"]
    )
    if result.exit_code != 0:
        raise RuntimeError(f"crmlite dedup candidates failed: {result.output[-500:]}")
    return [
        (row["contact_a_external_id"], row["contact_b_external_id"], int(row["score"]))
        for row in csv.DictReader(io.StringIO(result.output))
    ]


# --- reading contacts back for the examples --------------------------------------------


def _describe_contacts(session, external_ids: list[str]) -> dict[str, str]:
    """external id -> 'Иванов Иван Иванович | ООО «Ромашка» | Москва | 1980-01-02 | e-mails
    | phones', read in one query per table."""
    from sqlalchemy import select

    from crmlite.models import Contact, ContactEmail, ContactPhone

    if not external_ids:
        return {}
    rows = session.execute(
        select(
            Contact.id,
            Contact.external_id,
            Contact.last_name,
            Contact.first_name,
            Contact.middle_name,
            Contact.company,
            Contact.city,
            Contact.birth_date,
        ).where(Contact.external_id.in_(external_ids))
    ).all()
    ids = [r[0] for r in rows]
    emails, phones = defaultdict(list), defaultdict(list)
    for cid, email in session.execute(
        select(ContactEmail.contact_id, ContactEmail.email).where(ContactEmail.contact_id.in_(ids))
    ):
        emails[cid].append(email)
    for cid, e164 in session.execute(
        select(ContactPhone.contact_id, ContactPhone.e164).where(ContactPhone.contact_id.in_(ids))
    ):
        phones[cid].append(e164)
    out = {}
    for cid, ext, last, first, middle, company, city, born in rows:
        name = " ".join(p for p in (last, first, middle) if p)
        parts = [name, company, city, born.isoformat() if born else ""]
        parts += [", ".join(emails[cid]), ", ".join(phones[cid])]
        out[ext] = " | ".join(p or "-" for p in parts)
    return out


def _names(session, external_ids: list[str]) -> dict[str, tuple[str, str]]:
    from sqlalchemy import select

    from crmlite.core.text import fold
    from crmlite.models import Contact

    out = {}
    for i in range(0, len(external_ids), 5000):
        part = external_ids[i : i + 5000]
        for ext, first, last in session.execute(
            select(Contact.external_id, Contact.first_name, Contact.last_name).where(
                Contact.external_id.in_(part)
            )
        ):
            out[ext] = (fold(first), fold(last))
    return out


# --- one size -------------------------------------------------------------------------


def _fresh_database(url: str | None, size: int) -> str:
    if url:
        return url
    path = HERE / f"dedup-{size}.db"
    return "sqlite:///" + str(path)


def _remove_sqlite(url: str) -> None:
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(path + suffix):
                os.remove(path + suffix)


def _empty(session) -> bool:
    """Delete the bench's contacts; refuse (False) when the database holds other contacts."""
    from sqlalchemy import delete, func, select, text

    from crmlite.extensions import db
    from crmlite.models import Contact

    foreign = session.scalar(
        select(func.count())
        .select_from(Contact)
        .where((Contact.external_id.is_(None)) | (Contact.external_id.not_like("p%-%")))
    )
    if foreign:
        print(f"refusing: the database holds {foreign:,} contacts that are not the bench's")
        return False
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("TRUNCATE contacts RESTART IDENTITY CASCADE"))
    else:
        for table in reversed(db.metadata.sorted_tables):
            if table.name in ("duplicate_pairs", "match_keys", "search_tokens"):
                session.execute(delete(table))
        session.execute(delete(Contact))
    session.commit()
    return True


def run_size(args, size: int) -> dict | None:
    url = _fresh_database(args.database_url, size)
    reuse = args.reuse
    if not args.database_url and not reuse:
        _remove_sqlite(url)
    os.environ["CRMLITE_DATABASE_URL"] = url
    os.environ.setdefault("CRMLITE_INSTANCE_PATH", str(HERE / "instance"))

    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from crmlite.app import create_app
    from crmlite.core import dedup
    from crmlite.extensions import db
    from crmlite.models import Contact

    app = create_app({"WTF_CSRF_ENABLED": False})
    pm = app.extensions.get("crmlite.plugins")
    print(f"\n=== {size:,} contacts (seed {args.seed}) ===")
    with app.app_context():
        print(f"database: {db.engine.url.render_as_string(hide_password=True)}")
        upgrade()
        have = db.session.scalar(select(func.count()).select_from(Contact)) or 0
        started = time.perf_counter()
        if reuse and have == size:
            gen = Generator(args.seed, size)
            for _chunk in gen.chunks():
                pass
            truth = gen.truth
            print(f"reusing the {have:,} contacts already loaded (truth rebuilt)")
        else:
            if have and not _empty(db.session):
                return None
            shown = [0]

            def progress(n: int) -> None:
                shown[0] += n
                if shown[0] % 100_000 < n:
                    print(f"  loaded {shown[0]:,}", flush=True)

            truth = load(db.session, size, seed=args.seed, progress=progress)
            print(f"loaded in {time.perf_counter() - started:.1f} s")
        print(
            f"{truth.contacts:,} contacts of {truth.people:,} people; "
            f"{truth.true_pairs:,} true duplicate pairs; "
            f"{len(truth.household):,} people in families, {len(truth.namesake):,} namesakes"
        )

        started = time.perf_counter()
        stats = dedup.scan(db.session, pm=pm)
        scan_s = time.perf_counter() - started
        extra = ", ".join(f"{k} {v:,}" for k, v in stats.items() if isinstance(v, int))
        print(f"scan: {scan_s:.1f} s ({extra})")

        started = time.perf_counter()
        pairs = candidates_from_cli(app, args.min_score)
        print(
            f"read {len(pairs):,} candidate pairs from `crmlite dedup candidates --format csv`"
            f" in {time.perf_counter() - started:.1f} s"
        )
        result = evaluate(truth, pairs)
        print(
            f"proposed {result['proposed']:,} pairs (score >= {args.min_score}): "
            f"{result['tp']:,} right, {result['fp']:,} false positives, "
            f"{result['fn']:,} missed"
        )
        print(
            f"precision {result['precision']:.4f}  recall {result['recall']:.4f}  "
            f"F1 {result['f1']:.4f}   (aim: F1 >= {TARGET_F1}, precision >= {TARGET_PRECISION})"
        )
        via_third = len(truth.via_third)
        if via_third:
            direct = truth.true_pairs - via_third
            got = result["tp"] - sum(
                1 for person in truth.via_third if (2, 3) in result["found"].get(person, ())
            )
            print(
                f"  recall without the {via_third:,} pairs linked only through a third record: "
                f"{got / direct:.4f}"
            )
        for cut in SWEEP:
            if cut <= args.min_score:
                continue
            r = evaluate(truth, [p for p in pairs if p[2] >= cut])
            print(
                f"  at score >= {cut}: {r['proposed']:,} pairs, precision {r['precision']:.4f}"
                f"  recall {r['recall']:.4f}  F1 {r['f1']:.4f}"
            )

        # Misses by variation.
        missed = misses(truth, result["found"])
        table = by_variation(truth, result["found"], missed)
        print("\nrecall by variation (a pair counts under each of its variations)")
        print(f"  {'variation':16} {'true pairs':>10} {'found':>8} {'missed':>8} {'recall':>8}")
        for kind, (total, got) in table.items():
            if total:
                print(f"  {kind:16} {total:>10,} {got:>8,} {total - got:>8,} {got / total:>8.3f}")
        # False positives by kind.
        fps = result["false_positives"]
        names = _names(db.session, sorted({x for a, b, _s in fps for x in (a, b)}))
        fp_kinds: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
        for a, b, score in fps:
            pa, pb = parse_external_id(a), parse_external_id(b)
            na, nb = names.get(a), names.get(b)
            same = bool(na and nb and (na == nb or na == nb[::-1]))
            kind = truth.negative_kind(pa[0], pb[0], same) if pa and pb else "other"
            fp_kinds[kind].append((a, b, score))
        counts = Counter({k: len(v) for k, v in fp_kinds.items()})
        print("\nfalse positives by kind: " + ", ".join(f"{k} {counts[k]:,}" for k in NEGATIVES))
        same_company = 0
        for a, b, _score in fp_kinds.get("namesake", []):
            pa, pb = parse_external_id(a)[0], parse_external_id(b)[0]
            ca = truth.company[pa] if pa < len(truth.company) else 0
            same_company += bool(ca) and ca == (truth.company[pb] if pb < len(truth.company) else 0)
        if same_company:
            print(f"  (namesakes who also work for one company: {same_company:,})")

        if args.examples:
            _examples(db.session, truth, missed, fp_kinds, args.examples)
        db.session.remove()
    return {
        "size": size,
        "contacts": truth.contacts,
        "true_pairs": truth.true_pairs,
        "proposed": result["proposed"],
        "precision": result["precision"],
        "recall": result["recall"],
        "f1": result["f1"],
        "scan_s": scan_s,
    }


def _examples(session, truth: Truth, missed, fp_kinds, n: int) -> None:
    from sqlalchemy import select

    from crmlite.core.dedup_reasons import describe_all
    from crmlite.models import Contact
    from crmlite.models.duplicate import DuplicatePair

    per_kind: dict[str, list[tuple[str, str, tuple]]] = defaultdict(list)
    for person, n1, n2 in missed:
        kinds = truth.pair_kinds(person, n1, n2)
        for kind in kinds:
            if len(per_kind[kind]) < n:
                per_kind[kind].append((f"p{person}-{n1}", f"p{person}-{n2}", kinds))
                break
    fp_examples = {k: v[:n] for k, v in fp_kinds.items()}
    wanted = {x for v in per_kind.values() for a, b, _k in v for x in (a, b)}
    wanted |= {x for v in fp_examples.values() for a, b, _s in v for x in (a, b)}
    shown = _describe_contacts(session, sorted(wanted))
    if per_kind:
        print("\nmissed pairs, a few per variation:")
    for kind in VARIATIONS:
        for a, b, kinds in per_kind.get(kind, []):
            print(f"  [{', '.join(kinds)}]")
            print(f"    {a}: {shown.get(a, '?')}")
            print(f"    {b}: {shown.get(b, '?')}")
    if fp_examples:
        print("\nfalse positives, a few per kind:")
        ids = {}
        for ext, cid in session.execute(
            select(Contact.external_id, Contact.id).where(Contact.external_id.in_(sorted(wanted)))
        ):
            ids[ext] = cid
        for kind in NEGATIVES:
            for a, b, score in fp_examples.get(kind, []):
                lo, hi = sorted((ids.get(a, 0), ids.get(b, 0)))
                reasons = session.scalar(
                    select(DuplicatePair.reasons).where(
                        DuplicatePair.contact_a_id == lo, DuplicatePair.contact_b_id == hi
                    )
                )
                print(f"  [{kind}] score {score}: {describe_all(reasons or [])}")
                print(f"    {a}: {shown.get(a, '?')}")
                print(f"    {b}: {shown.get(b, '?')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="10000,100000",
        help="contacts per run, comma-separated (default 10000,100000; 1000000 on request)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--database-url",
        help="a database of its own (emptied of the bench's contacts first); "
        "default: a fresh SQLite file bench/dedup-<size>.db per size",
    )
    parser.add_argument("--min-score", type=int, default=0, help="count pairs from this score")
    parser.add_argument("--examples", type=int, default=3, help="examples per category")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the contacts already loaded when their count matches (faster reruns)",
    )
    args = parser.parse_args()
    results = []
    for size in [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]:
        try:
            result = run_size(args, size)
        except Exception as exc:  # a bench reports and goes on; it is not a test
            import traceback

            traceback.print_exc()
            print(f"size {size:,} failed: {exc}")
            result = None
        if result:
            results.append(result)
    if results:
        print("\nsummary")
        print(
            f"  {'contacts':>10} {'true pairs':>10} {'proposed':>9} {'precision':>9} "
            f"{'recall':>7} {'F1':>7} {'scan s':>8}"
        )
        for r in results:
            print(
                f"  {r['contacts']:>10,} {r['true_pairs']:>10,} {r['proposed']:>9,} "
                f"{r['precision']:>9.4f} {r['recall']:>7.4f} {r['f1']:>7.4f} {r['scan_s']:>8.1f}"
            )
    sys.exit(0)


if __name__ == "__main__":
    main()
