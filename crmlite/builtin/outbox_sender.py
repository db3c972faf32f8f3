"""The builtin outbox: keeps messages in the database instead of delivering them, so a
team can try crmlite (and its templates) without a mail server. See the Outbox page."""

from flask import url_for
from flask_babel import gettext

from .. import hookimpl
from ..core.i18n import _
from ..core.sending import Message, SendResult
from ..extensions import db
from ..models import OutboxMessage


class OutboxSender:
    name = "outbox"
    channel = "email"

    @property
    def label(self) -> str:
        return _("Outbox (kept in crmlite, not delivered)")

    def send(self, message: Message) -> SendResult:
        # db.session is the session of the request or job that sends (one app context).
        row = OutboxMessage(
            channel=message.channel,
            to_address=message.to[:320],
            subject=message.subject[:500],
            body=message.body,
            contact_id=message.contact_id,
        )
        db.session.add(row)
        db.session.flush()
        return SendResult(True, _("kept in the outbox as #%(id)s", id=row.id))


@hookimpl
def register_senders():
    return [OutboxSender()]


@hookimpl
def menu_links(user):
    return [(gettext("Outbox"), url_for("sending.outbox"))]
