"""Messages to contacts through the senders plugins register (hook register_senders).

A sender is any object with
    name     unique key, e.g. "smtp"
    label    what people read, e.g. "E-mail (SMTP)"
    channel  one of CHANNELS
    send(message: Message) -> SendResult   (never raises for a delivery failure)

send() runs before_send (plugins may change the message), the sender, then after_send,
and records the message with its result in the contact's chronicle. Subjects and bodies are
Jinja templates rendered in a sandbox with the contact's fields, so a template written by
a user can read {{ first_name }} but cannot reach Python internals.
"""

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pluggy
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment, SecurityError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Contact, CustomField, Interaction, PluginState
from .i18n import _

CHANNELS = ("email", "sms", "messenger", "webhook")
MAX_SUBJECT = 500
MAX_BODY = 50_000
MAX_OUTPUT = 200_000  # characters a rendered template may produce
CHRONICLE_EXCERPT = 300  # characters of the body kept in the contact's chronicle


@dataclass
class Message:
    """One message on its way to one recipient.

    `to` is the address for the channel: an e-mail address for email, a phone number for
    sms and messenger, empty for webhook (the URL is the sender's setting). `contact`
    carries the recipient's name, email and phone for senders that post structured data.
    `settings` holds the settings of the plugin that registered the sender (declared with
    register_settings), filled in by crmlite just before before_send.
    """

    channel: str
    to: str
    subject: str
    body: str
    contact_id: int | None = None
    contact: dict[str, Any] = field(default_factory=dict)
    sender: str = ""
    settings: dict[str, Any] = field(default_factory=dict, repr=False)
    extra: dict[str, Any] = field(default_factory=dict)  # free room for plugins
    # Extra mail headers, e.g. List-Unsubscribe on campaign mail; senders that cannot carry
    # headers ignore them.
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class SendResult:
    ok: bool
    detail: str = ""


class SendError(ValueError):
    """The message was refused before anything was sent; the message says why."""


# -- senders ---------------------------------------------------------------------------------


@dataclass
class RegisteredSender:
    sender: Any
    plugin: str  # the plugin that registered it: its settings go to the sender

    @property
    def name(self) -> str:
        return self.sender.name

    @property
    def label(self) -> str:
        return str(getattr(self.sender, "label", "") or self.sender.name)

    @property
    def channel(self) -> str:
        return self.sender.channel


def all_senders(pm: pluggy.PluginManager) -> list[RegisteredSender]:
    """Every sender of every enabled plugin, in plugin order; the first of a name wins."""
    found: dict[str, RegisteredSender] = {}
    # Called per implementation (not through pm.hook) to know which plugin owns each sender.
    for impl in pm.hook.register_senders.get_hookimpls():
        for sender in impl.function() or []:
            if sender.channel not in CHANNELS:
                raise ValueError(
                    f"sender {sender.name!r} of plugin {impl.plugin_name!r} has channel "
                    f"{sender.channel!r}; expected one of {', '.join(CHANNELS)}"
                )
            found.setdefault(sender.name, RegisteredSender(sender, impl.plugin_name))
    return list(found.values())


def get_sender(pm: pluggy.PluginManager, name: str) -> RegisteredSender | None:
    return next((s for s in all_senders(pm) if s.name == name), None)


# -- plugin settings -------------------------------------------------------------------------


def _coerce(kind: str, value: Any, default: Any) -> Any:
    if kind == "int":
        try:
            return int(value)
        except (TypeError, ValueError):
            return default
    if kind == "bool":
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "on")
    return "" if value is None else str(value)


def plugin_settings(pm: pluggy.PluginManager, session: Session, plugin: str) -> dict[str, Any]:
    """A plugin's stored settings over the defaults it declared with register_settings."""
    declared = [
        f
        for group in pm.hook.register_settings()
        for settings in group or []
        if settings.plugin == plugin
        for f in settings.fields
    ]
    state = session.get(PluginState, plugin)
    stored = (state.settings if state is not None else None) or {}
    values = {f.name: f.default for f in declared}
    for f in declared:
        if f.name in stored and stored[f.name] not in (None, ""):
            values[f.name] = _coerce(f.kind, stored[f.name], f.default)
    for key, value in stored.items():
        values.setdefault(key, value)
    return values


# -- templates -------------------------------------------------------------------------------


class TemplateProblem(SendError):
    """A subject or body template that cannot be rendered."""


class _Sandbox(SandboxedEnvironment):
    # The sandbox stops attribute tricks; these stop "{{ 'x' * 10**9 }}" eating the memory.
    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context, operator, left, right):
        if operator == "**":
            raise SecurityError("the ** operator is not allowed in message templates")
        for seq, n in ((left, right), (right, left)):
            if isinstance(seq, str | list | tuple) and isinstance(n, int):
                if len(seq) * n > MAX_OUTPUT:
                    raise SecurityError("the result would be too long")
        return super().call_binop(context, operator, left, right)


_env = _Sandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)

FIELDS = (
    "first_name",
    "last_name",
    "middle_name",
    "company",
    "position",
    "industry",
    "city",
    "country",
    "address",
    "gender",
    "source",
    "stage",
    "temperature",
)


def contact_context(contact: Contact, custom_fields: list[CustomField] = ()) -> dict[str, Any]:
    """The names a template can use: the contact's fields, full_name, email, phone, custom
    fields by key (also as custom.<key>), empty when unset."""
    values: dict[str, Any] = {name: getattr(contact, name) or "" for name in FIELDS}
    values["full_name"] = contact.full_name
    values["birth_date"] = contact.birth_date.isoformat() if contact.birth_date else ""
    values["email"] = contact.primary_email.email if contact.primary_email else ""
    values["phone"] = contact.primary_phone.e164 if contact.primary_phone else ""
    custom = {f.key: "" for f in custom_fields}
    custom.update({k: ("" if v is None else v) for k, v in (contact.custom or {}).items()})
    values["custom"] = custom
    for key, value in custom.items():
        values.setdefault(key, value)  # a custom key never hides a built-in field
    values["today"] = date.today().isoformat()
    return values


