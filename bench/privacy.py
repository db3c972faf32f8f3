"""Server time of a privacy export and an erasure in a large base.

    .venv/bin/python bench/privacy.py [--contacts N] [--events 2000] [--erase 20]

Uses CRMLITE_DATABASE_URL when set, else bench/privacy.db (SQLite). Loads N demo contacts
with their chronicle once (reused on later runs), gives one contact --events interactions
and as many history entries, then times, as a logged-in admin through the Flask test
client: the ZIP export of that contact, its erasure (POST of the confirmation form), and
--erase more erasures of ordinary demo contacts (median and max), then the archived list
page and a search, which must not show erased contacts. Not a test: it prints figures and
never fails.
"""

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

ADMIN = "bench-admin@example.com"
PASSWORD = "bench-password-1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--erase", type=int, default=20)
    args = parser.parse_args()
    os.environ.setdefault("CRMLITE_INSTANCE_PATH", str(HERE / "instance"))
    os.environ.setdefault("CRMLITE_DATABASE_URL", "sqlite:///" + str(HERE / "privacy.db"))

    from flask_migrate import upgrade
    from sqlalchemy import func, insert, select

    from crmlite.app import create_app
    from crmlite.core.contacts import create_contact, validate
    from crmlite.core.demo import generate
    from crmlite.core.users import create_user, find_by_email
    from crmlite.extensions import db
    from crmlite.models import Contact, ContactHistory, Interaction
    from crmlite.models.types import utcnow

    app = create_app({"WTF_CSRF_ENABLED": False})
    with app.app_context():
        print(f"database: {db.engine.url.render_as_string(hide_password=True)}")
        upgrade()
        if find_by_email(db.session, ADMIN) is None:
            create_user(db.session, ADMIN, PASSWORD, "admin", "Bench Admin")
            db.session.commit()
        have = db.session.scalar(select(func.count()).select_from(Contact)) or 0
        if have < args.contacts:
            print(f"loading {args.contacts - have:,} demo contacts with their chronicle ...")
            started = time.perf_counter()
            generate(db.session, args.contacts - have, seed=1, interactions_per_contact=2)
            print(f"loaded in {time.perf_counter() - started:.1f} s")
        raw = {"first_name": "Бенч", "last_name": "Приватов", "emails": ["bench@privacy-bench.ru"]}
        big = create_contact(db.session, validate(raw), None)
        now = utcnow()
        kinds = ("note", "call", "purchase", "meeting")
        db.session.execute(
            insert(Interaction),
            [
                {
                    "contact_id": big.id,
                    "kind": kinds[i % 4],
                    "occurred_at": now - timedelta(hours=i),
                    "text": f"event {i}",
                    "amount_minor": 1000 + i if i % 4 == 2 else None,
                    "currency": "RUB" if i % 4 == 2 else None,
                    "data": {},
                }
                for i in range(args.events)
            ],
        )
        db.session.execute(
            insert(ContactHistory),
            [
                {
                    "contact_id": big.id,
                    "action": "update",
                    "at": now,
                    "changes": {"city": [f"A{i}", f"B{i}"]},
                }
                for i in range(args.events)
            ],
        )
        db.session.commit()
        big_id = big.id
        victims = list(
            db.session.scalars(
                select(Contact.id)
                .where(Contact.erased_at.is_(None), Contact.first_name != "")
                .order_by(Contact.id.desc())
                .offset(1)
                .limit(args.erase)
            )
        )
        contacts = db.session.scalar(select(func.count()).select_from(Contact))
        events = db.session.scalar(select(func.count()).select_from(Interaction))
        names = {
            c.id: c.full_name
            for c in db.session.scalars(select(Contact).where(Contact.id.in_([big_id, *victims])))
        }
        db.session.remove()
    print(f"{contacts:,} contacts, {events:,} interactions; server time in ms\n")

    client = app.test_client()
    assert client.post("/login", data={"email": ADMIN, "password": PASSWORD}).status_code == 302

    def timed(method, path, **kw):
        started = time.perf_counter()
        resp = getattr(client, method)(path, **kw)
        ms = (time.perf_counter() - started) * 1000
        assert resp.status_code in (200, 302), (path, resp.status_code)
        return ms, resp

    ms, resp = timed("post", f"/contacts/{big_id}/privacy/export")
    print(
        f"export of a contact with {args.events:,} interactions and {args.events:,} history "
        f"entries: {ms:.0f} ms, {len(resp.data) / 1024:.0f} KiB ZIP"
    )
    form = {"reason": "bench", "confirm_name": names[big_id]}
    ms, _resp = timed("post", f"/contacts/{big_id}/privacy/erase", data=form)
    print(f"erasure of that contact: {ms:.0f} ms")
    times = []
    for cid in victims:
        form = {"reason": "bench", "confirm_name": names[cid]}
        ms, _resp = timed("post", f"/contacts/{cid}/privacy/erase", data=form)
        times.append(ms)
    if times:
        print(
            f"erasure of {len(times)} demo contacts: median {statistics.median(times):.0f} ms, "
            f"max {max(times):.0f} ms"
        )
    for path in ("/?archived=1", "/?q=Приватов", "/?q=иван"):
        ms, resp = timed("get", path)
        shown = f'href="/contacts/{big_id}"' in resp.get_data(as_text=True)
        print(f"GET {path}: {ms:.0f} ms (erased contact shown: {shown})")


if __name__ == "__main__":
    main()
