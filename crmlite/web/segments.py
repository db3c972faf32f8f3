"""The segments page: every registered segment with its count (loaded lazily as rows come
into view); opening one shows its contacts in the standard list (?segment=<key>).

GET /segments               the page
GET /segments/<key>/count   "1,234" for the segment with its seg_<param> values
"""

from flask import Blueprint, abort, current_app, request, url_for
from flask_babel import format_decimal, ngettext

from ..core import segments
from ..extensions import db
from .htmx import render

bp = Blueprint("segments", __name__, url_prefix="/segments")


def _pm():
    return current_app.extensions["crmlite.plugins"]


def _row(segment) -> dict:
    params = segments.defaults(segment)
    args = {segments.PARAM_PREFIX + name: value for name, value in params.items()}
    return {
        "segment": segment,
        "fields": segments.param_fields(segment),
        "params": params,
        "description": getattr(segment, "description", ""),
        "open_url": url_for("contacts.index", segment=segment.key, **args),
        "count_url": url_for("segments.count", key=segment.key, **args),
    }


@bp.route("")
def index():
    rows = [_row(s) for s in segments.all_segments(_pm())]
    return render("segments/index.html", rows=rows, prefix=segments.PARAM_PREFIX)


@bp.route("/<key>/count")
def count(key: str):
    segment = segments.get(_pm(), key)
    if segment is None:
        abort(404)
    raw = {k[len(segments.PARAM_PREFIX) :]: v for k, v in request.args.items()}
    params, _problems = segments.parse_params(segment, raw)
    n = segments.count(db.session, segment, params)
    return ngettext("%(count)s contact", "%(count)s contacts", n, count=format_decimal(n))
