"""A campaign of 300 contacts with mixed consent and addresses, sent through the builtin
SMTP sender to a real SMTP server (aiosmtpd on 127.0.0.1)."""

import email
import re
from email import policy

from sqlalchemy import select

from crmlite.core import consent
from crmlite.extensions import db
from crmlite.models import CampaignRecipient, Contact, ContactConsent, ContactEmail, Interaction

from .test_campaigns import create_campaign, registered
from .test_smtp import configure, smtp_server  # noqa: F401  (the fixture)

SIZE = 300


def kind_of(i: int) -> str:
    """What contact i is like: most agreed, the others are skipped for one reason each."""
    return {0: "no_address", 1: "invalid_address", 2: "unsubscribed", 3: "no_consent"}.get(
        i % 10, "eligible"
    )


def add_base(app) -> dict[str, int]:
    """SIZE contacts in Казань plus 20 elsewhere who agreed but are not in the segment;
    returns e-mail -> contact id of those who must get the message."""
    eligible = {}
    with app.app_context():
        for i in range(SIZE + 20):
            in_segment = i < SIZE
            kind = kind_of(i) if in_segment else "eligible"
            contact = Contact(
                first_name=f"Анна{i}",
                last_name="Кузнецова",
                city="Казань" if in_segment else "Самара",
                custom={"promo_code": f"ОСЕНЬ-{i:03d}"},
            )
            db.session.add(contact)
            db.session.flush()
            address = f"anna{i}@example.com" if kind != "invalid_address" else f"anna{i}@localhost"
            if kind != "no_address":
                db.session.add(ContactEmail(contact_id=contact.id, email=address, is_primary=True))
            status = {"unsubscribed": "withdrawn", "no_consent": None}.get(kind, "granted")
            if status:
                db.session.add(
                    ContactConsent(
                        contact_id=contact.id, channel="email", purpose="marketing", status=status
                    )
                )
            if in_segment and kind == "eligible":
                eligible[address] = contact.id
        db.session.commit()
    return eligible


def parse(content: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(content, policy=policy.default)


def test_a_campaign_of_300_reaches_each_eligible_contact_exactly_once(
    app,
    client,
    editor_client,
    smtp_server,  # noqa: F811
):
    controller, inbox = smtp_server
    configure(
        app,
        host="127.0.0.1",
        port=controller.port,
        security="none",
        from_address="Магазин <shop@example.com>",
    )
    eligible = add_base(app)
    assert len(eligible) == 180
    with registered(app):
        campaign_id = create_campaign(
            editor_client,
            sender="smtp",
            subject="{{ first_name }}, осенняя скидка",
            body="Здравствуйте, {{ first_name }}!\nВаш промокод: {{ promo_code }}",
        )
        audience = editor_client.get(f"/campaigns/{campaign_id}/audience").get_data(as_text=True)
        assert "180 contacts will get it" in audience and "of 300 in the segment" in audience
        resp = editor_client.post(f"/campaigns/{campaign_id}/start")
        assert resp.status_code == 302

        recipients = [rcpt for _from, rcpts, _c, _a in inbox.received for rcpt in rcpts]
        assert len(recipients) == 180
        assert sorted(recipients) == sorted(eligible)  # each once, nobody else
        for mail_from, (rcpt,), content, _auth in inbox.received:
            mail = parse(content)
            n = int(re.match(r"anna(\d+)@", rcpt).group(1))
            assert mail_from == "shop@example.com"
            assert mail["Subject"] == f"Анна{n}, осенняя скидка"
            body = mail.get_content()
            assert f"Здравствуйте, Анна{n}!" in body
            assert f"Ваш промокод: ОСЕНЬ-{n:03d}" in body
            link = re.search(r"http://localhost/unsubscribe/\S+", body).group(0)
            assert mail["List-Unsubscribe"] == f"<{link}>"
            assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

        page = editor_client.get(f"/campaigns/{campaign_id}").get_data(as_text=True)
        assert 'data-count="sent">180<' in page
        assert 'data-count="skipped">120' in page
        with app.app_context():
            sent_ids = set(
                db.session.scalars(
                    select(CampaignRecipient.contact_id).where(
                        CampaignRecipient.campaign_id == campaign_id,
                        CampaignRecipient.status == "sent",
                    )
                )
            )
            assert sent_ids == set(eligible.values())
            chronicled = list(
                db.session.scalars(
                    select(Interaction.contact_id).where(Interaction.kind == "message")
                )
            )
            assert sorted(chronicled) == sorted(eligible.values())

        # The link from a received mail works without login and records the withdrawal.
        mail = parse(inbox.received[0][2])
        (rcpt,) = inbox.received[0][1]
        path = re.search(r"http://localhost(/unsubscribe/\S+)", mail.get_content()).group(1)
        assert "Unsubscribe" in client.get(path).get_data(as_text=True)
        assert "You are unsubscribed" in client.post(path).get_data(as_text=True)
        with app.app_context():
            assert consent.status_of(db.session, eligible[rcpt], "email", "marketing") == (
                "withdrawn"
            )

        # A second campaign to the same segment skips that person; the rest get one each.
        inbox.received.clear()
        second = create_campaign(editor_client, name="Вторая", sender="smtp")
        editor_client.post(f"/campaigns/{second}/start")
        recipients = sorted(rcpt for _f, rcpts, _c, _a in inbox.received for rcpt in rcpts)
        assert recipients == sorted(a for a in eligible if a != rcpt)
