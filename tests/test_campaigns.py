"""Campaigns through the web: compose, audience, preview, test send, start, resume after a
crash, retry failed, unsubscribe links, roles. Messages go to the builtin outbox sender (a
real sender that keeps them in the database) or to a test sender that fails on purpose;
tests/test_campaign_smtp.py sends a large campaign to a real SMTP server."""

import re
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select

from crmlite import hookimpl
from crmlite.core import campaigns, consent, unsubscribe
from crmlite.core.sending import SendResult
from crmlite.extensions import db
from crmlite.models import (
    Campaign,
    CampaignRecipient,
    Contact,
    ContactConsent,
    ContactEmail,
    Interaction,
    OutboxMessage,
)
from crmlite.plugins import SettingField

HX = {"HX-Request": "true"}


class CitySegment:
    key = "test_city"
    label = "Lives in a city"
    params = [SettingField("city", "City", "text", "Казань")]

    def condition(self, params, today):
        return Contact.city == params["city"]


class FlakySender:
    """Fails for addresses that start with "fail" until `healed`; counts what it sent."""

    name = "flaky"
    label = "Flaky test sender"
    channel = "email"

    def __init__(self):
        self.healed = False
        self.sent: list[str] = []

    def send(self, message):
        if message.to.startswith("fail") and not self.healed:
            return SendResult(False, "550 mailbox unavailable")
        self.sent.append(message.to)
        return SendResult(True, "ok")


class CampaignTestPlugin:
    def __init__(self):
        self.sender = FlakySender()

    @hookimpl
    def register_segments(self):
        return [CitySegment()]

    @hookimpl
    def register_senders(self):
        return [self.sender]


@contextmanager
def registered(app):
    pm = app.extensions["crmlite.plugins"]
    plugin = CampaignTestPlugin()
    pm.register(plugin, name="test_campaigns")
    try:
        yield plugin
    finally:
        pm.unregister(name="test_campaigns")


@pytest.fixture
def plugin(app):
    with registered(app) as p:
        yield p


def add_contacts(app, specs) -> list[int]:
    """specs: (first_name, email or None, consent status or None, city) per contact."""
    with app.app_context():
        ids = []
        for first, email, status, city in specs:
            contact = Contact(first_name=first, last_name="Тест", city=city, custom={})
            db.session.add(contact)
            db.session.flush()
            if email:
                db.session.add(ContactEmail(contact_id=contact.id, email=email, is_primary=True))
            if status:
                db.session.add(
                    ContactConsent(
                        contact_id=contact.id, channel="email", purpose="marketing", status=status
                    )
                )
            ids.append(contact.id)
        db.session.commit()
        return ids


def campaign_form(**overrides) -> dict:
    return {
        "name": "Осенняя акция",
        "segment_key": "test_city",
        "seg_city": "Казань",
        "sender": "outbox",
        "purpose": "marketing",
        "subject": "Скидка для {{ first_name }}",
        "body": "Здравствуйте, {{ first_name }}!",
        "rate_per_minute": "0",
        **overrides,
    }


def create_campaign(client, **overrides) -> int:
    resp = client.post("/campaigns/new", data=campaign_form(**overrides))
    assert resp.status_code == 302, resp.get_data(as_text=True)
    return int(resp.location.rstrip("/").rsplit("/", 1)[1])


def outbox(app) -> list[OutboxMessage]:
    with app.app_context():
        rows = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        db.session.expunge_all()
        return rows


def chronicle_subjects(app, contact_id) -> list[str]:
    """Subjects of the messages in the contact's chronicle."""
    with app.app_context():
        return list(
            db.session.scalars(
                select(Interaction.data["subject"].as_string())
                .where(Interaction.contact_id == contact_id, Interaction.kind == "message")
                .order_by(Interaction.id)
            )
        )


def statuses(app, campaign_id) -> dict[int, str]:
    with app.app_context():
        return dict(
            db.session.execute(
                select(CampaignRecipient.contact_id, CampaignRecipient.status).where(
                    CampaignRecipient.campaign_id == campaign_id
                )
            ).all()
        )


