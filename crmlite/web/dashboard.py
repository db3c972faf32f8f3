"""The dashboard: contacts per lifecycle segment (each a link into the list), new contacts
and purchases per month as server-side SVG bar charts.

GET /dashboard            the page (segment counts: one SQL pass)
GET /dashboard/contacts   the new-contacts chart (loaded by the page with hx-trigger="load")
GET /dashboard/purchases  the purchases chart (idem)
"""

from datetime import date

from flask import Blueprint, url_for
from flask_babel import format_decimal, gettext

from ..core import dashboard
from ..extensions import db
from .htmx import render

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")


def _labels() -> dict[str, str]:
    return {
        "potential": gettext("Potential"),
        "newcomers": gettext("Newcomers"),
        "active": gettext("Active"),
        "regular": gettext("Regular"),
        "sleeping": gettext("Sleeping"),
        "vip": gettext("Key clients (VIP)"),
    }


def money(minor: int) -> str:
    return format_decimal(minor / 100, format="#,##0.00")


@bp.route("")
def index():
    counts = dashboard.segment_counts(db.session, date.today())
    total = counts["all"] or 1
    rows = [
        {
            "key": key,
            "label": label,
            "count": counts[key],
            "share": round(100 * counts[key] / total),
            "url": url_for("contacts.index", segment=key),
        }
        for key, label in _labels().items()
    ]
    return render("dashboard/index.html", rows=rows, total=counts["all"])


def _bars(figures, value, title) -> list[dict]:
    return [{"label": f.month, "value": value(f), "title": title(f)} for f in figures]


@bp.route("/contacts")
def contacts_chart():
    figures = dashboard.new_contacts_per_month(db.session, date.today())
    bars = _bars(
        figures,
        lambda f: f.count,
        lambda f: gettext(
            "%(month)s: %(n)s new contacts", month=f.month, n=format_decimal(f.count)
        ),
    )
    return render(
        "dashboard/_chart.html",
        bars=bars,
        chart_id="chart-contacts",
        caption=gettext("New contacts per month"),
    )


@bp.route("/purchases")
def purchases_chart():
    figures = dashboard.purchases_per_month(db.session, date.today())
    bars = _bars(
        figures,
        lambda f: f.amount_minor,
        lambda f: gettext(
            "%(month)s: %(n)s purchases, %(sum)s in total",
            month=f.month,
            n=format_decimal(f.count),
            sum=money(f.amount_minor),
        ),
    )
    return render(
        "dashboard/_chart.html",
        bars=bars,
        chart_id="chart-purchases",
        caption=gettext("Purchases per month (sum)"),
    )
