"""The contact list: filters, sort orders, keyset pages and cheap counts.

URL parameters of the list ("/") and of its count and bulk endpoints, all optional:

    q            search text: name parts in any order, e-mail, phone in any format, company
    tag          a tag id
    owner        a user id, or "none" for contacts without an owner
    stage        potential | customer | key_client | former
    temperature  cold | warm | hot
    source       web_form | import | event | referral | ads | other
    archived=1   archived contacts only (by default archived contacts are hidden)
    sort         name (A-Z, default) | newest | updated (recently updated) | company
    segment      a segment key (hook register_segments), with its params as seg_<name>=value
    saved        a saved segment's id (core/saved_segments.py; one the user may not see
                 matches nothing)
    consent      <channel>:<purpose>:<status>, e.g. email:marketing:granted (status
                 "unknown" means nothing recorded; core/consent.py)
    after        an opaque cursor from the previous page (keyset pagination, never OFFSET)

Unknown or malformed values are ignored, so an old bookmark still opens a list.
filtered_ids(filter) is the one filter implementation: the list, the count, the bulk
actions and the benchmark all use it.
"""

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, exists, false, func, select, true, tuple_
from sqlalchemy.orm import Session, aliased, selectinload

from ..models import Contact, contact_tags
from ..models.contact import SOURCES, STAGES, TEMPERATURES
from . import consent, search

PAGE_SIZE = 50
MAX_QUERY = 200

# sort key -> (column, descending); every order ends in Contact.id and has an index
# (is_archived, column, id) in Contact.__table_args__.
SORTS: dict[str, tuple[Any, bool]] = {
    "name": (Contact.sort_name, False),
    "newest": (Contact.id, True),
    "updated": (Contact.updated_at, True),
    "company": (Contact.company_key, False),
}
DEFAULT_SORT = "name"
SEGMENT_PREFIX = "seg_"  # URL names of a segment's params


def _int(raw: Any) -> int | None:
    text = str(raw or "").strip()
    return int(text) if text.isdigit() and len(text) < 19 else None


def _choice(raw: Any, choices: tuple[str, ...]) -> str | None:
    return raw if raw in choices else None


@dataclass(frozen=True)
class ContactFilter:
    q: str = ""
    tag: int | None = None
    owner: int | str | None = None  # a user id, or "none"
    stage: str | None = None
    temperature: str | None = None
    source: str | None = None
    archived: bool = False
    sort: str = DEFAULT_SORT
    # A segment (crmlite/core/segments.py): its key and seg_<name> URL params, and its SQL
    # condition, which segments.bind() attaches (it needs the plugin manager).
    segment: str | None = None
    segment_params: tuple[tuple[str, str], ...] = ()
    segment_condition: Any = field(default=None, compare=False, repr=False)
    # A saved segment's id, and its SQL, which saved_segments.bind() attaches (it needs the
    # session and the user: a private segment is its owner's alone).
    saved: int | None = None
    saved_condition: Any = field(default=None, compare=False, repr=False)
    consent: str | None = None  # "email:marketing:granted"

    @classmethod
    def from_args(cls, args: Mapping[str, Any]) -> "ContactFilter":
        """Read the URL/form parameters; anything malformed is dropped."""
        owner_raw = (args.get("owner") or "").strip()
        owner: int | str | None = "none" if owner_raw == "none" else _int(owner_raw)
        sort = args.get("sort") or DEFAULT_SORT
        segment = (args.get("segment") or "").strip()[:100] or None
        return cls(
            q=" ".join((args.get("q") or "").split())[:MAX_QUERY],
            tag=_int(args.get("tag")),
            owner=owner,
            stage=_choice(args.get("stage"), STAGES),
            temperature=_choice(args.get("temperature"), TEMPERATURES),
            source=_choice(args.get("source"), SOURCES),
            archived=str(args.get("archived") or "") in ("1", "true", "on", "yes"),
            sort=sort if sort in SORTS else DEFAULT_SORT,
            segment=segment,
            segment_params=_segment_params(args) if segment else (),
            saved=_int(args.get("saved")),
            consent=_consent(args.get("consent")),
        )

    def to_args(self) -> dict[str, Any]:
        """The non-default parameters, for links and hidden form fields."""
        args: dict[str, Any] = {}
        for f in fields(self):
            if f.name in ("segment_params", "segment_condition", "saved_condition"):
                continue
            value = getattr(self, f.name)
            if value in (None, "", False) or (f.name == "sort" and value == DEFAULT_SORT):
                continue
            args[f.name] = 1 if value is True else value
        args.update((SEGMENT_PREFIX + name, value) for name, value in self.segment_params)
        return args

    @property
    def is_filtered(self) -> bool:
        """True when something narrows the list (the archived view alone does not count)."""
        return any(
            v not in (None, "")
            for v in (
                self.q,
                self.tag,
                self.owner,
                self.stage,
                self.temperature,
                self.source,
                self.segment,
                self.saved,
                self.consent,
            )
        )

    def without(self, *names: str) -> "ContactFilter":
        if "segment" in names:
            names = (*names, "segment_params", "segment_condition")
        if "saved" in names:
            names = (*names, "saved_condition")
        defaults = ContactFilter()
        return replace(self, **{n: getattr(defaults, n) for n in names})


