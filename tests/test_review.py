"""The review queue (crmlite/core/review.py, crmlite/web/review.py): each reason lists the
right contacts with the right counts, "Verified" takes a contact off the stale and never lists,
progress per owner, the row actions, and who may do what."""

import re
from datetime import date, datetime, timedelta

import pytest

from crmlite.core import review
from crmlite.extensions import db
from crmlite.models import (
    Contact,
    ContactConsent,
    ContactEmail,
    ContactHistory,
    ContactPhone,
    Tag,
)
from crmlite.models.types import utcnow

NOW = utcnow()


def _contact(name, owner_id=None, **fields) -> Contact:
    emails = fields.pop("emails", ["x@example.com"])
    phones = fields.pop("phones", [])
    c = Contact(first_name=name, sort_name=name.lower(), owner_id=owner_id, **fields)
    c.emails = [
        ContactEmail(email=e if isinstance(e, str) else e[0], is_valid=isinstance(e, str))
        for e in emails
    ]
    c.phones = [
        ContactPhone(e164=p if isinstance(p, str) else p[0], is_valid=isinstance(p, str))
        for p in phones
    ]
    db.session.add(c)
    return c


@pytest.fixture
def base(app, users):
    """One contact per reason (and a few that are fine), owned by the editor or the admin."""
    ed, ad = users["editor"], users["admin"]
    with app.app_context():
        made = {
            "fresh": _contact("Fresh", ed, last_verified_at=NOW - timedelta(days=10)),
            "stale": _contact("Stale", ed, last_verified_at=NOW - timedelta(days=200)),
            "never": _contact("Never", ad),
            "unreachable": _contact(
                "Unreachable", ed, emails=[], last_verified_at=NOW - timedelta(days=1)
            ),
            "bad_email": _contact("BadEmail", ad, emails=[("broken@@x",)], last_verified_at=NOW),
            "bad_phone": _contact("BadPhone", ed, phones=[("+7000",)], last_verified_at=NOW),
            "quiet": _contact(
                "Quiet",
                ed,
                stage="customer",
                last_interaction_at=NOW - timedelta(days=200),
                purchase_count=2,
                last_verified_at=NOW,
            ),
            "quiet_no_chronicle": _contact(
                "Silent", ed, stage="key_client", purchase_count=1, last_verified_at=NOW
            ),
            "busy": _contact(
                "Busy",
                ed,
                stage="customer",
                last_interaction_at=NOW - timedelta(days=5),
                last_verified_at=NOW,
            ),
            "consent": _contact("OldConsent", ed, last_verified_at=NOW),
            "archived": _contact("Archived", ed, is_archived=True),
        }
        db.session.flush()
        db.session.add_all(
            [
                ContactConsent(
                    contact_id=made["consent"].id,
                    channel="email",
                    purpose="marketing",
                    status="granted",
                    recorded_at=NOW - timedelta(days=500),
                ),
                # Withdrawn long ago, or granted lately: nothing to re-confirm.
                ContactConsent(
                    contact_id=made["fresh"].id,
                    channel="email",
                    purpose="marketing",
                    status="withdrawn",
                    recorded_at=NOW - timedelta(days=500),
                ),
                ContactConsent(
                    contact_id=made["busy"].id,
                    channel="sms",
                    purpose="marketing",
                    status="granted",
                    recorded_at=NOW - timedelta(days=20),
                ),
            ]
        )
        db.session.commit()
        ids = {k: c.id for k, c in made.items()}
        db.session.remove()
    return ids


def _names(session, reason, **kw):
    conf = review.settings(session)
    return {c.first_name for c in review.page(session, reason, conf, **kw).contacts}


def test_each_reason_lists_the_right_contacts(app, ctx, base, users):
    s = db.session
    assert _names(s, "stale") == {"Stale"}
    assert _names(s, "never") == {"Never"}  # the archived one never shows
    assert _names(s, "unreachable") == {"Unreachable"}
    assert _names(s, "invalid") == {"BadEmail", "BadPhone"}
    assert _names(s, "consent") == {"OldConsent"}
    assert _names(s, "quiet") == {"Quiet", "Silent"}
    counts = review.counts(s, review.settings(s))
    assert counts == {
        "stale": 1,
        "never": 1,
        "unreachable": 1,
        "invalid": 2,
        "consent": 1,
        "quiet": 2,
    }
    mine = review.counts(s, review.settings(s), owner_id=users["editor"])
    assert mine["never"] == 0 and mine["invalid"] == 1 and mine["stale"] == 1


