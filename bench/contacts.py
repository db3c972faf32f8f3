"""Server time of the contact list, search, filters and a bulk tag at 1,000,000 contacts.

    .venv/bin/python bench/contacts.py [--contacts N] [--runs 7] [--explain]

Uses CRMLITE_DATABASE_URL when set, else bench/bench.db (SQLite). Loads the demo contacts
once (reused on later runs), then times requests through the Flask test client as a
logged-in admin: median and max of --runs runs after one warm-up, in milliseconds.
Not a test: it prints figures and never fails on them.
"""

import argparse
import os
import re
import sys
import time
from html import unescape
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.timing import timed  # noqa: E402

ADMIN = "bench-admin@example.com"
PASSWORD = "bench-password-1"
TARGET_MS = 50
BULK_TARGET_S = 5


def _setup_env() -> None:
    os.environ.setdefault("CRMLITE_INSTANCE_PATH", str(HERE / "instance"))
    os.environ.setdefault("CRMLITE_DATABASE_URL", "sqlite:///" + str(HERE / "bench.db"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--explain", action="store_true", help="print the query plans too")
    args = parser.parse_args()
    _setup_env()

    from flask_migrate import upgrade
    from sqlalchemy import func, select, text

    from crmlite.app import create_app
    from crmlite.core import listing
    from crmlite.core.demo import generate
    from crmlite.core.users import create_user, find_by_email
    from crmlite.extensions import db
    from crmlite.models import Contact, ContactEmail, ContactPhone, Tag

    app = create_app({"WTF_CSRF_ENABLED": False})
    with app.app_context():
        url = db.engine.url.render_as_string(hide_password=True)
        print(f"database: {url}")
        upgrade()
        if find_by_email(db.session, ADMIN) is None:
            create_user(db.session, ADMIN, PASSWORD, "admin", "Bench Admin")
            db.session.commit()
        have = db.session.scalar(select(func.count()).select_from(Contact)) or 0
        if have < args.contacts:
            print(f"loading {args.contacts - have:,} demo contacts (have {have:,}) ...")
            started = time.perf_counter()
            generate(db.session, args.contacts - have, seed=1)
            print(f"loaded in {time.perf_counter() - started:.1f} s")
        total = db.session.scalar(select(func.count()).select_from(Contact))
        # Real values to search for, taken from the data.
        sample = db.session.scalar(
            select(Contact).where(Contact.middle_name != "", Contact.id > total // 2).limit(1)
        )
        email = db.session.scalar(
            select(ContactEmail.email).where(ContactEmail.id > total // 3).limit(1)
        )
        phone = db.session.scalar(
            select(ContactPhone.e164)
            .where(ContactPhone.e164.like("+79%"), ContactPhone.id > total // 4)
            .limit(1)
        )
        newsletter = db.session.scalar(select(Tag.id).where(Tag.name_key == "рассылка"))
        db.session.remove()

    digits = phone[2:]
    national = f"8 {digits[:3]} {digits[3:6]}-{digits[6:8]}-{digits[8:]}"
    queries = [
        ("list page", {}),
        ("search: name prefix", {"q": "иван"}),
        ("search: full name, reversed", {"q": f"{sample.first_name} {sample.last_name}"}),
        ("search: e-mail", {"q": email}),
        ("search: phone 8 9xx ...", {"q": national}),
        ("search: company", {"q": "ромашка"}),
        ("filter: stage + tag", {"stage": "customer", "tag": newsletter}),
        ("filter: owner none + hot", {"owner": "none", "temperature": "hot"}),
        ("sort: newest", {"sort": "newest"}),
    ]

    client = app.test_client()
    resp = client.post("/login", data={"email": ADMIN, "password": PASSWORD})
    assert resp.status_code == 302, "login failed"

    print(f"\n{total:,} contacts; {args.runs} runs each after a warm-up; server time in ms\n")
    print(f"{'request':34} {'matches':>9} {'median':>8} {'max':>8}  url")
    rows = []
    with app.app_context():
        for label, params in queries:
            params = {k: v for k, v in params.items() if v is not None}
            flt = listing.ContactFilter.from_args(params)
            matches = listing.count(db.session, flt)
            db.session.remove()
            query = "&".join(f"{k}={v}" for k, v in params.items())
            path = "/" + (f"?{query}" if query else "")
            median, worst, resp = timed(lambda p=path: client.get(p), args.runs)
            assert resp.status_code == 200, (path, resp.status_code)
            rows.append((label, matches, median, worst, path))
            print(f"{label:34} {matches:>9,} {median:>8.1f} {worst:>8.1f}  {path}")
            if label == "list page":
                link = re.search(r'href="(/\?[^"]*after=[^"]+)"', resp.get_data(as_text=True))
                if link:
                    nxt = unescape(link.group(1))
                    median, worst, resp = timed(lambda p=nxt: client.get(p), args.runs)
                    rows.append(("list: next page (cursor)", matches, median, worst, nxt))
                    print(
                        f"{'list: next page (cursor)':34} {matches:>9,} {median:>8.1f}"
                        f" {worst:>8.1f}  {nxt[:60]}"
                    )

        # Bulk tag of every contact matching a filter of about 100k contacts.
        bulk_filter = {"stage": "former"}
        flt = listing.ContactFilter.from_args(bulk_filter)
        matches = listing.count(db.session, flt)
        db.session.remove()
    tag_name = f"bench {time.strftime('%Y%m%d-%H%M%S')}"
    started = time.perf_counter()
    resp = client.post(
        "/contacts/bulk",
        data={"action": "add_tag", "all": "1", "tag_name": tag_name, **bulk_filter},
    )
    bulk_s = time.perf_counter() - started
    assert resp.status_code in (200, 302), resp.status_code
    with app.app_context():
        tag_id = db.session.scalar(select(Tag.id).where(Tag.name == tag_name))
        tagged = db.session.scalar(
            text("SELECT count(*) FROM contact_tags WHERE tag_id = :t"), {"t": tag_id}
        )
        db.session.remove()
    print(f"\nbulk tag of all matching stage=former: {tagged:,} of {matches:,} contacts tagged")
    print(f"  in {bulk_s:.2f} s (target < {BULK_TARGET_S} s)")

    slow = [r for r in rows if r[2] >= TARGET_MS]
    print(
        f"\nlist and searches: {len(rows) - len(slow)} of {len(rows)} under {TARGET_MS} ms"
        " (median)" + (": slow: " + ", ".join(r[0] for r in slow) if slow else "")
    )

    if args.explain:
        _explain(app, queries)


def _explain(app, queries) -> None:
    from crmlite.core import listing
    from crmlite.extensions import db
    from crmlite.models import Contact

    with app.app_context():
        dialect = db.engine.dialect
        for label, params in queries:
            params = {k: v for k, v in params.items() if v is not None}
            flt = listing.ContactFilter.from_args(params)
            column, desc = listing.SORTS[flt.sort]
            from sqlalchemy import select

            stmt = (
                select(Contact.id)
                .where(*listing.conditions(flt))
                .order_by(column.desc() if desc else column, Contact.id)
                .limit(51)
            )
            sql = str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
            prefix = "EXPLAIN QUERY PLAN " if dialect.name == "sqlite" else "EXPLAIN ANALYZE "
            print(f"\n== {label}\n{sql}")
            for row in db.session.execute(db.text(prefix + sql)):
                print("   ", row[-1])
            db.session.remove()


if __name__ == "__main__":
    main()
