"""Why two contacts look like one person, in words, in the reader's language.

A matcher (hook register_matchers) explains its score with reasons, stored on the
DuplicatePair as dicts: {"code": "same_phone", "value": "+79123456789"}. The codes below
have translated wording; a plugin's own code is shown with its "text" (or the code itself).
"""

from typing import Any

import phonenumbers

from .i18n import _

# code -> message; %(value)s is the evidence (a phone, an e-mail, a city...).
MESSAGES: dict[str, str] = {
    "same_email": "same e-mail %(value)s",
    "same_phone": "same phone %(value)s",
    "same_name": "same name",
    "similar_name": "similar names",
    "name_transliteration": "names match after transliteration",
    "name_diminutive": "%(value)s is a short form of the same first name",
    "name_swapped": "first and last name swapped",
    "same_company": "same company %(value)s",
    "same_birth_date": "same birth date %(value)s",
    "same_city": "same city %(value)s",
    "different_birth_date": "different birth dates",
    "different_first_name": "different first names",
    "different_middle_name": "different middle names",
    "linked_through": "both match %(value)s",
    "shared_contact": "%(value)s is shared by several contacts",
}


def _shown_value(code: str, value: Any) -> str:
    if code == "same_phone" and isinstance(value, str) and value.startswith("+"):
        try:
            number = phonenumbers.parse(value, None)
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
        except phonenumbers.NumberParseException:
            return value
    return "" if value is None else str(value)


def describe(reason: dict[str, Any]) -> str:
    """One reason in words, e.g. "same phone +7 912 345-67-89"."""
    code = reason.get("code", "")
    message = MESSAGES.get(code)
    if message is None:
        return str(reason.get("text") or code)
    return _(message, value=_shown_value(code, reason.get("value")))


def describe_all(reasons: list[dict[str, Any]]) -> str:
    """All reasons of a pair, joined: "same phone +7 912 345-67-89; similar names"."""
    return "; ".join(describe(reason) for reason in reasons)


def _mark_for_extraction() -> None:
    # Never called: lets pybabel find the messages above, which _() receives as variables.
    _("same e-mail %(value)s")
    _("same phone %(value)s")
    _("same name")
    _("similar names")
    _("names match after transliteration")
    _("%(value)s is a short form of the same first name")
    _("first and last name swapped")
    _("same company %(value)s")
    _("same birth date %(value)s")
    _("same city %(value)s")
    _("different birth dates")
    _("different first names")
    _("different middle names")
    _("both match %(value)s")
    _("%(value)s is shared by several contacts")