def _consent(raw: Any) -> str | None:
    parsed = consent.parse_filter(raw)
    return consent.FILTER_SEPARATOR.join(parsed) if parsed else None


def _segment_params(args: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(
        sorted(
            (key[len(SEGMENT_PREFIX) :], str(args.get(key))[:200])
            for key in args
            if key.startswith(SEGMENT_PREFIX) and len(key) <= 64
        )
    )


def _tag_condition(tag_id: int, session: Session | None) -> tuple[ColumnElement[bool], bool]:
    """(condition, drives): a rare tag drives the query through its (tag_id, contact_id)
    index; a common one is checked per row on the (contact_id, tag_id) primary key while
    the list walks its sort index (see search.RARE)."""
    tagged = select(contact_tags.c.contact_id).where(contact_tags.c.tag_id == tag_id)
    if session is None or search.is_rare(session, tagged):
        return Contact.id.in_(tagged), True
    has = exists().where(contact_tags.c.contact_id == Contact.id, contact_tags.c.tag_id == tag_id)
    return has, False


def conditions(
    flt: ContactFilter, region: str = "RU", session: Session | None = None
) -> list[ColumnElement[bool]]:
    """The WHERE conditions of a filter. Given a session, a few tiny probes plan search terms
    and the tag by how common they are (the first condition drives SQLite's plan)."""
    return _planned(flt, region, session)[0]


def _planned(
    flt: ContactFilter, region: str, session: Session | None, by_id: bool = False
) -> tuple[list[ColumnElement[bool]], bool]:
    """(conditions, driven): driven when a rare search or tag picks the few matching rows."""
    driven = False
    archived: ColumnElement[bool] = Contact.is_archived
    filters = ("owner", "stage", "temperature", "source")
    if by_id or any(getattr(flt, name) is not None for name in filters):
        # Another filter's (column, sort_name, id) index is the one to use: hide is_archived
        # from SQLite's index choice, which without statistics (or with sampled ones) walked
        # all (is_archived, updated_at) entries for a stage filter.
        archived = _no_index(archived)
    conds: list[ColumnElement[bool]] = [archived == (true() if flt.archived else false())]
    if flt.archived:
        # Erased contacts (core/privacy.py) are archived too, but never listed again.
        conds.append(Contact.erased_at.is_(None))
    if flt.tag is not None:
        cond, drives = _tag_condition(flt.tag, session)
        if drives:
            conds.insert(0, cond)
            driven = True
        else:
            conds.append(cond)
    if flt.q:
        cond, drives = search.planned_condition(flt.q, region, session)
        if cond is not None:
            conds.insert(0, cond)
            driven = driven or drives
    if flt.segment:
        # A segment nobody bound (or no plugin provides) matches nothing, never everything.
        seg = flt.segment_condition
        conds.append(seg if seg is not None else false())
    if flt.saved is not None:
        # Likewise an unbound saved segment (or one the user may not see) matches nothing.
        saved = flt.saved_condition
        conds.append(saved if saved is not None else false())
    if flt.consent is not None:
        # EXISTS over ix_contact_consents_filter (channel, purpose, status, contact_id).
        conds.append(consent.condition(*flt.consent.split(consent.FILTER_SEPARATOR)))
    # by_id: the caller drives by primary key; a filter's index would make SQLite walk it.
    column = _no_index if by_id else (lambda c: c)
    if flt.owner == "none":
        conds.append(column(Contact.owner_id).is_(None))
    elif flt.owner is not None:
        conds.append(column(Contact.owner_id) == flt.owner)
    for name in ("stage", "temperature", "source"):
        value = getattr(flt, name)
        if value is not None:
            conds.append(column(getattr(Contact, name)) == value)
    return conds, driven


def _no_index(column):
    """The same value, but no index serves it: coalesce(x, x) keeps NULL and every value."""
    return func.coalesce(column, column)


def filtered_ids(flt: ContactFilter, region: str = "RU") -> Select:
    """SELECT contacts.id of every contact the filter matches (for IN (...) and benchmarks)."""
    return select(Contact.id).where(*conditions(flt, region))


def count(session: Session, flt: ContactFilter, region: str = "RU") -> int:
    ids = select(Contact.id).where(*conditions(flt, region, session))
    return session.scalar(select(func.count()).select_from(ids.subquery()))


# -- keyset cursors -------------------------------------------------------------------------


def encode_cursor(sort: str, contact: Contact) -> str:
    column, _desc = SORTS[sort]
    value = getattr(contact, column.key)
    if isinstance(value, datetime):
        value = value.isoformat()
    raw = json.dumps([sort, value, contact.id], ensure_ascii=False, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(sort: str, cursor: str | None) -> tuple[Any, int] | None:
    """(sort value, id) from a cursor made for this sort order, else None (start over)."""
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        cursor_sort, value, contact_id = json.loads(raw)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        return None
    if cursor_sort != sort or not isinstance(contact_id, int):
        return None
    column, _desc = SORTS[sort]
    try:
        if column is Contact.updated_at:
            value = datetime.fromisoformat(value)
        elif column is Contact.id:
            value = int(value)
        elif not isinstance(value, str):
            return None
    except (TypeError, ValueError):
        return None
    return value, contact_id


@dataclass
class Page:
    contacts: list[Contact]
    next_cursor: str | None


def _preload(stmt: Select, row) -> Select:
    return stmt.options(
        selectinload(row.emails),
        selectinload(row.phones),
        selectinload(row.tags),
        selectinload(row.owner),
    )


def _by_name_from_tokens(
    session: Session,
    flt: ContactFilter,
    position: tuple[Any, int] | None,
    size: int,
    region: str,
) -> list[Contact] | None:
    """A search page in name order whose candidates come from the token index, already
    sorted (search.by_name), so a common word never reads thousands of contact rows; the
    other filters check only those candidates. None when this plan cannot answer: a rare
    tag drives better, or too few candidates passed the filters to be sure of a page."""
    terms = search.query_terms(flt.q, region)
    if not terms:
        return None
    others, driven = _planned(flt.without("q"), region, session, by_id=True)
    if driven:
        return None
    # Archived contacts are few, so a little more than a page usually does; other filters
    # let through a share of the candidates (a stage about a quarter), so read more.
    # Three token rows per candidate: "иван" matches Иван, Иванов and Иванович of one man.
    limit = (2 if len(others) == 1 else 8) * (size + 1) * 3
    found = search.by_name(session, terms, position, limit)
    # IN, with every other index hidden from SQLite (by_id): the candidates drive, each
    # read by primary key. A join let SQLite without statistics scan all contacts instead.
    stmt = (
        select(Contact)
        .where(Contact.id.in_(select(found.c.contact_id)), *others)
        .order_by(Contact.sort_name, Contact.id)
        .limit(size + 1)
    )
    rows = list(session.scalars(_preload(stmt, Contact)))
    if len(rows) <= size and session.scalar(select(func.count()).select_from(found)) == limit:
        return None  # the filters dropped too many candidates: there may be more
    return rows


def page(
    session: Session,
    flt: ContactFilter,
    after: str | None = None,
    size: int = PAGE_SIZE,
    region: str = "RU",
) -> Page:
    """One page in the filter's sort order, with e-mails, phones, tags and owner preloaded.

    A fixed number of queries whatever the page size: the page, then one per relation.
    """
    column, desc = SORTS[flt.sort]
    position = decode_cursor(flt.sort, after)
    rows = None
    if flt.q and column is Contact.sort_name:
        rows = _by_name_from_tokens(session, flt, position, size, region)
    if rows is None:
        rows = _page_rows(session, flt, position, size, region)
    more = len(rows) > size
    rows = rows[:size]
    return Page(rows, encode_cursor(flt.sort, rows[-1]) if more else None)


def _page_rows(
    session: Session,
    flt: ContactFilter,
    position: tuple[Any, int] | None,
    size: int,
    region: str,
) -> list[Contact]:
    column, desc = SORTS[flt.sort]
    conds, driven = _planned(flt, region, session)
    if position is not None:
        if column is Contact.id:
            conds.append(Contact.id < position[1] if desc else Contact.id > position[1])
        else:
            key, mark = tuple_(column, Contact.id), tuple_(*position)
            conds.append(key < mark if desc else key > mark)
    row = Contact
    if driven:
        # Few matches: read them all, then sort. The OFFSET 0 fence stops PostgreSQL from
        # walking the sort index hoping to meet matches early (they cluster: a surname).
        row = aliased(Contact, select(Contact).where(*conds).offset(0).subquery())
        stmt = select(row)
    else:
        stmt = select(Contact).where(*conds)
    sort_col, row_id = getattr(row, column.key), row.id
    order = (sort_col, row_id) if column is not Contact.id else (row_id,)
    stmt = stmt.order_by(*(c.desc() for c in order) if desc else order)
    return list(session.scalars(_preload(stmt.limit(size + 1), row)))
