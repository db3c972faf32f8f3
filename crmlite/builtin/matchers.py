"""Builtin duplicate matchers (hook register_matchers): e-mail, phone, name, birth date,
company and city. Each gives blocking keys and a score contribution with its reasons; the
finder (crmlite/core/dedup.py) adds the contributions of every matcher. See docs/matching.md.

The contributions are chosen so that one strong identifier (a personal e-mail or a phone of
this person only) reaches the threshold (60) alone, while a clearly different first name or
a different birth date pulls a pair below it again: family members sharing a home phone,
colleagues sharing info@company, namesakes in one city.
"""

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA, JaroWinkler, Levenshtein

from .. import hookimpl
from ..core.dedup import ContactData, Evidence
from ..core.names import (
    canonical_first_name,
    company_key,
    consonants,
    email_key,
    first_name_forms,
    is_role_address,
    skeleton,
)
from ..core.text import fold

PERSONAL = 60  # one mailbox or phone of one person: a duplicate on its own
SHARED = 25  # a role address or a phone several contacts share: supporting evidence only
NAME_MATCH = 35
NAME_FUZZY = 35
DIFFERENT_FIRST_NAME = -70
DIFFERENT_LAST_NAME = -30
DIFFERENT_MIDDLE_NAME = -40
SAME_BIRTH_DATE = 20
DIFFERENT_BIRTH_DATE = -45
SAME_COMPANY = 15
SAME_CITY = 5


def _email_keys(contact: ContactData) -> dict[str, str]:
    keys = contact.memo.get("email")
    if keys is None:
        keys = contact.memo["email"] = {email_key(e): e for e in contact.emails}
    return keys


class EmailMatcher:
    name = "email"

    def blocking_keys(self, contact: ContactData) -> Iterable[str]:
        return {"e:" + email_key(e) for e in contact.emails if e}

    def compare(self, a: ContactData, b: ContactData) -> Evidence | None:
        if not (a.emails and b.emails):
            return None
        mine = _email_keys(a)
        common = [k for k in _email_keys(b) if k in mine]
        if not common:
            return None
        key = min(common)
        shown = mine[key]
        personal = [k for k in common if not is_role_address(k) and "e:" + k not in a.shared]
        if personal:
            return Evidence(PERSONAL, [{"code": "same_email", "value": mine[min(personal)]}])
        return Evidence(
            SHARED,
            [{"code": "same_email", "value": shown}, {"code": "shared_contact", "value": shown}],
        )


class PhoneMatcher:
    name = "phone"

    def blocking_keys(self, contact: ContactData) -> Iterable[str]:
        return {"p:" + p for p in contact.phones if p}

    def compare(self, a: ContactData, b: ContactData) -> Evidence | None:
        common = sorted(set(a.phones) & set(b.phones))
        if not common:
            return None
        personal = [p for p in common if "p:" + p not in a.shared]
        if personal:
            return Evidence(PERSONAL, [{"code": "same_phone", "value": personal[0]}])
        return Evidence(
            SHARED,
            [
                {"code": "same_phone", "value": common[0]},
                {"code": "shared_contact", "value": common[0]},
            ],
        )


_FEMININE = ("a", "aya")  # Иванов / Иванова, Петровский / Петровская: two people


def _gendered(x: str, y: str) -> bool:
    """A masculine and a feminine form of one name: Иванов / Иванова, Александр / Александра."""
    if abs(len(x) - len(y)) > 2 or x[:2] != y[:2]:
        return False
    for short, long in ((x, y), (y, x)):
        if any(long == short + end or long == short[:-1] + end for end in _FEMININE):
            return True
    return False


def _similar(x: str, y: str) -> float:
    """Typo-tolerant similarity of two first names (skeletons), 0..1: one typo in a name of
    four letters or more is 0.9; "Алексей" and "Александр" stay apart."""
    if not x or not y:
        return 0.0
    if x == y:
        return 1.0
    if len(x) == 1 or len(y) == 1:  # an initial: "A." and "Alexander"
        return 0.9 if x[0] == y[0] else 0.0
    if _gendered(x, y):
        return 0.0
    if min(len(x), len(y)) >= 4 and OSA.distance(x, y) <= 1:  # one typo or swap
        return 0.9
    return fuzz.ratio(x, y) / 100


@lru_cache(maxsize=100_000)
def _forms(name: str) -> tuple[str, ...]:
    # Full names the first name may stand for, and its own skeleton (for typos in it).
    own = skeleton(name)
    forms = first_name_forms(name)
    return forms if own in forms or not own else (*forms, own)


@lru_cache(maxsize=500_000)
def _first_similar(x: tuple[str, ...], y: tuple[str, ...]) -> float:
    if not x or not y:
        return 0.0
    if set(x) & set(y):  # the same name, or a short form of it ("Саша", "Alex")
        return 1.0
    return max(_similar(p, q) for p in x for q in y)


@lru_cache(maxsize=500_000)
def _last_similar(x: str, y: str) -> float:
    """Similarity of two last names (skeletons): Jaro-Winkler, kind to typos in long names;
    a masculine and a feminine form of one name are different people."""
    if not x or not y:
        return 0.0
    if x == y:
        return 1.0
    if _gendered(x, y) or Levenshtein.distance(x, y) > 2:
        return 0.0
    return JaroWinkler.normalized_similarity(x, y)