MIXED = [
    ("Анна", "anna@example.com", "granted", "Казань"),
    ("Борис", None, "granted", "Казань"),  # no e-mail
    ("Вера", "vera@localhost", "granted", "Казань"),  # invalid address
    ("Глеб", "gleb@example.com", "withdrawn", "Казань"),  # unsubscribed
    ("Дина", "dina@example.com", None, "Казань"),  # consent unknown
    ("Егор", "egor@example.com", "granted", "Москва"),  # not in the segment
    ("Жанна", "zhanna@example.com", "granted", "Казань"),
]


def test_audience_says_who_gets_it_and_why_not(app, editor_client, plugin):
    add_contacts(app, MIXED)
    page = editor_client.post("/campaigns/audience", data=campaign_form(), headers=HX)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "2 contacts will get it" in html
    assert "of 6 in the segment" in html
    for reason in ("no_address", "invalid_address", "unsubscribed", "no_consent"):
        assert re.search(rf'data-reason="{reason}"><td>[^<]+</td><td>1</td>', html), reason
    # A service message goes to everyone with a valid address who has not withdrawn consent
    # for service messages (Глеб withdrew marketing only).
    html = editor_client.post(
        "/campaigns/audience", data=campaign_form(purpose="service"), headers=HX
    ).get_data(as_text=True)
    assert "4 contacts will get it" in html
    # The segment's parameter counts: nobody of the campaign lives in Омск.
    html = editor_client.post(
        "/campaigns/audience", data=campaign_form(seg_city="Омск"), headers=HX
    ).get_data(as_text=True)
    assert "0 contacts will get it" in html


def test_compose_preview_and_test_send(app, editor_client, plugin):
    ids = add_contacts(app, MIXED)
    page = editor_client.get("/campaigns/new").get_data(as_text=True)
    assert "Lives in a city" in page and "{{ unsubscribe_url }}" in page
    form = campaign_form(body="Привет, {{ first_name }}! Код: {{ promo_code }}")
    with app.app_context():
        db.session.get(Contact, ids[0]).custom = {"promo_code": "AUTUMN-7"}
        db.session.commit()
    resp = editor_client.post("/campaigns/preview", data=form, headers=HX)
    html = resp.get_data(as_text=True)
    # promo_code is unset on the others: the template says so instead of failing silently.
    assert resp.status_code == 200, html
    assert "Скидка для Анна" in html and "Код: AUTUMN-7" in html
    assert "/unsubscribe/" in html  # the link is appended to a marketing message
    resp = editor_client.post("/campaigns/preview", data={**form, "after": ids[0]}, headers=HX)
    html = resp.get_data(as_text=True)
    # The next one who gets it (Жанна) has no promo_code: the preview says so clearly.
    assert resp.status_code == 422 and "promo_code" in html

    resp = editor_client.post("/campaigns/test", data=form, headers=HX)
    assert resp.status_code == 200
    assert "Test sent to editor@example.com" in resp.get_data(as_text=True)
    (mail,) = outbox(app)
    assert mail.to_address == "editor@example.com"
    assert mail.subject == "[Test] Скидка для Анна"
    assert mail.contact_id is None  # nobody's chronicle gets the test
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_bad_template_is_refused_with_a_clear_message(app, editor_client, plugin):
    add_contacts(app, MIXED)
    resp = editor_client.post("/campaigns/new", data=campaign_form(body="Привет, {{ first_name"))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "The message template has an error on line 1" in html
    resp = editor_client.post("/campaigns/new", data=campaign_form(name="", sender="nope"))
    html = resp.get_data(as_text=True)
    assert "Give the campaign a name." in html and "Choose a sender." in html
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Campaign)) == 0
    # A name the template does not know passes the syntax check, fails for each
    # recipient with the reason, and nothing is sent.
    campaign_id = create_campaign(editor_client, body="{{ no_such_field }}")
    editor_client.post(f"/campaigns/{campaign_id}/start")
    assert outbox(app) == []
    page = editor_client.get(f"/campaigns/{campaign_id}?status=failed").get_data(as_text=True)
    assert "no_such_field" in page and page.count('data-status="failed"') == 2


