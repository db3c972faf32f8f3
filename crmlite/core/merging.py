"""Merging duplicate contacts into one survivor, and undoing a merge exactly.

A merge moves every row that points at the merged contacts to the survivor, keeps the field
values the user chose, deletes the merged contacts and records a Merge row whose snapshot
holds everything needed to put it all back: the full prior rows of every contact involved,
every row it deleted or changed (with the prior values of the changed columns) and the ids
of every row it moved.

Tables are found from the SQLAlchemy metadata (every foreign key to contacts.id), so a table
added later is moved too instead of being silently lost with the merged contact; STRATEGIES
says how the known ones are handled (tests/test_merging.py fails when one is not listed).
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    Table,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from ..extensions import db
from ..models import Contact, DuplicatePair, Interaction, Merge
from ..models.types import utcnow
from . import history
from .contacts import refresh_tokens, sort_name
from .i18n import _
from .interactions import refresh_stats
from .text import fold

# The scalar fields a user picks a value for (custom fields come as "custom.<key>").
FIELDS = (
    "first_name",
    "last_name",
    "middle_name",
    "company",
    "position",
    "industry",
    "city",
    "country",
    "address",
    "birth_date",
    "gender",
    "source",
    "owner_id",
    "stage",
    "temperature",
    "notes",
    "external_id",
)
NAME_FIELDS = ("first_name", "last_name", "middle_name", "company")

# (table, column) -> how its rows follow a merge. "move": point at the survivor;
# "unique:<cols>": move unless the survivor already has a row with the same <cols> (then the
# merged contact's row is deleted); the others are special cases below.
STRATEGIES: dict[tuple[str, str], str] = {
    ("contact_emails", "contact_id"): "items:email",
    ("contact_phones", "contact_id"): "items:e164",
    ("contact_tags", "contact_id"): "unique:tag_id",
    ("match_keys", "contact_id"): "unique:key",
    ("campaign_recipients", "contact_id"): "unique:campaign_id",
    ("contact_consents", "contact_id"): "consents",
    ("search_tokens", "contact_id"): "tokens",
    ("duplicate_pairs", "contact_a_id"): "pairs",
    ("duplicate_pairs", "contact_b_id"): "pairs",
    ("merges", "survivor_id"): "merges",
    ("interactions", "contact_id"): "move",
    ("contact_history", "contact_id"): "move",
    ("import_items", "contact_id"): "move",
    ("outbox_messages", "contact_id"): "move",
    ("reminders", "contact_id"): "move",
}
CHUNK = 500
MAX_GROUP = 50  # contacts merged in one merge (a bigger "group" is a shared phone, not a person)


class MergeError(ValueError):
    """A merge or an undo that was refused; the message says why, nothing was changed."""


# -- helpers -------------------------------------------------------------------------------


def contact_foreign_keys() -> list[tuple[Table, Column]]:
    """Every (table, column) with a foreign key to contacts.id, from the metadata."""
    found = []
    for table in db.metadata.sorted_tables:
        for fk in table.foreign_keys:
            if fk.column.table.name == "contacts" and fk.column.name == "id":
                found.append((table, fk.parent))
    return found


def strategy_of(table: Table, column: Column) -> str:
    known = STRATEGIES.get((table.name, column.name))
    if known:
        return known
    # A table nobody listed yet: move its rows; respect a unique key that includes the column.
    for constraint in [table.primary_key, *table.constraints]:
        cols = [c.name for c in getattr(constraint, "columns", [])]
        if column.name in cols and len(cols) > 1 and _is_unique(constraint, table):
            return "unique:" + ",".join(c for c in cols if c != column.name)
    return "move"


def _is_unique(constraint: Any, table: Table) -> bool:
    from sqlalchemy import PrimaryKeyConstraint, UniqueConstraint

    return isinstance(constraint, PrimaryKeyConstraint | UniqueConstraint)


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _decode(column: Column, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(column.type, DateTime):
        return datetime.fromisoformat(value)
    if isinstance(column.type, Date):
        return date.fromisoformat(value)
    return value


def _row(mapping: Any) -> dict[str, Any]:
    return {k: _encode(v) for k, v in dict(mapping).items()}


def _decoded(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    return {name: _decode(table.c[name], value) for name, value in row.items()}


def _pk(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    return {c.name: row[c.name] for c in table.primary_key.columns}


def _where(table: Table, pk: dict[str, Any]):
    return and_(*(table.c[name] == _decode(table.c[name], value) for name, value in pk.items()))


def _select_rows(session: Session, table: Table, column: Column, ids: list[int]) -> list[dict]:
    order = list(table.primary_key.columns)
    rows = session.execute(select(table).where(column.in_(ids)).order_by(*order)).mappings()
    return [dict(r) for r in rows]


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == {} or value == []


# -- the merge -----------------------------------------------------------------------------


class _Recorder:
    """Changes rows and remembers how to put them back."""

    def __init__(self, session: Session):
        self.session = session
        self.ops: list[dict[str, Any]] = []

    def delete(self, table: Table, row: dict[str, Any]) -> None:
        self.session.execute(delete(table).where(_where(table, _row(_pk(table, row)))))
        self.ops.append({"op": "delete", "t": table.name, "row": _row(row)})

    def delete_of(self, table: Table, column: Column, ids: list[int]) -> None:
        """Delete every row of these contacts with one statement, remembering each."""
        rows = _select_rows(self.session, table, column, ids)
        if rows:
            self.session.execute(delete(table).where(column.in_(ids)))
            self.ops.extend({"op": "delete", "t": table.name, "row": _row(r)} for r in rows)

    def update(self, table: Table, row: dict[str, Any], values: dict[str, Any]) -> None:
        before = {k: _encode(row[k]) for k in values if row[k] != values[k]}
        if not before:
            return
        self.session.execute(
            update(table).where(_where(table, _row(_pk(table, row)))).values(values)
        )
        after = {**row, **values}
        self.ops.append(
            {"op": "update", "t": table.name, "pk": _row(_pk(table, after)), "before": before}
        )

    def move(self, table: Table, column: Column, source: int, target: int, pks: list) -> None:
        (pk_col,) = table.primary_key.columns
        for start in range(0, len(pks), CHUNK):
            chunk = pks[start : start + CHUNK]
            self.session.execute(
                update(table).where(pk_col.in_(chunk)).values({column.name: target})
            )
        self.ops.append(
            {"op": "move", "t": table.name, "col": column.name, "from": source, "pks": pks}
        )


def default_choices(contacts: list[Contact], survivor_id: int) -> dict[str, int]:
    """field -> contact id: the survivor's value, or the first non-empty one of the others."""
    ordered = sorted(contacts, key=lambda c: c.id != survivor_id)
    choices: dict[str, int] = {}
    keys = {k for c in contacts for k in (c.custom or {})}
    for name in (*FIELDS, *(f"custom.{k}" for k in sorted(keys))):
        chosen = next((c for c in ordered if not _blank(name, field_value(c, name))), None)
        if chosen is None:
            chosen = next((c for c in ordered if not _empty(field_value(c, name))), ordered[0])
        choices[name] = chosen.id
    return choices


