"""The duplicate finder: blocking keys, a full scan, incremental checks and the draft check.

Matchers come from the register_matchers hook (the builtin ones in crmlite/builtin/matchers.py
use it too). A matcher has
    name
    blocking_keys(contact: ContactData) -> iterable of str   keys kept in match_keys
    compare(a: ContactData, b: ContactData) -> Evidence | None

Contacts that share a key are compared; a pair's score is the sum of every matcher's
Evidence.score, clamped to 0..100, and its reasons are all the matchers' reasons. Pairs that
reach the threshold are kept as DuplicatePair rows for review.

A key shared by more than BLOCK_CAP contacts (a common name, an office phone) makes no pairs
by itself; such contacts are still compared when they share a rarer key. An e-mail or phone
key shared by more than SHARED contacts is "shared": matchers see it in ContactData.shared
and count it as supporting evidence only.
"""

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from ..models import Contact, ContactEmail, ContactPhone
from ..models.duplicate import DuplicatePair, MatchKey
from ..models.types import utcnow
from .bulk_insert import insert_rows
from .dedup_reasons import describe_all

THRESHOLD = 60
BLOCK_CAP = 50
SHARED = 3
KEY_LENGTH = 120
CHUNK = 5000  # contacts per read; ids per IN list


@dataclass(slots=True)
class ContactData:
    """What a matcher sees of a contact (e-mails and phones normalized, E.164)."""

    id: int | None
    first_name: str = ""
    last_name: str = ""
    middle_name: str = ""
    company: str = ""
    city: str = ""
    birth_date: date | None = None
    emails: tuple[str, ...] = ()
    phones: tuple[str, ...] = ()
    # Blocking keys ("e:<email key>", "p:<e164>") that more than SHARED contacts have.
    shared: frozenset[str] = frozenset()
    # Matchers may keep values they derive from the contact here (within one scan).
    memo: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Evidence:
    """A matcher's contribution: score (negative for counter-evidence) and its reasons,
    {"code": ..., "value": ...} with a code of crmlite.core.dedup_reasons, or
    {"code": ..., "text": ...} for a plugin's own reason."""

    score: int
    reasons: list[dict[str, Any]] = field(default_factory=list)


def matchers(pm: Any = None) -> list[Any]:
    """Every matcher of every enabled plugin; without a plugin manager, the builtin ones."""
    if pm is None:
        from ..builtin import matchers as builtin

        return builtin.register_matchers()
    found: dict[str, Any] = {}
    for group in reversed(pm.hook.register_matchers()):  # pluggy calls the last plugin first
        for matcher in group or []:
            found.setdefault(matcher.name, matcher)
    return list(found.values())


def keys_of(ms: list[Any], contact: ContactData) -> set[str]:
    keys: set[str] = set()
    for m in ms:
        keys.update(k[:KEY_LENGTH] for k in m.blocking_keys(contact) if k)
    return keys


def score_pair(ms: list[Any], a: ContactData, b: ContactData) -> tuple[int, list[dict]]:
    """The pair's score (0..100) and reasons; a is the contact with the lower id."""
    total, reasons = 0, []
    for m in ms:
        evidence = m.compare(a, b)
        if evidence is not None:
            total += evidence.score
            reasons.extend(evidence.reasons)
    return max(0, min(100, total)), reasons


# --- reading contacts ------------------------------------------------------------------

_FIELDS = (
    Contact.id,
    Contact.first_name,
    Contact.last_name,
    Contact.middle_name,
    Contact.company,
    Contact.city,
    Contact.birth_date,
)
_ACTIVE = and_(Contact.is_archived.is_(False), Contact.erased_at.is_(None))


def _with_items(session: Session, rows: list, where_email, where_phone) -> dict[int, ContactData]:
    found = {
        r[0]: ContactData(r[0], r[1] or "", r[2] or "", r[3] or "", r[4] or "", r[5] or "", r[6])
        for r in rows
    }
    if not found:
        return found
    emails: dict[int, list[str]] = {}
    phones: dict[int, list[str]] = {}
    for cid, value in session.execute(
        select(ContactEmail.contact_id, ContactEmail.email).where(where_email)
    ):
        if cid in found:
            emails.setdefault(cid, []).append(value)
    for cid, value in session.execute(
        select(ContactPhone.contact_id, ContactPhone.e164).where(where_phone)
    ):
        if cid in found:
            phones.setdefault(cid, []).append(value)
    for cid, data in found.items():
        data.emails = tuple(emails.get(cid, ()))
        data.phones = tuple(phones.get(cid, ()))
    return found


