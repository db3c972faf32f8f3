"""Merging duplicates (crmlite/core/merging.py): every row follows the survivor, and an undo
puts back exactly what was there, compared row by row over every table that points at a
contact."""

from datetime import date, datetime

import pytest
from sqlalchemy import delete, select

from crmlite import hookspecs
from crmlite.core import merging
from crmlite.core.contacts import create_contact, load_contact, set_archived, validate
from crmlite.core.interactions import refresh_stats
from crmlite.core.tags import add_tag, get_or_create
from crmlite.extensions import db
from crmlite.models import (
    Campaign,
    CampaignRecipient,
    Contact,
    ContactConsent,
    ContactEmail,
    ContactHistory,
    ContactPhone,
    DuplicatePair,
    Import,
    ImportItem,
    Interaction,
    MatchKey,
    Merge,
    OutboxMessage,
    Reminder,
    SearchToken,
)


def make(session, user_id, **raw):
    return create_contact(session, validate(raw), user_id)


def rich_contact(session, user_id, n, tags, campaign, imp, phone, email, **raw):
    """A contact with a row in every table that points at contacts."""
    contact = make(
        session,
        user_id,
        emails=[{"value": email}],
        phones=[{"value": phone}],
        **raw,
    )
    for name in tags:
        add_tag(session, contact, get_or_create(session, name), user_id)
    session.add_all(
        [
            Interaction(
                contact_id=contact.id,
                kind="purchase",
                occurred_at=datetime(2025, 1, n),
                amount_minor=1000 * n,
                currency="RUB",
                text=f"order {n}",
            ),
            Interaction(contact_id=contact.id, kind="note", text=f"note {n}"),
            ContactConsent(
                contact_id=contact.id,
                channel="email",
                purpose="marketing",
                status="granted" if n % 2 else "withdrawn",
                recorded_at=datetime(2025, 2, n),
            ),
            ContactConsent(
                contact_id=contact.id,
                channel="sms",
                purpose="service",
                status="granted",
                recorded_at=datetime(2025, 3, n),
            ),
            Reminder(
                contact_id=contact.id, assignee_id=user_id, due_on=date(2026, 1, n), note="call"
            ),
            CampaignRecipient(campaign_id=campaign.id, contact_id=contact.id, address=email),
            ImportItem(import_id=imp.id, row=n, contact_id=contact.id, action="create"),
            OutboxMessage(channel="email", to_address=email, subject="hi", contact_id=contact.id),
            MatchKey(key=f"test-phone:{phone}", contact_id=contact.id),
            MatchKey(key=f"test-only:{n}", contact_id=contact.id),
        ]
    )
    session.flush()
    refresh_stats(session, [contact.id])
    return contact


@pytest.fixture
def world(app, users):
    """Three contacts of one person (and a bystander) with rows everywhere; committed."""
    with app.app_context():
        s = db.session
        uid = users["editor"]
        campaign = Campaign(name="Spring", segment_key="all", sender="outbox")
        imp = Import(filename="a.csv", path="/tmp/a.csv", importer="csv")
        s.add_all([campaign, imp])
        s.flush()
        a = rich_contact(
            s, uid, 1, ["vip", "moscow"], campaign, imp, "+79123456789", "ivan@example.com",
            first_name="Ivan", last_name="Ivanov", city="Moscow", custom={},
        )  # fmt: skip
        b = rich_contact(
            s, uid, 2, ["vip", "b2b"], campaign, imp, "+79123456789", "ivanov@example.com",
            first_name="Иван", last_name="Иванов", company="Romashka", position="CEO",
        )  # fmt: skip
        c = rich_contact(
            s, uid, 3, ["new"], campaign, imp, "+79001112233", "IVAN@example.com",
            first_name="Vanya", last_name="Ivanov", birth_date="1980-05-01",
        )  # fmt: skip
        d = make(s, uid, first_name="Petr", last_name="Petrov")
        # Only the pairs below (the finder, when installed, proposes its own on save).
        s.execute(delete(DuplicatePair))
        a.custom, b.custom = {"size": "M"}, {"size": "L", "colour": "red"}
        b.stage = "customer"
        ids = sorted([a.id, b.id, c.id])
        a, b, c = ids
        s.add_all(
            [
                DuplicatePair(contact_a_id=a, contact_b_id=b, score=95, reasons=[]),
                DuplicatePair(contact_a_id=b, contact_b_id=c, score=80, reasons=[]),
                DuplicatePair(
                    contact_a_id=c, contact_b_id=d.id, score=60, reasons=[], status="dismissed"
                ),
            ]
        )
        s.commit()
        yield {"ids": ids, "bystander": d.id, "user": uid}
        s.remove()


