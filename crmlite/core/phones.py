"""Phones are stored as E.164 and shown in international format."""

import phonenumbers

from .i18n import _


class PhoneError(ValueError):
    pass


def normalize_phone(raw: str, region: str = "RU") -> str:
    """'8 912 345-67-89' -> '+79123456789'; raises PhoneError with a message people understand."""
    text = (raw or "").strip()
    if not text:
        raise PhoneError(_("Enter a phone number."))
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        raise PhoneError(_("“%(value)s” is not a phone number.", value=text)) from None
    if not phonenumbers.is_valid_number(number):
        raise PhoneError(_("“%(value)s” is not a valid phone number.", value=text))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def possible_e164(raw: str, region: str = "RU") -> str | None:
    """E.164 of a number that has a possible length for its country but is not a valid number
    (a range the number plan does not know); None for anything else. The importer keeps such
    numbers, flagged invalid, for the review queue (docs/reviews.md)."""
    try:
        number = phonenumbers.parse((raw or "").strip(), region)
    except phonenumbers.NumberParseException:
        return None
    if phonenumbers.is_valid_number(number) or not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def format_phone(e164: str | None) -> str:
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