def _load_range(session: Session, after: int, limit: int) -> dict[int, ContactData]:
    rows = session.execute(
        select(*_FIELDS).where(_ACTIVE, Contact.id > after).order_by(Contact.id).limit(limit)
    ).all()
    if not rows:
        return {}
    lo, hi = rows[0][0], rows[-1][0]
    return _with_items(
        session,
        rows,
        ContactEmail.contact_id.between(lo, hi),
        ContactPhone.contact_id.between(lo, hi),
    )


def _load_ids(session: Session, ids: Iterable[int]) -> dict[int, ContactData]:
    found: dict[int, ContactData] = {}
    ids = sorted(set(ids))
    for i in range(0, len(ids), CHUNK):
        part = ids[i : i + CHUNK]
        rows = session.execute(select(*_FIELDS).where(_ACTIVE, Contact.id.in_(part))).all()
        found.update(
            _with_items(
                session,
                rows,
                ContactEmail.contact_id.in_(part),
                ContactPhone.contact_id.in_(part),
            )
        )
    return found


def _chunks(items: list, size: int = CHUNK) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# --- writing pairs ---------------------------------------------------------------------


def _save_pairs(
    session: Session,
    found: dict[tuple[int, int], tuple[int, list]],
    existing: Iterable[Any],
    keep_linked: bool = False,
) -> dict[str, int]:
    """Insert new pairs, update changed open ones, drop open ones no longer found; dismissed
    pairs are never touched (and never proposed again)."""
    counts = {"new": 0, "updated": 0, "removed": 0}
    updates, removed = [], []
    for row in existing:
        pair = (row.contact_a_id, row.contact_b_id)
        result = found.pop(pair, None)
        if row.status != "open":
            continue
        if result is None:
            if keep_linked and any(r.get("code") == "linked_through" for r in row.reasons or ()):
                continue  # a pair through a third contact: the next full scan decides
            removed.append(row.id)
        elif (row.score, row.reasons) != result:
            updates.append({"pid": row.id, "score": result[0], "reasons": result[1]})
    now = utcnow()
    new = [
        {
            "contact_a_id": a,
            "contact_b_id": b,
            "score": score,
            "reasons": reasons,
            "status": "open",
            "found_at": now,
        }
        for (a, b), (score, reasons) in sorted(found.items())
    ]
    for part in _chunks(removed):
        session.execute(delete(DuplicatePair).where(DuplicatePair.id.in_(part)))
    table = DuplicatePair.__table__
    if updates:
        stmt = (
            update(table)
            .where(table.c.id == bindparam("pid"))
            .values(score=bindparam("score"), reasons=bindparam("reasons"))
        )
        for part in _chunks(updates):
            session.execute(stmt, part)
    for part in _chunks(new):
        session.execute(insert(table), part)
    counts.update(new=len(new), updated=len(updates), removed=len(removed))
    return counts


_PAIR_COLUMNS = (
    DuplicatePair.id,
    DuplicatePair.contact_a_id,
    DuplicatePair.contact_b_id,
    DuplicatePair.status,
    DuplicatePair.score,
    DuplicatePair.reasons,
)


# --- full scan -------------------------------------------------------------------------