def render_template(source: str, context: dict[str, Any], what: str) -> str:
    """Render one user template in the sandbox; any problem is a TemplateProblem saying
    which template (what: "subject" or "body") and why."""
    try:
        text = _env.from_string(source).render(context)
    except SecurityError as exc:
        raise TemplateProblem(
            _(
                "The %(what)s template tries something not allowed: %(error)s",
                what=what,
                error=str(exc),
            )
        ) from exc
    except TemplateError as exc:
        error = exc.message or type(exc).__name__
        line = getattr(exc, "lineno", None)
        if line:
            text = _(
                "The %(what)s template has an error on line %(line)s: %(error)s",
                what=what,
                line=line,
                error=error,
            )
        else:
            text = _("The %(what)s template has an error: %(error)s", what=what, error=error)
        raise TemplateProblem(text) from exc
    except (ArithmeticError, TypeError, ValueError, LookupError) as exc:
        raise TemplateProblem(
            _("The %(what)s template has an error: %(error)s", what=what, error=str(exc))
        ) from exc
    if len(text) > MAX_OUTPUT:
        raise TemplateProblem(_("The %(what)s is too long once rendered.", what=what))
    return text


# -- composing and sending -------------------------------------------------------------------


def _custom_fields(session: Session) -> list[CustomField]:
    return list(session.scalars(select(CustomField)))


def compose(
    session: Session,
    sender: RegisteredSender,
    contact: Contact,
    subject_template: str,
    body_template: str,
    extra_context: dict[str, Any] | None = None,
) -> Message:
    """The message for this contact: address checked, templates rendered. Raises SendError
    (with a message for the user) when it cannot be sent; nothing is recorded then.
    extra_context adds names to the templates (campaigns add unsubscribe_url)."""
    if len(subject_template) > MAX_SUBJECT:
        raise SendError(_("The subject is longer than %(n)s characters.", n=MAX_SUBJECT))
    if len(body_template) > MAX_BODY:
        raise SendError(_("The message is longer than %(n)s characters.", n=MAX_BODY))
    if not body_template.strip():
        raise SendError(_("Write the message first."))
    body_template = body_template.replace("\r\n", "\n")  # a browser's textarea sends CRLF
    context = contact_context(contact, _custom_fields(session))
    context.update(extra_context or {})
    email, phone = context["email"], context["phone"]
    if sender.channel == "email":
        if not email:
            raise SendError(
                _(
                    "%(name)s has no e-mail address, so an e-mail cannot be sent.",
                    name=contact.full_name,
                )
            )
        to = email
    elif sender.channel in ("sms", "messenger"):
        if not phone:
            raise SendError(
                _(
                    "%(name)s has no phone number, so this message cannot be sent.",
                    name=contact.full_name,
                )
            )
        to = phone
    else:
        to = ""
    subject = " ".join(render_template(subject_template, context, _("subject")).split())
    body = render_template(body_template, context, _("message"))
    return Message(
        channel=sender.channel,
        to=to,
        subject=subject[:MAX_SUBJECT],
        body=body,
        contact_id=contact.id,
        contact={"id": contact.id, "name": contact.full_name, "email": email, "phone": phone},
        sender=sender.name,
    )


def send(
    pm: pluggy.PluginManager,
    session: Session,
    sender_name: str,
    message: Message,
    user_id: int | None = None,
) -> SendResult:
    """Send one message through the named sender and record it in the contact's chronicle
    (an Interaction of kind "message"; the summary and plugins' interaction_added follow).

    A sender that raises counts as a failed delivery (recorded, not lost). The caller
    commits the session.
    """
    registered = get_sender(pm, sender_name)
    if registered is None:
        raise SendError(_("There is no sender “%(name)s”.", name=sender_name))
    message.sender = registered.name
    message.channel = registered.channel
    message.settings = plugin_settings(pm, session, registered.plugin)
    pm.hook.before_send(message=message)
    try:
        result = registered.sender.send(message)
        if not isinstance(result, SendResult):
            result = SendResult(bool(result), str(result or ""))
    except Exception as exc:  # a plugin's bug is a failed delivery, shown to the user
        result = SendResult(False, f"{type(exc).__name__}: {exc}")
    pm.hook.after_send(message=message, result=result)
    if message.contact_id is not None:
        _record_in_chronicle(pm, session, message, registered.label, result, user_id)
    return result


def _record_in_chronicle(
    pm: pluggy.PluginManager,
    session: Session,
    message: Message,
    sender_label: str,
    result: SendResult,
    user_id: int | None,
) -> None:
    """The message, sent or failed, as an entry of the contact's chronicle."""
    from . import interactions

    excerpt = " ".join((message.body or "").split())[:CHRONICLE_EXCERPT]
    item = Interaction(
        contact_id=message.contact_id,
        kind="message",
        text="\n".join(part for part in (message.subject, excerpt) if part),
        author_id=user_id,
        data={
            "sender": sender_label,
            "to": message.to,
            "subject": message.subject,
            "delivery": delivery_text(result),
            "ok": result.ok,
        },
    )
    session.add(item)
    session.flush()
    interactions.after_change(session, [message.contact_id], user_id)
    pm.hook.interaction_added(interaction=item)


def delivery_text(result: SendResult) -> str:
    if result.ok:
        return _("sent") + (f" ({result.detail})" if result.detail else "")
    return _("failed: %(detail)s", detail=result.detail or _("unknown error"))