def test_send_skips_by_reason_and_records_each_message(app, editor_client, plugin):
    ids = add_contacts(app, MIXED)
    campaign_id = create_campaign(editor_client)
    audience = editor_client.get(f"/campaigns/{campaign_id}/audience").get_data(as_text=True)
    assert "Send now to 2 contacts" in audience
    resp = editor_client.post(f"/campaigns/{campaign_id}/start")
    assert resp.status_code == 302
    mails = outbox(app)
    assert sorted(m.to_address for m in mails) == ["anna@example.com", "zhanna@example.com"]
    for mail in mails:
        assert mail.body.startswith("Здравствуйте, ")
        assert "/unsubscribe/" in mail.body
    got = statuses(app, campaign_id)
    assert got == {
        ids[0]: "sent",
        ids[1]: "skipped",
        ids[2]: "skipped",
        ids[3]: "skipped",
        ids[4]: "skipped",
        ids[6]: "sent",
    }
    page = editor_client.get(f"/campaigns/{campaign_id}").get_data(as_text=True)
    assert 'data-status="done"' in page
    assert 'data-count="sent">2<' in page
    assert "no address for the channel: 1" in page and "invalid address: 1" in page
    # The contact's chronicle records the message.
    assert chronicle_subjects(app, ids[0]) == ["Скидка для Анна"]
    assert chronicle_subjects(app, ids[1]) == []
    # A started campaign cannot be started again (no second copy).
    editor_client.post(f"/campaigns/{campaign_id}/start")
    assert len(outbox(app)) == 2


def test_resume_after_crash_never_sends_twice(app, editor_client, plugin):
    ids = add_contacts(
        app, [(f"Имя{i}", f"p{i}@example.com", "granted", "Казань") for i in range(8)]
    )
    campaign_id = create_campaign(editor_client)
    pm = app.extensions["crmlite.plugins"]
    # What a worker that died mid-way leaves: two sent, one "sending", the rest pending.
    with app.app_context():
        campaign = db.session.get(Campaign, campaign_id)
        campaigns.start(db.session, campaign)
        campaigns.snapshot(pm, db.session, campaign)
        rows = list(
            db.session.scalars(
                select(CampaignRecipient)
                .where(CampaignRecipient.campaign_id == campaign_id)
                .order_by(CampaignRecipient.id)
            )
        )
        rows[0].status = rows[1].status = "sent"
        rows[2].status = "sending"
        campaign.status = "failed"
        db.session.commit()
    resp = editor_client.post(f"/campaigns/{campaign_id}/resume")
    assert resp.status_code == 302
    sent_to = sorted(m.to_address for m in outbox(app))
    assert sent_to == sorted(f"p{i}@example.com" for i in range(3, 8))
    got = statuses(app, campaign_id)
    assert got[ids[2]] == "uncertain"
    page = editor_client.get(f"/campaigns/{campaign_id}").get_data(as_text=True)
    assert "they may or may not have arrived" in page
    assert "Send uncertain again" in page
    # Only an explicit decision sends the uncertain one, once.
    editor_client.post(f"/campaigns/{campaign_id}/resend-uncertain")
    sent_to = [m.to_address for m in outbox(app)]
    assert sent_to.count("p2@example.com") == 1 and len(sent_to) == 6
    assert statuses(app, campaign_id)[ids[2]] == "sent"


def test_retry_failed_sends_only_the_failed(app, editor_client, plugin):
    add_contacts(
        app,
        [
            ("Анна", "anna@example.com", "granted", "Казань"),
            ("Фёдор", "fail1@example.com", "granted", "Казань"),
            ("Фаина", "fail2@example.com", "granted", "Казань"),
        ],
    )
    campaign_id = create_campaign(editor_client, sender="flaky")
    editor_client.post(f"/campaigns/{campaign_id}/start")
    assert plugin.sender.sent == ["anna@example.com"]
    page = editor_client.get(f"/campaigns/{campaign_id}?status=failed").get_data(as_text=True)
    assert "550 mailbox unavailable" in page and 'data-count="failed">2<' in page
    plugin.sender.healed = True
    resp = editor_client.post(f"/campaigns/{campaign_id}/retry", follow_redirects=True)
    assert "2 failed messages are queued again." in resp.get_data(as_text=True)
    assert sorted(plugin.sender.sent) == [
        "anna@example.com",
        "fail1@example.com",
        "fail2@example.com",
    ]
    resp = editor_client.post(f"/campaigns/{campaign_id}/retry", follow_redirects=True)
    assert "There are no failed messages to retry." in resp.get_data(as_text=True)
    assert len(plugin.sender.sent) == 3


