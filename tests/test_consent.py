"""Consent per channel and purpose: the contact page panel, its one-click editor, the
history it writes, and the contact list filter (with its count, bulk actions and export)."""

import csv
import io
import re

import pytest
from sqlalchemy import select

from crmlite.core import consent
from crmlite.extensions import db
from crmlite.models import Contact, ContactConsent, ContactHistory, Tag, contact_tags

from .test_contact_page import HX, history_actions, make_contact


def stored(app, contact_id) -> dict[tuple[str, str], tuple[str, str, str]]:
    with app.app_context():
        return {
            pair: (row.status, row.source, row.wording_version)
            for pair, row in consent.statuses(db.session, contact_id).items()
        }


def grant(app, contact_id, channel="email", purpose="marketing", status="granted", **kw):
    """Recorded through core, as an import or the unsubscribe link would."""
    with app.app_context():
        consent.record(db.session, contact_id, channel, purpose, status, **kw)
        db.session.commit()


def save(client, contact_id, headers=HX, **data):
    form = {"channel": "email", "purpose": "marketing", "status": "granted", **data}
    return client.post(f"/contacts/{contact_id}/consent", data=form, headers=headers)


def row_html(html: str, channel: str, purpose: str) -> str:
    match = re.search(rf'<tr id="consent-{channel}-{purpose}".*?</tr>', html, re.S)
    assert match, f"no row for {channel}/{purpose}"
    return match.group(0)


# -- the panel -----------------------------------------------------------------------------


