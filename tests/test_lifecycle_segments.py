"""Builtin lifecycle and temperature segments (crmlite/builtin/lifecycle_segments.py): who is
in which segment on a small base with purchases at known dates, through the web list, the
Segments page counts, the plugin settings and the CLI export."""

import csv
import re
from datetime import date, datetime, time, timedelta

import pytest

from crmlite.core import interactions
from crmlite.extensions import db
from crmlite.models import Contact, Interaction

from .conftest import csrf_from

TODAY = date.today()


def at(days_ago: int, hour: int = 12) -> datetime:
    return datetime.combine(TODAY - timedelta(days=days_ago), time(hour))


def make_buyer(first: str, purchases: list[tuple[int, int]], temperature=None, **kw) -> int:
    """A contact with purchases given as (days ago, amount in roubles)."""
    contact = Contact(first_name=first, last_name="Buyer", temperature=temperature, **kw)
    db.session.add(contact)
    db.session.flush()
    for days_ago, roubles in purchases:
        db.session.add(
            Interaction(
                contact_id=contact.id,
                kind="purchase",
                amount_minor=roubles * 100,
                currency="RUB",
                occurred_at=at(days_ago) if isinstance(days_ago, int) else days_ago,
            )
        )
    return contact.id


@pytest.fixture
def base(app):
    """Contacts by first name, with purchases at known dates (window 180 days, N = 3)."""
    with app.app_context():
        ids = {
            "Pavel": make_buyer("Pavel", [], temperature="cold"),
            "Nina": make_buyer("Nina", [(10, 500)], temperature="hot"),
            # Bought on the first day of the window (180 days ago at noon): still a newcomer.
            "Olga": make_buyer("Olga", [(180, 700)], temperature="warm"),
            # One day earlier: sleeping.
            "Gleb": make_buyer("Gleb", [(181, 900)]),
            "Alla": make_buyer("Alla", [(40, 100), (5, 300)]),
            "Ivan": make_buyer("Ivan", [(90, 100), (60, 100), (30, 100)]),  # N = 3: active
            "Rita": make_buyer("Rita", [(100, 200), (80, 200), (50, 200), (20, 200)]),
            # A former regular, nothing for 200 days: sleeping (recency wins).
            "Sergey": make_buyer("Sergey", [(400 - 40 * i, 300) for i in range(5)]),
            # The biggest total by far: VIP (top 5 % of buyers = the first of 8).
            "Vera": make_buyer("Vera", [(15, 90_000), (3, 60_000)]),
            # Buying for four years, ten purchases: VIP by loyalty, also regular.
            "Lev": make_buyer("Lev", [(1500 - 150 * i, 50) for i in range(10)]),
        }
        archived = make_buyer("Archived", [(10, 100)])
        db.session.get(Contact, archived).is_archived = True
        interactions.refresh_stats(db.session, [*ids.values(), archived])
        db.session.commit()
        yield ids


def listed(client, query: str) -> set[str]:
    """First names of the contacts the standard list shows for this query string."""
    html = client.get("/?" + query).get_data(as_text=True)
    ids = {int(i) for i in re.findall(r'name="ids" value="(\d+)"', html)}
    return {c.first_name for c in db.session.query(Contact).filter(Contact.id.in_(ids))}


def counted(client, key: str) -> int:
    text = client.get(f"/segments/{key}/count").get_data(as_text=True)
    return int(re.sub(r"\D", "", text))


EXPECTED = {
    "potential": {"Pavel"},
    "newcomers": {"Nina", "Olga"},
    "active": {"Alla", "Ivan", "Vera"},
    "regular": {"Rita", "Lev"},
    "sleeping": {"Gleb", "Sergey"},
    "vip": {"Vera", "Lev"},
    "cold": {"Pavel"},
    "warm": {"Olga"},
    "hot": {"Nina"},
}


def test_membership_and_counts_equal_the_lists(app, ctx, editor_client, base):
    for key, names in EXPECTED.items():
        assert listed(editor_client, f"segment={key}") == names, key
        assert counted(editor_client, key) == len(names), key
    # Lifecycle segments never overlap and cover every (not archived) contact.
    lifecycle = ["potential", "newcomers", "active", "regular", "sleeping"]
    members = [n for key in lifecycle for n in EXPECTED[key]]
    assert sorted(members) == sorted(base)


def test_segments_page_lists_the_builtins(app, viewer_client):
    page = viewer_client.get("/segments").get_data(as_text=True)
    for label in ("Potential", "Newcomers", "Active", "Regular", "Sleeping", "Key clients (VIP)"):
        assert label in page
    assert "/segments/sleeping/count" in page


def test_settings_change_moves_contacts(app, ctx, users, admin_client, editor_client, base):
    url = "/admin/plugins/builtin.lifecycle_segments/settings"
    page = admin_client.get(url).get_data(as_text=True)
    assert "Active / sleeping window, days" in page
    data = {
        "csrf_token": csrf_from(page),
        "window_days": "30",
        "regular_more_than": "2",
        "vip_top_percent": "0",
        "vip_years": "0",
        "vip_min_purchases": "10",
    }
    assert admin_client.post(url, data=data).status_code == 302
    # A 30-day window: Olga and Lev fall asleep; Ivan (last purchase 30 days ago, 3 of them)
    # is now regular (more than 2); with both VIP rules off nobody is VIP.
    assert listed(editor_client, "segment=sleeping") == {"Olga", "Gleb", "Sergey", "Lev"}
    assert listed(editor_client, "segment=regular") == {"Ivan", "Rita"}
    assert listed(editor_client, "segment=active") == {"Alla", "Vera"}
    assert listed(editor_client, "segment=newcomers") == {"Nina"}
    assert listed(editor_client, "segment=vip") == set()
    assert counted(editor_client, "vip") == 0


def test_vip_by_total_share(app, ctx, users, admin_client, editor_client, base):
    url = "/admin/plugins/builtin.lifecycle_segments/settings"
    page = admin_client.get(url).get_data(as_text=True)
    data = {
        "csrf_token": csrf_from(page),
        "window_days": "180",
        "regular_more_than": "3",
        "vip_top_percent": "30",  # top 30 % of 9 buyers = 3 largest totals
        "vip_years": "0",
        "vip_min_purchases": "10",
    }
    assert admin_client.post(url, data=data).status_code == 302
    assert listed(editor_client, "segment=vip") == {"Vera", "Sergey", "Gleb"}


def test_viewer_cannot_change_thresholds(app, users, viewer_client):
    resp = viewer_client.post(
        "/admin/plugins/builtin.lifecycle_segments/settings", data={"window_days": "1"}
    )
    assert resp.status_code in (400, 403)


def test_cli_export_of_sleeping_and_vip(app, ctx, base, tmp_path):
    runner = app.test_cli_runner()
    for key in ("sleeping", "vip"):
        out = tmp_path / f"{key}.csv"
        result = runner.invoke(args=["export", str(out), "--segment", key])
        assert result.exit_code == 0, result.output
        with out.open(encoding="utf-8-sig") as fh:
            names = {row["first_name"] for row in csv.DictReader(fh)}
        assert names == EXPECTED[key]
