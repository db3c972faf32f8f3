"""Server time of the review queue at 1,000,000 contacts: each reason's count and first keyset
page (all owners, and one owner), a page deep in the list, the progress per owner, and
revalidate() over every stored e-mail and phone.

    CRMLITE_DATABASE_URL=sqlite:////tmp/big.db .venv/bin/python bench/review.py [--runs 3]

Point it at a database filled by `crmlite demo --contacts 1000000`. The first run spreads
review data over the demo contacts with a few set-based UPDATEs (a third never verified, the
rest verified over the last 18 months; 0.5 % of e-mails and phones invalid; consents granted
over the last 3 years), remembered in a marker table so later runs reuse it. Median and max
of --runs runs after one warm-up, in milliseconds. Not a test: it prints figures, never fails.
"""

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench.timing import timed  # noqa: E402


def _prepare(db) -> None:
    from sqlalchemy import text

    conn = db.session.connection()
    # Five owners, if the demo made none.
    if not conn.execute(text("SELECT count(*) FROM contacts WHERE owner_id IS NOT NULL")).scalar():
        from crmlite.core.users import create_user

        ids = [
            create_user(db.session, f"owner{i}@example.com", "bench-password-1", "editor").id
            for i in range(5)
        ]
        for i, user_id in enumerate(ids):
            conn.execute(
                text("UPDATE contacts SET owner_id = :u WHERE id % 5 = :i"), {"u": user_id, "i": i}
            )
        db.session.commit()
        conn = db.session.connection()
    conn.execute(text("CREATE TABLE IF NOT EXISTS bench_review_marker (done INTEGER)"))
    if conn.execute(text("SELECT count(*) FROM bench_review_marker")).scalar():
        return
    started = time.perf_counter()
    pg = db.engine.dialect.name == "postgresql"
    # Verified on a day spread over the last 540 days, for two contacts in three.
    if pg:
        when = "now() - ((id % 540) || ' days')::interval"
        consent_when = "now() - ((contact_id % 1100) || ' days')::interval"
    else:
        when = "datetime('now', '-' || (id % 540) || ' days')"
        consent_when = "datetime('now', '-' || (contact_id % 1100) || ' days')"
    conn.execute(text(f"UPDATE contacts SET last_verified_at = {when} WHERE id % 3 <> 0"))
    conn.execute(text("UPDATE contact_emails SET is_valid = false WHERE id % 200 = 7"))
    conn.execute(text("UPDATE contact_phones SET is_valid = false WHERE id % 200 = 11"))
    conn.execute(
        text(
            "INSERT INTO contact_consents (contact_id, channel, purpose, status, source, "
            "wording_version, recorded_at) SELECT id, 'email', 'marketing', 'granted', "
            f"'bench', '', {consent_when.replace('contact_id', 'id')} FROM contacts "
            "WHERE id % 4 = 1"
        )
    )
    conn.execute(text("INSERT INTO bench_review_marker VALUES (1)"))
    db.session.commit()
    if not pg:
        db.session.execute(text("ANALYZE"))
        db.session.commit()
    print(f"prepared review data in {time.perf_counter() - started:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-revalidate", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("CRMLITE_INSTANCE_PATH", str(HERE / "instance"))
    if not os.environ.get("CRMLITE_DATABASE_URL"):
        sys.exit("Set CRMLITE_DATABASE_URL to a database filled by crmlite demo.")

    from sqlalchemy import func, select

    from crmlite.app import create_app
    from crmlite.core import review
    from crmlite.extensions import db
    from crmlite.models import Contact

    app = create_app()
    with app.app_context():
        _prepare(db)
        s = db.session
        total = s.scalar(select(func.count()).select_from(Contact))
        owner = s.scalar(select(Contact.owner_id).where(Contact.owner_id.is_not(None)).limit(1))
        conf = review.settings(s)
        print(
            f"{total:,} contacts ({db.engine.dialect.name}); owner for per-owner figures: #{owner}"
        )
        print(f"{'what':44} {'median ms':>10} {'max ms':>10} {'result':>10}")

        def show(label, fn):
            median, worst, result = timed(fn, args.runs)
            print(f"{label:44} {median:10.1f} {worst:10.1f} {result!s:>10}")
            return result

        for reason in review.REASONS:
            show(f"count {reason}", lambda r=reason: review.count(s, r, conf))
            show(f"count {reason}, one owner", lambda r=reason: review.count(s, r, conf, owner))
            first = show(
                f"first page {reason}",
                lambda r=reason: len(review.page(s, r, conf).contacts),
            )
            show(
                f"first page {reason}, one owner",
                lambda r=reason: len(review.page(s, r, conf, owner_id=owner).contacts),
            )
            if first:
                cursor = review.page(s, reason, conf, limit=2000).next_cursor
                show(
                    f"page after 2,000 rows {reason}",
                    lambda r=reason, c=cursor: len(review.page(s, r, conf, c).contacts),
                )
            s.expunge_all()
        show("progress per owner", lambda: len(review.progress(s, conf)[1]))
        show("counts per owner (the audit)", lambda: len(review.counts_by_owner(s, conf)))
        if not args.no_revalidate:
            started = time.perf_counter()
            result = review.revalidate(s)
            s.rollback()  # measure only; keep the prepared flags
            print(f"revalidate: {time.perf_counter() - started:.1f} s for {result}")


if __name__ == "__main__":
    main()