def test_settings_change_what_is_due(app, ctx, base):
    from crmlite.core.plugin_settings import save_settings

    save_settings(
        db.session,
        review.PLUGIN,
        {"verify_every_months": "12", "quiet_days": "365", "consent_max_age_months": "24"},
    )
    db.session.commit()
    conf = review.settings(db.session)
    assert conf["verify_every_months"] == 12
    assert _names(db.session, "stale") == set()  # 200 days is within a year
    assert _names(db.session, "quiet") == {"Silent"}  # purchases but no interaction at all
    assert _names(db.session, "consent") == set()


def test_keyset_pages_cover_the_list_once(app, ctx, users):
    for i in range(7):
        _contact(f"S{i}", last_verified_at=NOW - timedelta(days=100 + (i % 3)))
    db.session.commit()
    conf = review.settings(db.session)
    seen, after = [], None
    while True:
        found = review.page(db.session, "stale", conf, after, limit=3)
        seen += [c.first_name for c in found.contacts]
        if not found.next_cursor:
            break
        after = found.next_cursor
    assert sorted(seen) == [f"S{i}" for i in range(7)] and len(seen) == 7
    # A broken cursor starts again from the top instead of failing.
    assert len(review.page(db.session, "stale", conf, "garbage", limit=3).contacts) == 3


def test_verified_takes_a_contact_off_stale_and_never(app, ctx, base, users):
    marked = review.mark_verified(db.session, [base["stale"], base["never"]], users["editor"])
    db.session.commit()
    assert marked == 2
    assert _names(db.session, "stale") == set()
    assert _names(db.session, "never") == set()
    entry = db.session.query(ContactHistory).filter_by(contact_id=base["stale"]).one()
    assert entry.action == "verified" and entry.user_id == users["editor"]
    # An archived contact is not marked.
    assert review.mark_verified(db.session, [base["archived"]], users["editor"]) == 0


def test_progress_per_owner(app, ctx, base, users):
    start, rows = review.progress(db.session, review.settings(db.session))
    today = date.today()
    assert start.date() == date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
    by_owner = {r.owner_id: r for r in rows}
    ed, ad = by_owner[users["editor"]], by_owner[users["admin"]]
    # Active contacts only; "reviewed" means verified since the quarter began.
    assert ed.due == 8 and ad.due == 2
    reviewed_ed = 8 - 1  # Stale (200 days ago); the others were verified lately...
    recent = [NOW - timedelta(days=10), NOW - timedelta(days=1)]
    early = sum(1 for t in recent if t < start)  # ...unless the quarter began after it
    assert ed.reviewed == reviewed_ed - early
    assert ad.reviewed == 1  # BadEmail, verified now; Never is not


def test_cycle_start_and_months_before():
    assert review.cycle_start(date(2026, 11, 23), 3) == datetime(2026, 10, 1)
    assert review.cycle_start(date(2026, 2, 1), 12) == datetime(2026, 1, 1)
    assert review.cycle_start(date(2026, 6, 30), 1) == datetime(2026, 6, 1)
    assert review.months_before(datetime(2026, 5, 31, 8), 3) == datetime(2026, 2, 28, 8)
    assert review.months_before(datetime(2026, 1, 15), 13) == datetime(2024, 12, 15)


def test_revalidate_flags_what_fails_todays_check(app, ctx, users):
    ok = _contact("Ok", emails=["ok@example.com"], phones=["+79123456789"])
    # Stored by an older rule or a plugin: marked valid, but not a real address or number.
    bad = _contact("Bad", emails=["no-at-sign"], phones=["+7000"])
    # Marked invalid earlier but fine today.
    fixed = _contact("Fixed", emails=[("fine@example.org",)])
    db.session.commit()
    result = review.revalidate(db.session, batch=2)
    db.session.commit()
    assert result["emails"] == 3 and result["phones"] == 2
    assert result["emails_invalid"] == 1 and result["phones_invalid"] == 1
    assert result["changed"] == 3
    db.session.expire_all()
    assert [e.is_valid for e in ok.emails + ok.phones] == [True, True]
    assert [e.is_valid for e in bad.emails + bad.phones] == [False, False]
    assert fixed.emails[0].is_valid is True
    assert _names(db.session, "invalid") == {"Bad"}


# -- the page --------------------------------------------------------------------------------


def test_page_lists_by_reason_with_counts(admin_client, base):
    page = admin_client.get("/review?reason=invalid&owner=all").get_data(as_text=True)
    assert "BadEmail" in page and "BadPhone" in page and "Stale" not in page
    assert "(invalid)" in page
    # "Reminder" loads the reminders form for that contact into the row.
    assert f'hx-get="/contacts/{base["bad_email"]}/reminders/new?panel=0"' in page
    tabs = admin_client.get("/review/counts?reason=invalid&owner=all").get_data(as_text=True)
    counts = dict(re.findall(r'data-reason="(\w+)".*?data-count="(\d+)"', tabs))
    assert counts == {
        "stale": "1",
        "never": "1",
        "unreachable": "1",
        "invalid": "2",
        "consent": "1",
        "quiet": "2",
    }