def _blank(name: str, value: Any) -> bool:
    # "potential" is every new contact's stage: a customer's stage on a duplicate wins.
    return _empty(value) or (name == "stage" and value == "potential")


def field_value(contact: Contact, name: str) -> Any:
    if name.startswith("custom."):
        return (contact.custom or {}).get(name.split(".", 1)[1])
    return getattr(contact, name)


def _check_mergeable(contacts: list[Contact]) -> None:
    for contact in contacts:
        if contact.erased_at is not None:
            raise MergeError(_("%(name)s was erased and cannot be merged.", name=f"#{contact.id}"))
        if contact.is_archived:
            raise MergeError(
                _(
                    "%(name)s is archived; restore it before merging.",
                    name=contact.full_name,
                )
            )


def merge(
    session: Session,
    survivor_id: int,
    other_ids: list[int],
    choices: dict[str, Any] | None,
    user_id: int | None,
    batch_id: str | None = None,
    pm: Any = None,
) -> Merge:
    """Merge other_ids into survivor_id; return the Merge row (the caller commits).

    choices: {field: contact id whose value to keep} for scalar and "custom.<key>" fields
    (missing fields: the survivor's value, or the first non-empty one); "emails" and
    "phones": the ids of the ContactEmail / ContactPhone rows to keep (missing: all of them;
    the same address twice is kept once).
    """
    other_ids = sorted({int(i) for i in other_ids} - {int(survivor_id)})
    if not other_ids:
        raise MergeError(_("Choose at least two different contacts to merge."))
    ids = [int(survivor_id), *other_ids]
    contacts = {c.id: c for c in session.scalars(select(Contact).where(Contact.id.in_(ids)))}
    missing = [i for i in ids if i not in contacts]
    if missing:
        raise MergeError(
            _("Contact %(ids)s no longer exists.", ids=", ".join(f"#{i}" for i in missing))
        )
    _check_mergeable(list(contacts.values()))
    survivor = contacts[survivor_id]
    others = [contacts[i] for i in other_ids]
    choices = dict(choices or {})
    defaults = default_choices(list(contacts.values()), survivor_id)
    contacts_table: Table = Contact.__table__
    prior = {r["id"]: r for r in _select_rows(session, contacts_table, contacts_table.c.id, ids)}

    # 1. The survivor's fields: the chosen values, through the ORM (bumps its version).
    changes: dict[str, tuple[Any, Any]] = {}
    custom = dict(survivor.custom or {})
    for name, default in defaults.items():
        source_id = int(choices.get(name) or default)
        if source_id not in contacts:
            raise MergeError(_("A chosen value belongs to a contact outside this merge."))
        new = field_value(contacts[source_id], name)
        old = field_value(survivor, name)
        if new == old or (_empty(new) and _empty(old)):
            continue
        changes[name] = (old, new)
        if name.startswith("custom."):
            key = name.split(".", 1)[1]
            if _empty(new):
                custom.pop(key, None)
            else:
                custom[key] = new
        else:
            setattr(survivor, name, new)
    if any(n.startswith("custom.") for n in changes):
        survivor.custom = custom
    survivor.sort_name = sort_name(
        survivor.last_name, survivor.first_name, survivor.middle_name, survivor.company
    )
    survivor.company_key = fold(survivor.company)[:200]
    survivor.updated_at = utcnow()
    session.flush()
    survivor_fields = [c.name for c in contacts_table.columns if c.name != "version"]
    survivor_fields = [
        n
        for n in survivor_fields
        if _encode(getattr(survivor, n)) != _encode(prior[survivor_id][n])
    ]

    # 2. Every row that points at the merged contacts.
    rec = _Recorder(session)
    done_pairs = False
    for table, column in contact_foreign_keys():
        kind = strategy_of(table, column)
        if kind == "pairs":
            if not done_pairs:
                _merge_pairs(session, rec, table, survivor_id, other_ids)
                done_pairs = True
        elif kind.startswith("items:"):
            wanted = choices.get("emails" if table.name == "contact_emails" else "phones")
            _merge_items(session, rec, table, column, kind[6:], ids, wanted)
        elif kind.startswith("unique:"):
            _merge_unique(session, rec, table, column, kind[7:].split(","), ids)
        elif kind == "consents":
            _merge_consents(session, rec, table, column, ids)
        elif kind == "tokens":
            rec.delete_of(table, column, other_ids)
        elif kind == "merges":
            for row in _select_rows(session, table, column, other_ids):
                rec.update(table, row, {column.name: None})
        else:
            (pk_col,) = table.primary_key.columns
            for other in other_ids:
                pks = list(session.scalars(select(pk_col).where(column == other).order_by(pk_col)))
                if pks:
                    rec.move(table, column, other, survivor_id, pks)

    # 3. The merged contacts go; the survivor's search words and summary are recomputed.
    labels = [f"#{c.id} {c.full_name}" for c in others]
    for other in others:
        session.expunge(other)
    session.execute(delete(contacts_table).where(contacts_table.c.id.in_(other_ids)))
    session.expire(survivor)
    refresh_tokens(session, survivor)
    refresh_stats(session, [survivor_id])
    session.expire(survivor)
    changes["merged"] = (None, labels)
    history.record(session, survivor_id, user_id, "merge", changes, survivor.version)
    record = Merge(
        survivor_id=survivor_id,
        merged_ids=other_ids,
        batch_id=batch_id,
        performed_by_id=user_id,
        snapshot={
            "contacts": [_row(prior[i]) for i in ids],
            "survivor_fields": survivor_fields,
            "ops": rec.ops,
        },
    )
    session.add(record)
    session.flush()
    if pm is not None:
        pm.hook.contacts_merged(survivor=survivor, merged=list(other_ids))
    return record


