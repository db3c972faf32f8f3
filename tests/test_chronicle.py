"""The chronicle on the contact page, through the web client: add each kind, edit, delete,
permissions, validation, the timeline's order, filter and paging, the summary, history rows,
stage promotion, and the register_interaction_kinds / interaction_added hooks."""

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from crmlite import hookimpl
from crmlite.core import interactions
from crmlite.extensions import db
from crmlite.models import Contact, ContactHistory, Interaction
from crmlite.models.types import utcnow
from crmlite.plugins import SettingField

from .test_contact_page import HX, make_contact


def add(client, contact_id, kind, **fields):
    return client.post(
        f"/contacts/{contact_id}/interactions", data={"kind": kind, **fields}, headers=HX
    )


def items(app, contact_id) -> list[Interaction]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                select(Interaction)
                .where(Interaction.contact_id == contact_id)
                .order_by(Interaction.id)
            )
        )
        db.session.expunge_all()
        return rows


def history(app, contact_id) -> list[tuple[str, dict]]:
    with app.app_context():
        return [
            (h.action, h.changes)
            for h in db.session.scalars(
                select(ContactHistory)
                .where(ContactHistory.contact_id == contact_id)
                .order_by(ContactHistory.id)
            )
        ]


def figure(html: str, name: str) -> str:
    match = re.search(rf'data-figure="{name}">([^<]*)<', html)
    assert match, f"no {name} in the summary"
    return match.group(1).replace("\xa0", " ")


def texts(html: str) -> list[str]:
    """The entries of the timeline in the order shown, tags stripped."""
    items = re.findall(
        r'<li class="(?:history|interaction)-entry[^"]*"[^>]*>(.*?)\n    </li>', html, re.S
    )
    return [" ".join(re.sub(r"<[^>]+>", "", item).split()) for item in items]


# -- adding each kind ------------------------------------------------------------------------


