"""Server time of reminders at scale: the overdue count in the navigation, "My reminders"
and the contact page panel, with 1,000,000 reminders over 20 users.

    .venv/bin/python bench/reminders.py [--reminders N] [--users 20] [--runs 5]

Uses CRMLITE_DATABASE_URL when set, else bench/reminders.db (SQLite, made once and reused).
Reminders are spread over the users, due from a year ago to a year ahead, a third of them
done; 1 in 5 belongs to one of 10,000 contacts. Times core.reminders.overdue_count (one
COUNT per page view), core.reminders.mine (the four sections), one "Show more" page and
core.reminders.for_contact, plus the /reminders page through the Flask test client.
Median and max of --runs runs after one warm-up, in milliseconds. Prints, never fails.
"""

import argparse
import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.timing import timed  # noqa: E402

PASSWORD = "bench-password-1"
CONTACTS = 10_000
CHUNK = 20_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reminders", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("CRMLITE_INSTANCE_PATH", str(HERE / "instance"))
    os.environ.setdefault("CRMLITE_DATABASE_URL", "sqlite:///" + str(HERE / "reminders.db"))

    from flask_migrate import upgrade
    from sqlalchemy import func, insert, select

    from crmlite.app import create_app
    from crmlite.core import reminders
    from crmlite.core.users import create_user, find_by_email
    from crmlite.extensions import db
    from crmlite.models import Contact, Reminder
    from crmlite.models.types import utcnow

    app = create_app({"WTF_CSRF_ENABLED": False, "SECRET_KEY": "bench"})
    today = reminders.today()
    with app.app_context():
        upgrade()
        user_ids = []
        for i in range(args.users):
            email = f"bench-user-{i}@example.com"
            user = find_by_email(db.session, email) or create_user(
                db.session, email, PASSWORD, "editor", f"User {i}"
            )
            user_ids.append(user.id)
        db.session.commit()
        have = db.session.scalar(select(func.count()).select_from(Reminder))
        if have < args.reminders:
            started = time.perf_counter()
            contact_ids = list(db.session.scalars(select(Contact.id).limit(CONTACTS)))
            if len(contact_ids) < CONTACTS:
                rows = [
                    {"first_name": f"Bench {i}", "last_name": "Contact"}
                    for i in range(CONTACTS - len(contact_ids))
                ]
                db.session.execute(insert(Contact), rows)
                db.session.commit()
                contact_ids = list(db.session.scalars(select(Contact.id).limit(CONTACTS)))
            rnd = random.Random(5)
            now = utcnow()
            todo = args.reminders - have
            for start in range(0, todo, CHUNK):
                batch = []
                for _ in range(min(CHUNK, todo - start)):
                    batch.append(
                        {
                            "assignee_id": rnd.choice(user_ids),
                            "contact_id": rnd.choice(contact_ids) if rnd.random() < 0.2 else None,
                            "kind": "follow_up",
                            "due_on": today + timedelta(days=rnd.randint(-365, 365)),
                            "note": "bench",
                            "done_at": now - timedelta(days=rnd.randint(0, 60))
                            if rnd.random() < 0.33
                            else None,
                            "snooze_count": 0,
                            "created_at": now,
                        }
                    )
                db.session.execute(insert(Reminder), batch)
                db.session.commit()
            if db.engine.dialect.name == "sqlite":
                db.session.execute(db.text("ANALYZE"))
            else:
                db.session.execute(db.text("ANALYZE reminders"))
            db.session.commit()
            print(f"loaded {todo:,} reminders in {time.perf_counter() - started:.1f} s")
        total = db.session.scalar(select(func.count()).select_from(Reminder))
        me = user_ids[0]
        mine_open = db.session.scalar(
            select(func.count())
            .select_from(Reminder)
            .where(Reminder.assignee_id == me, Reminder.done_at.is_(None))
        )
        busiest = db.session.execute(
            select(Reminder.contact_id, func.count())
            .where(Reminder.contact_id.is_not(None))
            .group_by(Reminder.contact_id)
            .order_by(func.count().desc())
            .limit(1)
        ).first()
        print(
            f"{db.engine.dialect.name}: {total:,} reminders, {args.users} users; "
            f"user 1 has {mine_open:,} open"
        )

        def show(label, fn):
            med, worst, result = timed(fn, args.runs)
            print(f"  {label:<44} median {med:8.1f} ms   max {worst:8.1f} ms   -> {result}")

        show("overdue_count (navigation badge)", lambda: reminders.overdue_count(db.session, me))
        show(
            "mine (overdue, today, upcoming, done)",
            lambda: len(reminders.mine(db.session, me).upcoming),
        )
        cursor = reminders.mine(db.session, me).upcoming_next
        show(
            "upcoming: next page by keyset",
            lambda: len(reminders.upcoming(db.session, me, after=cursor)[0]),
        )
        show(
            f"for_contact (busiest, {busiest[1]} reminders)",
            lambda: len(reminders.for_contact(db.session, busiest[0])),
        )
        db.session.remove()

    client = app.test_client()
    client.post("/login", data={"email": "bench-user-0@example.com", "password": PASSWORD})
    show_page = lambda: client.get("/reminders").status_code  # noqa: E731
    med, worst, status = timed(show_page, args.runs)
    print(
        f"  {'GET /reminders (page)':<44} median {med:8.1f} ms   max {worst:8.1f} ms   -> {status}"
    )


if __name__ == "__main__":
    main()
