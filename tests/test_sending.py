"""Sending a message to a contact: senders from plugins, the before/after_send hooks,
sandboxed templates with a preview, the contact's history, the Outbox page."""

from contextlib import contextmanager

from sqlalchemy import select

from crmlite import hookimpl
from crmlite.core import contacts, sending
from crmlite.extensions import db
from crmlite.models import CustomField, Interaction, OutboxMessage

HX = {"HX-Request": "true"}


def make_contact(app, **fields) -> int:
    raw = {"first_name": "Иван", "last_name": "Петров", **fields}
    with app.app_context():
        fields = contacts.custom_fields(db.session)
        clean = contacts.validate(raw, region="RU", custom_fields=fields)
        contact = contacts.create_contact(db.session, clean, None)
        db.session.commit()
        return contact.id


@contextmanager
def plugin(app, obj, name):
    """A test-only plugin registered on the running app's plugin manager."""
    pm = app.extensions["crmlite.plugins"]
    pm.register(obj, name=name)
    try:
        yield pm
    finally:
        pm.unregister(name=name)


def outbox(app) -> list[OutboxMessage]:
    with app.app_context():
        rows = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        db.session.expunge_all()
        return rows


def messages_in_history(app, contact_id) -> list[dict]:
    with app.app_context():
        return [
            dict(item.data) | {"user_id": item.author_id}
            for item in db.session.scalars(
                select(Interaction)
                .where(Interaction.contact_id == contact_id, Interaction.kind == "message")
                .order_by(Interaction.id)
            )
        ]


def send(client, contact_id, sender="outbox", subject="", body="Hello", **kw):
    data = {"sender": sender, "subject": subject, "body": body}
    return client.post(f"/contacts/{contact_id}/send", data=data, **kw)


# -- the hooks -------------------------------------------------------------------------------


class SmsGateway:
    """A test sender on the sms channel that keeps what it was given."""

    name = "test_sms"
    label = "Test SMS gateway"
    channel = "sms"

    def __init__(self):
        self.sent = []

    def send(self, message):
        self.sent.append(message)
        return sending.SendResult(True, "queued at the gateway")


class SmsPlugin:
    def __init__(self):
        self.gateway = SmsGateway()

    @hookimpl
    def register_senders(self):
        return [self.gateway]


def test_hook_register_senders(app, editor_client, users):
    with_phone = make_contact(app, phones=[{"value": "+7 912 345-67-89", "primary": True}])
    without_phone = make_contact(app, first_name="Олег")
    test_plugin = SmsPlugin()
    with plugin(app, test_plugin, "test_sms_plugin"):
        page = editor_client.get(f"/contacts/{with_phone}/send").get_data(as_text=True)
        assert "Test SMS gateway" in page
        resp = send(editor_client, with_phone, "test_sms", body="Код: {{ first_name }}")
        assert resp.status_code == 302
        followed = editor_client.get(resp.location).get_data(as_text=True)
        assert "Message sent to +79123456789: queued at the gateway" in followed

        refused = send(editor_client, without_phone, "test_sms", body="Hi")
        assert refused.status_code == 422
        assert "Петров Олег has no phone number" in refused.get_data(as_text=True)
    (message,) = test_plugin.gateway.sent
    assert (message.channel, message.to, message.body) == ("sms", "+79123456789", "Код: Иван")
    assert message.contact["phone"] == "+79123456789"
    (entry,) = messages_in_history(app, with_phone)
    assert entry["sender"] == "Test SMS gateway"
    assert entry["delivery"] == "sent (queued at the gateway)"
    assert entry["user_id"] == users["editor"]
    assert messages_in_history(app, without_phone) == []
    # Once the plugin is gone, so is its sender.
    page = editor_client.get(f"/contacts/{with_phone}/send").get_data(as_text=True)
    assert "Test SMS gateway" not in page


class PrefixSubject:
    @hookimpl
    def before_send(self, message):
        message.subject = "[CRM] " + message.subject
        message.body += "\n-- \nsent with crmlite"