def scan(
    session: Session,
    progress: Callable[[int, int | None], None] | None = None,
    pm: Any = None,
    threshold: int = THRESHOLD,
    block_cap: int = BLOCK_CAP,
) -> dict[str, Any]:
    """Rebuild every blocking key and every open pair; returns counts and seconds."""
    started = time.perf_counter()
    ms = matchers(pm)
    total = session.scalar(select(func.count()).select_from(Contact).where(_ACTIVE)) or 0
    # 1. Keys, rewritten in bulk, a chunk of contacts per transaction.
    session.execute(delete(MatchKey))
    after, done, key_count = 0, 0, 0
    while True:
        chunk = _load_range(session, after, CHUNK)
        if not chunk:
            break
        rows = [{"key": k, "contact_id": cid} for cid, d in chunk.items() for k in keys_of(ms, d)]
        insert_rows(session, MatchKey.__table__, rows)  # millions of rows: no ORM
        key_count += len(rows)
        after = max(chunk)
        done += len(chunk)
        session.commit()
        if progress:
            progress(done, 2 * total)
    # 2. Blocks: one ordered pass over the key index; pairs of small blocks, as one int each.
    pairs: set[int] = set()
    sizes: dict[str, int] = {}
    skipped = 0
    block: list[int] = []
    current = None

    def close(key: str | None, members: list[int]) -> None:
        nonlocal skipped
        n = len(members)
        if n > SHARED and key[:2] in ("e:", "p:"):
            sizes[key] = n
        if n < 2:
            return
        if n > block_cap:
            skipped += 1
            return
        members.sort()
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                pairs.add(a << 32 | b)

    for key, cid in session.connection().execute(
        select(MatchKey.key, MatchKey.contact_id)
        .order_by(MatchKey.key, MatchKey.contact_id)
        .execution_options(yield_per=20000)  # a server-side cursor on PostgreSQL
    ):
        if key != current:
            if current is not None:
                close(current, block)
            current, block = key, []
        block.append(cid)
    if current is not None:
        close(current, block)
    shared = frozenset(sizes)
    # 3. Compare: the contacts of some pair are read once (by id, in chunks) and kept.
    ordered = sorted(pairs)
    pairs.clear()
    data = _load_ids(session, {x for p in ordered for x in (p >> 32, p & 0xFFFFFFFF)})
    for d in data.values():
        d.shared = shared
    found: dict[tuple[int, int], tuple[int, list]] = {}
    step = 50000
    for i in range(0, len(ordered), step):
        for p in ordered[i : i + step]:
            a, b = p >> 32, p & 0xFFFFFFFF
            da, db_ = data.get(a), data.get(b)
            if da is None or db_ is None:
                continue
            score, reasons = score_pair(ms, da, db_)
            if score >= threshold:
                found[(a, b)] = (score, reasons)
        if progress:
            done = min(len(ordered), i + step)
            progress(total + int(total * done / len(ordered)), 2 * total)
    linked = _close_groups(ms, data, found)
    data.clear()
    # 4. Pairs.
    existing = session.execute(select(*_PAIR_COLUMNS)).all()
    counts = _save_pairs(session, dict(found), existing)
    session.commit()
    if progress:
        progress(2 * total, 2 * total)
    return {
        "contacts": total,
        "keys": key_count,
        "compared": len(ordered),
        "skipped_blocks": skipped,
        "pairs": len(found),
        "linked": linked,
        **counts,
        "seconds": round(time.perf_counter() - started, 1),
    }


GROUP_MAX = 5  # a larger group of linked pairs is more likely a chain of mistakes
LINK_FLOOR = 25  # a linked pair needs this much direct evidence (no contradiction)


def _close_groups(
    ms: list[Any], data: dict[int, ContactData], found: dict[tuple[int, int], tuple[int, list]]
) -> int:
    """A ~ B and B ~ C: propose A ~ C too (one person's three records), scored as the weaker
    link, when A and C do not contradict each other. Returns the pairs added."""
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in found:
        parent[root(a)] = root(b)
    groups: dict[int, list[int]] = {}
    for x in list(parent):
        groups.setdefault(root(x), []).append(x)
    added = 0
    for members in groups.values():
        if not 3 <= len(members) <= GROUP_MAX:
            continue
        members.sort()
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                if (a, b) in found:
                    continue
                via = next(
                    (
                        m
                        for m in members
                        if (min(a, m), max(a, m)) in found and (min(b, m), max(b, m)) in found
                    ),
                    None,
                )
                if via is None:
                    continue
                score, reasons = score_pair(ms, data[a], data[b])
                if score < LINK_FLOOR:
                    continue
                weakest = min(
                    found[(min(a, via), max(a, via))][0], found[(min(b, via), max(b, via))][0]
                )
                d = data[via]
                name = " ".join(p for p in (d.last_name, d.first_name) if p) or f"#{via}"
                found[(a, b)] = (weakest, [*reasons, {"code": "linked_through", "value": name}])
                added += 1
    return added


