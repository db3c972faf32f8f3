"""The dashboard (crmlite/web/dashboard.py): contacts per lifecycle segment with links into
the list, and new contacts and purchases per month drawn as server-side SVG."""

import re
from datetime import date, datetime, time, timedelta

import pytest

from crmlite.core import dashboard, interactions
from crmlite.extensions import db
from crmlite.models import Contact, Interaction

TODAY = date.today()


def months_ago(n: int) -> datetime:
    """Noon on the 10th of the month n months before this one."""
    year, month = TODAY.year, TODAY.month - n
    while month < 1:
        year, month = year - 1, month + 12
    return datetime(year, month, 10, 12)


@pytest.fixture
def base(app):
    with app.app_context():
        now = datetime.combine(TODAY, time(9))
        potential = [Contact(first_name=f"P{i}", created_at=now) for i in range(3)]
        old = Contact(first_name="Old", created_at=months_ago(3))
        buyer = Contact(first_name="Buyer", created_at=months_ago(3))
        sleeper = Contact(first_name="Sleeper", created_at=months_ago(20))
        db.session.add_all([*potential, old, buyer, sleeper])
        db.session.flush()
        for when, roubles in [(months_ago(1), 1200), (months_ago(1), 800), (months_ago(0), 50)]:
            db.session.add(
                Interaction(
                    contact_id=buyer.id,
                    kind="purchase",
                    amount_minor=roubles * 100,
                    occurred_at=when,
                )
            )
        db.session.add(
            Interaction(
                contact_id=sleeper.id,
                kind="purchase",
                amount_minor=100,
                occurred_at=datetime.combine(TODAY - timedelta(days=400), time(12)),
            )
        )
        interactions.refresh_stats(db.session, [buyer.id, sleeper.id])
        db.session.commit()
        yield


def test_segment_counts_in_one_pass(app, ctx, base):
    counts = dashboard.segment_counts(db.session, TODAY)
    assert counts["all"] == 6
    assert counts["potential"] == 4
    assert counts["regular"] == 0 and counts["active"] == 1  # Buyer: 3 purchases, recent
    assert counts["sleeping"] == 1


def test_dashboard_page_links_each_segment(app, ctx, viewer_client, base):
    page = viewer_client.get("/dashboard").get_data(as_text=True)
    tiles = dict(
        re.findall(r'data-segment="(\w+)">\s*<span[^>]*>[^<]*</span>\s*<strong[^>]*>(\d+)', page)
    )
    assert tiles == {
        "potential": "4",
        "newcomers": "0",
        "active": "1",
        "regular": "0",
        "sleeping": "1",
        "vip": "1",  # the top 5 % of two buyers by total: Buyer
    }
    assert 'href="/?segment=sleeping"' in page
    # The charts load with the page, not before it.
    assert 'hx-get="/dashboard/contacts" hx-trigger="load"' in page
    assert "Dashboard" in viewer_client.get("/").get_data(as_text=True)  # menu link


def bar_values(svg: str) -> list[int]:
    return [int(v) for v in re.findall(r'data-value="(\d+)"', svg)]


def test_new_contacts_chart(app, ctx, viewer_client, base):
    html = viewer_client.get("/dashboard/contacts", headers={"HX-Request": "true"}).text
    assert "<svg" in html and "New contacts per month" in html
    values = bar_values(html)
    assert len(values) == 12
    # This month: the three potential contacts; three months ago: Old and Buyer; the one
    # created 20 months ago is outside the chart.
    assert values[-1] == 3 and values[-4] == 2 and sum(values) == 5
    assert f"{dashboard.months(TODAY)[-1]}: 3 new contacts" in html  # the bar's tooltip


def test_purchases_chart(app, ctx, viewer_client, base):
    html = viewer_client.get("/dashboard/purchases").text
    values = bar_values(html)
    assert values[-2] == 2000_00 and values[-1] == 50_00 and sum(values) == 2050_00
    assert f"{dashboard.months(TODAY)[-2]}: 2 purchases, 2,000.00 in total" in html


def test_months_wrap_the_year():
    assert dashboard.months(date(2026, 2, 15))[:3] == ["2025-03", "2025-04", "2025-05"]
    assert dashboard.months(date(2026, 2, 15))[-1] == "2026-02"