def test_hook_before_send(app, editor_client):
    contact_id = make_contact(app, emails=[{"value": "ivan@example.com", "primary": True}])
    with plugin(app, PrefixSubject(), "test_prefix"):
        resp = send(editor_client, contact_id, subject="Счёт {{ last_name }}", body="Добрый день")
    assert resp.status_code == 302
    (kept,) = outbox(app)
    assert kept.subject == "[CRM] Счёт Петров"
    assert kept.body == "Добрый день\n-- \nsent with crmlite"
    # The history records the message as it left, after the plugin changed it.
    assert messages_in_history(app, contact_id)[0]["subject"] == "[CRM] Счёт Петров"


class Audit:
    def __init__(self):
        self.seen = []

    @hookimpl
    def after_send(self, message, result):
        self.seen.append((message.sender, message.to, result.ok, result.detail))


class Broken:
    name = "broken"
    label = "Broken gateway"
    channel = "webhook"

    def send(self, message):
        raise ConnectionError("gateway down")


class BrokenPlugin:
    @hookimpl
    def register_senders(self):
        return [Broken()]


def test_hook_after_send(app, editor_client):
    contact_id = make_contact(app, emails=[{"value": "ivan@example.com", "primary": True}])
    audit = Audit()
    with plugin(app, audit, "test_audit"), plugin(app, BrokenPlugin(), "test_broken"):
        send(editor_client, contact_id, "outbox", body="one")
        resp = send(editor_client, contact_id, "broken", body="two")
        followed = editor_client.get(resp.location).get_data(as_text=True)
    assert audit.seen[0][:3] == ("outbox", "ivan@example.com", True)
    # A sender that raises is a failed delivery: after_send hears of it, the user sees it,
    # and the history keeps it.
    assert audit.seen[1] == ("broken", "", False, "ConnectionError: gateway down")
    assert "The message was not sent: ConnectionError: gateway down" in followed
    entries = messages_in_history(app, contact_id)
    assert [e["delivery"] for e in entries][1] == "failed: ConnectionError: gateway down"


# -- templates, preview, refusals ------------------------------------------------------------


def test_template_uses_contact_and_custom_fields(app, editor_client):
    with app.app_context():
        db.session.add(CustomField(key="plan", label="Plan", kind="text", position=0))
        db.session.commit()
    contact_id = make_contact(
        app,
        company="ООО «Ромашка»",
        emails=[{"value": "ivan@example.com", "primary": True}],
        custom={"plan": "Pro"},
    )
    resp = editor_client.post(
        f"/contacts/{contact_id}/send/preview",
        data={
            "sender": "outbox",
            "subject": "Тариф {{ plan }}",
            "body": "{{ first_name }}, ваш тариф {{ custom.plan }} в {{ company }}",
        },
        headers=HX,
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "Тариф Pro" in html
    assert "Иван, ваш тариф Pro в ООО «Ромашка»" in html
    assert "ivan@example.com" in html
    assert outbox(app) == []  # a preview sends nothing


def test_template_errors_send_nothing(app, editor_client):
    contact_id = make_contact(app, emails=[{"value": "ivan@example.com", "primary": True}])
    cases = {
        "Hi {{ first_name ": "The message template has an error on line 1",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}": "tries something not allowed",
        "{{ frist_name }}": "&#39;frist_name&#39; is undefined",
        "{{ 'x' * 1000000000 }}": "the result would be too long",
    }
    for body, expected in cases.items():
        resp = send(editor_client, contact_id, body=body)
        assert resp.status_code == 422, body
        assert expected in resp.get_data(as_text=True), body
        preview = editor_client.post(
            f"/contacts/{contact_id}/send/preview",
            data={"sender": "outbox", "subject": "", "body": body},
            headers=HX,
        )
        assert preview.status_code == 422
        assert expected in preview.get_data(as_text=True)
    bad_subject = send(editor_client, contact_id, subject="{% if %}", body="ok")
    assert "The subject template has an error" in bad_subject.get_data(as_text=True)
    assert outbox(app) == []
    assert messages_in_history(app, contact_id) == []


