"""Follow-up reminders: core (add, done, snooze, reopen, counts, lists) and the web (the
contact page panel and its add form, "My reminders", the overdue badge in the navigation,
done and snooze in place, roles)."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from crmlite.core import reminders
from crmlite.core.users import create_user
from crmlite.extensions import db
from crmlite.models import ContactHistory, Reminder

from .conftest import PASSWORD, login
from .test_contact_page import HX, history_actions, make_contact

TODAY = reminders.today()
YESTERDAY = TODAY - timedelta(days=1)
TOMORROW = TODAY + timedelta(days=1)


def add(app, assignee_id, due_on, contact_id=None, created_by_id=None, **kw) -> int:
    """A reminder made through core, as the review queue or the audit would."""
    with app.app_context():
        reminder = reminders.add(
            db.session,
            assignee_id=assignee_id,
            due_on=due_on,
            contact_id=contact_id,
            created_by_id=created_by_id if created_by_id is not None else assignee_id,
            **kw,
        )
        db.session.commit()
        return reminder.id


def load(app, reminder_id) -> Reminder | None:
    with app.app_context():
        reminder = db.session.get(Reminder, reminder_id)
        if reminder is not None:
            db.session.expunge(reminder)
        return reminder


def count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Reminder))


def nav_badge(html: str) -> str:
    match = re.search(r'<a id="nav-reminders"[^>]*>(.*?)</a>', html, re.S)
    assert match, "no reminders link in the navigation"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip()


def row_of(html: str, reminder_id: int) -> str:
    match = re.search(rf'<(tr|li) id="reminder-{reminder_id}".*?</\1>', html, re.S)
    assert match, f"no row for reminder {reminder_id}"
    return match.group(0)


# -- core ------------------------------------------------------------------------------------


def test_core_add_records_history_and_refuses_bad_values(app, users):
    contact_id = make_contact(app, users["editor"])
    rid = add(app, users["editor"], TOMORROW.isoformat(), contact_id, note=" Call back ")
    reminder = load(app, rid)
    assert reminder.due_on == TOMORROW and reminder.note == "Call back"
    assert reminder.kind == "follow_up" and reminder.done_at is None
    assert history_actions(app, contact_id)[-1] == "reminder_added"

    with app.app_context():
        bad = [
            ({"due_on": ""}, "due_on", "Enter the due date."),
            ({"due_on": "31.02.2026"}, "due_on", "Enter a date like 2026-03-31."),
            ({"due_on": "2026-02-30"}, "due_on", "Enter a date like 2026-03-31."),
            ({"due_on": TODAY + timedelta(days=5000)}, "due_on", "more than ten years ahead"),
            ({"due_on": TODAY - timedelta(days=500)}, "due_on", "more than a year ago"),
            ({"note": "x" * 2001}, "note", "longer than 2000 characters"),
            ({"assignee_id": 99999}, "assignee_id", "Choose an active user"),
            ({"assignee_id": "abc"}, "assignee_id", "Choose an active user"),
            ({"kind": "other"}, "kind", "Unknown kind"),
            ({"contact_id": 99999}, "contact_id", "no longer exists"),
        ]
        for change, field, message in bad:
            values = {
                "assignee_id": users["editor"],
                "due_on": TOMORROW,
                "contact_id": contact_id,
                "note": "",
                **change,
            }
            with pytest.raises(reminders.ReminderInvalid) as caught:
                reminders.add(db.session, **values)
            assert message in caught.value.errors[field], (change, caught.value.errors)
        db.session.rollback()
    assert count(app) == 1


def test_core_inactive_assignee_is_refused(app, users):
    with app.app_context():
        gone = create_user(db.session, "gone@example.com", PASSWORD, "editor", "Gone")
        gone.active = False
        db.session.commit()
        with pytest.raises(reminders.ReminderInvalid) as caught:
            reminders.add(db.session, assignee_id=gone.id, due_on=TOMORROW, kind="review")
        assert "assignee_id" in caught.value.errors


def test_core_review_reminder_without_contact(app, users):
    rid = add(app, users["editor"], TODAY, kind="review", note="12 contacts need review")
    with app.app_context():
        mine = reminders.mine(db.session, users["editor"])
        assert [r.id for r in mine.today] == [rid]
        assert db.session.scalar(select(func.count()).select_from(ContactHistory)) == 0


def test_core_overdue_count_snooze_done_reopen(app, users):
    contact_id = make_contact(app, users["editor"])
    me = users["editor"]
    late = add(app, me, TODAY - timedelta(days=3), contact_id, note="Send the offer")
    add(app, me, YESTERDAY, contact_id)
    add(app, me, TODAY, contact_id)
    add(app, users["admin"], YESTERDAY, contact_id)  # someone else's
    with app.app_context():
        assert reminders.overdue_count(db.session, me) == 2
        reminder = db.session.get(Reminder, late)
        # One day from today, not from the old due date: it stops being overdue.
        reminders.snooze(db.session, reminder, days=1)
        assert reminder.due_on == TOMORROW and reminder.snooze_count == 1
        reminders.snooze(db.session, reminder, days=7)
        assert reminder.due_on == TOMORROW + timedelta(days=7)
        for bad in ({"days": 0}, {"until": YESTERDAY}, {"until": "soon"}, {}):
            with pytest.raises(reminders.ReminderInvalid):
                reminders.snooze(db.session, reminder, **bad)
        assert reminder.due_on == TOMORROW + timedelta(days=7) and reminder.snooze_count == 2
        reminders.snooze(db.session, reminder, until=TODAY + timedelta(days=30))
        assert reminder.due_on == TODAY + timedelta(days=30)
        db.session.commit()
        assert reminders.overdue_count(db.session, me) == 1

        reminders.done(db.session, reminder, me)
        db.session.commit()
        assert reminder.done_at is not None
        with pytest.raises(reminders.ReminderInvalid):
            reminders.snooze(db.session, reminder, days=1)
        mine = reminders.mine(db.session, me)
        assert [r.id for r in mine.done_recently] == [late]
        assert late not in [r.id for r in mine.upcoming]
        reminders.reopen(db.session, reminder, me)
        db.session.commit()
        assert late in [r.id for r in reminders.mine(db.session, me).upcoming]
    actions = history_actions(app, contact_id)
    assert actions.count("reminder_added") == 4
    assert actions[-2:] == ["reminder_done", "reminder_reopen"]


def test_core_upcoming_pages_by_keyset(app, users):
    contact_id = make_contact(app, users["editor"])
    me = users["editor"]
    ids = [add(app, me, TODAY + timedelta(days=1 + i // 2), contact_id) for i in range(7)]
    with app.app_context():
        seen, cursor = [], None
        while True:
            page, cursor = reminders.upcoming(db.session, me, after=cursor, limit=3)
            seen += [r.id for r in page]
            if cursor is None:
                break
        assert seen == ids
        assert [r.id for r in reminders.for_contact(db.session, contact_id)] == ids


def test_core_may_change(app, users):
    contact_id = make_contact(app, users["editor"])
    rid = add(app, users["viewer"], TOMORROW, contact_id, created_by_id=users["editor"])
    reminder = load(app, rid)
    assert reminders.may_change(reminder, users["viewer"])
    assert reminders.may_change(reminder, users["editor"])
    assert not reminders.may_change(reminder, users["admin"])
    assert reminders.may_change(reminder, users["admin"], is_admin=True)


# -- the web: adding on the contact page -------------------------------------------------------


def post_add(client, contact_id, headers=HX, **data):
    form = {"due_on": TOMORROW.isoformat(), "note": "Call back", "panel": "1", **data}
    return client.post(f"/contacts/{contact_id}/reminders", data=form, headers=headers)


def test_contact_page_shows_the_panel_and_the_add_form(app, editor_client, users):
    contact_id = make_contact(app, users["admin"])
    html = editor_client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    assert '<section id="reminders"' in html and "No open reminders." in html
    assert f'hx-get="/contacts/{contact_id}/reminders/new"' in html

    resp = editor_client.get(f"/contacts/{contact_id}/reminders/new", headers=HX)
    form = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "<html" not in form
    assert 'name="due_on"' in form and 'name="note"' in form
    # Quick picks, and the assignee defaults to me with the contact's owner marked.
    for day in (TOMORROW, TODAY + timedelta(days=7), TODAY + timedelta(days=30)):
        assert f'data-due="{day.isoformat()}"' in form
    assert f'<option value="{users["editor"]}" selected>Editor (me)</option>' in form
    assert f'<option value="{users["admin"]}">Admin (owner)</option>' in form
    # Without JavaScript the same URL is a page of its own.
    page = editor_client.get(f"/contacts/{contact_id}/reminders/new").get_data(as_text=True)
    assert "<html" in page and 'name="due_on"' in page


def test_add_with_a_bad_date_says_so_and_saves_nothing(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    for bad, message in (
        ("", "Enter the due date."),
        ("2026-02-30", "Enter a date like 2026-03-31."),
        ("tomorrow", "Enter a date like 2026-03-31."),
    ):
        resp = post_add(editor_client, contact_id, due_on=bad)
        html = resp.get_data(as_text=True)
        assert resp.status_code == 422
        assert message in html and 'aria-invalid="true"' in html
        assert 'value="Call back"' not in html and ">Call back</textarea>" in html  # kept
    resp = post_add(editor_client, contact_id, assignee_id="99999")
    assert resp.status_code == 422 and "Choose an active user" in resp.get_data(as_text=True)
    resp = post_add(editor_client, contact_id, note="x" * 2001)
    assert resp.status_code == 422 and "longer than 2000" in resp.get_data(as_text=True)
    assert count(app) == 0
    assert "reminder_added" not in history_actions(app, contact_id)


def test_add_shows_it_on_the_contact_and_on_my_reminders(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    resp = post_add(editor_client, contact_id, assignee_id=users["editor"], note="Send the offer")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    # The refreshed panel replaces the form, the timeline is told, the message travels along.
    assert resp.headers["HX-Retarget"] == "#reminders"
    assert resp.headers["HX-Trigger"] == "contactChanged"
    assert '<section id="reminders"' in html and "Send the offer" in html
    assert "Reminder set for" in html
    with app.app_context():
        rid = db.session.scalar(select(Reminder.id))
    assert "Send the offer" in row_of(editor_client.get(f"/contacts/{contact_id}").text, rid)
    mine = editor_client.get("/reminders").get_data(as_text=True)
    upcoming = mine.split('id="reminders-upcoming"')[1].split("</section>")[0]
    row = row_of(upcoming, rid)
    assert "Send the offer" in row and f'href="/contacts/{contact_id}"' in row
    assert "tomorrow" in row
    # The contact's timeline shows it.
    timeline = editor_client.get(f"/contacts/{contact_id}/timeline", headers=HX).text
    assert "added a reminder" in timeline and "Send the offer" in timeline


def test_form_loaded_from_another_page_answers_with_a_confirmation(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    form = editor_client.get(f"/contacts/{contact_id}/reminders/new?panel=0", headers=HX).text
    assert 'name="panel" value="0"' in form
    resp = post_add(editor_client, contact_id, panel="0")
    assert resp.status_code == 200 and "HX-Retarget" not in resp.headers
    assert 'class="reminder-added"' in resp.text and "Reminder set for" in resp.text
    assert count(app) == 1


def test_assign_to_someone_else(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    post_add(editor_client, contact_id, assignee_id=users["admin"], due_on=YESTERDAY.isoformat())
    assert nav_badge(editor_client.get("/reminders").text) == "Reminders"
    admin = app.test_client()
    login(admin, "admin@example.com")
    assert nav_badge(admin.get("/reminders").text) == "Reminders (1)"


# -- the web: the overdue badge, snooze and done ---------------------------------------------


def test_overdue_count_in_the_navigation(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    assert nav_badge(editor_client.get("/").text) == "Reminders"
    post_add(editor_client, contact_id, due_on=YESTERDAY.isoformat())
    post_add(editor_client, contact_id, due_on=(TODAY - timedelta(days=5)).isoformat())
    post_add(editor_client, contact_id, due_on=TODAY.isoformat())  # due today: not overdue
    assert nav_badge(editor_client.get("/").text) == "Reminders (2)"
    assert nav_badge(editor_client.get("/reminders/badge").text) == "Reminders (2)"
    html = editor_client.get("/reminders").text
    assert '<h2 id="overdue-title">Overdue <small class="muted">(2)</small></h2>' in html


def test_snooze_moves_the_due_date_and_the_count(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    rid = add(app, users["editor"], TODAY - timedelta(days=3), contact_id, note="Offer")
    assert nav_badge(editor_client.get("/").text) == "Reminders (1)"
    resp = editor_client.post(
        f"/reminders/{rid}/snooze", data={"days": "1", "view": "mine"}, headers=HX
    )
    assert resp.status_code == 200
    row = row_of(resp.text, rid)
    assert "<tr" in row and "tomorrow" in row and "overdue" not in row
    assert "snoozed 1×" in row
    assert nav_badge(resp.text) == "Reminders"  # the badge travels out of band
    assert load(app, rid).due_on == TOMORROW

    resp = editor_client.post(
        f"/reminders/{rid}/snooze", data={"days": "7", "view": "contact"}, headers=HX
    )
    assert "<li" in row_of(resp.text, rid)
    assert load(app, rid).due_on == TOMORROW + timedelta(days=7)
    until = TODAY + timedelta(days=40)
    editor_client.post(f"/reminders/{rid}/snooze", data={"until": until.isoformat()}, headers=HX)
    assert load(app, rid).due_on == until


def test_snooze_refuses_a_past_or_broken_date(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    rid = add(app, users["editor"], TOMORROW, contact_id)
    for data, message in (
        ({"until": YESTERDAY.isoformat()}, "Pick today or a later date."),
        ({"until": "someday"}, "Enter a date like 2026-03-31."),
        ({"until": ""}, "Choose how long to snooze."),
        ({"days": "-3"}, "Snooze for 1 to"),
        ({"days": "many"}, "Choose how long to snooze."),
    ):
        resp = editor_client.post(f"/reminders/{rid}/snooze", data=data, headers=HX)
        assert resp.status_code == 422, data
        assert message in row_of(resp.text, rid)
    reminder = load(app, rid)
    assert reminder.due_on == TOMORROW and reminder.snooze_count == 0


def test_done_removes_it_and_writes_history(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    rid = add(app, users["editor"], YESTERDAY, contact_id, note="Send the offer")
    resp = editor_client.post(f"/reminders/{rid}/done", data={"view": "mine"}, headers=HX)
    assert resp.status_code == 200
    assert 'id="reminder-' not in resp.text  # the row is swapped for nothing
    assert nav_badge(resp.text) == "Reminders"
    assert "Done: Send the offer" in resp.text
    assert resp.headers["HX-Trigger"] == "contactChanged"
    assert load(app, rid).done_at is not None
    assert history_actions(app, contact_id)[-1] == "reminder_done"
    page = editor_client.get(f"/contacts/{contact_id}").text
    assert f'id="reminder-{rid}"' not in page and "No open reminders." in page
    mine = editor_client.get("/reminders").text
    done_section = mine.split('id="reminders-done"')[1]
    assert "Send the offer" in row_of(done_section, rid)
    assert "Nothing overdue." in mine
    timeline = editor_client.get(f"/contacts/{contact_id}/timeline", headers=HX).text
    assert "completed a reminder" in timeline

    resp = editor_client.post(f"/reminders/{rid}/reopen", data={"view": "mine"}, headers=HX)
    assert resp.status_code == 200 and load(app, rid).done_at is None
    assert nav_badge(resp.text) == "Reminders (1)"
    # Done on the contact page redraws its panel: the last one gone, it says so.
    resp = editor_client.post(f"/reminders/{rid}/done", data={"view": "contact"}, headers=HX)
    assert resp.headers["HX-Retarget"] == "#reminders"
    assert '<section id="reminders"' in resp.text and "No open reminders." in resp.text


def test_plain_forms_work_without_javascript(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    resp = post_add(editor_client, contact_id, headers={})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("#reminders")
    with app.app_context():
        rid = db.session.scalar(select(Reminder.id))
    resp = editor_client.post(f"/reminders/{rid}/snooze", data={"days": "1"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/reminders"
    resp = editor_client.post(f"/reminders/{rid}/done", data={"view": "contact"})
    assert resp.status_code == 302 and f"/contacts/{contact_id}" in resp.headers["Location"]
    assert load(app, rid).done_at is not None


def test_review_reminders_link_to_the_review_queue(app, editor_client, users):
    rid = add(app, users["editor"], TODAY, kind="review", note="12 contacts need review")
    row = row_of(editor_client.get("/reminders").text, rid)
    assert "12 contacts need review" in row and "Review queue" in row


def test_upcoming_shows_more_by_keyset(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    with app.app_context():
        for i in range(reminders.PAGE + 5):
            reminders.add(
                db.session,
                assignee_id=users["editor"],
                due_on=TODAY + timedelta(days=1 + i),
                contact_id=contact_id,
                note=f"item {i:03d}",
            )
        db.session.commit()
    html = editor_client.get("/reminders").text
    assert "item 049" in html and "item 050" not in html
    more = re.search(r'class="reminders-more">.*?hx-get="([^"]+)"', html, re.S).group(1)
    more = more.replace("&amp;", "&")
    rest = editor_client.get(more, headers=HX).text
    assert "<html" not in rest and "item 050" in rest and "item 054" in rest
    assert "item 049" not in rest and "reminders-more" not in rest
    # Without JavaScript the link is a page of its own starting after the cursor.
    page = editor_client.get(more).text
    assert "<html" in page and "item 050" in page and "item 049" not in page


# -- roles -----------------------------------------------------------------------------------


def test_viewer_sees_reminders_but_cannot_add_or_change(app, viewer_client, users):
    contact_id = make_contact(app, users["editor"])
    rid = add(app, users["viewer"], YESTERDAY, contact_id, created_by_id=users["editor"])
    page = viewer_client.get(f"/contacts/{contact_id}").text
    row = row_of(page, rid)
    assert "reminder-done" not in row and "Add reminder" not in page
    assert nav_badge(page) == "Reminders (1)"
    assert viewer_client.get(f"/contacts/{contact_id}/reminders/new", headers=HX).status_code == 403
    assert post_add(viewer_client, contact_id).status_code == 403
    assert viewer_client.post(f"/reminders/{rid}/done", headers=HX).status_code == 403
    assert viewer_client.post(f"/reminders/{rid}/snooze", data={"days": "1"}).status_code == 403
    assert count(app) == 1 and load(app, rid).done_at is None


def test_only_assignee_creator_or_admin_may_change_it(app, editor_client, admin_client, users):
    contact_id = make_contact(app, users["editor"])
    with app.app_context():
        other = create_user(db.session, "other@example.com", PASSWORD, "editor", "Other")
        db.session.commit()
        other_id = other.id
    rid = add(app, users["admin"], YESTERDAY, contact_id, created_by_id=users["admin"])
    # An editor who is neither the assignee nor the creator: no buttons, and 403.
    assert "reminder-done" not in row_of(editor_client.get(f"/contacts/{contact_id}").text, rid)
    assert editor_client.post(f"/reminders/{rid}/done", headers=HX).status_code == 403
    assert editor_client.post(f"/reminders/{rid}/snooze", data={"days": "1"}).status_code == 403
    assert load(app, rid).done_at is None and load(app, rid).due_on == YESTERDAY
    # The creator may, though someone else must do it.
    mine = add(app, other_id, YESTERDAY, contact_id, created_by_id=users["editor"])
    assert editor_client.post(f"/reminders/{mine}/snooze", data={"days": "1"}).status_code == 302
    # An admin may change anyone's.
    assert admin_client.post(f"/reminders/{mine}/done", headers=HX).status_code == 200
    assert load(app, mine).done_at is not None


def test_admin_sees_another_users_reminders_others_may_not(app, admin_client, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    rid = add(app, users["viewer"], TODAY, contact_id, note="Call the viewer")
    html = admin_client.get(f"/reminders?user={users['viewer']}").text
    assert "Reminders of Viewer" in html and "Call the viewer" in row_of(html, rid)
    assert 'name="user"' in html
    assert editor_client.get(f"/reminders?user={users['viewer']}").status_code == 403
    assert "Call the viewer" not in editor_client.get("/reminders").text
    assert admin_client.get("/reminders?user=99999").status_code == 404


def test_logged_out_is_sent_to_login(app, client, users):
    contact_id = make_contact(app, users["editor"])
    for url in ("/reminders", f"/contacts/{contact_id}/reminders/new", "/reminders/badge"):
        resp = client.get(url)
        assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert client.post(f"/contacts/{contact_id}/reminders", data={}).status_code == 302
    assert count(app) == 0
