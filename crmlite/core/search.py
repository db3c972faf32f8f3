"""Search tokens of a contact, and a search query turned into SQL conditions.

Every query word must match the start of some token of the contact, in any order:
'иван петр' finds 'Петров Иван'. A query that looks like a phone is normalized first,
so '8 912 345-67-89' finds +79123456789.
"""

import re

import phonenumbers
from sqlalchemy import ColumnElement, Subquery, and_, exists, func, intersect, select, tuple_
from sqlalchemy.orm import Session, aliased

from ..models import Contact, SearchToken
from .text import fold, successor, words

MAX_TOKEN = 254
_PHONEISH = re.compile(r"^[\d\s()+\-.]+$")


def contact_tokens(
    first_name: str = "",
    last_name: str = "",
    middle_name: str = "",
    company: str = "",
    emails: list[str] = (),
    phones: list[str] = (),
) -> set[str]:
    tokens: set[str] = set()
    for text in (first_name, last_name, middle_name, company):
        tokens.update(words(text))
    for email in emails:
        email = fold(email)
        tokens.add(email)
        local = email.split("@", 1)[0]
        tokens.add(local)
        # "petrov" finds i.petrov@..., also when the name is written in Cyrillic.
        tokens.update(words(local))
    for e164 in phones:
        digits = e164.lstrip("+")
        tokens.add(digits)
        try:
            tokens.add(str(phonenumbers.parse(e164, None).national_number))
        except phonenumbers.NumberParseException:
            pass
    return {t[:MAX_TOKEN] for t in tokens if t}


def query_terms(query: str, region: str = "RU") -> list[str]:
    """The prefixes a query must match, one per term."""
    query = (query or "").strip()
    if not query:
        return []
    digits = re.sub(r"\D", "", query)
    if _PHONEISH.match(query) and len(digits) >= 3:
        try:
            number = phonenumbers.parse(query, region)
            if phonenumbers.is_valid_number(number):
                return [f"{number.country_code}{number.national_number}"]
        except phonenumbers.NumberParseException:
            pass
        return [digits]
    terms = []
    for part in query.split():
        if "@" in part:
            terms.append(fold(part))
        else:
            terms.extend(words(part))
    return terms


def token_condition(term: str) -> ColumnElement[bool]:
    """Contact.id has a token starting with term (a b-tree range scan)."""
    matching = select(SearchToken.contact_id).where(
        SearchToken.token >= term, SearchToken.token < successor(term)
    )
    return Contact.id.in_(matching)


# A term matched by fewer contacts than this drives the query (IN: read its index range, then
# sort the few matches); a commoner term is checked per row (EXISTS on the token primary
# key) while the list walks its sort index, which finds a page of matches after few rows.
RARE = 5000


def _matches(term: str):
    return select(SearchToken.contact_id).where(
        SearchToken.token >= term, SearchToken.token < successor(term)
    )


def _has_prefix(tokens, contact_id, term: str, session: Session | None) -> ColumnElement[bool]:
    """The contact has a token starting with term: a check on the primary key (contact_id,
    token). On PostgreSQL the prefix test is substr, not a token range, on purpose: it
    estimates one row for any token range and then scanned the whole range per candidate
    (15 s for "яна куликова"); SQLite probes the key range, about twice as fast as substr."""
    if session is not None and session.get_bind().dialect.name == "postgresql":
        prefix = func.substr(tokens.token, 1, len(term)) == term
    else:
        prefix = and_(tokens.token >= term, tokens.token < successor(term))
    return exists().where(tokens.contact_id == contact_id, prefix)


def is_rare(session: Session, ids) -> bool:
    probe = select(func.count()).select_from(ids.limit(RARE).subquery())
    return session.scalar(probe) < RARE


def search_condition(
    query: str, region: str = "RU", session: Session | None = None
) -> ColumnElement[bool] | None:
    """Every term must match. Given a session, terms are planned by how common they are
    (see planned_condition); without one, every term is an IN (fine for set-based work)."""
    return planned_condition(query, region, session)[0]


def lead_first(session: Session, terms: list[str]) -> list[str]:
    """The terms, rare ones (by an index probe) first, longer before shorter."""
    if len(terms) == 1:
        return terms
    counted = [(not is_rare(session, _matches(t)), -len(t), t) for t in dict.fromkeys(terms)]
    return [t for _common, _length, t in sorted(counted)]


