"""The contact list: live search, filters, sorting, infinite scroll, lazy count, bulk actions.

GET  /                 the list; an HTMX request gets only the results block, or with
                       `after` only the next rows (infinite scroll)
GET  /contacts/count   "1,234 contacts" for the same filter parameters (loaded lazily)
POST /contacts/bulk    one bulk action on the selected ids or on all matching the filter

The URL parameters are documented in crmlite/core/listing.py.
"""

import re

from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_babel import format_decimal, gettext, ngettext
from flask_login import current_user
from jinja2_fragments.flask import render_block
from sqlalchemy import select

from ..core import bulk, listing, segments
from ..core.listing import ContactFilter
from ..core.tags import TagError
from ..extensions import db
from ..forms.listing import SORT_LABELS, SOURCE_LABELS, STAGE_LABELS, TEMPERATURE_LABELS
from ..models import Tag, User
from . import saved_segments as saved_segments_web
from .htmx import flashes_oob, is_htmx, render

bp = Blueprint("contacts", __name__)

TEMPLATE = "contacts/list.html"
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


def safe_colour(colour: str | None) -> str:
    # Tag colours go into a style attribute: only a plain #rrggbb gets there.
    return colour if colour and _COLOUR.fullmatch(colour) else "#6c757d"


def _region() -> str:
    return current_app.config.get("DEFAULT_REGION", "RU")


def _owners() -> list[User]:
    return list(db.session.scalars(select(User).where(User.active).order_by(User.name, User.email)))


def _filter(args) -> tuple[ContactFilter, list[str]]:
    """The list filter from URL/form parameters, with its segment's SQL attached."""
    flt, problems = segments.bind(
        current_app.extensions["crmlite.plugins"], ContactFilter.from_args(args)
    )
    flt, saved_problems = saved_segments_web.bind(flt)  # ?saved=<id>: a saved segment
    return flt, problems + saved_problems


def _segment_label(flt: ContactFilter) -> str | None:
    segment = segments.get(current_app.extensions["crmlite.plugins"], flt.segment)
    if segment is None:
        return flt.segment
    params, _problems = segments.parse_params(segment, dict(flt.segment_params))
    return segments.describe(segment, params)


def _context(flt: ContactFilter, after: str | None = None) -> dict:
    page = listing.page(db.session, flt, after, region=_region())
    args = flt.to_args()
    return {
        "segment_label": _segment_label(flt) if flt.segment else None,
        "segment_args": {
            k: v for k, v in args.items() if k in ("segment", "saved") or k.startswith("seg_")
        },
        "saved_segment": saved_segments_web.shown(flt),
        "all_url": url_for("contacts.index", **flt.without("segment", "saved").to_args()),
        "flt": flt,
        "args": args,
        "page": page,
        "after": after,
        "can_edit": current_user.can_edit(),
        "safe_colour": safe_colour,
        "owners": _owners(),
        "stage_labels": STAGE_LABELS,
        "temperature_labels": TEMPERATURE_LABELS,
        "source_labels": SOURCE_LABELS,
        "sort_labels": SORT_LABELS,
        "next_url": url_for("contacts.index", **args, after=page.next_cursor)
        if page.next_cursor
        else None,
        "count_url": url_for("contacts.count", **args),
        "clear_url": url_for(
            "contacts.index",
            **flt.without(
                "q", "tag", "owner", "stage", "temperature", "source", "segment", "consent"
            ).to_args(),
        ),
    }


@bp.route("/")
def index():
    flt, problems = _filter(request.args)
    for problem in problems:
        flash(problem, "error")
    after = request.args.get("after") or None
    ctx = _context(flt, after)
    if is_htmx() and after:
        # Infinite scroll: the next rows go after the last row; the "More" link follows.
        return (
            render_block(TEMPLATE, "rows", **ctx)
            + render_block(TEMPLATE, "more", oob=True, **ctx)
            + flashes_oob()
        )
    if is_htmx():
        # The address bar gets the short canonical URL, not every empty form field.
        canonical = url_for("contacts.index", **flt.to_args())
        return render(TEMPLATE, block="results", **ctx), {"HX-Push-Url": canonical}
    tags = list(db.session.scalars(select(Tag).order_by(Tag.name_key)))
    return render(TEMPLATE, tags=tags, **ctx)