# --- incremental -----------------------------------------------------------------------


def _neighbours(
    session: Session,
    keys: set[str],
    block_cap: int,
    extra: int = 0,
    big: set[str] | None = None,
) -> tuple[dict[str, list[int]], frozenset[str]]:
    """Contacts per key (keys held by at most block_cap contacts) and the shared keys;
    extra: contacts that hold the keys but are not in match_keys (a draft).
    big: keys known to hold more than block_cap contacts, not counted again and extended
    here (an import passes one set for all its batches: its keys only grow)."""
    members: dict[str, list[int]] = {}
    known_big = keys & big if big is not None else set()
    shared: set[str] = {key for key in known_big if key[:2] in ("e:", "p:")}
    for part in _chunks(sorted(keys - known_big), 500):
        small = []
        for key, n in session.execute(
            select(MatchKey.key, func.count()).where(MatchKey.key.in_(part)).group_by(MatchKey.key)
        ):
            n += extra
            if n > SHARED and key[:2] in ("e:", "p:"):
                shared.add(key)
            if 2 <= n <= block_cap:
                small.append(key)
            elif n > block_cap and big is not None:
                big.add(key)
        if small:
            for key, cid in session.execute(
                select(MatchKey.key, MatchKey.contact_id).where(MatchKey.key.in_(small))
            ):
                members.setdefault(key, []).append(cid)
    return members, frozenset(shared)


def check_contacts(
    session: Session,
    contact_ids: Iterable[int],
    pm: Any = None,
    threshold: int = THRESHOLD,
    block_cap: int = BLOCK_CAP,
    big_keys: set[str] | None = None,
) -> list[DuplicatePair]:
    """Refresh these contacts' keys and pairs (after a save or an import batch), with index
    lookups in match_keys: a few queries per batch, not per contact. Returns their open pairs.
    big_keys: see _neighbours (an import keeps one set across its batches).
    """
    ids = sorted(set(contact_ids))
    if not ids:
        return []
    ms = matchers(pm)
    for part in _chunks(ids):
        session.execute(delete(MatchKey).where(MatchKey.contact_id.in_(part)))
    data = _load_ids(session, ids)  # archived and erased contacts get no keys and no pairs
    mine = {cid: keys_of(ms, d) for cid, d in data.items()}
    rows = [{"key": k, "contact_id": cid} for cid, keys in mine.items() for k in keys]
    insert_rows(session, MatchKey.__table__, rows)
    all_keys = {k for keys in mine.values() for k in keys}
    members, shared = _neighbours(session, all_keys, block_cap, big=big_keys)
    wanted: set[tuple[int, int]] = set()
    for cid, keys in mine.items():
        for key in keys:
            for other in members.get(key, ()):
                if other != cid:
                    wanted.add((min(cid, other), max(cid, other)))
    others = _load_ids(session, {x for pair in wanted for x in pair} - set(data))
    others.update(data)
    found: dict[tuple[int, int], tuple[int, list]] = {}
    for a, b in wanted:
        da, db_ = others.get(a), others.get(b)
        if da is None or db_ is None:
            continue
        da.shared = db_.shared = shared
        score, reasons = score_pair(ms, da, db_)
        if score >= threshold:
            found[(a, b)] = (score, reasons)
    existing = []
    for part in _chunks(ids):
        existing += session.execute(
            select(*_PAIR_COLUMNS).where(
                or_(DuplicatePair.contact_a_id.in_(part), DuplicatePair.contact_b_id.in_(part))
            )
        ).all()
    _save_pairs(session, found, {r.id: r for r in existing}.values(), keep_linked=True)
    session.flush()
    pairs: list[DuplicatePair] = []
    for part in _chunks(ids):
        pairs += session.scalars(
            select(DuplicatePair)
            .where(
                DuplicatePair.status == "open",
                or_(DuplicatePair.contact_a_id.in_(part), DuplicatePair.contact_b_id.in_(part)),
            )
            .order_by(DuplicatePair.score.desc(), DuplicatePair.id)
        ).all()
    return pairs