def by_name(
    session: Session, terms: list[str], after: tuple[str, int] | None, limit: int
) -> Subquery:
    """(sort_name, contact_id) of the first `limit` token rows matching every term, in name
    order after the keyset position, read from the token index alone: a common word
    ("иван", 27k contacts) costs an index range and an in-memory sort, never a contact
    row. The rarest term leads (see lead_first); the others are checked on the primary key.
    On PostgreSQL several words are intersected first when that gives few contacts (see
    _intersection). The caller still applies archived and other filters to those returned.
    """
    if len(terms) > 1 and session.get_bind().dialect.name == "postgresql":
        both = _intersection(session, terms)
        if both is not None:
            stmt = select(Contact.sort_name, Contact.id.label("contact_id"))
            stmt = stmt.where(Contact.id.in_(both))
            if after is not None:
                stmt = stmt.where(tuple_(Contact.sort_name, Contact.id) > tuple_(*after))
            return stmt.order_by(Contact.sort_name, Contact.id).limit(limit).subquery()
    terms = lead_first(session, terms)
    t = aliased(SearchToken)
    lead = terms[0]
    # No DISTINCT: a contact matching with two tokens comes twice, which the caller's IN
    # absorbs; without it both databases keep only the top `limit` while sorting (on
    # PostgreSQL 20 ms instead of 56 ms for "иван").
    stmt = select(t.sort_name, t.contact_id)
    stmt = stmt.where(t.token >= lead, t.token < successor(lead))
    for term in terms[1:]:
        other = aliased(SearchToken)
        stmt = stmt.where(_has_prefix(other, t.contact_id, term, session))
    if after is not None:
        stmt = stmt.where(tuple_(t.sort_name, t.contact_id) > tuple_(*after))
    return stmt.order_by(t.sort_name, t.contact_id).limit(limit).subquery()


# Contacts an intersection may hold before the per-row plan is used instead.
INTERSECTION_CAP = 5000


def _intersection(session: Session, terms: list[str]) -> list[int] | None:
    """Ids of the contacts matching every term, when there are at most INTERSECTION_CAP;
    None for more, or for a one-letter term (its range is too long to read whole).

    PostgreSQL estimates one row for any token range, so given the words together it probes
    the second word's tokens once per contact of the first (70 ms for "николай панов" at 1M
    contacts). Both ranges read from the index and intersected in a hash take 7 ms; the ids
    are then passed as a list, because as a subquery the planner rescans it per row again."""
    if min(len(t) for t in terms) < 2:
        return None
    ids = list(
        session.scalars(intersect(*(_matches(t) for t in terms)).limit(INTERSECTION_CAP + 1))
    )
    return ids if len(ids) <= INTERSECTION_CAP else None


def planned_condition(
    query: str, region: str = "RU", session: Session | None = None
) -> tuple[ColumnElement[bool] | None, bool]:
    """(condition, drives). With a session, the rarest term comes first and drives the query
    through the token index (drives=True: few matches, read them all and sort); common
    terms become per-row EXISTS checks on the token primary key while a list walks its sort
    index (drives=False); several common terms are intersected in the token index alone."""
    terms = list(dict.fromkeys(query_terms(query, region)))
    if not terms:
        return None, False
    if session is None:
        return and_(*(token_condition(t) for t in terms)), True
    counted = [(t, is_rare(session, _matches(t))) for t in terms]
    rare = [t for t, rare_term in counted if rare_term]
    common = [t for t, rare_term in counted if not rare_term]
    # Longer prefixes tend to match fewer contacts: lead with them.
    rare.sort(key=len, reverse=True)
    common.sort(key=len, reverse=True)
    if not rare and len(common) > 1:
        # Common words whose combination is likely rare ("иван петров"): intersect them in
        # the token indexes alone, then read and sort only the contacts in the intersection.
        first = aliased(SearchToken)
        both = select(first.contact_id).where(first.token >= common[0])
        both = both.where(first.token < successor(common[0]))
        for t in common[1:]:
            other = aliased(SearchToken)
            both = both.where(_has_prefix(other, first.contact_id, t, session))
        return Contact.id.in_(both), True
    conds = [token_condition(t) for t in rare] + [
        _has_prefix(SearchToken, Contact.id, t, session) for t in common
    ]
    return and_(*conds), bool(rare)