def test_one_click_form_per_kind_and_each_kind_added(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    page = editor_client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    for kind in ("note", "call", "meeting", "purchase", "support", "feedback"):
        assert f'hx-get="/contacts/{contact_id}/interactions/new?kind={kind}"' in page
    assert "kind=message" not in page and "kind=system" not in page  # written by crmlite
    form = editor_client.get(f"/contacts/{contact_id}/interactions/new?kind=purchase", headers=HX)
    html = form.get_data(as_text=True)
    assert 'name="amount"' in html and 'name="currency"' in html and 'value="RUB"' in html
    assert "What was bought" in html and "<html" not in html

    assert add(editor_client, contact_id, "note", text="Prefers mornings").status_code == 200
    add(editor_client, contact_id, "call", text="Asked about delivery")
    add(editor_client, contact_id, "meeting", text="Demo at the office")
    resp = add(
        editor_client, contact_id, "purchase", amount="1 234,50", text="Sofa", date="2026-01-10"
    )
    add(editor_client, contact_id, "support", text="Broken leg of the sofa", status="open")
    add(editor_client, contact_id, "feedback", score="9", text="Great service")
    saved = items(app, contact_id)
    assert [i.kind for i in saved] == ["note", "call", "meeting", "purchase", "support", "feedback"]
    purchase = saved[3]
    assert (purchase.amount_minor, purchase.currency, purchase.text) == (123450, "RUB", "Sofa")
    assert purchase.occurred_at == datetime(2026, 1, 10)
    assert (saved[4].status, saved[5].score) == ("open", 9)
    assert all(i.author_id == users["editor"] for i in saved)

    # The answer is the refreshed timeline with the summary out of band.
    html = resp.get_data(as_text=True)
    assert html.lstrip().startswith('<section id="timeline"')
    assert 'id="chronicle-summary" class="field-group chronicle-summary"' in html
    assert 'hx-swap-oob="true"' in html
    page = editor_client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    shown = texts(page)
    # Newest first: the feedback added last is on top; the January purchase is older than
    # the contact itself.
    assert shown[0].startswith("Editor recorded feedback") and "Great service" in shown[0]
    assert shown[-1].startswith("Editor recorded a purchase") and "RUB1,234.50" in shown[-1]
    assert shown[-2].startswith("Editor created the contact")


def test_first_purchase_promotes_and_summary_shows_the_figures(app, editor_client, users):
    contact_id = make_contact(app, users["editor"], stage="potential")
    page = editor_client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    assert figure(page, "purchase_count") == "0" and figure(page, "nps") == "—"
    assert figure(page, "days_since_contact") == "—"
    ten_days_ago = (utcnow() - timedelta(days=10)).date().isoformat()
    add(editor_client, contact_id, "purchase", amount="1000", date="2026-01-05", currency="rub")
    resp = add(editor_client, contact_id, "purchase", amount="2500.50", date=ten_days_ago)
    add(editor_client, contact_id, "feedback", score="7", date=ten_days_ago)
    html = resp.get_data(as_text=True)
    assert figure(html, "purchase_count") == "2"  # the out-of-band summary after the add
    page = editor_client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    assert figure(page, "purchase_count") == "2"
    assert figure(page, "total") == "RUB3,500.50"
    assert figure(page, "average") == "RUB1,750.25"
    assert figure(page, "first") == "Jan 5, 2026"
    assert figure(page, "days_since_contact") == "10"
    assert figure(page, "nps") == "7"
    with app.app_context():
        contact = db.session.get(Contact, contact_id)
        assert contact.stage == "customer" and contact.version == 2
    # The promotion is in the history, by whoever added the purchase, and in the timeline.
    assert ("update", {"stage": ["potential", "customer"]}) in history(app, contact_id)
    assert any(
        s.startswith("Editor edited") and "Lifecycle stage: Potential → Customer" in s
        for s in texts(page)
    )


# -- edit and delete -------------------------------------------------------------------------


def test_author_edits_and_deletes_with_history(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    add(editor_client, contact_id, "purchase", amount="100", text="Chair", date="2026-02-01")
    (item,) = items(app, contact_id)
    form = editor_client.get(f"/contacts/{contact_id}/interactions/{item.id}/edit", headers=HX)
    html = form.get_data(as_text=True)
    assert 'value="100.00"' in html and "Chair" in html and 'value="2026-02-01"' in html
    resp = editor_client.post(
        f"/contacts/{contact_id}/interactions/{item.id}",
        data={"amount": "150", "text": "Chair", "date": "2026-02-01", "currency": "RUB"},
        headers=HX,
    )
    assert resp.status_code == 200
    (item,) = items(app, contact_id)
    assert item.amount_minor == 15000 and item.occurred_at == datetime(2026, 2, 1)
    page = editor_client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    assert figure(page, "total") == "RUB150.00"
    assert "Amount: RUB100.00 → RUB150.00" in " ".join(texts(page))

    resp = editor_client.post(f"/contacts/{contact_id}/interactions/{item.id}/delete", headers=HX)
    assert resp.status_code == 200
    assert items(app, contact_id) == []
    assert figure(resp.get_data(as_text=True), "purchase_count") == "0"
    actions = [a for a, _c in history(app, contact_id) if a.startswith("interaction")]
    assert actions == ["interaction_add", "interaction_edit", "interaction_delete"]
    deleted = history(app, contact_id)[-1][1]
    assert deleted["amount_minor"] == [15000, None] and deleted["text"] == ["Chair", None]
    page = editor_client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    shown = texts(page)
    assert shown[0].startswith("Editor deleted a chronicle entry")
    assert "What was bought" not in shown[0] and "Text: Chair → —" in shown[0]


def test_permissions_viewer_reads_editor_only_own_admin_all(
    app, editor_client, viewer_client, admin_client, users
):
    contact_id = make_contact(app, users["editor"])
    add(admin_client, contact_id, "note", text="Admin's note")
    add(editor_client, contact_id, "note", text="Editor's note")
    admins, editors = items(app, contact_id)
    # The viewer sees the chronicle, no buttons, and is refused on every route.
    page = viewer_client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    assert "Admin&#39;s note" in page and "interactions/new" not in page and "/edit" not in page
    assert (
        viewer_client.get(
            f"/contacts/{contact_id}/interactions/new?kind=note", headers=HX
        ).status_code
        == 403
    )
    assert add(viewer_client, contact_id, "note", text="x").status_code == 403
    for url in (f"/interactions/{editors.id}", f"/interactions/{editors.id}/delete"):
        assert (
            viewer_client.post(
                f"/contacts/{contact_id}{url}", data={"text": "x"}, headers=HX
            ).status_code
            == 403
        )
    # The editor may change their own entry, not the admin's.
    page = editor_client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    assert f"/interactions/{editors.id}/edit" in page
    assert f"/interactions/{admins.id}/edit" not in page
    assert (
        editor_client.get(
            f"/contacts/{contact_id}/interactions/{admins.id}/edit", headers=HX
        ).status_code
        == 403
    )
    assert (
        editor_client.post(
            f"/contacts/{contact_id}/interactions/{admins.id}", data={"text": "x"}, headers=HX
        ).status_code
        == 403
    )
    assert (
        editor_client.post(
            f"/contacts/{contact_id}/interactions/{admins.id}/delete", headers=HX
        ).status_code
        == 403
    )
    # The admin may change anyone's.
    resp = admin_client.post(f"/contacts/{contact_id}/interactions/{editors.id}/delete", headers=HX)
    assert resp.status_code == 200
    assert [i.text for i in items(app, contact_id)] == ["Admin's note"]
    # An entry of another contact is not found through this one; a sent message is not editable.
    other = make_contact(app, users["editor"], first_name="Olga")
    assert (
        admin_client.post(
            f"/contacts/{other}/interactions/{admins.id}/delete", headers=HX
        ).status_code
        == 404
    )
    assert add(admin_client, contact_id, "message", text="x").status_code == 404


# -- validation ------------------------------------------------------------------------------


def test_bad_input_gets_a_clear_message_and_changes_nothing(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    tomorrow = (utcnow() + timedelta(days=3)).date().isoformat()
    cases = [
        ("purchase", {"amount": ""}, "Enter the amount of the purchase."),
        ("purchase", {"amount": "12abc"}, "Enter an amount like 1 234,50 or 1234.50."),
        ("purchase", {"amount": "1.234"}, "Enter an amount like 1 234,50 or 1234.50."),
        ("purchase", {"amount": "-5"}, "The amount must be more than zero."),
        ("purchase", {"amount": "5", "currency": "rubles"}, "Enter a three-letter currency code"),
        ("note", {"date": tomorrow}, "The date cannot be in the future."),
        ("note", {"date": "31.02.2026"}, "Enter a date like 2026-03-31."),
        ("feedback", {"score": "11"}, "Enter a score from 0 to 10."),
        ("feedback", {"score": ""}, "Enter a score from 0 to 10."),
        ("support", {"status": "lost"}, "Choose open or closed."),
    ]
    for kind, fields, message in cases:
        resp = add(editor_client, contact_id, kind, **fields)
        html = resp.get_data(as_text=True)
        assert resp.status_code == 422, (kind, fields)
        assert message in html, (kind, fields)
        # The form comes back in place of itself, with what was typed.
        assert resp.headers["HX-Retarget"] == "#interaction-form-new"
        assert 'aria-invalid="true"' in html
    assert items(app, contact_id) == []
    assert [a for a, _c in history(app, contact_id)] == ["create"]


def test_amounts_in_both_notations():
    assert interactions.parse_amount("1 234,50") == 123450
    assert interactions.parse_amount("1234.50") == 123450
    assert interactions.parse_amount("1,234.50") == 123450
    assert interactions.parse_amount("1.234,5") == 123450
    assert interactions.parse_amount("1\u00a0234") == 123400


# -- the timeline ----------------------------------------------------------------------------


def test_timeline_interleaves_filters_and_pages(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    start = datetime(2025, 1, 1)
    with app.app_context():
        # 70 calls a day apart, and history rows between them.
        db.session.add_all(
            Interaction(
                contact_id=contact_id,
                kind="call",
                text=f"call {n:02}",
                occurred_at=start + timedelta(days=n),
            )
            for n in range(70)
        )
        db.session.add_all(
            ContactHistory(
                contact_id=contact_id,
                action="update",
                at=start + timedelta(days=n, hours=12),
                changes={"city": [f"c{n}", f"c{n + 1}"]},
            )
            for n in range(0, 70, 10)
        )
        db.session.commit()
    page = editor_client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    shown = texts(page)
    assert len(shown) == 30
    # The contact's creation (today) first, then day 69, 68...; a change on day 60 at noon
    # sits between the calls of day 61 and day 60.
    assert shown[0].startswith("Editor created the contact")
    assert "call 69" in shown[1] and "call 61" in shown[9]
    assert "City: c60 → c61" in shown[10] and "call 60" in shown[11]
    # Older entries load when the end scrolls into view, without repeats or gaps.
    seen = shown
    more = re.search(r'class="timeline-more" hx-get="([^"]+)" hx-trigger="revealed"', page)
    while more:
        html = editor_client.get(more.group(1).replace("&amp;", "&"), headers=HX).get_data(
            as_text=True
        )
        assert "<section" not in html
        seen += texts(html)
        more = re.search(r'class="timeline-more" hx-get="([^"]+)"', html)
    calls = [s for s in seen if "logged a call" in s]
    assert [re.search(r"call (\d\d)", s).group(1) for s in calls] == [
        f"{n:02}" for n in range(69, -1, -1)
    ]
    assert len([s for s in seen if "City:" in s]) == 7 and len(seen) == 78

    # Filtered: only calls, or only the field changes.
    only_changes = editor_client.get(f"/contacts/{contact_id}/timeline?kind=changes", headers=HX)
    html = only_changes.get_data(as_text=True)
    assert "logged a call" not in html and len(texts(html)) == 8
    assert f'hx-get="/contacts/{contact_id}/timeline?kind=changes"' in html  # refresh keeps it
    only_calls = editor_client.get(f"/contacts/{contact_id}/timeline?kind=call", headers=HX)
    html = only_calls.get_data(as_text=True)
    assert "City:" not in html and "created the contact" not in html and len(texts(html)) == 30
    # Without htmx the timeline URL leads to the page.
    resp = editor_client.get(f"/contacts/{contact_id}/timeline")
    assert resp.status_code == 302 and resp.headers["Location"].endswith(
        f"/contacts/{contact_id}#timeline"
    )
    assert resp.headers.get("Vary") is None or True
    assert (
        "HX-Request"
        in editor_client.get(f"/contacts/{contact_id}/timeline", headers=HX).headers["Vary"]
    )


def test_sent_message_is_in_the_chronicle(app, editor_client, users):
    contact_id = make_contact(
        app, users["editor"], emails=[{"value": "ivan@example.com", "primary": True}]
    )
    resp = editor_client.post(
        f"/contacts/{contact_id}/send",
        data={"sender": "outbox", "subject": "Hello", "body": "Hi there"},
    )
    assert resp.status_code == 302
    (item,) = items(app, contact_id)
    assert item.kind == "message" and item.text == "Hello\nHi there"
    assert item.data["to"] == "ivan@example.com" and item.data["ok"] is True
    page = editor_client.get(f"/contacts/{contact_id}").get_data(as_text=True)
    assert texts(page)[0].startswith("Editor sent a message")
    assert f"/interactions/{item.id}/edit" not in page  # what was sent stays as it was
    assert figure(page, "days_since_contact") == "0"


# -- hooks -----------------------------------------------------------------------------------


@dataclass
class Visit:
    key: str = "visit"
    label: str = "Shop visit"
    fields: list = field(
        default_factory=lambda: [
            SettingField("shop", "Shop"),
            SettingField("minutes", "Minutes", "int"),
        ]
    )


class KindsPlugin:
    def __init__(self):
        self.added = []

    @hookimpl
    def register_interaction_kinds(self):
        return [Visit(), Visit(key="note", label="Not allowed to replace a builtin")]

    @hookimpl
    def interaction_added(self, interaction):
        self.added.append((interaction.kind, interaction.contact_id, interaction.id is not None))


def _with_plugin(app):
    pm = app.extensions["crmlite.plugins"]
    plugin = KindsPlugin()
    pm.register(plugin, name="test_kinds")
    return pm, plugin


def test_hook_register_interaction_kinds(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    pm, plugin = _with_plugin(app)
    try:
        page = editor_client.get(f"/contacts/{contact_id}").get_data(as_text=True)
        assert "+ Shop visit" in page and "Not allowed" not in page
        form = editor_client.get(f"/contacts/{contact_id}/interactions/new?kind=visit", headers=HX)
        assert 'name="data__shop"' in form.get_data(as_text=True)
        bad = add(editor_client, contact_id, "visit", data__minutes="ten")
        assert bad.status_code == 422 and "Enter a whole number." in bad.get_data(as_text=True)
        add(
            editor_client,
            contact_id,
            "visit",
            text="Tried sofas",
            data__shop="Tverskaya",
            data__minutes="40",
        )
        (item,) = items(app, contact_id)
        assert (item.kind, item.data) == ("visit", {"shop": "Tverskaya", "minutes": 40})
        shown = texts(editor_client.get(f"/contacts/{contact_id}").get_data(as_text=True))
        assert shown[0].startswith("Editor added: Shop visit") and "Shop Tverskaya" in shown[0]
    finally:
        pm.unregister(name="test_kinds")


def test_hook_interaction_added(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    pm, plugin = _with_plugin(app)
    try:
        add(editor_client, contact_id, "call", text="Hello")
        editor_client.post(
            f"/contacts/{make_contact(app, users['editor'], emails=['a@example.com'])}/send",
            data={"sender": "outbox", "subject": "S", "body": "B"},
        )
        assert plugin.added[0] == ("call", contact_id, True)
        assert [k for k, _c, _i in plugin.added] == ["call", "message"]
    finally:
        pm.unregister(name="test_kinds")


def test_a_refused_edit_comes_back_in_place_and_keeps_the_entry(app, editor_client, users):
    contact_id = make_contact(app, users["editor"])
    add(editor_client, contact_id, "feedback", score="8", text="Fine", date="2026-02-01")
    (item,) = items(app, contact_id)
    resp = editor_client.post(
        f"/contacts/{contact_id}/interactions/{item.id}",
        data={"score": "ten", "text": "Changed", "date": "2026-02-01"},
        headers=HX,
    )
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "Enter a score from 0 to 10." in html
    assert resp.headers["HX-Retarget"] == f"#interaction-form-{item.id}"
    assert "Changed" in html  # what was typed is kept in the form
    (kept,) = items(app, contact_id)
    assert (kept.score, kept.text) == (8, "Fine")
    # Saving without a change records nothing.
    editor_client.post(
        f"/contacts/{contact_id}/interactions/{item.id}",
        data={"score": "8", "text": "Fine", "date": "2026-02-01"},
        headers=HX,
    )
    assert [a for a, _c in history(app, contact_id) if a == "interaction_edit"] == []
