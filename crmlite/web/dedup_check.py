"""The duplicate finder on the web: the create form's "possible duplicate of …" warning and
the background scan job (kind "dedup_scan", queued by the duplicates page)."""

from flask import Blueprint, current_app, render_template, request
from flask_babel import lazy_gettext as _l

from ..core import dedup
from ..core.contacts import parse_date
from ..core.dedup_reasons import describe_all
from ..core.emails import EmailError, normalize_email
from ..core.phones import PhoneError, normalize_phone
from ..extensions import db
from ..forms.contact import submitted_rows
from ..jobs import JobContext, handler

bp = Blueprint("dedup_check", __name__, url_prefix="/contacts")

NAME_FIELDS = ("first_name", "last_name", "middle_name", "company", "city")


def _pm():
    return current_app.extensions["crmlite.plugins"]


def _draft(form) -> dict:
    """What the form holds so far; values that do not parse yet are left out, not refused."""
    values = {name: (form.get(name) or "").strip()[:200] for name in NAME_FIELDS}
    try:
        values["birth_date"] = parse_date(form.get("birth_date"))
    except ValueError:
        values["birth_date"] = None
    region = current_app.config.get("DEFAULT_REGION", "RU")
    emails, phones = [], []
    for row in submitted_rows(form, "emails"):
        try:
            emails.append(normalize_email(row.value))
        except EmailError:
            pass
    for row in submitted_rows(form, "phones"):
        try:
            phones.append(normalize_phone(row.value, region))
        except PhoneError:
            pass
    values.update(emails=emails, phones=phones)
    return values


@bp.route("/new/duplicates", methods=["POST"])
def draft_duplicates():
    """Possible duplicates of the contact being typed into the create form; saves nothing.
    A POST (the form's personal data stays out of URLs and logs), editors only."""
    matches = dedup.find_for_draft(db.session, _draft(request.form), _pm())
    rows = [(contact, score, describe_all(reasons)) for contact, score, reasons in matches]
    return render_template("contact/_duplicates.html", matches=rows)


@handler("dedup_scan", label=_l("Duplicate scan"))
def scan_job(ctx: JobContext) -> dict:
    result = dedup.scan(ctx.session, progress=ctx.progress, pm=_pm())
    # The jobs page links to the review of the pairs found (no request here, so no url_for).
    return {**result, "url": "/duplicates"}