def dump() -> dict[str, list[dict]]:
    """Every row of contacts and of every table with a foreign key to contacts."""
    tables = {"contacts": Contact.__table__}
    for table, _column in merging.contact_foreign_keys():
        if table.name != "merges":
            tables[table.name] = table
    out = {}
    for name, table in tables.items():
        order = list(table.primary_key.columns)
        rows = db.session.execute(select(table).order_by(*order)).mappings()
        out[name] = [dict(r) for r in rows]
    return out


def without_versions(rows):
    return [{k: v for k, v in r.items() if k != "version"} for r in rows]


def test_every_foreign_key_to_contacts_has_a_merge_strategy(app):
    found = {(t.name, c.name) for t, c in merging.contact_foreign_keys()}
    assert found, "no foreign keys found"
    unhandled = sorted(found - set(merging.STRATEGIES))
    assert not unhandled, f"add these to merging.STRATEGIES: {unhandled}"
    stale = sorted(set(merging.STRATEGIES) - found)
    assert not stale, f"STRATEGIES lists tables that no longer exist: {stale}"


def test_merge_moves_every_row_and_undo_restores_exactly(world, users):
    a, b, c = world["ids"]
    uid = world["user"]
    s = db.session
    before = dump()
    assert [len(before[t]) for t in ("interactions", "reminders", "campaign_recipients")] == [
        6,
        3,
        3,
    ]

    record = merging.merge(
        s,
        a,
        [b, c],
        {"first_name": b, "company": b, "birth_date": c, "custom.size": b},
        uid,
    )
    s.commit()
    s.expire_all()

    # The survivor has everything, with the chosen values.
    survivor = load_contact(s, a)
    assert (survivor.first_name, survivor.last_name, survivor.company) == (
        "Иван",
        "Ivanov",
        "Romashka",
    )
    assert survivor.birth_date == date(1980, 5, 1)
    assert survivor.position == "CEO"  # empty on the survivor: the non-empty value is kept
    assert survivor.custom == {"size": "L", "colour": "red"}
    # a is "potential" (every new contact's stage): b's "customer" is kept by default.
    assert survivor.stage == "customer"
    assert s.get(Contact, b) is None and s.get(Contact, c) is None
    # c's IVAN@example.com is a's address after normalization: kept once.
    assert sorted(e.email for e in survivor.emails) == ["ivan@example.com", "ivanov@example.com"]
    assert sum(e.is_primary for e in survivor.emails) == 1
    # The same phone twice is kept once.
    assert sorted(p.e164 for p in survivor.phones) == ["+79001112233", "+79123456789"]
    assert sorted(t.name for t in survivor.tags) == ["b2b", "moscow", "new", "vip"]
    assert s.scalar(select(db.func.count()).where(Interaction.contact_id == a)) == 6
    assert survivor.purchase_count == 3 and survivor.purchase_total_minor == 6000
    consents = {
        (r.channel, r.purpose): r
        for r in s.scalars(select(ContactConsent).where(ContactConsent.contact_id == a))
    }
    # The newer consent wins: c's (recorded in March 2025 / February 3rd).
    assert consents[("email", "marketing")].recorded_at == datetime(2025, 2, 3)
    assert len(consents) == 2
    assert s.scalar(select(db.func.count()).where(Reminder.contact_id == a)) == 3
    assert s.scalar(select(db.func.count()).where(CampaignRecipient.contact_id == a)) == 1
    assert s.scalar(select(db.func.count()).where(ImportItem.contact_id == a)) == 3
    assert s.scalar(select(db.func.count()).where(OutboxMessage.contact_id == a)) == 3
    keys = set(s.scalars(select(MatchKey.key).where(MatchKey.contact_id == a)))
    assert {k for k in keys if k.startswith("test-")} == {
        "test-phone:+79123456789",
        "test-phone:+79001112233",
        "test-only:1",
        "test-only:2",
        "test-only:3",
    }
    tokens = set(s.scalars(select(SearchToken.token).where(SearchToken.contact_id == a)))
    assert "иван" in tokens and "romashka" in tokens
    # Pairs inside the group are closed; the "not duplicates" with the bystander carries over.
    pairs = s.scalars(select(DuplicatePair)).all()
    assert [(p.contact_a_id, p.contact_b_id, p.status) for p in pairs] == [
        (a, world["bystander"], "dismissed")
    ]
    entry = s.scalars(
        select(ContactHistory)
        .where(ContactHistory.contact_id == a, ContactHistory.action == "merge")
        .order_by(ContactHistory.id.desc())
    ).first()
    assert entry.changes["first_name"] == ["Ivan", "Иван"]
    assert len(entry.changes["merged"][1]) == 2

    merging.undo(s, record.id, uid)
    s.commit()
    s.expire_all()
    after = dump()

    for table, rows in before.items():
        if table == "contacts":
            assert without_versions(after[table]) == without_versions(rows)
        elif table == "contact_history":
            extra = [r for r in after[table] if r not in rows]
            assert [r for r in after[table] if r in rows] == rows
            assert sorted(r["action"] for r in extra) == ["merge"] + ["merge_undone"] * 3
        else:
            assert after[table] == rows, table
    # The survivor's version moved on (an open edit form sees a conflict); the others' did not.
    versions = {r["id"]: r["version"] for r in after["contacts"]}
    old = {r["id"]: r["version"] for r in before["contacts"]}
    assert versions[a] > old[a] and versions[b] == old[b] and versions[c] == old[c]
    assert s.get(Merge, record.id).undone_at is not None
    with pytest.raises(merging.MergeError, match="already undone"):
        merging.undo(s, record.id, uid)


