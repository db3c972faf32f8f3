"""RFM (crmlite/core/rfm.py): quintile scores computed by the database, the R x F grid page
whose cell counts equal the lists their links open, and the classic RFM groups."""

import re
from datetime import date, datetime, time, timedelta

import pytest

from crmlite.core import interactions, rfm
from crmlite.extensions import db
from crmlite.models import Contact, Interaction

TODAY = date.today()


def at(days_ago: int) -> datetime:
    return datetime.combine(TODAY - timedelta(days=days_ago), time(12))


@pytest.fixture
def buyers(app):
    """25 buyers: buyer k (0..24) last bought k*10 days ago and made 1 + k % 5 purchases of
    100 roubles, so recency quintiles are groups of five by k and frequency quintiles are by
    k % 5. Plus one contact who never bought."""
    with app.app_context():
        ids = {}
        for k in range(25):
            c = Contact(first_name=f"B{k:02d}", last_name="Rfm")
            db.session.add(c)
            db.session.flush()
            for p in range(1 + k % 5):
                db.session.add(
                    Interaction(
                        contact_id=c.id,
                        kind="purchase",
                        amount_minor=100_00,
                        occurred_at=at(k * 10 + p * 300),
                    )
                )
            ids[k] = c.id
        db.session.add(Contact(first_name="Never", last_name="Rfm"))
        interactions.refresh_stats(db.session, list(ids.values()))
        db.session.commit()
        rfm.clear_cache()
        yield ids


def expected_cell(k: int) -> tuple[int, int]:
    """(R, F) of buyer k: recency by last purchase (k*10 days ago), frequency by count."""
    return 5 - k // 5, 1 + k % 5


def listed(client, query: str) -> set[str]:
    html = client.get("/?" + query).get_data(as_text=True)
    ids = {int(i) for i in re.findall(r'name="ids" value="(\d+)"', html)}
    return {c.first_name for c in db.session.query(Contact).filter(Contact.id.in_(ids))}


def list_count(client, query: str) -> int:
    """The list's own count ("12 contacts") for this query string."""
    text = client.get("/contacts/count?" + query).get_data(as_text=True)
    return int(re.match(r"\s*([\d\s,\xa0]+)", text).group(1).replace(",", "").split()[0])


def test_scores_are_quintiles(app, ctx, buyers):
    cells = rfm.grid(db.session)
    assert sum(cells.values()) == 25  # every buyer, and only buyers
    for k in range(25):
        assert cells[expected_cell(k)] == 1
    cuts = rfm.cut_points(db.session)
    assert cuts.frequency == (1, 2, 3, 4)


def test_cell_link_opens_exactly_its_contacts(app, ctx, editor_client, buyers):
    page = editor_client.get("/rfm").get_data(as_text=True)
    assert "Champions" in page and "Hibernating" in page
    for r, f in [(5, 4), (1, 1), (3, 3), (2, 5)]:
        link = f"/?segment=rfm&amp;seg_r={r}&amp;seg_f={f}"
        assert link in page
        want = {f"B{k:02d}" for k in range(25) if expected_cell(k) == (r, f)}
        assert listed(editor_client, f"segment=rfm&seg_r={r}&seg_f={f}") == want
        count = list_count(editor_client, f"segment=rfm&seg_r={r}&seg_f={f}")
        assert count == len(want)


def test_a_row_of_the_grid_and_the_never_bought(app, ctx, editor_client, buyers):
    recent = listed(editor_client, "segment=rfm&seg_r=5")  # F left at "any"
    assert recent == {"B00", "B01", "B02", "B03", "B04"}
    assert "Never" not in listed(editor_client, "segment=rfm")


def test_groups_are_linked_with_counts(app, ctx, editor_client, buyers):
    cells = rfm.grid(db.session)
    totals = rfm.group_counts(cells)
    assert sum(totals.values()) == 25
    # Champions: R5 with F4-F5 = buyers 3 and 4.
    assert totals["champions"] == 2
    assert listed(editor_client, "segment=rfm_group&seg_group=champions") == {"B03", "B04"}
    assert listed(editor_client, "segment=rfm_group&seg_group=lost") == {"B20"}
    page = editor_client.get("/rfm").get_data(as_text=True)
    assert "/?segment=rfm_group&amp;seg_group=champions" in page
    # An unknown group matches nobody rather than everybody.
    assert listed(editor_client, "segment=rfm_group&seg_group=nope") == set()


def test_every_cell_has_a_group():
    for r in rfm.SCORES:
        for f in rfm.SCORES:
            assert rfm.group_of(r, f) in rfm.GROUPS


def test_grid_colours_by_count(app, ctx, viewer_client, buyers):
    page = viewer_client.get("/rfm").get_data(as_text=True)
    assert page.count('class="rfm-cell heat-') == 25
    assert "heat-0" not in page  # every cell has one buyer here


def test_empty_base(app, ctx, viewer_client):
    rfm.clear_cache()
    page = viewer_client.get("/rfm")
    assert page.status_code == 200
    assert "heat-0" in page.get_data(as_text=True)


def test_monetary_score_and_tile_ranks(app, ctx, editor_client, buyers):
    # Every buyer's average check is 100 roubles: equal values share the lowest score.
    assert len(listed(editor_client, "segment=rfm&seg_m=1")) == 25
    assert listed(editor_client, "segment=rfm&seg_m=5") == set()
    # The rank of each tile's last row, as NTILE(5) sizes its tiles (bigger ones first).
    assert rfm.tile_upper_ranks(25) == [4, 9, 14, 19]
    assert rfm.tile_upper_ranks(7) == [1, 3, 4, 5]
    assert rfm.tile_upper_ranks(2) == [0, 1, 1, 1]