def _merge_items(
    session: Session,
    rec: _Recorder,
    table: Table,
    column: Column,
    value_col: str,
    ids: list[int],
    wanted: list[int] | None,
) -> None:
    survivor_id = ids[0]
    rows = _select_rows(session, table, column, ids)
    # Survivor's rows first (its primary first), then the others' in id order.
    rows.sort(key=lambda r: (r[column.name] != survivor_id, not r["is_primary"], r["id"]))
    keep_ids = None if wanted is None else {int(i) for i in wanted}
    kept: list[dict] = []
    seen: set[str] = set()
    for row in rows:
        if (keep_ids is not None and row["id"] not in keep_ids) or row[value_col] in seen:
            rec.delete(table, row)
            continue
        seen.add(row[value_col])
        kept.append(row)
    for n, row in enumerate(kept):
        rec.update(table, row, {column.name: survivor_id, "is_primary": n == 0})


def _merge_unique(
    session: Session, rec: _Recorder, table: Table, column: Column, keys: list[str], ids: list[int]
) -> None:
    survivor_id = ids[0]
    rows = _select_rows(session, table, column, ids)
    taken = {tuple(r[k] for k in keys) for r in rows if r[column.name] == survivor_id}
    for row in rows:
        if row[column.name] == survivor_id:
            continue
        key = tuple(row[k] for k in keys)
        if key in taken:
            rec.delete(table, row)
        else:
            taken.add(key)
            rec.update(table, row, {column.name: survivor_id})