def test_keep_chosen_emails_and_phones_only(world):
    a, b, _c = world["ids"]
    s = db.session
    keep = [e.id for e in s.scalars(select(ContactEmail).where(ContactEmail.contact_id == b))]
    phones = [p.id for p in s.scalars(select(ContactPhone).where(ContactPhone.contact_id == b))]
    before = dump()
    record = merging.merge(s, a, [b], {"emails": keep, "phones": phones}, world["user"])
    s.commit()
    survivor = load_contact(s, a)
    assert [e.email for e in survivor.emails] == ["ivanov@example.com"]
    assert survivor.emails[0].is_primary
    assert [p.e164 for p in survivor.phones] == ["+79123456789"]
    merging.undo(s, record.id, world["user"])
    s.commit()
    s.expire_all()
    after = dump()
    assert after["contact_emails"] == before["contact_emails"]
    assert after["contact_phones"] == before["contact_phones"]


def test_groups_are_connected_components(world):
    a, b, c = world["ids"]
    found = merging.groups(db.session, 0)
    assert [g.contact_ids for g in found] == [[a, b, c]]
    assert found[0].best_score == 95
    # At 90 only the best pair links two of them.
    assert [g.contact_ids for g in merging.groups(db.session, 90)] == [[a, b]]
    assert merging.group_of(db.session, [b, c]).contact_ids == [a, b, c]


def test_bulk_merge_and_batch_undo(world):
    a, b, c = world["ids"]
    s = db.session
    before = dump()
    preview = merging.bulk_preview(s, 70)
    assert [g.contact_ids for g in preview] == [[a, b, c]]
    # Most complete wins: b has a company and a position besides the names, e-mail and phone.
    assert preview[0].survivor_id == b
    batch = merging.bulk_merge(s, 70, world["user"])
    s.commit()
    assert {s.get(Contact, i) is None for i in (a, c)} == {True}
    merges = merging.batch_merges(s, batch)
    assert len(merges) == 1 and merges[0].merged_ids == [a, c]
    assert merging.undo_batch(s, batch, world["user"]) == 1
    s.commit()
    s.expire_all()
    after = dump()
    assert without_versions(after["contacts"]) == without_versions(before["contacts"])
    assert after["interactions"] == before["interactions"]
    assert after["contact_tags"] == before["contact_tags"]
    with pytest.raises(merging.MergeError):
        merging.undo_batch(s, batch, world["user"])


def test_archived_and_erased_contacts_cannot_be_merged(world):
    a, b, _c = world["ids"]
    s = db.session
    set_archived(s, s.get(Contact, b), True, world["user"])
    s.commit()
    with pytest.raises(merging.MergeError, match="archived"):
        merging.merge(s, a, [b], None, world["user"])
    s.rollback()
    contact = s.get(Contact, b)
    contact.is_archived, contact.erased_at = False, datetime(2026, 1, 1)
    s.commit()
    with pytest.raises(merging.MergeError, match="erased"):
        merging.merge(s, a, [b], None, world["user"])
    s.rollback()
    assert s.get(Contact, b) is not None
    # Archived contacts stay out of a bulk merge.
    assert [g.contact_ids for g in merging.bulk_preview(s, 0)] == []


