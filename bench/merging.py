"""Server time of the duplicate review: the queue page over many open pairs, one merge and
its undo of contacts with many rows, and a bulk merge with its batch undo.

    .venv/bin/python bench/merging.py [--pairs 100000] [--rows 5000] [--groups 1000] [--runs 5]

Uses CRMLITE_DATABASE_URL when set, else bench/merging.db (SQLite, made fresh each run).
--pairs open pairs link 2 x pairs contacts (scores 50..99). The merge moves --rows
interactions and --rows/10 history entries per contact; the bulk merge merges --groups
groups of 2 at score 100. Median and max of --runs runs after one warm-up, in ms.
Prints, never fails.
"""

import argparse
import os
import random
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.timing import timed  # noqa: E402

PASSWORD = "bench-password-1"
CHUNK = 20_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=5_000)
    parser.add_argument("--groups", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("CRMLITE_INSTANCE_PATH", str(HERE / "instance"))
    if "CRMLITE_DATABASE_URL" not in os.environ:
        path = HERE / "merging.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        os.environ["CRMLITE_DATABASE_URL"] = "sqlite:///" + str(path)

    from flask_migrate import upgrade
    from sqlalchemy import func, insert, select, text

    from crmlite.app import create_app
    from crmlite.core import merging
    from crmlite.core.interactions import refresh_stats
    from crmlite.core.users import create_user
    from crmlite.extensions import db
    from crmlite.models import Contact, ContactHistory, DuplicatePair, Interaction
    from crmlite.models.types import utcnow

    app = create_app({"WTF_CSRF_ENABLED": False, "SECRET_KEY": "bench"})
    rng = random.Random(1)
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            with db.engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        upgrade()
        user = create_user(db.session, "bench-admin@example.com", PASSWORD, "admin", "Bench")
        db.session.commit()
        uid = user.id
        now = utcnow()

        def contacts(n: int, prefix: str) -> list[int]:
            first = (db.session.scalar(select(func.max(Contact.id))) or 0) + 1
            for start in range(0, n, CHUNK):
                rows = [
                    {
                        "id": first + i,
                        "first_name": f"{prefix}{i}",
                        "last_name": "Bench",
                        "sort_name": f"bench {prefix}{i}",
                        "custom": {},
                        "created_at": now,
                        "updated_at": now,
                    }
                    for i in range(start, min(n, start + CHUNK))
                ]
                db.session.execute(insert(Contact), rows)
            return list(range(first, first + n))

        started = time.perf_counter()
        ids = contacts(2 * args.pairs, "p")
        for start in range(0, args.pairs, CHUNK):
            db.session.execute(
                insert(DuplicatePair),
                [
                    {
                        "contact_a_id": ids[2 * i],
                        "contact_b_id": ids[2 * i + 1],
                        "score": rng.randint(50, 99),
                        "reasons": [{"code": "similar_name"}],
                        "status": "open",
                        "found_at": now,
                    }
                    for i in range(start, min(args.pairs, start + CHUNK))
                ],
            )
        db.session.commit()
        print(f"loaded {args.pairs:,} open pairs in {time.perf_counter() - started:.1f} s")
        db.session.execute(text("ANALYZE"))
        db.session.commit()

    client = app.test_client()
    client.post("/login", data={"email": "bench-admin@example.com", "password": PASSWORD})
    first = client.get("/duplicates/").get_data(as_text=True)
    after = first.split("after=", 1)[1].split('"', 1)[0].replace("&amp;", "&")
    print(f"{'request':<40} {'median ms':>10} {'max ms':>10}")
    for label, url in (
        ("queue: first page", "/duplicates/"),
        ("queue: next page (keyset)", f"/duplicates/?after={after}"),
        ("queue: min score 90", "/duplicates/?min_score=90"),
    ):
        median, worst, _ = timed(lambda url=url: client.get(url), args.runs)
        print(f"{label:<40} {median:>10.1f} {worst:>10.1f}")

    with app.app_context():
        a, b = contacts(2, "m")
        for cid in (a, b):
            for start in range(0, args.rows, CHUNK):
                db.session.execute(
                    insert(Interaction),
                    [
                        {
                            "contact_id": cid,
                            "kind": "purchase" if i % 5 == 0 else "note",
                            "occurred_at": now,
                            "text": f"entry {i}",
                            "amount_minor": 1000 if i % 5 == 0 else None,
                            "data": {},
                            "created_at": now,
                            "updated_at": now,
                        }
                        for i in range(start, min(args.rows, start + CHUNK))
                    ],
                )
            db.session.execute(
                insert(ContactHistory),
                [
                    {"contact_id": cid, "action": "update", "changes": {}, "at": now}
                    for _ in range(args.rows // 10)
                ],
            )
        refresh_stats(db.session, [a, b])
        db.session.commit()
        started = time.perf_counter()
        record = merging.merge(db.session, a, [b], None, uid)
        db.session.commit()
        merge_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        merging.undo(db.session, record.id, uid)
        db.session.commit()
        undo_ms = (time.perf_counter() - started) * 1000
        moved = args.rows + args.rows // 10
        print(f"merge, {moved:,} rows moved{'':<17} {merge_ms:>10.1f}")
        print(f"undo of that merge{'':<22} {undo_ms:>10.1f}")

        group_ids = contacts(2 * args.groups, "g")
        db.session.execute(
            insert(DuplicatePair),
            [
                {
                    "contact_a_id": group_ids[2 * i],
                    "contact_b_id": group_ids[2 * i + 1],
                    "score": 100,
                    "reasons": [],
                    "status": "open",
                    "found_at": now,
                }
                for i in range(args.groups)
            ],
        )
        db.session.commit()
        started = time.perf_counter()
        preview = merging.bulk_preview(db.session, 100)
        preview_ms = (time.perf_counter() - started) * 1000
        db.session.rollback()
        started = time.perf_counter()
        batch = merging.bulk_merge(db.session, 100, uid)
        db.session.commit()
        bulk_ms = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        merging.undo_batch(db.session, batch, uid)
        db.session.commit()
        batch_undo_ms = (time.perf_counter() - started) * 1000
        print(f"bulk preview, {len(preview):,} groups{'':<19} {preview_ms:>10.1f}")
        print(f"bulk merge, {len(preview):,} groups{'':<21} {bulk_ms:>10.1f}")
        print(f"batch undo, {len(preview):,} merges{'':<21} {batch_undo_ms:>10.1f}")


if __name__ == "__main__":
    main()
