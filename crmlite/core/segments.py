"""Segments: named groups of contacts that plugins register (hook register_segments).

A segment is any object with
    key       unique, URL-safe, e.g. "birthday_soon"
    label     what people read
    params    optional list of crmlite.plugins.SettingField (kind int, bool or text)
    condition(params: dict, today: date) -> SQLAlchemy boolean over crmlite.models.Contact

The condition is SQL, so a segment of a million contacts is counted and listed by the
database, and the standard contact list (with its bulk actions and export) shows it: the
list's URL takes ?segment=<key>&seg_<param>=<value> (see crmlite/core/listing.py).
"""

from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from typing import Any

import pluggy
from sqlalchemy import false, func, select
from sqlalchemy.orm import Session

from ..models import Contact
from .i18n import _
from .listing import SEGMENT_PREFIX

PARAM_PREFIX = SEGMENT_PREFIX  # URL names of a segment's params: seg_<name>

MAX_TEXT = 200


def all_segments(pm: pluggy.PluginManager) -> list[Any]:
    """Every segment of every enabled plugin, in plugin order; the first of a key wins."""
    found: dict[str, Any] = {}
    for group in reversed(pm.hook.register_segments()):  # pluggy calls the last plugin first
        for segment in group or []:
            found.setdefault(segment.key, segment)
    return list(found.values())


def get(pm: pluggy.PluginManager, key: str | None) -> Any | None:
    if not key:
        return None
    return next((s for s in all_segments(pm) if s.key == key), None)


def param_fields(segment: Any) -> list[Any]:
    return list(getattr(segment, "params", None) or [])


def defaults(segment: Any) -> dict[str, Any]:
    return {f.name: f.default for f in param_fields(segment)}


def parse_params(segment: Any, raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The segment's params from raw values by name (missing ones take their default), and
    a message for each value that was not understood (its default is used instead)."""
    values, problems = {}, []
    for f in param_fields(segment):
        text = str(raw.get(f.name, "") if raw.get(f.name) is not None else "").strip()
        if text == "":
            values[f.name] = f.default
            continue
        if f.kind == "int":
            try:
                values[f.name] = int(text)
            except ValueError:
                values[f.name] = f.default
                problems.append(
                    _(
                        "%(field)s: “%(value)s” is not a whole number; %(default)s is used.",
                        field=f.label,
                        value=text[:MAX_TEXT],
                        default=f.default,
                    )
                )
        elif f.kind == "bool":
            values[f.name] = text.lower() in ("1", "true", "yes", "on")
        else:
            values[f.name] = text[:MAX_TEXT]
    return values, problems


def condition(segment: Any, params: Mapping[str, Any], today: date | None = None):
    """The segment's SQL condition over Contact for these params."""
    return segment.condition({**defaults(segment), **params}, today or date.today())


def count(
    session: Session,
    segment: Any,
    params: Mapping[str, Any] | None = None,
    today: date | None = None,
) -> int:
    """How many contacts (not archived, like the list) are in the segment."""
    cond = condition(segment, params or {}, today)
    stmt = select(func.count()).select_from(Contact).where(~Contact.is_archived, cond)
    return session.scalar(stmt) or 0


# -- the contact list's filter ---------------------------------------------------------------


def bind(pm: pluggy.PluginManager, flt: Any, today: date | None = None) -> tuple[Any, list[str]]:
    """The list filter with its segment's SQL condition attached, and messages about params
    that were not understood. A segment that no enabled plugin provides matches nothing
    (never everything: a bulk action on "all matching" must not reach the whole base)."""
    if not getattr(flt, "segment", None):
        return flt, []
    segment = get(pm, flt.segment)
    if segment is None:
        return replace(flt, segment_condition=false()), [
            _("The segment “%(key)s” is not available (is its plugin enabled?).", key=flt.segment)
        ]
    params, problems = parse_params(segment, dict(flt.segment_params))
    return replace(flt, segment_condition=condition(segment, params, today)), problems


def describe(segment: Any, params: Mapping[str, Any]) -> str:
    """'Label (Days: 7)' for the list's heading."""
    shown = [
        f"{f.label}: {params.get(f.name, f.default)}"
        for f in param_fields(segment)
        if params.get(f.name, f.default) not in (None, "")
    ]
    return f"{segment.label} ({', '.join(shown)})" if shown else str(segment.label)