def test_owner_filter_defaults_to_mine_for_editors(
    editor_client, admin_client, viewer_client, base
):
    mine = editor_client.get("/review?reason=invalid").get_data(as_text=True)
    assert "BadPhone" in mine and "BadEmail" not in mine  # BadEmail is the admin's
    everyone = admin_client.get("/review?reason=invalid").get_data(as_text=True)
    assert "BadPhone" in everyone and "BadEmail" in everyone
    # A viewer owns nothing: the whole queue, to read.
    seen = viewer_client.get("/review?reason=invalid").get_data(as_text=True)
    assert "BadPhone" in seen and "BadEmail" in seen


def test_infinite_scroll_gives_the_next_rows(editor_client, app, users):
    with app.app_context():
        for i in range(60):
            _contact(f"N{i:02d}", users["editor"])
        db.session.commit()
    first = editor_client.get("/review?reason=never").get_data(as_text=True)
    assert first.count('class="review-row"') == 50
    next_url = re.search(r'hx-get="([^"]*after=[^"]*)" hx-trigger="revealed"', first).group(1)
    more = editor_client.get(next_url.replace("&amp;", "&"), headers={"HX-Request": "true"})
    body = more.get_data(as_text=True)
    assert body.count('class="review-row"') == 10 and "N59" in body and "N00" not in body


def test_verified_click_removes_the_row_and_reloads_counts(editor_client, base):
    resp = editor_client.post(
        f"/review/{base['stale']}/verified",
        data={"reason": "stale", "owner": "mine"},
        headers={"HX-Request": "true"},
    )
    assert resp.status_code == 200
    assert resp.headers["HX-Trigger"] == "reviewChanged"
    body = resp.get_data(as_text=True)
    assert "review-row" not in body and "Stale marked as verified." in body
    tabs = editor_client.get("/review/counts?owner=mine").get_data(as_text=True)
    assert 'data-reason="stale"' in tabs
    assert dict(re.findall(r'data-reason="(\w+)".*?data-count="(\d+)"', tabs))["stale"] == "0"


def test_verified_on_another_reason_keeps_the_row_updated(editor_client, base):
    resp = editor_client.post(
        f"/review/{base['bad_phone']}/verified",
        data={"reason": "invalid", "owner": "mine"},
        headers={"HX-Request": "true"},
    )
    body = resp.get_data(as_text=True)
    # Still an invalid phone: the row stays, showing the new date.
    assert f'id="review-row-{base["bad_phone"]}"' in body and "never" not in body


def test_inline_edit_fixes_a_phone(editor_client, app, base):
    form = editor_client.get(
        f"/review/{base['bad_phone']}/edit?reason=invalid&owner=mine",
        headers={"HX-Request": "true"},
    ).get_data(as_text=True)
    assert 'name="phone"' in form and "+7000" in form
    version = re.search(r'name="version" value="(\d+)"', form).group(1)
    bad = editor_client.post(
        f"/review/{base['bad_phone']}/edit",
        data={
            "reason": "invalid",
            "owner": "mine",
            "first_name": "BadPhone",
            "last_name": "",
            "email": "",
            "phone": "12",
            "version": version,
        },
        headers={"HX-Request": "true"},
    )
    assert bad.status_code == 422 and "not a" in bad.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Contact, base["bad_phone"]).phones[0].e164 == "+7000"
    good = editor_client.post(
        f"/review/{base['bad_phone']}/edit",
        data={
            "reason": "invalid",
            "owner": "mine",
            "first_name": "Boris",
            "last_name": "Fixed",
            "email": "boris@example.com",
            "phone": "+7 912 345-67-89",
            "version": version,
        },
        headers={"HX-Request": "true"},
    )
    assert good.status_code == 200 and "review-row" not in good.get_data(as_text=True)
    with app.app_context():
        c = db.session.get(Contact, base["bad_phone"])
        assert c.first_name == "Boris" and [p.e164 for p in c.phones] == ["+79123456789"]
        assert c.phones[0].is_valid and c.emails[0].email == "boris@example.com"


def test_archive_and_tag_from_a_row(editor_client, app, base):
    resp = editor_client.post(
        f"/review/{base['never']}/tag",
        data={"reason": "never", "owner": "all", "tag": "call back"},
        headers={"HX-Request": "true"},
    )
    assert resp.status_code == 200 and "call back" in resp.get_data(as_text=True)
    resp = editor_client.post(
        f"/review/{base['never']}/archive",
        data={"reason": "never", "owner": "all"},
        headers={"HX-Request": "true"},
    )
    assert "review-row" not in resp.get_data(as_text=True)
    with app.app_context():
        c = db.session.get(Contact, base["never"])
        assert c.is_archived and [t.name for t in c.tags] == ["call back"]
        assert db.session.query(Tag).count() == 1