def test_unsubscribe_link_works_without_login(app, client, editor_client, plugin):
    ids = add_contacts(app, MIXED)
    campaign_id = create_campaign(editor_client)
    editor_client.post(f"/campaigns/{campaign_id}/start")
    mail = next(m for m in outbox(app) if m.to_address == "anna@example.com")
    url = re.search(r"http://localhost(/unsubscribe/\S+)", mail.body).group(1)
    page = client.get(url)
    assert page.status_code == 200 and "Unsubscribe" in page.get_data(as_text=True)
    with app.app_context():  # GET changes nothing
        assert consent.status_of(db.session, ids[0], "email", "marketing") == "granted"
    page = client.post(url)
    assert "You are unsubscribed" in page.get_data(as_text=True)
    with app.app_context():
        row = consent.statuses(db.session, ids[0])[("email", "marketing")]
        assert row.status == "withdrawn"
        assert row.source == f"unsubscribe link (campaign #{campaign_id})"
        assert row.recorded_at is not None
    page = editor_client.get(f"/campaigns/{campaign_id}").get_data(as_text=True)
    assert 'data-count="unsubscribed">1<' in page

    # RFC 8058 one-click from a mail client: a POST with the form body, no CSRF, no login.
    token = unsubscribe.make_token(app.config["SECRET_KEY"], ids[6], "email", "marketing", None)
    resp = client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert resp.status_code == 200
    # The next campaign skips both.
    second = create_campaign(editor_client, name="Вторая")
    editor_client.post(f"/campaigns/{second}/start")
    assert statuses(app, second)[ids[0]] == "skipped"
    assert len(outbox(app)) == 2  # nobody got the second one


def test_a_tampered_unsubscribe_link_changes_nothing(app, client, plugin):
    (contact_id,) = add_contacts(app, [("Анна", "anna@example.com", "granted", "Казань")])
    token = unsubscribe.make_token("another key", contact_id, "email", "marketing", 1)
    for method in ("get", "post"):
        resp = getattr(client, method)(f"/unsubscribe/{token}")
        assert resp.status_code == 404
        assert "This link does not work" in resp.get_data(as_text=True)
    resp = client.post("/unsubscribe/garbage")
    assert resp.status_code == 404
    with app.app_context():
        assert consent.status_of(db.session, contact_id, "email", "marketing") == "granted"


def test_viewer_reads_but_cannot_compose_or_send(app, editor_client, viewer_client, plugin):
    add_contacts(app, MIXED)
    campaign_id = create_campaign(editor_client)
    assert viewer_client.get("/campaigns/").status_code == 200
    page = viewer_client.get(f"/campaigns/{campaign_id}").get_data(as_text=True)
    assert "Осенняя акция" in page
    audience = viewer_client.get(f"/campaigns/{campaign_id}/audience").get_data(as_text=True)
    assert "2 contacts will get it" in audience and "Send now" not in audience
    assert viewer_client.get("/campaigns/new").status_code == 403
    for url in ("/campaigns/new", f"/campaigns/{campaign_id}/start", "/campaigns/test"):
        assert viewer_client.post(url, data=campaign_form()).status_code == 403
    assert outbox(app) == []
    with app.app_context():
        assert db.session.get(Campaign, campaign_id).status == "draft"


def test_pause_stops_the_job_and_continue_goes_on(app, editor_client, plugin):
    add_contacts(app, [(f"Имя{i}", f"p{i}@example.com", "granted", "Казань") for i in range(4)])
    campaign_id = create_campaign(editor_client)
    with app.app_context():
        campaign = db.session.get(Campaign, campaign_id)
        campaign.status = "paused"  # paused before the worker took the job
        campaign.started_at = campaign.created_at
        db.session.commit()
    assert editor_client.post(f"/campaigns/{campaign_id}/pause").status_code == 302
    resp = editor_client.post(f"/campaigns/{campaign_id}/resume", follow_redirects=True)
    assert "The campaign goes on." in resp.get_data(as_text=True)
    assert len(outbox(app)) == 4