def test_undo_refused_after_a_later_merge_until_that_one_is_undone(world):
    a, b, c = world["ids"]
    s = db.session
    uid = world["user"]
    first = merging.merge(s, a, [b], None, uid)
    s.commit()
    # The survivor is merged into another contact later.
    second = merging.merge(s, c, [a], None, uid)
    s.commit()
    assert s.get(Merge, first.id).survivor_id is None
    with pytest.raises(merging.MergeError, match="merged again later"):
        merging.undo(s, first.id, uid)
    s.rollback()
    merging.undo(s, second.id, uid)
    s.commit()
    assert s.get(Merge, first.id).survivor_id == a
    merging.undo(s, first.id, uid)
    s.commit()
    assert {s.get(Contact, i) is not None for i in (a, b, c)} == {True}


def test_undo_refused_when_the_survivor_was_deleted(world):
    a, b, _c = world["ids"]
    s = db.session
    record = merging.merge(s, a, [b], None, world["user"])
    s.commit()
    s.delete(s.get(Contact, a))
    s.commit()
    with pytest.raises(merging.MergeError, match="deleted"):
        merging.undo(s, record.id, world["user"])


def test_merging_with_itself_or_a_missing_contact_is_refused(world):
    a, _b, _c = world["ids"]
    with pytest.raises(merging.MergeError, match="two different"):
        merging.merge(db.session, a, [a], None, world["user"])
    with pytest.raises(merging.MergeError, match="no longer exists"):
        merging.merge(db.session, a, [999999], None, world["user"])


def test_hook_contacts_merged(world, app):
    a, b, _c = world["ids"]
    heard = []

    class Listener:
        @staticmethod
        @hookspecs.hookimpl
        def contacts_merged(survivor, merged):
            heard.append((survivor.id, survivor.first_name, merged))

    pm = app.extensions["crmlite.plugins"]
    pm.register(Listener, name="merge-listener")
    try:
        merging.merge(db.session, a, [b], {"first_name": b}, world["user"], pm=pm)
        db.session.commit()
    finally:
        pm.unregister(name="merge-listener")
    assert heard == [(a, "Иван", [b])]


def test_a_table_added_later_follows_the_merge_and_the_undo(world):
    """A plugin's table with a foreign key to contacts, unknown to STRATEGIES: its rows move
    to the survivor (a unique key is respected) and come back on undo."""
    from sqlalchemy import Column, ForeignKey, Integer, PrimaryKeyConstraint, String, Table

    a, b, _c = world["ids"]
    s = db.session
    notes = Table(
        "test_plugin_notes",
        db.metadata,
        Column("id", Integer, primary_key=True),
        Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE")),
        Column("text", String(50)),
    )
    flags = Table(
        "test_plugin_flags",
        db.metadata,
        Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE")),
        Column("flag", String(20)),
        PrimaryKeyConstraint("contact_id", "flag"),
    )
    try:
        notes.create(db.engine)
        flags.create(db.engine)
        assert merging.strategy_of(notes, notes.c.contact_id) == "move"
        assert merging.strategy_of(flags, flags.c.contact_id) == "unique:flag"
        s.execute(notes.insert(), [{"contact_id": a, "text": "a"}, {"contact_id": b, "text": "b"}])
        s.execute(
            flags.insert(),
            [
                {"contact_id": a, "flag": "gold"},
                {"contact_id": b, "flag": "gold"},
                {"contact_id": b, "flag": "new"},
            ],
        )
        s.commit()
        before = dump()
        record = merging.merge(s, a, [b], None, world["user"])
        s.commit()
        assert sorted(s.execute(select(notes.c.contact_id, notes.c.text)).all()) == [
            (a, "a"),
            (a, "b"),
        ]
        assert sorted(s.execute(select(flags.c.contact_id, flags.c.flag)).all()) == [
            (a, "gold"),
            (a, "new"),
        ]
        merging.undo(s, record.id, world["user"])
        s.commit()
        after = dump()
        assert after["test_plugin_notes"] == before["test_plugin_notes"]
        assert after["test_plugin_flags"] == before["test_plugin_flags"]
    finally:
        s.rollback()
        for table in (flags, notes):
            table.drop(db.engine, checkfirst=True)
            db.metadata.remove(table)