def _merge_consents(
    session: Session, rec: _Recorder, table: Table, column: Column, ids: list[int]
) -> None:
    """One consent per channel and purpose: the most recently recorded one wins."""
    survivor_id = ids[0]
    rows = _select_rows(session, table, column, ids)
    best: dict[tuple, dict] = {}
    for row in rows:
        key = (row["channel"], row["purpose"])
        current = best.get(key)
        if current is None or (row["recorded_at"], row["id"]) > (
            current["recorded_at"],
            current["id"],
        ):
            best[key] = row
    # Delete the losers first, so moving a winner never meets the unique key.
    for row in rows:
        if best[(row["channel"], row["purpose"])] is not row:
            rec.delete(table, row)
    for row in best.values():
        rec.update(table, row, {column.name: survivor_id})


def _merge_pairs(
    session: Session, rec: _Recorder, table: Table, survivor_id: int, other_ids: list[int]
) -> None:
    """Pairs inside the merge are closed; a pair with a third contact carries over (a
    "not duplicates" decision too), unless the survivor already has one with that contact."""
    ids = [survivor_id, *other_ids]
    members = set(ids)
    a, b = table.c.contact_a_id, table.c.contact_b_id
    rows = [
        dict(r)
        for r in session.execute(
            select(table).where(or_(a.in_(ids), b.in_(ids))).order_by(table.c.id)
        ).mappings()
    ]
    inside = [r for r in rows if r["contact_a_id"] in members and r["contact_b_id"] in members]
    for row in inside:
        rec.delete(table, row)
    outside = [r for r in rows if r not in inside]
    third = lambda r: r["contact_b_id"] if r["contact_a_id"] in members else r["contact_a_id"]  # noqa: E731
    kept: dict[int, dict] = {}
    # The survivor's own pairs stay as they are.
    for row in outside:
        if survivor_id in (row["contact_a_id"], row["contact_b_id"]):
            kept[third(row)] = row
    for row in outside:
        if survivor_id in (row["contact_a_id"], row["contact_b_id"]):
            continue
        other = third(row)
        existing = kept.get(other)
        if existing is None:
            lo, hi = sorted((survivor_id, other))
            rec.update(table, row, {"contact_a_id": lo, "contact_b_id": hi})
            kept[other] = {**row, "contact_a_id": lo, "contact_b_id": hi}
            continue
        rec.delete(table, row)
        if row["status"] == "dismissed" and existing["status"] != "dismissed":
            values = {
                "status": "dismissed",
                "decided_at": row["decided_at"],
                "decided_by_id": row["decided_by_id"],
            }
            rec.update(table, existing, values)
            existing.update(values)


# -- undo ----------------------------------------------------------------------------------