def test_progress_chart(admin_client, base):
    html = admin_client.get("/review/progress").get_data(as_text=True)
    assert "<svg" in html and 'class="owner-bar"' in html
    assert re.search(r'data-owner="Editor" data-reviewed="\d+" data-due="8"', html)


def test_menu_link(viewer_client, base):
    home = viewer_client.get("/").get_data(as_text=True)
    assert 'href="/review"' in home


def test_viewer_sees_but_cannot_act(viewer_client, app, base):
    page = viewer_client.get("/review?reason=stale&owner=all")
    assert page.status_code == 200 and "Stale" in page.get_data(as_text=True)
    assert ">Verified<" not in page.get_data(as_text=True)
    for path, data in (
        (f"/review/{base['stale']}/verified", {}),
        (f"/review/{base['stale']}/archive", {}),
        (f"/review/{base['stale']}/tag", {"tag": "x"}),
        (f"/review/{base['stale']}/edit", {"first_name": "Hacked"}),
    ):
        assert viewer_client.post(path, data=data).status_code == 403
    assert viewer_client.get(f"/review/{base['stale']}/edit").status_code == 403
    with app.app_context():
        c = db.session.get(Contact, base["stale"])
        assert c.first_name == "Stale" and not c.is_archived and not c.tags
        assert c.last_verified_at < NOW - timedelta(days=100)


def test_login_required(client, base):
    for path in ("/review", "/review/counts", "/review/progress"):
        assert client.get(path).status_code == 302
    assert client.post(f"/review/{base['stale']}/verified").status_code == 302
    with client.application.app_context():
        assert db.session.get(Contact, base["stale"]).last_verified_at < NOW


def test_unknown_contact_is_404(editor_client, users):
    assert editor_client.post("/review/999999/verified").status_code == 404


def test_import_keeps_a_phone_outside_the_number_plan_flagged_invalid(app, ctx, tmp_path):
    from crmlite.core import importing

    path = tmp_path / "people.csv"
    path.write_text(
        "first name,email,phone\n"
        "Ranged,ranged@example.com,+7 (123) 456-78-90\n"  # right length, no such range
        "Garbage,garbage@example.com,12345\n"  # not a phone at all: the row is refused
        "Fine,fine@example.com,+7 912 345-67-89\n",
        encoding="utf-8",
    )
    pm = app.extensions["crmlite.plugins"]
    imp = importing.create_import(db.session, pm, str(path), "people.csv", None)
    db.session.commit()
    importing.dry_run(db.session, pm, imp)
    db.session.commit()
    counts = importing.run(db.session, pm, imp.id, None)
    db.session.commit()
    assert (counts["create"], counts["error"]) == (2, 1)
    phones = {p.contact.first_name: p for p in db.session.query(ContactPhone)}
    assert phones["Ranged"].e164 == "+71234567890" and phones["Ranged"].is_valid is False
    assert phones["Fine"].is_valid is True
    assert _names(db.session, "invalid") == {"Ranged"}
    # The form still refuses such a number.
    from crmlite.core.contacts import ContactInvalid, validate

    with pytest.raises(ContactInvalid):
        validate({"phones": ["+7 (123) 456-78-90"]})


def test_admin_sets_the_thresholds_on_the_plugins_page(admin_client, editor_client, app, base):
    url = "/admin/plugins/builtin.data_review/settings"
    page = admin_client.get(url).get_data(as_text=True)
    assert "Verify every contact every N months" in page
    form = {
        "verify_every_months": "12",
        "consent_max_age_months": "12",
        "quiet_days": "90",
        "audit_enabled": "on",
        "audit_weekday": "0",
        "audit_hour": "6",
        "digest_sender": "",
    }
    bad = admin_client.post(url, data={**form, "verify_every_months": "often"})
    assert bad.status_code == 422 and "not a whole number" in bad.get_data(as_text=True)
    assert editor_client.post(url, data=form).status_code == 403
    with app.app_context():
        assert review.settings(db.session)["verify_every_months"] == 3
    assert admin_client.post(url, data=form).status_code == 302
    tabs = admin_client.get("/review/counts?owner=all").get_data(as_text=True)
    # 200 days is within a year: nothing is stale any more.
    assert dict(re.findall(r'data-reason="(\w+)".*?data-count="(\d+)"', tabs))["stale"] == "0"
