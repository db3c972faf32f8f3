"""Builtin duplicate matchers (hook register_matchers): e-mail, phone, name, birth date,
company and city. Each gives blocking keys and a score contribution with its reasons; the
finder (crmlite/core/dedup.py) adds the contributions of every matcher. See docs/matching.md.

The contributions are chosen so that one strong identifier (a personal e-mail or a phone of
this person only) reaches the threshold (60) alone, while a clearly different first name or
a different birth date pulls a pair below it again: family members sharing a home phone,
colleagues sharing info@company, namesakes in one city.
"""

from collections.abc import Iterable
from typing import Any

from rapidfuzz import fuzz

from .. import hookimpl
from ..core.dedup import ContactData, Evidence
from ..core.names import (
    canonical_first_name,
    company_key,
    consonants,
    email_key,
    is_role_address,
    skeleton,
)
from ..core.text import fold

PERSONAL = 60  # one mailbox or phone of one person: a duplicate on its own
SHARED = 25  # a role address or a phone several contacts share: supporting evidence only
NAME_MATCH = 35
NAME_FUZZY = 30
DIFFERENT_FIRST_NAME = -70
DIFFERENT_LAST_NAME = -15
SAME_BIRTH_DATE = 25
DIFFERENT_BIRTH_DATE = -45
SAME_COMPANY = 25
SAME_CITY = 5


class EmailMatcher:
    name = "email"

    def blocking_keys(self, contact: ContactData) -> Iterable[str]:
        return {"e:" + email_key(e) for e in contact.emails if e}

    def compare(self, a: ContactData, b: ContactData) -> Evidence | None:
        mine = {email_key(e): e for e in a.emails}
        common = [k for k in {email_key(e) for e in b.emails} if k in mine]
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


def _similar(x: str, y: str) -> float:
    if not x or not y:
        return 0.0
    if x == y:
        return 1.0
    if len(x) == 1 or len(y) == 1:  # an initial: "A." and "Alexander"
        return 0.9 if x[0] == y[0] else 0.0
    return fuzz.ratio(x, y) / 100


class NameMatcher:
    """First and last names on their transliterated skeletons, diminutives folded, either
    order. Blocking: the typo-tolerant consonant skeletons of both names, in sorted order."""

    name = "name"

    def blocking_keys(self, contact: ContactData) -> Iterable[str]:
        first = consonants(canonical_first_name(contact.first_name))
        last = consonants(contact.last_name)
        if not (first and last):
            return ()
        keys = {"n:" + "|".join(sorted((first, last)))}
        city = skeleton(contact.city)
        if city:
            keys.add("nc:" + "|".join(sorted((first, last))) + "|" + city[:30])
        return keys

    def compare(self, a: ContactData, b: ContactData) -> Evidence | None:
        fa, fb = canonical_first_name(a.first_name), canonical_first_name(b.first_name)
        la, lb = skeleton(a.last_name), skeleton(b.last_name)
        if not ((fa or la) and (fb or lb)):
            return None
        straight = (_similar(fa, fb), _similar(la, lb))
        swapped = (_similar(fa, lb), _similar(la, fb))
        is_swapped = bool(fa and la and fb and lb) and min(swapped) > min(straight)
        first, last = swapped if is_swapped else straight
        if fa and fb and first < 0.6:
            if last >= 0.85 or not (la and lb) or last < 0.6:
                return Evidence(DIFFERENT_FIRST_NAME, [{"code": "different_first_name"}])
            return None
        if not (fa and fb and la and lb):  # a name part is missing on one side
            return Evidence(10, [{"code": "similar_name"}]) if la and la == lb else None
        if first < 0.85 or last < 0.85:
            return Evidence(DIFFERENT_LAST_NAME) if last < 0.6 else None
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
