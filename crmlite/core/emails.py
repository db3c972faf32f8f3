"""E-mail addresses are checked for syntax only: an intranet CRM makes no DNS lookups."""

import re

from email_validator import EmailNotValidError, validate_email

from .i18n import _


class EmailError(ValueError):
    pass


# A plain ASCII dot-atom local part: email_validator accepts every one of these as it is.
_PLAIN_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
# ASCII domains email_validator has accepted, lower-cased -> its normalized form. Imports
# check 100,000s of addresses on a few hundred domains; the domain check is most of the cost.
_known_domains: dict[str, str] = {}


def normalize_email(raw: str) -> str:
    text = (raw or "").strip()
    if not text:
        raise EmailError(_("Enter an e-mail address."))
    local, _at, domain = text.rpartition("@")
    plain = len(local) <= 64 and len(text) <= 254 and _PLAIN_LOCAL.fullmatch(local) is not None
    if plain and domain.lower() in _known_domains:
        return f"{local}@{_known_domains[domain.lower()]}".lower()
    try:
        info = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        raise EmailError(_("“%(value)s” is not a valid e-mail address.", value=text)) from None
    if plain and domain.isascii() and len(_known_domains) < 10_000:
        _known_domains[domain.lower()] = info.domain.lower()
    # The local part may be case-sensitive by the RFC, but no real mailbox is; fold it all.
    return info.normalized.lower()
