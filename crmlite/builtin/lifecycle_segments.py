"""Builtin segments from the purchase history (hook register_segments): lifecycle, VIP,
temperature and RFM, plus the Dashboard and RFM menu links.

Every condition reads only the chronicle summary kept on the contact (purchase_count,
purchase_total_minor, first_purchase_at, last_purchase_at, ...), so a segment of a million
contacts is one indexed query (ix_contacts_purchases, ix_contacts_last_purchase,
ix_contacts_purchase_total).

Lifecycle segments are mutually exclusive; VIP is an overlay across them:
    potential   no purchase yet
    newcomers   exactly one purchase, within the window
    active      2..N purchases, the last one within the window
    regular     more than N purchases, the last one within the window
    sleeping    at least one purchase, the last one older than the window
                (a sleeping regular is "sleeping": recency wins)
    vip         buyers whose total is in the top P % of buyers, or whose first purchase was
                at least K years ago with at least M purchases
The window (180 days), N (3), P (5), K (3) and M (10) are settings (Admin → Plugins).
"""

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import url_for
from flask_babel import gettext
from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import Session

from .. import hookimpl
from ..core import rfm
from ..core.i18n import _
from ..core.plugin_settings import plugin_settings
from ..models import Contact
from ..plugins import PluginSettings, SettingField

PLUGIN = "builtin.lifecycle_segments"
LIFECYCLE_KEYS = ("potential", "newcomers", "active", "regular", "sleeping")
TEMPERATURE_KEYS = ("cold", "warm", "hot")

DEFAULTS = {
    "window_days": 180,
    "regular_more_than": 3,
    "vip_top_percent": 5,
    "vip_years": 3,
    "vip_min_purchases": 10,
}


def _int_setting(values: dict[str, Any], name: str) -> int:
    try:
        return max(int(values.get(name, DEFAULTS[name])), 0)
    except (TypeError, ValueError):
        return DEFAULTS[name]


def thresholds(session: Session) -> dict[str, int]:
    """The stored settings over the defaults, each a whole number ≥ 0."""
    stored = plugin_settings(session, PLUGIN)
    return {name: _int_setting(stored, name) for name in DEFAULTS}


def window_start(today: date, days: int) -> datetime:
    """Purchases at or after this moment are "within the window"."""
    return datetime.combine(today - timedelta(days=days), time.min)


def vip_total_cutoff(session: Session, top_percent: int) -> int | None:
    """The smallest purchase total among the top `top_percent` % of buyers (None: no rule).

    Two indexed queries: how many buyers, then the total at that rank walking
    ix_contacts_purchase_total from the top."""
    if top_percent <= 0:
        return None
    buyers = (
        session.scalar(
            select(func.count())
            .select_from(Contact)
            .where(~Contact.is_archived, Contact.purchase_count > 0)
        )
        or 0
    )
    if not buyers:
        return None
    rank = max(math.ceil(buyers * min(top_percent, 100) / 100), 1)
    return session.scalar(
        select(Contact.purchase_total_minor)
        .where(~Contact.is_archived, Contact.purchase_count > 0)
        .order_by(Contact.is_archived, Contact.purchase_total_minor.desc())
        .offset(rank - 1)
        .limit(1)
    )


def lifecycle_conditions(
    settings: dict[str, int], today: date, vip_cutoff: int | None
) -> dict[str, Any]:
    """key -> SQL condition over Contact, for the lifecycle segments and VIP."""
    start = window_start(today, settings["window_days"])
    n = settings["regular_more_than"]
    count, last = Contact.purchase_count, Contact.last_purchase_at
    recent = last >= start
    by_total = Contact.purchase_total_minor >= vip_cutoff if vip_cutoff is not None else false()
    long_ago = datetime.combine(
        today.replace(year=today.year - settings["vip_years"], day=min(today.day, 28)), time.min
    )
    by_loyalty = (
        and_(
            Contact.first_purchase_at <= long_ago,
            count >= max(settings["vip_min_purchases"], 1),
        )
        if settings["vip_years"] > 0
        else false()
    )
    return {
        "potential": count == 0,
        "newcomers": and_(count == 1, recent),
        "active": and_(count >= 2, count <= n, recent) if n >= 2 else false(),
        "regular": and_(count > max(n, 1), recent),
        "sleeping": and_(count >= 1, last < start),
        "vip": and_(count > 0, or_(by_total, by_loyalty)),
    }


def current_conditions(session: Session, today: date) -> dict[str, Any]:
    """lifecycle_conditions with the stored settings and the VIP cut-off of today's data."""
    settings = thresholds(session)
    return lifecycle_conditions(
        settings, today, vip_total_cutoff(session, settings["vip_top_percent"])
    )


def _session() -> Session:
    # Segments are evaluated in a request or a CLI command: both have an app context.
    from ..extensions import db

    return db.session