def test_no_email_no_email(app, editor_client):
    contact_id = make_contact(app, phones=[{"value": "+7 912 345-67-89"}])
    resp = send(editor_client, contact_id, "outbox", body="Hi")
    assert resp.status_code == 422
    assert "Петров Иван has no e-mail address, so an e-mail cannot be sent." in resp.get_data(
        as_text=True
    )
    assert outbox(app) == []
    assert messages_in_history(app, contact_id) == []


def test_empty_body_and_unknown_sender_refused(app, editor_client):
    contact_id = make_contact(app, emails=[{"value": "ivan@example.com"}])
    empty = send(editor_client, contact_id, body="   ")
    assert empty.status_code == 422
    assert "Write the message first." in empty.get_data(as_text=True)
    unknown = send(editor_client, contact_id, sender="carrier_pigeon")
    assert unknown.status_code == 422
    assert "Not a valid choice" in unknown.get_data(as_text=True)
    assert outbox(app) == []


def test_contact_page_send_link_for_editors_only(app, editor_client, viewer_client):
    contact_id = make_contact(app, emails=[{"value": "ivan@example.com"}])
    page = editor_client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    assert f'href="/contacts/{contact_id}/send"' in page
    assert f"/contacts/{contact_id}/send" not in viewer_client.get(f"/contacts/{contact_id}").text
    assert viewer_client.get(f"/contacts/{contact_id}/send").status_code == 403
    assert send(viewer_client, contact_id).status_code == 403
    assert outbox(app) == []
    assert editor_client.get("/contacts/999999/send").status_code == 404


def test_sent_message_in_history_and_outbox(app, editor_client, viewer_client):
    contact_id = make_contact(app, emails=[{"value": "ivan@example.com", "primary": True}])
    resp = send(editor_client, contact_id, subject="Встреча", body="{{ first_name }}, до встречи!")
    assert resp.status_code == 302
    page = editor_client.get(resp.location).get_data(as_text=True)
    assert "Message sent to ivan@example.com: kept in the outbox as #" in page
    assert "sent a message" in page
    assert "Встреча" in page  # the history shows the subject
    (kept,) = outbox(app)
    assert (kept.to_address, kept.subject, kept.body) == (
        "ivan@example.com",
        "Встреча",
        "Иван, до встречи!",
    )
    # Everyone may read the outbox; it links the message to its contact.
    box = viewer_client.get("/outbox").get_data(as_text=True)
    assert "Встреча" in box and "Иван, до встречи!" in box
    assert f'href="/contacts/{contact_id}"' in box
    assert "Send a test message" not in box


def test_outbox_pages_by_keyset(app, editor_client):
    with app.app_context():
        db.session.add_all(
            OutboxMessage(channel="email", to_address="x@example.com", subject=f"N{i:03}", body="")
            for i in range(60)
        )
        db.session.commit()
    first = editor_client.get("/outbox").get_data(as_text=True)
    assert "N059" in first and "N010" in first and "N009" not in first
    older = first.split('href="/outbox?before=')[1].split('"')[0]
    second = editor_client.get(f"/outbox?before={older}").get_data(as_text=True)
    assert "N009" in second and "N000" in second and "N010" not in second
    assert "Older messages" not in second


def test_admin_test_message(app, admin_client, editor_client):
    box = admin_client.get("/outbox").get_data(as_text=True)
    assert "Send a test message" in box and "admin@example.com" in box
    resp = admin_client.post("/outbox/test", data={"sender": "outbox"}, headers=HX)
    assert resp.status_code == 200
    assert "Sent: kept in the outbox as #" in resp.get_data(as_text=True)
    (kept,) = outbox(app)
    assert kept.to_address == "admin@example.com"
    assert kept.subject == "Test message from crmlite"
    # An unconfigured SMTP server is a clear failure, not a crash.
    failed = admin_client.post("/outbox/test", data={"sender": "smtp"}, headers=HX)
    assert failed.status_code == 422
    assert "The SMTP server is not configured" in failed.get_data(as_text=True)
    assert editor_client.post("/outbox/test", data={"sender": "outbox"}).status_code == 403
    assert len(outbox(app)) == 1


def test_senders_listed_in_plugin_order(app):
    names = [s.name for s in sending.all_senders(app.extensions["crmlite.plugins"])]
    assert names[:2] == ["smtp", "outbox"]
