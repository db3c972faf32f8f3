"""The crmlite-webhook plugin (plugins/crmlite-webhook) POSTs JSON to a real local server."""

import hashlib
import hmac
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from crmlite.core import contacts
from crmlite.extensions import db
from crmlite.models import Interaction, PluginState

try:
    import crmlite_webhook
except ImportError:  # not pip-installed in this environment: load it from the checkout
    sys.path.insert(0, str(Path(__file__).parents[1] / "plugins" / "crmlite-webhook"))
    import crmlite_webhook


@pytest.fixture
def webhook(app):
    """The plugin on the app's plugin manager, as its entry point registers it."""
    pm = app.extensions["crmlite.plugins"]
    added = pm.get_plugin("webhook") is None
    if added:
        pm.register(crmlite_webhook, name="webhook")
    yield pm
    if added:
        pm.unregister(name="webhook")


@pytest.fixture
def gateway():
    """A messenger gateway stand-in: records each POST and answers with .status."""
    received = []

    class Handler(BaseHTTPRequestHandler):
        status = 200

        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, dict(self.headers), body))
            self.send_response(Handler.status)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server, Handler, received
    finally:
        server.shutdown()
        server.server_close()


def configure(app, **settings):
    with app.app_context():
        db.session.merge(PluginState(name="webhook", enabled=True, settings=settings))
        db.session.commit()


def make_contact(app) -> int:
    raw = {
        "first_name": "Мария",
        "last_name": "Иванова",
        "emails": [{"value": "maria@example.com", "primary": True}],
        "phones": [{"value": "8 (912) 345-67-89", "primary": True}],
    }
    with app.app_context():
        contact = contacts.create_contact(db.session, contacts.validate(raw, region="RU"), None)
        db.session.commit()
        return contact.id


def deliveries(app, contact_id) -> list[str]:
    with app.app_context():
        return [
            e.data["delivery"]
            for e in db.session.scalars(
                select(Interaction)
                .where(Interaction.contact_id == contact_id, Interaction.kind == "message")
                .order_by(Interaction.id)
            )
        ]


def test_webhook_posts_json(app, editor_client, webhook, gateway):
    server, _handler, received = gateway
    url = f"http://127.0.0.1:{server.server_port}/hooks/crm"
    configure(app, url=url, secret="topsecret")
    contact_id = make_contact(app)
    page = editor_client.get(f"/contacts/{contact_id}/send").get_data(as_text=True)
    assert "Webhook (JSON POST)" in page
    resp = editor_client.post(
        f"/contacts/{contact_id}/send",
        data={"sender": "webhook", "subject": "", "body": "{{ first_name }}, заказ готов"},
        follow_redirects=True,
    )
    assert f"{url} answered 200" in resp.get_data(as_text=True)
    ((path, headers, body),) = received
    assert path == "/hooks/crm"
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    expected = "sha256=" + hmac.new(b"topsecret", body, hashlib.sha256).hexdigest()
    assert headers["X-Crmlite-Signature"] == expected
    data = json.loads(body.decode("utf-8"))
    assert data["channel"] == "webhook"
    assert data["body"] == "Мария, заказ готов"
    assert data["contact"] == {
        "id": contact_id,
        "name": "Иванова Мария",
        "email": "maria@example.com",
        "phone": "+79123456789",
    }
    assert deliveries(app, contact_id) == [f"sent ({url} answered 200)"]


def test_webhook_failures_recorded(app, editor_client, webhook, gateway):
    server, handler, received = gateway
    contact_id = make_contact(app)
    form = {"sender": "webhook", "subject": "", "body": "Hi"}

    resp = editor_client.post(f"/contacts/{contact_id}/send", data=form, follow_redirects=True)
    assert "The webhook URL is not set" in resp.get_data(as_text=True)

    url = f"http://127.0.0.1:{server.server_port}/down"
    configure(app, url=url)
    handler.status = 503
    resp = editor_client.post(f"/contacts/{contact_id}/send", data=form, follow_redirects=True)
    assert f"The message was not sent: {url} answered 503" in resp.get_data(as_text=True)
    assert "X-Crmlite-Signature" not in received[0][1]  # no secret, no signature
    assert deliveries(app, contact_id) == [
        "failed: The webhook URL is not set (Admin → Plugins → webhook).",
        f"failed: {url} answered 503 Service Unavailable",
    ]
