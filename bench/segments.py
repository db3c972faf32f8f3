"""Server time of the builtin segments, the dashboard and the RFM page at 1,000,000 contacts
and about 5,000,000 interactions.

    .venv/bin/python bench/segments.py [--contacts N] [--runs 5]

Uses CRMLITE_DATABASE_URL when set, else bench/segments.db (SQLite). Loads the demo contacts
with their chronicle once (reused on later runs), then times, as a logged-in admin through
the Flask test client: every builtin segment counted one after another (target: all
together under 2 s), the dashboard's one-pass lifecycle counts, the dashboard page and its
two charts, the RFM page (first with the quintile cut points not yet computed, then
cached), and the first list page of `sleeping` and of an RFM cell. Median and max of --runs
runs after one warm-up, in milliseconds. Not a test: it prints figures and never fails.
"""

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.timing import timed  # noqa: E402

ADMIN = "bench-admin@example.com"
PASSWORD = "bench-password-1"
COUNTS_TARGET_S = 2.0


def _setup_env() -> None:
    os.environ.setdefault("CRMLITE_INSTANCE_PATH", str(HERE / "instance"))
    os.environ.setdefault("CRMLITE_DATABASE_URL", "sqlite:///" + str(HERE / "segments.db"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    _setup_env()

    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from crmlite.app import create_app
    from crmlite.core import dashboard, rfm, segments
    from crmlite.core.demo import generate
    from crmlite.core.users import create_user, find_by_email
    from crmlite.extensions import db
    from crmlite.models import Contact, Interaction

    app = create_app({"WTF_CSRF_ENABLED": False})
    pm = app.extensions["crmlite.plugins"]
    with app.app_context():
        url = db.engine.url.render_as_string(hide_password=True)
        print(f"database: {url}")
        upgrade()
        if find_by_email(db.session, ADMIN) is None:
            create_user(db.session, ADMIN, PASSWORD, "admin", "Bench Admin")
            db.session.commit()
        have = db.session.scalar(select(func.count()).select_from(Contact)) or 0
        if have < args.contacts:
            print(f"loading {args.contacts - have:,} demo contacts with their chronicle ...")
            started = time.perf_counter()
            generate(db.session, args.contacts - have, seed=1, interactions_per_contact=5)
            print(f"loaded in {time.perf_counter() - started:.1f} s")
        contacts = db.session.scalar(select(func.count()).select_from(Contact))
        events = db.session.scalar(select(func.count()).select_from(Interaction))
        db.session.remove()
    print(f"\n{contacts:,} contacts, {events:,} interactions; server time in ms\n")

    builtin = [
        s
        for s in segments.all_segments(pm)
        if type(s).__module__ == "crmlite.builtin.lifecycle_segments"
    ]
    today = date.today()
    with app.test_request_context():
        print(f"{'segment':28} {'contacts':>10} {'ms':>8}")
        started_all = time.perf_counter()
        rfm.clear_cache()
        for segment in builtin:
            started = time.perf_counter()
            n = segments.count(db.session, segment, {}, today)
            ms = (time.perf_counter() - started) * 1000
            print(f"{segment.key:28} {n:>10,} {ms:>8.1f}")
        all_s = time.perf_counter() - started_all
        print(
            f"\nall {len(builtin)} builtin segment counts together: {all_s:.2f} s "
            f"(RFM cut points computed once; target < {COUNTS_TARGET_S} s)"
        )
        median, worst, counts = timed(
            lambda: dashboard.segment_counts(db.session, today), args.runs
        )
        print(f"dashboard lifecycle counts in one pass: median {median:.0f} ms, max {worst:.0f}")
        db.session.remove()

    client = app.test_client()
    resp = client.post("/login", data={"email": ADMIN, "password": PASSWORD})
    assert resp.status_code == 302, "login failed"

    def get(path):
        resp = client.get(path)
        assert resp.status_code == 200, (path, resp.status_code)
        return resp

    rfm.clear_cache()
    started = time.perf_counter()
    get("/rfm")
    cold_ms = (time.perf_counter() - started) * 1000
    requests = [
        ("dashboard page", "/dashboard"),
        ("dashboard: new contacts chart", "/dashboard/contacts"),
        ("dashboard: purchases chart", "/dashboard/purchases"),
        ("RFM page (cut points cached)", "/rfm"),
        ("list: sleeping, first page", "/?segment=sleeping"),
        ("count: sleeping", "/contacts/count?segment=sleeping"),
        ("list: RFM cell R5 F4", "/?segment=rfm&seg_r=5&seg_f=4"),
        ("list: RFM group champions", "/?segment=rfm_group&seg_group=champions"),
        ("list: VIP", "/?segment=vip"),
    ]
    print(f"\n{'request':34} {'median':>8} {'max':>8}  url")
    print(f"{'RFM page (cut points computed)':34} {cold_ms:>8.1f} {cold_ms:>8.1f}  /rfm")
    for label, path in requests:
        median, worst, _resp = timed(lambda p=path: get(p), args.runs)
        print(f"{label:34} {median:>8.1f} {worst:>8.1f}  {path}")


if __name__ == "__main__":
    main()
