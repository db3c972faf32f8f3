"""The scheduled data review audit (crmlite/core/audit.py): `crmlite audit run` re-checks
e-mails and phones, gives each owner one open review reminder, sends digests through the
configured sender, and the worker runs it weekly as a huey periodic task."""

from datetime import datetime, timedelta

import pytest

from crmlite import jobs
from crmlite.core import review
from crmlite.core.plugin_settings import save_settings
from crmlite.extensions import db
from crmlite.models import Contact, ContactEmail, ContactPhone, Job, OutboxMessage, Reminder
from crmlite.models.types import utcnow


@pytest.fixture
def base(app, users):
    """The editor owns 3 contacts that need review, the admin 1, the viewer 1 (viewers get
    no reminders); one verified contact of the editor needs nothing."""
    with app.app_context():
        now = utcnow()
        rows = [
            Contact(first_name="A", owner_id=users["editor"]),  # never verified
            Contact(first_name="B", owner_id=users["editor"], last_verified_at=now),
            Contact(
                first_name="C",
                owner_id=users["editor"],
                last_verified_at=now - timedelta(days=400),
            ),
            Contact(first_name="D", owner_id=users["admin"]),
            Contact(first_name="E", owner_id=users["viewer"]),
            Contact(first_name="Ok", owner_id=users["editor"], last_verified_at=now),
        ]
        rows[0].emails = [ContactEmail(email="a@example.com")]
        # Stored valid by an older rule: today's check finds it is not a real number.
        rows[1].phones = [ContactPhone(e164="+7000")]
        rows[1].emails = [ContactEmail(email="b@example.com")]
        rows[5].emails = [ContactEmail(email="ok@example.com")]
        for c in rows[2:5]:
            c.emails = [ContactEmail(email=f"{c.first_name.lower()}@example.com")]
        db.session.add_all(rows)
        db.session.commit()
        db.session.remove()
    return users


def _open_reviews(app):
    with app.app_context():
        rows = db.session.query(Reminder).filter_by(kind="review", done_at=None).all()
        return {r.assignee_id: r.note for r in rows}


def test_audit_run_reminds_each_owner_once(app, base):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["audit", "run"])
    assert result.exit_code == 0, result.output
    assert "1 invalid" in result.output  # the phone +7000
    assert "editor@example.com" in result.output and "Review reminders: 2 created" in result.output
    reminders = _open_reviews(app)
    # B's phone failed the check, so B joins A and C: 3 for the editor; 1 for the admin.
    assert reminders == {
        base["editor"]: "3 contacts need review",
        base["admin"]: "1 contact needs review",
    }
    with app.app_context():
        assert db.session.query(ContactPhone).one().is_valid is False
        r = db.session.query(Reminder).filter_by(assignee_id=base["editor"]).one()
        assert r.contact_id is None and r.due_on == utcnow().date()

    # Run again after the admin's contact was verified: the editor's reminder is reused, the
    # admin's closed; nothing piles up.
    with app.app_context():
        d = db.session.query(Contact).filter_by(first_name="D").one()
        review.mark_verified(db.session, [d.id], base["admin"])
        db.session.commit()
    again = runner.invoke(args=["audit", "run", "--no-revalidate"])
    assert again.exit_code == 0, again.output
    assert "0 created, 1 updated, 1 closed" in again.output
    assert _open_reviews(app) == {base["editor"]: "3 contacts need review"}
    with app.app_context():
        assert db.session.query(Reminder).count() == 2


def test_audit_sends_a_digest_through_the_configured_sender(app, base):
    app.config["BASE_URL"] = "https://crm.example.com"
    try:
        with app.app_context():
            save_settings(db.session, review.PLUGIN, {"digest_sender": "outbox"})
            db.session.commit()
        result = app.test_cli_runner().invoke(args=["audit", "run"])
    finally:
        app.config["BASE_URL"] = None
    assert result.exit_code == 0, result.output
    assert "Digests sent: 2." in result.output
    with app.app_context():
        mails = {m.to_address: m for m in db.session.query(OutboxMessage)}
    assert set(mails) == {"editor@example.com", "admin@example.com"}
    editor = mails["editor@example.com"]
    assert editor.subject == "3 contacts need review"
    assert "Never verified: 1" in editor.body and "Invalid e-mail or phone: 1" in editor.body
    assert f"https://crm.example.com/review?owner={base['editor']}" in editor.body


def test_a_digest_sender_that_does_not_exist_is_reported(app, base):
    with app.app_context():
        save_settings(db.session, review.PLUGIN, {"digest_sender": "carrier-pigeon"})
        db.session.commit()
    result = app.test_cli_runner().invoke(args=["audit", "run", "--no-revalidate"])
    assert result.exit_code == 0
    assert "Digest not sent: editor@example.com: There is no sender" in result.output
    assert len(_open_reviews(app)) == 2  # the reminders are made all the same


def _due_at(huey, when: datetime) -> bool:
    # What the worker's scheduler asks every minute (the consumer runs periodic tasks).
    return "crmlite.periodic_audit" in [t.name for t in huey.read_periodic(when)]


def test_the_periodic_task_follows_the_configured_schedule(app, base):
    huey = jobs.make_huey(app)
    monday_six = datetime(2026, 11, 23, 6, 0)  # a Monday
    assert _due_at(huey, monday_six)
    assert not _due_at(huey, monday_six + timedelta(hours=1))
    assert not _due_at(huey, monday_six + timedelta(days=1))

    with app.app_context():
        save_settings(db.session, review.PLUGIN, {"audit_weekday": "2", "audit_hour": "18"})
        db.session.commit()
    huey = jobs.make_huey(app)
    assert _due_at(huey, datetime(2026, 11, 25, 18, 0))  # Wednesday 18:00
    assert not _due_at(huey, monday_six)


def test_the_periodic_task_queues_an_audit_job(app, base, editor_client):
    task = jobs.make_huey(app).crmlite_periodic_audit
    task.call_local()  # what the worker's scheduler does at the scheduled minute
    with app.app_context():
        job = db.session.query(Job).filter_by(kind="audit").one()
        assert job.status == "done", job.error
        assert job.result["reminders_created"] == 2
        assert job.done == job.total == 7  # 6 e-mails and 1 phone checked: the progress bar
        job_id = job.id
    page = editor_client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "Data review audit" in page
    assert len(_open_reviews(app)) == 2


def test_a_switched_off_schedule_queues_nothing(app, base):
    with app.app_context():
        save_settings(db.session, review.PLUGIN, {"audit_enabled": False})
        db.session.commit()
    jobs.make_huey(app).crmlite_periodic_audit.call_local()
    with app.app_context():
        assert db.session.query(Job).count() == 0
    assert _open_reviews(app) == {}
