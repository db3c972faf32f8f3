"""The builtin e-mail sender: SMTP with STARTTLS or TLS, configured on the plugins page."""

import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from .. import hookimpl
from ..core.i18n import _
from ..core.sending import Message, SendResult
from ..plugins import PluginSettings, SettingField

PLUGIN = "builtin.smtp_sender"
SECURITY = ("none", "starttls", "tls")
TIMEOUT = 15  # seconds; a mail server that does not answer is a failure, not a hang


class SMTPSender:
    name = "smtp"
    channel = "email"

    @property
    def label(self) -> str:
        return _("E-mail (SMTP)")

    def build(self, message: Message, settings: dict) -> EmailMessage:
        # EmailMessage (policy default) encodes a Cyrillic subject as RFC 2047 words and the
        # body as UTF-8, so any mail client shows them right.
        mail = EmailMessage()
        mail["From"] = settings.get("from_address") or settings.get("login") or ""
        mail["To"] = message.to
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=True)
        domain = (mail["From"].rpartition("@")[2] or "crmlite").strip(">") or "crmlite"
        mail["Message-ID"] = make_msgid(domain=domain)
        for name, value in message.headers.items():  # e.g. List-Unsubscribe (campaigns)
            mail[name] = value
        mail.set_content(message.body)
        return mail

    def send(self, message: Message) -> SendResult:
        settings = message.settings
        host = (settings.get("host") or "").strip()
        if not host:
            return SendResult(False, _("The SMTP server is not configured (Admin → Plugins)."))
        if not (settings.get("from_address") or settings.get("login")):
            return SendResult(False, _("The SMTP sender has no From address (Admin → Plugins)."))
        security = str(settings.get("security") or "starttls").lower()
        if security not in SECURITY:
            return SendResult(False, _("Unknown SMTP security “%(value)s”.", value=security))
        port = int(settings.get("port") or (465 if security == "tls" else 587))
        where = f"{host}:{port}"
        try:
            mail = self.build(message, settings)
            context = ssl.create_default_context()
            if security == "tls":
                server = smtplib.SMTP_SSL(host, port, timeout=TIMEOUT, context=context)
            else:
                server = smtplib.SMTP(host, port, timeout=TIMEOUT)
            with server:
                if security == "starttls":
                    server.starttls(context=context)
                if settings.get("login"):
                    server.login(settings["login"], settings.get("password") or "")
                refused = server.send_message(mail)
        except smtplib.SMTPAuthenticationError as exc:
            return SendResult(
                False,
                _("%(server)s refused the login: %(error)s", server=where, error=_smtp_text(exc)),
            )
        except smtplib.SMTPRecipientsRefused as exc:
            return SendResult(
                False,
                _(
                    "%(server)s refused the recipient %(to)s: %(error)s",
                    server=where,
                    to=message.to,
                    error=_refusals(exc),
                ),
            )
        except smtplib.SMTPResponseException as exc:
            return SendResult(
                False, _("%(server)s answered: %(error)s", server=where, error=_smtp_text(exc))
            )
        except (OSError, smtplib.SMTPException, ValueError) as exc:
            # Connection refused, unknown host, timeout, TLS failure, a bad address header.
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            if isinstance(exc, socket.timeout | TimeoutError):
                reason = _("no answer in %(n)s seconds", n=TIMEOUT)
            return SendResult(
                False,
                _(
                    "Could not send through %(server)s: %(error)s",
                    server=where,
                    error=reason or type(exc).__name__,
                ),
            )
        if refused:
            return SendResult(
                False, _("%(server)s refused: %(to)s", server=where, to=", ".join(refused))
            )
        return SendResult(True, _("accepted by %(server)s", server=where))


def _smtp_text(exc: smtplib.SMTPResponseException) -> str:
    text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else ""
    return f"{exc.smtp_code} {text}".strip()


def _refusals(exc: smtplib.SMTPRecipientsRefused) -> str:
    return "; ".join(
        f"{code} {msg.decode(errors='replace') if isinstance(msg, bytes) else msg}"
        for code, msg in exc.recipients.values()
    )


@hookimpl
def register_senders():
    return [SMTPSender()]


@hookimpl
def register_settings():
    return [
        PluginSettings(
            plugin=PLUGIN,
            fields=[
                SettingField("host", _("SMTP server"), "text", "", _("For example smtp.yandex.ru")),
                SettingField("port", _("Port"), "int", 587, _("587 for STARTTLS, 465 for TLS")),
                SettingField(
                    "security", _("Security"), "text", "starttls", _("none, starttls or tls")
                ),
                SettingField("login", _("Login"), "text", ""),
                SettingField("password", _("Password"), "password", ""),
                SettingField(
                    "from_address",
                    _("From address"),
                    "email",
                    "",
                    _("For example “Sales <sales@example.com>”"),
                ),
            ],
        )
    ]
