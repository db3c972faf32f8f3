"""Consent on the contact page: the channel × purpose panel and its one-click editor.

GET  /contacts/<id>/consent                            the panel (HTMX) or the page's anchor
GET  /contacts/<id>/consent/<channel>/<purpose>         one row as shown (the editor's Cancel)
GET  /contacts/<id>/consent/<channel>/<purpose>/edit    the row's editor (editors only)
POST /contacts/<id>/consent                             record one consent (channel, purpose,
                                                       status, source, wording_version)
"""

from typing import Any

from flask import Blueprint, abort, flash, make_response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..core import consent as core
from ..core import contacts as core_contacts
from ..extensions import db
from ..forms.consent import (
    CHANNEL_LABELS,
    PURPOSE_LABELS,
    SOURCE_SUGGESTIONS,
    STATUS_LABELS,
    ConsentForm,
)
from ..models import Contact
from ..models.consent import CHANNELS, PURPOSES
from .htmx import fragment, is_htmx

bp = Blueprint("consent", __name__, url_prefix="/contacts")

CHANGED = "contactChanged"  # the history panel listens for it


def _contact_or_404(contact_id: int) -> Contact:
    contact = core_contacts.load_contact(db.session, contact_id)
    if contact is None:
        abort(404)
    return contact


def _pair_or_404(channel: str, purpose: str) -> tuple[str, str]:
    if channel not in CHANNELS or purpose not in PURPOSES:
        abort(404)
    return channel, purpose


def _context(contact: Contact, **extra) -> dict[str, Any]:
    return {
        "contact": contact,
        "can_edit": current_user.can_edit(),
        "consents": core.statuses(db.session, contact.id),
        **extra,
    }


def _row(contact: Contact, channel: str, purpose: str, **extra) -> str:
    return fragment(
        "contact/_consent_row.html", channel=channel, purpose=purpose, **_context(contact, **extra)
    )


def _editor(contact: Contact, form: ConsentForm, status: int = 200):
    ctx = _context(contact, form=form, channel=form.channel.data, purpose=form.purpose.data)
    if is_htmx():
        return make_response(fragment("contact/_consent_edit.html", **ctx), status)
    # Without JavaScript the editor is a small page of its own.
    return make_response(render_template("contact/_consent_edit_page.html", **ctx), status)


@bp.route("/<int:contact_id>/consent")
def panel(contact_id: int):
    contact = _contact_or_404(contact_id)
    if not is_htmx():
        return redirect(url_for("contact.view", contact_id=contact_id, _anchor="consent"))
    return fragment("contact/_consent.html", **_context(contact))


@bp.route("/<int:contact_id>/consent/<channel>/<purpose>")
def row(contact_id: int, channel: str, purpose: str):
    contact = _contact_or_404(contact_id)
    channel, purpose = _pair_or_404(channel, purpose)
    if not is_htmx():
        return redirect(url_for("contact.view", contact_id=contact_id, _anchor="consent"))
    return _row(contact, channel, purpose)


@bp.route("/<int:contact_id>/consent/<channel>/<purpose>/edit")
def edit(contact_id: int, channel: str, purpose: str):
    if not current_user.can_edit():
        abort(403)
    contact = _contact_or_404(contact_id)
    channel, purpose = _pair_or_404(channel, purpose)
    stored = core.statuses(db.session, contact.id).get((channel, purpose))
    form = ConsentForm(
        formdata=None,
        data={
            "channel": channel,
            "purpose": purpose,
            "status": stored.status if stored else "unknown",
            "source": stored.source if stored else "",
            "wording_version": stored.wording_version if stored else "",
        },
    )
    return _editor(contact, form)


@bp.route("/<int:contact_id>/consent", methods=["POST"])
def save(contact_id: int):
    contact = _contact_or_404(contact_id)
    form = ConsentForm()
    if not form.validate():
        form.choice_errors()
        if form.channel.errors or form.purpose.errors:
            # No row to put the editor in: say it where messages go.
            message = " ".join(str(e) for e in form.channel.errors + form.purpose.errors)
            flash(message, "error")
            if not is_htmx():
                return redirect(url_for("contact.view", contact_id=contact_id, _anchor="consent"))
            resp = make_response(fragment("contact/_consent.html", **_context(contact)), 422)
            resp.headers["HX-Retarget"] = "#consent"
            return resp
        return _editor(contact, form, 422)
    channel, purpose = form.channel.data, form.purpose.data
    core.record(
        db.session,
        contact.id,
        channel,
        purpose,
        form.status.data,
        source=form.source.data or "",
        wording_version=form.wording_version.data or "",
        user_id=current_user.id,
    )
    db.session.commit()
    if not is_htmx():
        flash(_("Consent saved."), "success")
        return redirect(url_for("contact.view", contact_id=contact_id, _anchor="consent"))
    resp = make_response(_row(contact, channel, purpose))
    resp.headers["HX-Trigger"] = CHANGED
    return resp


# -- the history panel -------------------------------------------------------------------

FIELD_PREFIX = "consent:"
DETAIL_FIELDS = ("consent_source", "consent_wording")


def pair_label(channel: str, purpose: str) -> str:
    """ "E-mail · marketing" """
    return f"{CHANNEL_LABELS.get(channel, channel)} · {PURPOSE_LABELS.get(purpose, purpose)}"


def status_label(status: str | None) -> str:
    return str(STATUS_LABELS.get(status or "unknown", status))


def history_changes(changes: dict[str, Any]) -> list[dict[str, str]] | None:
    """A consent history entry as people read it, or None when it holds no consent change:
    "E-mail · marketing: unknown → granted (source: web form, wording 2026-01)"."""
    pairs = [key for key in changes if key.startswith(FIELD_PREFIX)]
    if not pairs:
        return None
    details = []
    source = (changes.get("consent_source") or [None, None])[1]
    wording = (changes.get("consent_wording") or [None, None])[1]
    if source:
        details.append(_("source: %(source)s", source=source))
    if wording:
        details.append(_("wording %(version)s", version=wording))
    rows = []
    for key in pairs:
        _prefix, channel, purpose = (key.split(":") + ["", ""])[:3]
        before, after = (list(changes[key]) + [None, None])[:2]
        shown = status_label(after)
        if details:
            shown += f" ({', '.join(details)})"
        rows.append(
            {"field": pair_label(channel, purpose), "before": status_label(before), "after": shown}
        )
    # Any other keys (a plugin's) are shown as they are.
    for key, value in changes.items():
        if key in pairs or key in DETAIL_FIELDS:
            continue
        before, after = (list(value) + [None, None])[:2]
        rows.append({"field": key, "before": str(before or ""), "after": str(after or "")})
    return rows


@bp.app_template_global()
def consent_labels() -> dict[str, Any]:
    """Labels for the consent panel and the list filter (any template may use them)."""
    return {
        "channels": CHANNEL_LABELS,
        "purposes": PURPOSE_LABELS,
        "statuses": STATUS_LABELS,
        "sources": SOURCE_SUGGESTIONS,
    }


@bp.app_template_global()
def consent_statuses(contact_id: int) -> dict[tuple[str, str], Any]:
    """(channel, purpose) -> stored row, for the panel included in the contact page."""
    return core.statuses(db.session, contact_id)