def undo_blocker(session: Session, record: Merge) -> str | None:
    """Why this merge cannot be undone now, in words; None when it can."""
    return undo_blockers(session, [record])[record.id]


def undo_blockers(session: Session, records: list[Merge]) -> dict[int, str | None]:
    """undo_blocker for many merges (the merges page) in a fixed number of queries."""
    result: dict[int, str | None] = {}
    open_records = [r for r in records if r.undone_at is None]
    survivors = {r.survivor_id for r in open_records if r.survivor_id is not None}
    # A later merge into the same survivor (index ix_merges_survivor).
    later_into: dict[int, list[tuple[int, int]]] = {}
    if survivors:
        rows = session.execute(
            select(Merge.id, Merge.survivor_id).where(
                Merge.survivor_id.in_(survivors), Merge.undone_at.is_(None)
            )
        )
        for merge_id, survivor_id in rows:
            later_into.setdefault(survivor_id, []).append(merge_id)
    merged = sorted({i for r in open_records for i in (r.merged_ids or [])})
    taken: set[int] = set()
    for start in range(0, len(merged), CHUNK):
        chunk = merged[start : start + CHUNK]
        taken.update(session.scalars(select(Contact.id).where(Contact.id.in_(chunk))))
    for record in records:
        original = record.snapshot["contacts"][0]["id"]
        if record.undone_at is not None:
            result[record.id] = _("This merge was already undone.")
            continue
        later = [m for m in later_into.get(record.survivor_id, []) if m > record.id]
        if record.survivor_id is None:
            # Merged into another contact (that merge set survivor_id to NULL) or deleted.
            into = _merged_later_into(session, record.id, original)
            later = [into] if into else []
        if later:
            result[record.id] = _(
                "Contact #%(id)s was merged again later (merge #%(merge)s); undo that merge first.",
                id=original,
                merge=max(later),
            )
        elif record.survivor_id is None:
            result[record.id] = _(
                "The surviving contact #%(id)s was deleted; this merge cannot be undone.",
                id=original,
            )
        elif taken & set(record.merged_ids or []):
            ids = sorted(taken & set(record.merged_ids or []))
            result[record.id] = _(
                "Contact id %(ids)s is in use again; this merge cannot be undone.",
                ids=", ".join(f"#{i}" for i in ids),
            )
        else:
            result[record.id] = None
    return result