class NameMatcher:
    """First and last names on their transliterated skeletons, short forms of first names
    folded, either order; different patronymics count against. Blocking: the typo-tolerant
    consonant skeletons of both names, in sorted order (alone and with the city)."""

    name = "name"

    def blocking_keys(self, contact: ContactData) -> Iterable[str]:
        # Only with the city: a name alone reaches the threshold with no other matcher's
        # evidence, and a common name alone would make huge blocks. Names with a birth
        # date, an e-mail or a phone in common meet through those matchers' keys.
        city = skeleton(contact.city)[:30]
        last = consonants(contact.last_name)
        if not (city and last):
            return ()
        keys = set()
        for first in {consonants(f) for f in _forms(contact.first_name)}:
            if first:
                keys.add("nc:" + "|".join(sorted((first, last))) + "|" + city)
        return keys

    def compare(self, a: ContactData, b: ContactData) -> Evidence | None:
        fa, fb = _forms(a.first_name), _forms(b.first_name)
        la, lb = skeleton(a.last_name), skeleton(b.last_name)
        if not ((fa or la) and (fb or lb)):
            return None
        straight = (_first_similar(fa, fb), _last_similar(la, lb))
        is_swapped = False
        if fa and la and fb and lb:
            swapped = (
                _first_similar(fa, _forms(b.last_name)),
                _last_similar(la, skeleton(b.first_name)),
            )
            is_swapped = min(swapped) >= 0.85 and min(swapped) > min(straight)
        first, last = swapped if is_swapped else straight
        evidence = self._names(a, b, first, last, is_swapped, bool(fa and fb), bool(la and lb))
        ma, mb = skeleton(a.middle_name), skeleton(b.middle_name)
        if min(len(ma), len(mb)) > 1 and fuzz.ratio(ma, mb) < 80:
            reason = {"code": "different_middle_name"}
            if evidence is None:
                return Evidence(DIFFERENT_MIDDLE_NAME, [reason])
            evidence.score += DIFFERENT_MIDDLE_NAME
            evidence.reasons.append(reason)
        return evidence

    def _names(self, a, b, first, last, is_swapped, firsts, lasts) -> Evidence | None:
        if firsts and first < 0.85:  # typos are 0.9 and up (see _similar)
            return Evidence(DIFFERENT_FIRST_NAME, [{"code": "different_first_name"}])
        if not (firsts and lasts):  # a name part is missing on one side
            return Evidence(10, [{"code": "similar_name"}]) if lasts and last == 1.0 else None
        if first < 0.85 or last < 0.85:
            return Evidence(DIFFERENT_LAST_NAME) if last < 0.7 else None
        reasons: list[dict[str, Any]] = []
        if is_swapped:
            reasons.append({"code": "name_swapped"})
        other_first, other_last = (
            (b.last_name, b.first_name) if is_swapped else (b.first_name, b.last_name)
        )
        pairs = ((a.first_name, other_first), (a.last_name, other_last))
        exact = first == 1.0 and last == 1.0
        if not exact:
            reasons.append({"code": "similar_name"})
        elif all(fold(x) == fold(y) for x, y in pairs):
            reasons.append({"code": "same_name"})
        else:
            if skeleton(a.first_name) != skeleton(other_first):
                value = f"{other_first} / {a.first_name}"
                reasons.append({"code": "name_diminutive", "value": value})
            spelled = [
                (x, y) for x, y in pairs if fold(x) != fold(y) and skeleton(x) == skeleton(y)
            ]
            if any(x.isascii() != y.isascii() for x, y in spelled):
                reasons.append({"code": "name_transliteration"})
            elif spelled:
                reasons.append({"code": "similar_name"})
        return Evidence(NAME_MATCH if exact else NAME_FUZZY, reasons)


class BirthDateMatcher:
    name = "birth_date"

    def blocking_keys(self, contact: ContactData) -> Iterable[str]:
        if contact.birth_date is None:
            return ()
        initials = {skeleton(contact.last_name)[:1], canonical_first_name(contact.first_name)[:1]}
        return {f"b:{contact.birth_date.isoformat()}|{i}" for i in initials if i}

    def compare(self, a: ContactData, b: ContactData) -> Evidence | None:
        if a.birth_date is None or b.birth_date is None:
            return None
        if a.birth_date == b.birth_date:
            value = a.birth_date.isoformat()
            return Evidence(SAME_BIRTH_DATE, [{"code": "same_birth_date", "value": value}])
        return Evidence(DIFFERENT_BIRTH_DATE, [{"code": "different_birth_date"}])


class CompanyMatcher:
    name = "company"

    def blocking_keys(self, contact: ContactData) -> Iterable[str]:
        return ()  # a company has many people: supporting evidence only

    def compare(self, a: ContactData, b: ContactData) -> Evidence | None:
        key = company_key(a.company)
        if key and key == company_key(b.company):
            return Evidence(SAME_COMPANY, [{"code": "same_company", "value": a.company}])
        return None


class CityMatcher:
    name = "city"

    def blocking_keys(self, contact: ContactData) -> Iterable[str]:
        return ()

    def compare(self, a: ContactData, b: ContactData) -> Evidence | None:
        city = skeleton(a.city)
        if city and city == skeleton(b.city):
            return Evidence(SAME_CITY, [{"code": "same_city", "value": a.city}])
        return None


@hookimpl
def register_matchers() -> list[Any]:
    return [
        EmailMatcher(),
        PhoneMatcher(),
        NameMatcher(),
        BirthDateMatcher(),
        CompanyMatcher(),
        CityMatcher(),
    ]
