"""Messages: send one to a contact (with a preview), the Outbox page, the admin test message.

GET/POST /contacts/<id>/send           the form; POST sends (editors and admins)
POST     /contacts/<id>/send/preview   the rendered subject and body (HTMX fragment)
GET      /outbox                       messages the outbox sender kept, newest first
POST     /outbox/test                  admin: a test message to the admin's own address
"""

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..core import contacts as core_contacts
from ..core import sending
from ..extensions import db
from ..forms.sending import SendForm, TestSendForm
from ..models import Contact, CustomField, OutboxMessage
from .htmx import is_htmx, render

bp = Blueprint("sending", __name__)

PAGE = 50
DEFAULT_BODY = "{{ first_name }}, "


def _pm():
    return current_app.extensions["crmlite.plugins"]


def _sender_choices(pm) -> list[tuple[str, str]]:
    return [(s.name, f"{s.label} — {s.channel}") for s in sending.all_senders(pm)]


def _editable_contact(contact_id: int) -> Contact:
    if not current_user.can_edit():
        abort(403)  # viewers read; sending is an action
    contact = core_contacts.load_contact(db.session, contact_id)
    if contact is None:
        abort(404)
    return contact


def _variables() -> list[str]:
    keys = db.session.scalars(select(CustomField.key).order_by(CustomField.key))
    return [*sending.FIELDS, "full_name", "email", "phone", "birth_date", "today", *keys]


def _page(contact: Contact, form: SendForm, **extra):
    return render(
        "sending/send.html",
        block=extra.pop("block", None),
        contact=contact,
        form=form,
        variables=_variables(),
        **extra,
    )


def _compose(pm, contact: Contact, form: SendForm) -> sending.Message:
    registered = sending.get_sender(pm, form.sender.data)
    if registered is None:
        raise sending.SendError(_("Choose a sender."))
    return sending.compose(
        db.session, registered, contact, form.subject.data or "", form.body.data or ""
    )


@bp.route("/contacts/<int:contact_id>/send", methods=["GET", "POST"])
def send(contact_id: int):
    contact = _editable_contact(contact_id)
    pm = _pm()
    form = SendForm()
    form.sender.choices = _sender_choices(pm)
    if request.method == "GET":
        form.body.data = form.body.data or DEFAULT_BODY
        return _page(contact, form)
    if not form.validate():
        return _page(contact, form), 422
    try:
        message = _compose(pm, contact, form)
    except sending.SendError as exc:
        # Nothing was sent or recorded: the form comes back with the reason.
        return _page(contact, form, error=str(exc)), 422
    result = sending.send(pm, db.session, form.sender.data, message, user_id=current_user.id)
    db.session.commit()
    if result.ok:
        flash(
            _(
                "Message sent to %(to)s: %(detail)s",
                to=message.to or contact.full_name,
                detail=result.detail,
            ),
            "success",
        )
    else:
        flash(_("The message was not sent: %(detail)s", detail=result.detail), "error")
    return redirect(url_for("contact.view", contact_id=contact.id))


@bp.route("/contacts/<int:contact_id>/send/preview", methods=["POST"])
def preview(contact_id: int):
    contact = _editable_contact(contact_id)
    pm = _pm()
    form = SendForm()
    form.sender.choices = _sender_choices(pm)
    try:
        if not form.validate():
            errors = [e for field in form for e in field.errors]
            raise sending.SendError(" ".join(str(e) for e in errors))
        message = _compose(pm, contact, form)
    except sending.SendError as exc:
        return _page(contact, form, block="preview", error=str(exc)), 422
    return _page(contact, form, block="preview", message=message)


# -- the outbox and the admin test message ---------------------------------------------------


def _outbox_context(before: int | None) -> dict:
    stmt = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(PAGE + 1)
    if before is not None:
        stmt = stmt.where(OutboxMessage.id < before)
    rows = list(db.session.scalars(stmt))
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    ids = {r.contact_id for r in rows if r.contact_id}
    names = {}
    if ids:
        names = {
            c.id: c.full_name
            for c in db.session.scalars(select(Contact).where(Contact.id.in_(ids)))
        }
    return {
        "outbox": rows,
        "names": names,
        "older_url": url_for("sending.outbox", before=rows[-1].id) if more else None,
    }


def _test_form(pm) -> TestSendForm:
    form = TestSendForm()
    form.sender.choices = _sender_choices(pm)
    return form


@bp.route("/outbox")
def outbox():
    raw = request.args.get("before", "")
    before = int(raw) if raw.isdigit() and len(raw) < 19 else None
    ctx = _outbox_context(before)
    test_form = _test_form(_pm()) if current_user.is_admin else None
    return render("sending/outbox.html", test_form=test_form, **ctx)


@bp.route("/outbox/test", methods=["POST"])
def test():
    if not current_user.is_admin:
        abort(403)
    pm = _pm()
    form = _test_form(pm)
    if not form.validate():
        result = sending.SendResult(False, _("Choose a sender."))
    else:
        registered = sending.get_sender(pm, form.sender.data)
        message = sending.Message(
            channel=registered.channel,
            to=current_user.email if registered.channel == "email" else "",
            subject=_("Test message from crmlite"),
            body=_(
                "This is a test message from crmlite. "
                "If you can read it, the sender “%(sender)s” works.",
                sender=registered.label,
            ),
            contact={"name": current_user.display_name, "email": current_user.email, "phone": ""},
        )
        result = sending.send(pm, db.session, registered.name, message, user_id=current_user.id)
        db.session.commit()
    if is_htmx():
        body = render("sending/outbox.html", block="test_result", result=result, test_form=form)
        return body, (200 if result.ok else 422)
    if result.ok:
        flash(_("Test message sent: %(detail)s", detail=result.detail), "success")
    else:
        flash(_("The test message was not sent: %(detail)s", detail=result.detail), "error")
    return redirect(url_for("sending.outbox"))