def check_contact(session: Session, contact_id: int, pm: Any = None) -> list[DuplicatePair]:
    """Refresh one contact's keys and pairs (after it was created or changed)."""
    return check_contacts(session, [contact_id], pm)


def find_for_draft(
    session: Session,
    values: dict[str, Any],
    pm: Any = None,
    exclude_id: int | None = None,
    threshold: int = THRESHOLD,
    limit: int = 5,
) -> list[tuple[Contact, int, list[dict]]]:
    """Contacts a not yet saved contact would duplicate, best first; nothing is written.

    values: first_name, last_name, middle_name, company, city, birth_date (a date), emails
    and phones (normalized strings)."""
    ms = matchers(pm)
    draft = ContactData(
        None,
        values.get("first_name") or "",
        values.get("last_name") or "",
        values.get("middle_name") or "",
        values.get("company") or "",
        values.get("city") or "",
        values.get("birth_date"),
        tuple(values.get("emails") or ()),
        tuple(values.get("phones") or ()),
    )
    keys = keys_of(ms, draft)
    if not keys:
        return []
    members, shared = _neighbours(session, keys, BLOCK_CAP, extra=1)
    candidates = {cid for key in keys for cid in members.get(key, ())} - {exclude_id}
    data = _load_ids(session, candidates)
    draft.shared = shared
    scored = []
    for cid, other in data.items():
        other.shared = shared
        score, reasons = score_pair(ms, other, draft)
        if score >= threshold:
            scored.append((cid, score, reasons))
    scored.sort(key=lambda t: (-t[1], t[0]))
    scored = scored[:limit]
    chosen = [cid for cid, _score, _reasons in scored]
    contacts = {c.id: c for c in session.scalars(select(Contact).where(Contact.id.in_(chosen)))}
    return [(contacts[cid], score, reasons) for cid, score, reasons in scored if cid in contacts]


# --- the CLI's list --------------------------------------------------------------------

CANDIDATE_COLUMNS = (
    "pair_id",
    "score",
    "contact_a_id",
    "contact_a_external_id",
    "contact_a_name",
    "contact_b_id",
    "contact_b_external_id",
    "contact_b_name",
    "reasons",
)


def _name(first: str, last: str, middle: str, company: str, cid: int) -> str:
    return " ".join(p for p in (last, first, middle) if p) or company or f"#{cid}"


def candidates(session: Session, min_score: int = 0) -> Iterator[dict[str, Any]]:
    """Open pairs, best first: both contacts' ids, external ids and names, score, reasons."""
    ca, cb = aliased(Contact), aliased(Contact)
    stmt = (
        select(
            DuplicatePair.id,
            DuplicatePair.score,
            DuplicatePair.reasons,
            ca.id,
            ca.external_id,
            ca.first_name,
            ca.last_name,
            ca.middle_name,
            ca.company,
            cb.id,
            cb.external_id,
            cb.first_name,
            cb.last_name,
            cb.middle_name,
            cb.company,
        )
        .join(ca, ca.id == DuplicatePair.contact_a_id)
        .join(cb, cb.id == DuplicatePair.contact_b_id)
        .where(DuplicatePair.status == "open", DuplicatePair.score >= min_score)
        .order_by(DuplicatePair.score.desc(), DuplicatePair.id)
    )
    for r in session.execute(stmt).yield_per(2000):
        yield {
            "pair_id": r[0],
            "score": r[1],
            "contact_a_id": r[3],
            "contact_a_external_id": r[4] or "",
            "contact_a_name": _name(r[5], r[6], r[7], r[8], r[3]),
            "contact_b_id": r[9],
            "contact_b_external_id": r[10] or "",
            "contact_b_name": _name(r[11], r[12], r[13], r[14], r[9]),
            "reasons": describe_all(r[2] or []),
        }
