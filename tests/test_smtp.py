"""The builtin SMTP sender against a real SMTP server (aiosmtpd) on 127.0.0.1."""

import email
import socket
from email import policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy import select

from crmlite.core import contacts
from crmlite.extensions import db
from crmlite.models import Interaction, PluginState


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """aiosmtpd handler: keeps every message it accepts."""

    def __init__(self):
        self.received = []

    async def handle_DATA(self, server, session, envelope):
        self.received.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.content, session.authenticated)
        )
        return "250 Message accepted for delivery"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (auth_data.login, auth_data.password) == (b"crm@example.com", b"s3cret")
    # handled=False: the server answers 235 or 535 itself.
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=authenticator,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


def configure(app, **settings):
    with app.app_context():
        db.session.merge(PluginState(name="builtin.smtp_sender", enabled=True, settings=settings))
        db.session.commit()


def make_contact(app, **fields) -> int:
    raw = {"first_name": "Анна", "last_name": "Смирнова", **fields}
    with app.app_context():
        contact = contacts.create_contact(db.session, contacts.validate(raw, region="RU"), None)
        db.session.commit()
        return contact.id


def deliveries(app, contact_id) -> list[str]:
    with app.app_context():
        return [
            entry.data["delivery"]
            for entry in db.session.scalars(
                select(Interaction)
                .where(Interaction.contact_id == contact_id, Interaction.kind == "message")
                .order_by(Interaction.id)
            )
        ]


def test_smtp_delivers_cyrillic_subject_and_body(app, editor_client, smtp_server):
    controller, inbox = smtp_server
    configure(
        app,
        host="127.0.0.1",
        port=controller.port,
        security="none",
        from_address="Отдел продаж <sales@example.com>",
    )
    contact_id = make_contact(app, emails=[{"value": "anna@example.com", "primary": True}])
    resp = editor_client.post(
        f"/contacts/{contact_id}/send",
        data={
            "sender": "smtp",
            "subject": "Приглашение для {{ first_name }} — скидка 10%",
            "body": "Здравствуйте, {{ first_name }}!\nЖдём вас в четверг.",
        },
    )
    assert resp.status_code == 302
    page = editor_client.get(resp.location).get_data(as_text=True)
    assert f"Message sent to anna@example.com: accepted by 127.0.0.1:{controller.port}" in page

    ((mail_from, rcpt_tos, content, _auth),) = inbox.received
    assert mail_from == "sales@example.com"
    assert rcpt_tos == ["anna@example.com"]
    raw_headers = content.split(b"\r\n\r\n", 1)[0]
    assert "Приглашение".encode() not in raw_headers  # encoded as RFC 2047 words, not raw
    mail = email.message_from_bytes(content, policy=policy.default)
    assert mail["Subject"] == "Приглашение для Анна — скидка 10%"
    assert mail["From"] == "Отдел продаж <sales@example.com>"
    assert mail["To"] == "anna@example.com"
    assert mail["Message-ID"] and mail["Date"]
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content_charset() == "utf-8"
    # SMTP carries CRLF line ends; the text is the same.
    assert mail.get_content().splitlines() == ["Здравствуйте, Анна!", "Ждём вас в четверг."]
    assert deliveries(app, contact_id) == [f"sent (accepted by 127.0.0.1:{controller.port})"]


def test_smtp_login(app, admin_client, smtp_server):
    controller, inbox = smtp_server
    base = {"host": "127.0.0.1", "port": controller.port, "security": "none"}
    configure(app, **base, login="crm@example.com", password="wrong")
    resp = admin_client.post(
        "/outbox/test", data={"sender": "smtp"}, headers={"HX-Request": "true"}
    )
    assert resp.status_code == 422
    assert f"127.0.0.1:{controller.port} refused the login: 535" in resp.get_data(as_text=True)
    assert inbox.received == []

    # The login is the From address when none is set; the test message goes to the admin.
    configure(app, **base, login="crm@example.com", password="s3cret")
    resp = admin_client.post("/outbox/test", data={"sender": "smtp"}, follow_redirects=True)
    assert "Test message sent: accepted by" in resp.get_data(as_text=True)
    ((mail_from, rcpt_tos, content, authenticated),) = inbox.received
    assert authenticated
    assert (mail_from, rcpt_tos) == ("crm@example.com", ["admin@example.com"])
    mail = email.message_from_bytes(content, policy=policy.default)
    assert mail["Subject"] == "Test message from crmlite"


def test_refused_connection_is_a_recorded_failure(app, editor_client):
    port = free_port()  # nothing listens here
    configure(app, host="127.0.0.1", port=port, security="none", from_address="a@example.com")
    contact_id = make_contact(app, emails=[{"value": "anna@example.com", "primary": True}])
    resp = editor_client.post(
        f"/contacts/{contact_id}/send",
        data={"sender": "smtp", "subject": "Hi", "body": "Hello"},
        follow_redirects=True,
    )
    page = resp.get_data(as_text=True)
    assert "The message was not sent: Could not send through 127.0.0.1:" in page
    assert "Connection refused" in page
    (delivery,) = deliveries(app, contact_id)
    assert delivery.startswith(f"failed: Could not send through 127.0.0.1:{port}")
    assert "Connection refused" in delivery
    assert "sent a message" in page and "Connection refused" in page.split("History")[-1]


def test_tls_against_a_plain_server_fails_clearly(app, editor_client, smtp_server):
    controller, inbox = smtp_server
    configure(
        app, host="127.0.0.1", port=controller.port, security="starttls", from_address="a@b.c"
    )
    contact_id = make_contact(app, emails=[{"value": "anna@example.com", "primary": True}])
    editor_client.post(
        f"/contacts/{contact_id}/send", data={"sender": "smtp", "subject": "Hi", "body": "Hello"}
    )
    (delivery,) = deliveries(app, contact_id)
    assert delivery.startswith("failed: Could not send through")
    assert "STARTTLS" in delivery
    assert inbox.received == []