@bp.route("/contacts/count")
def count():
    flt, _problems = _filter(request.args)
    n = listing.count(db.session, flt, region=_region())
    return render_block(
        TEMPLATE, "count", n=n, num=format_decimal(n), can_edit=current_user.can_edit()
    )


def _message(result: bulk.BulkResult) -> str:
    n = result.changed
    num = format_decimal(n)
    if n == 0:
        return gettext("Nothing changed: the chosen contacts were already like that.")
    if result.action == "add_tag":
        return ngettext(
            "Tag “%(tag)s” added to %(count)s contact.",
            "Tag “%(tag)s” added to %(count)s contacts.",
            n,
            tag=result.tag.name,
            count=num,
        )
    if result.action == "remove_tag":
        return ngettext(
            "Tag “%(tag)s” removed from %(count)s contact.",
            "Tag “%(tag)s” removed from %(count)s contacts.",
            n,
            tag=result.tag.name,
            count=num,
        )
    if result.action == "set_owner":
        if result.owner is None:
            return ngettext(
                "Owner cleared for %(count)s contact.",
                "Owner cleared for %(count)s contacts.",
                n,
                count=num,
            )
        return ngettext(
            "Owner set to %(owner)s for %(count)s contact.",
            "Owner set to %(owner)s for %(count)s contacts.",
            n,
            owner=result.owner.display_name,
            count=num,
        )
    if result.action == "set_stage":
        return ngettext(
            "Stage set to “%(stage)s” for %(count)s contact.",
            "Stage set to “%(stage)s” for %(count)s contacts.",
            n,
            stage=str(STAGE_LABELS[result.stage]),
            count=num,
        )
    if result.action == "archive":
        return ngettext("%(count)s contact archived.", "%(count)s contacts archived.", n, count=num)
    return ngettext("%(count)s contact restored.", "%(count)s contacts restored.", n, count=num)


def _owner_choice(raw: str | None) -> int | None:
    raw = (raw or "").strip()
    if raw == "none":
        return None
    if raw.isdigit():
        return int(raw)
    raise bulk.BulkError(gettext("Choose the new owner."))


@bp.route("/contacts/bulk", methods=["POST"])
def bulk_action():
    form = request.form
    flt, _problems = _filter(form)
    action = form.get("action", "")
    try:
        if action not in bulk.ACTIONS:
            raise bulk.BulkError(gettext("Choose what to do with the selected contacts."))
        if form.get("all") == "1":
            chosen = bulk.scope(None, flt, _region())
        else:
            chosen = bulk.scope(bulk.parse_ids(form.getlist("ids")), None)
        result = bulk.run(
            db.session,
            action,
            chosen,
            current_user.id,
            tag_name=form.get("tag_name", ""),
            owner_id=_owner_choice(form.get("new_owner")) if action == "set_owner" else None,
            stage=form.get("new_stage", ""),
        )
        db.session.commit()
    except (bulk.BulkError, TagError) as exc:
        db.session.rollback()
        if is_htmx():
            # Keep the selection on the page: show the message, swap nothing else.
            body = render_block(TEMPLATE, "bulk_message", error=str(exc), oob=True)
            return body, 422, {"HX-Reswap": "none"}
        flash(str(exc), "error")
        return redirect(url_for("contacts.index", **flt.to_args()))
    flash(_message(result), "success")
    if is_htmx():
        return render(TEMPLATE, block="results", **_context(flt))
    return redirect(url_for("contacts.index", **flt.to_args()))