def _merged_later_into(session: Session, merge_id: int, contact_id: int) -> int | None:
    """The later, not undone merge that merged this contact away (merged_ids is JSON, so
    read in chunks of ids and lists; only asked when a survivor is gone)."""
    last = merge_id
    while True:
        rows = session.execute(
            select(Merge.id, Merge.merged_ids)
            .where(Merge.id > last, Merge.undone_at.is_(None))
            .order_by(Merge.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return None
        for other_id, merged_ids in rows:
            if contact_id in (merged_ids or []):
                return other_id
        last = rows[-1][0]


def undo(session: Session, merge_id: int, user_id: int | None) -> Merge:
    """Put everything back as it was before the merge; the caller commits (or, on
    MergeError, rolls back)."""
    record = session.get(Merge, merge_id)
    if record is None:
        raise MergeError(_("No such merge."))
    blocker = undo_blocker(session, record)
    if blocker:
        raise MergeError(blocker)
    try:
        _restore(session, record)
    except IntegrityError:  # the caller rolls back, as after any MergeError
        raise MergeError(
            _(
                "Since the merge, the contact was changed in a way that conflicts with "
                "the rows the undo would bring back; this merge cannot be undone."
            )
        ) from None
    record.undone_at = utcnow()
    record.undone_by_id = user_id
    survivor_id = record.snapshot["contacts"][0]["id"]
    survivor = session.get(Contact, survivor_id)
    for row in record.snapshot["contacts"]:
        version = survivor.version if row["id"] == survivor_id else row["version"]
        history.record(
            session, row["id"], user_id, "merge_undone", {"merge": (None, record.id)}, version
        )
    session.flush()
    return record


def _restore(session: Session, record: Merge) -> None:
    tables = db.metadata.tables
    contacts_table: Table = Contact.__table__
    snapshot = record.snapshot
    survivor_row = _decoded(contacts_table, snapshot["contacts"][0])
    merged_rows = [_decoded(contacts_table, r) for r in snapshot["contacts"][1:]]
    session.execute(insert(contacts_table), merged_rows)
    pending: list[dict[str, Any]] = []  # deleted rows of one table, inserted together

    def put_back() -> None:
        if pending:
            table = tables[pending[0]["t"]]
            session.execute(insert(table), [_decoded(table, op["row"]) for op in pending])
            pending.clear()

    for op in reversed(snapshot["ops"]):
        table = tables[op["t"]]
        if op["op"] == "delete":
            if pending and pending[0]["t"] != op["t"]:
                put_back()
            pending.append(op)
            continue
        put_back()
        if op["op"] == "update":
            session.execute(
                update(table).where(_where(table, op["pk"])).values(_decoded(table, op["before"]))
            )
        else:
            (pk_col,) = table.primary_key.columns
            pks = op["pks"]
            for start in range(0, len(pks), CHUNK):
                session.execute(
                    update(table)
                    .where(pk_col.in_(pks[start : start + CHUNK]))
                    .values({op["col"]: op["from"]})
                )
    put_back()
    survivor = session.get(Contact, survivor_row["id"], populate_existing=True)
    for name in snapshot["survivor_fields"]:
        setattr(survivor, name, survivor_row[name])
    if "updated_at" not in snapshot["survivor_fields"]:
        survivor.updated_at = survivor_row["updated_at"]
    session.flush()
    session.expire(survivor)
    refresh_tokens(session, survivor)
    refresh_stats(session, [survivor.id])
    session.expire(survivor)


# -- groups and bulk -----------------------------------------------------------------------


@dataclass
class Group:
    """Contacts linked by open pairs: merged together into one survivor."""

    contact_ids: list[int]
    pair_ids: list[int] = field(default_factory=list)
    best_score: int = 0
    best_pair_id: int | None = None  # the group's place in the queue (score desc, id)
    survivor_id: int | None = None
    contacts: list[Contact] = field(default_factory=list)


def _components(edges: list[tuple[int, int, int, int]]) -> list[Group]:
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for _id, a, b, _score in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, Group] = {}
    for pair_id, a, _b, score in edges:
        group = groups.setdefault(find(a), Group(contact_ids=[]))
        group.pair_ids.append(pair_id)
        if (score, -pair_id) > (group.best_score, -(group.best_pair_id or 0)):
            group.best_score, group.best_pair_id = score, pair_id
    members: dict[int, set[int]] = {}
    for x in parent:
        members.setdefault(find(x), set()).add(x)
    for root, group in groups.items():
        group.contact_ids = sorted(members[root])
    return sorted(groups.values(), key=lambda g: (-g.best_score, g.contact_ids[0]))


def groups(session: Session, min_score: int = 0) -> list[Group]:
    """Connected components of the open pairs scoring at least min_score, best first."""
    edges = session.execute(
        select(
            DuplicatePair.id,
            DuplicatePair.contact_a_id,
            DuplicatePair.contact_b_id,
            DuplicatePair.score,
        ).where(DuplicatePair.status == "open", DuplicatePair.score >= min_score)
    ).all()
    return _components([tuple(e) for e in edges])


def group_of(session: Session, contact_ids: list[int], min_score: int = 0, cap: int = 50) -> Group:
    """The component around these contacts (at most `cap` contacts), by index lookups."""
    for group in groups_around(session, contact_ids, min_score, cap):
        if set(contact_ids) & set(group.contact_ids):
            return group
    return Group(contact_ids=sorted(contact_ids))


def groups_around(
    session: Session, contact_ids: list[int], min_score: int = 0, cap: int = 2000
) -> list[Group]:
    """The components of open pairs that touch these contacts, found breadth first with
    index lookups (one query per step, not per contact); stops growing at `cap` contacts."""
    seen: set[int] = set(contact_ids)
    frontier = set(contact_ids)
    edges: dict[int, tuple] = {}
    while frontier and len(seen) < cap:
        ids = sorted(frontier)
        rows = session.execute(
            select(
                DuplicatePair.id,
                DuplicatePair.contact_a_id,
                DuplicatePair.contact_b_id,
                DuplicatePair.score,
            ).where(
                DuplicatePair.status == "open",
                DuplicatePair.score >= min_score,
                or_(DuplicatePair.contact_a_id.in_(ids), DuplicatePair.contact_b_id.in_(ids)),
            )
        ).all()
        frontier = set()
        for row in rows:
            edges[row[0]] = tuple(row)
            for x in (row[1], row[2]):
                if x not in seen:
                    seen.add(x)
                    frontier.add(x)
    return _components(list(edges.values()))


def completeness(contact: Contact) -> int:
    filled = sum(1 for name in FIELDS if not _empty(getattr(contact, name)))
    return filled + len(contact.custom or {}) + len(contact.emails) + len(contact.phones)


def _interaction_counts(session: Session, ids: list[int]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        counts.update(
            session.execute(
                select(Interaction.contact_id, func.count())
                .where(Interaction.contact_id.in_(chunk))
                .group_by(Interaction.contact_id)
            ).all()
        )
    return counts


def choose_survivor(
    session: Session, contacts: list[Contact], counts: dict[int, int] | None = None
) -> Contact:
    """The documented rule: the most complete contact (filled fields, custom fields,
    e-mails and phones); on a tie the one with the most interactions; then the oldest."""
    if counts is None:
        counts = _interaction_counts(session, [c.id for c in contacts])
    return max(
        contacts,
        key=lambda c: (completeness(c), counts.get(c.id, 0), -c.created_at.timestamp(), -c.id),
    )


def bulk_preview(session: Session, min_score: int) -> list[Group]:
    """The groups a bulk merge at this score would merge, each with its survivor; groups
    with an archived or erased contact are left out (they need a person's look).

    Contacts, their e-mails and phones and their interaction counts are read in chunks of
    CHUNK contacts (a few queries per chunk, not per group)."""
    found = [g for g in groups(session, min_score) if len(g.contact_ids) <= MAX_GROUP]
    result = []
    for start in range(0, len(found), CHUNK // 4):
        chunk = found[start : start + CHUNK // 4]
        ids = sorted({i for g in chunk for i in g.contact_ids})
        loaded = {
            c.id: c
            for c in session.scalars(
                select(Contact)
                .where(Contact.id.in_(ids))
                .options(selectinload(Contact.emails), selectinload(Contact.phones))
            )
        }
        counts = _interaction_counts(session, ids)
        for group in chunk:
            contacts = [loaded[i] for i in group.contact_ids if i in loaded]
            if len(contacts) < 2 or any(c.is_archived or c.erased_at for c in contacts):
                continue
            group.contacts = contacts
            group.survivor_id = choose_survivor(session, contacts, counts).id
            result.append(group)
    return result


def bulk_merge(
    session: Session,
    min_score: int,
    user_id: int | None,
    pm: Any = None,
    batch_id: str | None = None,
    on_merged: Callable[[int, int], None] | None = None,
) -> str:
    """Merge every group of the preview; return the batch id (the caller commits).

    on_merged(done, total) is called after each group (a job commits and reports progress
    there). Run again with the same batch_id it resumes: merged groups are no longer open."""
    batch_id = batch_id or str(uuid.uuid4())
    planned = bulk_preview(session, min_score)
    for done, group in enumerate(planned, 1):
        others = [i for i in group.contact_ids if i != group.survivor_id]
        merge(session, group.survivor_id, others, None, user_id, batch_id=batch_id, pm=pm)
        if on_merged is not None:
            on_merged(done, len(planned))
    return batch_id


def batch_merges(session: Session, batch_id: str) -> list[Merge]:
    return list(session.scalars(select(Merge).where(Merge.batch_id == batch_id).order_by(Merge.id)))


def undo_batch(session: Session, batch_id: str, user_id: int | None) -> int:
    """Undo every merge of a bulk merge, newest first; return how many were undone."""
    merges = [m for m in batch_merges(session, batch_id) if m.undone_at is None]
    if not merges:
        raise MergeError(_("Nothing to undo in this batch."))
    for record in reversed(merges):
        undo(session, record.id, user_id)
    return len(merges)


def recent(session: Session, limit: int = 50, before_id: int | None = None) -> list[Merge]:
    """Merges newest first, keyset by id."""
    stmt = select(Merge).order_by(Merge.id.desc()).limit(limit)
    if before_id is not None:
        stmt = stmt.where(Merge.id < before_id)
    return list(session.scalars(stmt))
