"""Privacy requests (GDPR, 152-FZ), admins only: one person's data as a ZIP, erasure, the log.

POST /contacts/<id>/privacy/export  the ZIP (contact.json + CSVs), logged
GET  /contacts/<id>/privacy/erase   the confirmation page: what is kept, what is removed
POST /contacts/<id>/privacy/erase   erase (reason and the contact's name typed to confirm)
GET  /admin/privacy                 the log: who, when, what, why, which contact

An erased contact is final: every other request naming it (edit, restore, tags, chronicle,
consent, sending...) is refused with a clear message; its page shows only the erasure and
the purchases kept for accounting (erased_page, called by web/contact.py).
"""

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import escape

from ..core import privacy as core
from ..core.text import fold
from ..extensions import db
from ..models import Contact
from .chronicle import money
from .htmx import is_htmx
from .security import require_admin

bp = Blueprint("privacy", __name__)
bp.before_request(require_admin)

# The only views that may still show an erased contact.
ALLOWED_FOR_ERASED = {"contact.view"}


@bp.before_app_request
def refuse_erased():
    """Any request naming an erased contact, other than its page and this blueprint, is
    refused (409) with a clear message and changes nothing."""
    contact_id = (request.view_args or {}).get("contact_id")
    if not isinstance(contact_id, int) or request.endpoint in ALLOWED_FOR_ERASED:
        return None
    if request.blueprint == bp.name or not current_user.is_authenticated:
        return None
    try:
        core.ensure_not_erased(db.session.get(Contact, contact_id))
    except core.ContactErased as exc:
        message = str(exc)
    else:
        return None
    if is_htmx():
        return make_response(f'<p class="error" role="alert">{escape(message)}</p>', 409)
    body = render_template("privacy/refused.html", message=message, contact_id=contact_id)
    return make_response(body, 409)


def _contact_or_404(contact_id: int) -> Contact:
    return db.session.get(Contact, contact_id) or abort(404)


def erased_page(contact: Contact):
    """The page of an erased contact: who erased it, when and why, and the kept purchases."""
    entry = core.erasure_of(db.session, contact.id)
    purchases = core.kept_purchases(db.session, contact.id)
    return render_template(
        "privacy/erased.html",
        contact=contact,
        entry=entry,
        purchases=purchases,
        money=money,
        is_admin=current_user.is_admin,
    )


@bp.route("/contacts/<int:contact_id>/privacy/export", methods=["POST"])
def export(contact_id: int):
    _contact_or_404(contact_id)
    data = core.export_archive(db.session, contact_id, current_user.id)
    db.session.commit()
    return Response(
        data,
        mimetype="application/zip",
        headers={
            "Content-Disposition": (
                f'attachment; filename="contact-{contact_id}-personal-data.zip"'
            ),
            "Cache-Control": "no-store",
        },
    )


def _confirmed(contact: Contact, typed: str) -> bool:
    return fold(" ".join(typed.split())) == fold(" ".join(contact.full_name.split()))


@bp.route("/contacts/<int:contact_id>/privacy/erase", methods=["GET", "POST"])
def erase(contact_id: int):
    contact = _contact_or_404(contact_id)
    if contact.erased_at is not None:
        flash(_("This contact was already erased."), "info")
        return redirect(url_for("contact.view", contact_id=contact_id))
    if request.method == "GET":
        return render_template("privacy/erase.html", contact=contact, errors={}, form={})
    form = request.form
    errors: dict[str, str] = {}
    try:
        reason = core.clean_reason(form.get("reason"))
    except core.PrivacyError as exc:
        errors["reason"] = str(exc)
        reason = ""
    if not _confirmed(contact, form.get("confirm_name", "")):
        errors["confirm_name"] = _(
            "Type the contact's name exactly as shown: %(name)s", name=contact.full_name
        )
    if errors:
        body = render_template("privacy/erase.html", contact=contact, errors=errors, form=form)
        return body, 422
    core.erase(db.session, contact_id, current_user.id, reason)
    db.session.commit()
    flash(
        _("The personal data of contact #%(id)s was erased; purchases are kept.", id=contact_id),
        "success",
    )
    return redirect(url_for("contact.view", contact_id=contact_id))


@bp.route("/admin/privacy")
def log():
    raw = request.args.get("before", "")
    before = int(raw) if raw.isdigit() and len(raw) < 19 else None
    rows, next_before = core.log_page(db.session, before)
    return render_template("privacy/log.html", rows=rows, next_before=next_before)