def test_page_shows_every_channel_and_purpose_with_its_record(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    with app.app_context():
        consent.record(
            db.session,
            contact_id,
            "sms",
            "service",
            "withdrawn",
            source="call",
            wording_version="2025-11",
            user_id=users["admin"],
        )
        db.session.commit()
    html = editor_client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    assert '<section id="consent"' in html
    for channel in ("email", "sms", "messenger", "phone"):
        for purpose in ("marketing", "service"):
            assert f'id="consent-{channel}-{purpose}"' in html
    sms = row_html(html, "sms", "service")
    assert 'class="consent-status consent-withdrawn">withdrawn' in sms
    assert "<td>call</td>" in sms and "<td>2025-11</td>" in sms and "<td>Admin</td>" in sms
    assert "<time datetime=" in sms
    email = row_html(html, "email", "marketing")
    assert 'class="consent-status consent-unknown">unknown' in email
    # Editors get the one-click editor on each status.
    assert f'hx-get="/contacts/{contact_id}/consent/email/marketing/edit"' in email


def test_viewer_sees_it_read_only_and_cannot_change_it(app, viewer_client, users):
    contact_id = make_contact(app, users["editor"])
    grant(app, contact_id, source="web form")
    html = viewer_client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    email = row_html(html, "email", "marketing")
    assert "consent-granted" in email and "web form" in email
    assert "/consent/email/marketing/edit" not in html
    assert (
        viewer_client.get(f"/contacts/{contact_id}/consent/email/marketing/edit").status_code == 403
    )
    resp = save(viewer_client, contact_id, status="withdrawn")
    assert resp.status_code == 403
    assert stored(app, contact_id) == {("email", "marketing"): ("granted", "web form", "")}


def test_edit_opens_in_place_with_the_current_values(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    grant(app, contact_id, source="paper", wording_version="2026-01")
    resp = editor_client.get(f"/contacts/{contact_id}/consent/email/marketing/edit", headers=HX)
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert html.lstrip().startswith('<tr id="consent-email-marketing" class="consent-row editing"')
    assert 'class="inline-edit consent-edit"' in html  # Enter saves, Esc cancels (crmlite.js)
    assert re.search(r'<option selected value="granted">', html)
    assert 'value="paper"' in html and 'value="2026-01"' in html
    assert f'hx-get="/contacts/{contact_id}/consent/email/marketing"' in html  # Cancel
    cancel = editor_client.get(f"/contacts/{contact_id}/consent/email/marketing", headers=HX)
    assert 'class="consent-status consent-granted"' in cancel.get_data(as_text=True)
    assert (
        editor_client.get(f"/contacts/{contact_id}/consent/fax/marketing/edit").status_code == 404
    )


def test_saving_records_every_field_and_refreshes_the_history(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    resp = save(editor_client, contact_id, source=" web form ", wording_version="2026-01")
    assert resp.status_code == 200
    assert resp.headers["HX-Trigger"] == "contactChanged"
    html = resp.get_data(as_text=True)
    assert html.lstrip().startswith('<tr id="consent-email-marketing" class="consent-row">')
    assert "consent-granted" in html and "web form" in html and "2026-01" in html
    assert "<td>Editor</td>" in html
    assert stored(app, contact_id) == {("email", "marketing"): ("granted", "web form", "2026-01")}

    # Each field changes on its own: the status, then the source, then the wording.
    save(
        editor_client, contact_id, status="withdrawn", source="web form", wording_version="2026-01"
    )
    save(editor_client, contact_id, status="withdrawn", source="call", wording_version="2026-01")
    save(editor_client, contact_id, status="withdrawn", source="call", wording_version="2026-02")
    assert stored(app, contact_id) == {("email", "marketing"): ("withdrawn", "call", "2026-02")}
    assert history_actions(app, contact_id) == ["create"] + ["consent"] * 4

    history = editor_client.get(f"/contacts/{contact_id}/timeline", headers=HX)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", history.get_data(as_text=True)))
    assert "E-mail · marketing: unknown → granted (source: web form, wording 2026-01)" in text
    assert "E-mail · marketing: granted → withdrawn (source: web form, wording 2026-01)" in text
    assert "E-mail · marketing: withdrawn → withdrawn (source: call, wording 2026-02)" in text


def test_setting_unknown_removes_the_record_but_keeps_the_history(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    grant(app, contact_id, "phone", "service", source="call")
    resp = save(editor_client, contact_id, channel="phone", purpose="service", status="unknown")
    assert resp.status_code == 200
    assert "consent-unknown" in resp.get_data(as_text=True)
    assert stored(app, contact_id) == {}
    with app.app_context():
        last = db.session.scalars(
            select(ContactHistory).order_by(ContactHistory.id.desc()).limit(1)
        ).one()
        assert last.changes == {"consent:phone:service": ["granted", "unknown"]}


@pytest.mark.parametrize(
    "data, message",
    [
        ({"status": "maybe"}, "Unknown status “maybe”: choose granted, withdrawn or unknown."),
        ({"status": ""}, "Choose a status."),
        ({"source": "x" * 201}, "Keep the source under 200 characters."),
        ({"wording_version": "v" * 51}, "Keep the wording version under 50 characters."),
    ],
)
def test_bad_input_in_the_editor_says_why_and_changes_nothing(
    app, editor_client, users, data, message
):
    contact_id = make_contact(app, users["editor"])
    grant(app, contact_id, source="paper")
    resp = save(editor_client, contact_id, **data)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    assert 'class="consent-row editing"' in html  # the editor stays open with the input
    assert message in html
    assert "HX-Trigger" not in resp.headers
    assert stored(app, contact_id) == {("email", "marketing"): ("granted", "paper", "")}
    assert history_actions(app, contact_id) == ["create", "consent"]


def test_unknown_channel_or_purpose_says_why_and_changes_nothing(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    resp = save(editor_client, contact_id, channel="fax")
    assert resp.status_code == 422
    assert resp.headers["HX-Retarget"] == "#consent"
    html = resp.get_data(as_text=True)
    assert "Unknown channel “fax”: choose e-mail, SMS, messenger or phone." in html
    assert '<section id="consent"' in html
    resp = save(editor_client, contact_id, purpose="spam", headers={})
    assert resp.status_code == 302
    page = editor_client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Unknown purpose “spam”: choose marketing or service." in page
    assert stored(app, contact_id) == {}
    assert history_actions(app, contact_id) == ["create"]


def test_without_javascript_the_editor_is_a_page_and_saving_redirects(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    page = editor_client.get(f"/contacts/{contact_id}/consent/sms/marketing/edit")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<html" in html and 'method="post"' in html and "hx-post" not in html
    resp = save(editor_client, contact_id, headers={}, channel="sms", source="paper")
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith(f"/contacts/{contact_id}#consent")
    assert "Consent saved." in editor_client.get(resp.headers["Location"]).get_data(as_text=True)
    assert stored(app, contact_id) == {("sms", "marketing"): ("granted", "paper", "")}


# -- the contact list filter --------------------------------------------------------------


@pytest.fixture
def people(app, users):
    """Five contacts: two granted, one withdrawn, two unknown for e-mail marketing."""
    ids = {
        name: make_contact(app, users["editor"], first_name=name, last_name="Consent")
        for name in ("Anna", "Boris", "Vera", "Gleb", "Dina")
    }
    grant(app, ids["Anna"], source="web form")
    grant(app, ids["Boris"], source="paper")
    grant(app, ids["Vera"], status="withdrawn", source="unsubscribe link")
    grant(app, ids["Gleb"], "email", "service")  # another purpose: still unknown for marketing
    return ids


def names_in(html: str) -> list[str]:
    return sorted(re.findall(r">Consent (\w+)</a>", html))


@pytest.mark.parametrize(
    "status, expected",
    [
        ("granted", ["Anna", "Boris"]),
        ("withdrawn", ["Vera"]),
        ("unknown", ["Dina", "Gleb"]),
    ],
)
def test_list_filters_by_consent(app, editor_client, people, status, expected):
    query = f"consent=email:marketing:{status}"
    html = editor_client.get(f"/?{query}").get_data(as_text=True)
    assert names_in(html) == expected
    assert f'<option value="email:marketing:{status}" selected>' in html
    assert "Clear the filters" in html
    count = editor_client.get(f"/contacts/count?{query}").get_data(as_text=True)
    assert count.startswith(f"{len(expected)} contact")
    export = editor_client.get(f"/imports/export?{query}").get_data()
    rows = list(csv.DictReader(io.StringIO(export.decode("utf-8-sig"))))
    assert sorted(r["first_name"] for r in rows) == expected


def test_htmx_filter_pushes_a_url_with_the_consent(app, editor_client, people):
    resp = editor_client.get("/?consent=email:marketing:withdrawn&q=", headers=HX)
    assert resp.headers["HX-Push-Url"] == "/?consent=email:marketing:withdrawn"
    assert names_in(resp.get_data(as_text=True)) == ["Vera"]


@pytest.mark.parametrize(
    "raw", ["email:marketing", "fax:marketing:granted", "email:spam:granted", "email:marketing:yes"]
)
def test_a_malformed_consent_filter_is_ignored(app, editor_client, people, raw):
    html = editor_client.get(f"/?consent={raw}").get_data(as_text=True)
    assert names_in(html) == ["Anna", "Boris", "Dina", "Gleb", "Vera"]
    assert "Clear the filters" not in html


def test_bulk_action_on_all_matching_the_consent_filter(app, editor_client, people):
    resp = editor_client.post(
        "/contacts/bulk",
        data={
            "action": "add_tag",
            "tag_name": "newsletter",
            "all": "1",
            "consent": "email:marketing:granted",
        },
    )
    assert resp.status_code == 302
    page = editor_client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Tag “newsletter” added to 2 contacts." in page
    with app.app_context():
        tagged = db.session.scalars(
            select(Contact.first_name)
            .join(contact_tags, contact_tags.c.contact_id == Contact.id)
            .join(Tag, Tag.id == contact_tags.c.tag_id)
            .where(Tag.name == "newsletter")
        )
        assert sorted(tagged) == ["Anna", "Boris"]


def test_filter_condition_matches_the_stored_rows(app, people):
    """The SQL behind the filter agrees with what is stored, for every status."""
    with app.app_context():
        for status in ("granted", "withdrawn", "unknown"):
            cond = consent.condition("email", "marketing", status)
            found = set(db.session.scalars(select(Contact.id).where(cond)))
            rows = {
                r.contact_id
                for r in db.session.scalars(
                    select(ContactConsent).where(
                        ContactConsent.channel == "email", ContactConsent.purpose == "marketing"
                    )
                )
                if r.status == status
            }
            if status == "unknown":
                rows = set(people.values()) - {
                    people["Anna"],
                    people["Boris"],
                    people["Vera"],
                }
            assert found == rows