@dataclass
class LifecycleSegment:
    key: str
    label: str
    description: str

    def condition(self, params: dict | None, today: date) -> Any:
        session = _session()
        settings = thresholds(session)
        cutoff = (
            vip_total_cutoff(session, settings["vip_top_percent"]) if self.key == "vip" else None
        )
        return lifecycle_conditions(settings, today, cutoff)[self.key]


@dataclass
class TemperatureSegment:
    key: str
    label: str
    description: str = ""

    def condition(self, params: dict | None, today: date) -> Any:
        return Contact.temperature == self.key


def _score(params: dict, name: str) -> int | None:
    try:
        value = int(params.get(name) or 0)
    except (TypeError, ValueError):
        return None
    return value if 1 <= value <= 5 else None


@dataclass
class RFMCellSegment:
    """Buyers with these R, F (and M) scores; a score left at 0 means any."""

    key: str = "rfm"
    label: str = ""
    description: str = ""
    params: list[SettingField] = field(default_factory=list)

    def condition(self, params: dict | None, today: date) -> Any:
        params = params or {}
        m = _score(params, "m")
        cuts = rfm.cut_points(_session(), monetary=m is not None)
        return rfm.scores_condition(cuts, _score(params, "r"), _score(params, "f"), m)


@dataclass
class RFMGroupSegment:
    key: str = "rfm_group"
    label: str = ""
    description: str = ""
    params: list[SettingField] = field(default_factory=list)

    def condition(self, params: dict | None, today: date) -> Any:
        group = str((params or {}).get("group") or "")
        if group not in rfm.GROUPS:
            return false()
        return rfm.group_condition(rfm.cut_points(_session()), group)


def segments() -> list[Any]:
    window = _("the window (180 days by default, Admin → Plugins)")
    found: list[Any] = [
        LifecycleSegment("potential", _("Potential"), _("No purchase yet.")),
        LifecycleSegment(
            "newcomers", _("Newcomers"), _("Exactly one purchase, within %(w)s.", w=window)
        ),
        LifecycleSegment(
            "active",
            _("Active"),
            _("2 to N purchases (N = 3 by default), the last one within %(w)s.", w=window),
        ),
        LifecycleSegment(
            "regular",
            _("Regular"),
            _("More than N purchases, the last one within %(w)s.", w=window),
        ),
        LifecycleSegment(
            "sleeping",
            _("Sleeping"),
            _("Bought before, but nothing within %(w)s (also former regulars).", w=window),
        ),
        LifecycleSegment(
            "vip",
            _("Key clients (VIP)"),
            _(
                "The top buyers by total, or long-standing buyers with many purchases "
                "(thresholds in Admin → Plugins)."
            ),
        ),
        TemperatureSegment("cold", _("Cold")),
        TemperatureSegment("warm", _("Warm")),
        TemperatureSegment("hot", _("Hot")),
        RFMCellSegment(
            label=_("RFM cell"),
            description=_("Buyers by recency, frequency and average check scores (1-5; 0 = any)."),
            params=[
                SettingField("r", _("Recency (R)"), "int", 0),
                SettingField("f", _("Frequency (F)"), "int", 0),
                SettingField("m", _("Monetary (M)"), "int", 0),
            ],
        ),
        RFMGroupSegment(
            label=_("RFM group"),
            description=_("Champions, loyal, at risk, hibernating… (see the RFM page)."),
            params=[
                SettingField("group", _("Group"), "text", "champions", ", ".join(rfm.GROUPS.keys()))
            ],
        ),
    ]
    return found


@hookimpl
def register_segments():
    return segments()


@hookimpl
def register_settings():
    return [
        PluginSettings(
            plugin=PLUGIN,
            fields=[
                SettingField(
                    "window_days",
                    _("Active / sleeping window, days"),
                    "int",
                    DEFAULTS["window_days"],
                    _("A buyer with no purchase for longer than this is sleeping."),
                ),
                SettingField(
                    "regular_more_than",
                    _("Regular: more than N purchases"),
                    "int",
                    DEFAULTS["regular_more_than"],
                ),
                SettingField(
                    "vip_top_percent",
                    _("VIP: top percent of buyers by total"),
                    "int",
                    DEFAULTS["vip_top_percent"],
                    _("0 turns this rule off."),
                ),
                SettingField(
                    "vip_years",
                    _("VIP: buying for at least K years"),
                    "int",
                    DEFAULTS["vip_years"],
                    _("0 turns this rule off."),
                ),
                SettingField(
                    "vip_min_purchases",
                    _("VIP: … with at least M purchases"),
                    "int",
                    DEFAULTS["vip_min_purchases"],
                ),
            ],
        )
    ]


@hookimpl
def menu_links(user):
    return [
        (gettext("Dashboard"), url_for("dashboard.index")),
        (gettext("RFM"), url_for("rfm.index")),
    ]
