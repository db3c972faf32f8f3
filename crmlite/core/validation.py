"""Checking and normalizing a contact's field values.

No database and no Flask here, so a helper process that checks a big import's rows
(core.import_reading) starts small; core.contacts re-exports these names.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from .emails import EmailError, normalize_email
from .i18n import _
from .phones import PhoneError, normalize_phone, possible_e164

SOURCES = ("web_form", "import", "event", "referral", "ads", "other")
STAGES = ("potential", "customer", "key_client", "former")
TEMPERATURES = ("cold", "warm", "hot")
GENDERS = ("female", "male", "other")

TEXT_FIELDS = {
    "first_name": 100,
    "last_name": 100,
    "middle_name": 100,
    "company": 200,
    "position": 200,
    "industry": 100,
    "city": 100,
    "country": 100,
    "address": 500,
    "notes": 20000,
}
CHOICE_FIELDS = {
    "gender": GENDERS,
    "source": SOURCES,
    "stage": STAGES,
    "temperature": TEMPERATURES,
}
SIMPLE_FIELDS = (*TEXT_FIELDS, "birth_date", *CHOICE_FIELDS, "owner_id")
EDITABLE_FIELDS = (*SIMPLE_FIELDS, "emails", "phones", "custom")


IDENTITY_FIELDS = ("first_name", "last_name", "middle_name", "company", "emails", "phones")


class FieldDefinition(Protocol):
    """What validate reads of a custom field: the CustomField model or a plain copy of it."""

    key: str
    kind: str
    choices: Any


class TagError(ValueError):
    pass


def clean_tag_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise TagError(_("A tag needs a name."))
    if len(name) > 100:
        raise TagError(_("A tag name has at most 100 characters."))
    return name


class ContactInvalid(ValueError):
    """Field -> message for every value that was refused; nothing was saved."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass
class Item:
    """One e-mail or phone of a contact."""

    value: str
    label: str = ""
    primary: bool = False
    valid: bool = True  # False: a phone kept by the importer that fails today's check

    def display(self) -> str:
        return f"{self.value} ({self.label})" + (" *" if self.primary else "")


def parse_date(raw: Any) -> date | None:
    if raw in (None, ""):
        return None
    if isinstance(raw, date):
        return raw
    text = str(raw).strip()
    for sep_order in (("-", (0, 1, 2)), (".", (2, 1, 0)), ("/", (2, 1, 0))):
        sep, (yi, mi, di) = sep_order
        parts = text.split(sep)
        if len(parts) == 3 and all(p.isdigit() for p in parts):
            try:
                return date(int(parts[yi]), int(parts[mi]), int(parts[di]))
            except ValueError:
                break
    raise ValueError(_("“%(value)s” is not a real date; use YYYY-MM-DD or DD.MM.YYYY.", value=text))


def _clean_items(
    raw_items: list, kind: str, region: str, keep_invalid: bool = False
) -> tuple[list[Item], str | None]:
    items: list[Item] = []
    for raw in raw_items or []:
        if isinstance(raw, str):
            raw = {"value": raw}
        value = (raw.get("value") or "").strip()
        if not value:
            continue
        valid = True
        try:
            value = normalize_email(value) if kind == "email" else normalize_phone(value, region)
        except (EmailError, PhoneError) as exc:
            possible = possible_e164(value, region) if kind == "phone" and keep_invalid else None
            if possible is None:
                return [], str(exc)
            value, valid = possible, False
        if any(i.value == value for i in items):
            continue
        default_label = "work" if kind == "email" else "mobile"
        label = (raw.get("label") or default_label).strip()[:32]
        items.append(Item(value, label, bool(raw.get("primary")), valid))
    # Exactly one primary: the one marked, else the first.
    if items:
        primary = next((i for i in items if i.primary), items[0])
        for i in items:
            i.primary = i is primary
        items.sort(key=lambda i: not i.primary)
    return items, None


def _clean_custom(raw: dict, fields: list[FieldDefinition]) -> tuple[dict, dict[str, str]]:
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field in fields:
        if field.key not in raw:
            continue
        value = raw[field.key]
        value = value.strip() if isinstance(value, str) else value
        if value in (None, ""):
            clean[field.key] = None
            continue
        try:
            if field.kind == "number":
                number = Decimal(str(value).replace(",", ".").replace(" ", ""))
                if not number.is_finite():
                    raise InvalidOperation
                clean[field.key] = str(number)
            elif field.kind == "date":
                clean[field.key] = parse_date(value).isoformat()
            elif field.kind == "choice":
                if value not in field.choices:
                    raise ValueError(
                        _("Choose one of: %(choices)s.", choices=", ".join(field.choices))
                    )
                clean[field.key] = value
            else:
                if len(str(value)) > 2000:
                    raise ValueError(_("At most %(n)s characters.", n=2000))
                clean[field.key] = str(value)
        except InvalidOperation:
            errors[f"custom.{field.key}"] = _("“%(value)s” is not a number.", value=value)
        except ValueError as exc:
            errors[f"custom.{field.key}"] = str(exc)
    return clean, errors


def validate(
    raw: dict[str, Any],
    region: str = "RU",
    custom_fields: list[FieldDefinition] = (),
    owner_ids: set[int] | None = None,
    keep_invalid_phones: bool = False,
) -> dict[str, Any]:
    """Check and normalize the fields present in raw; raise ContactInvalid with every problem.

    keep_invalid_phones (the importer): a phone of a possible length that is not a valid
    number is kept with Item.valid False instead of refusing the row."""
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, max_len in TEXT_FIELDS.items():
        if name in raw:
            value = (raw[name] or "").strip()
            if len(value) > max_len:
                errors[name] = _("At most %(n)s characters.", n=max_len)
            clean[name] = value
    for name, choices in CHOICE_FIELDS.items():
        if name in raw:
            value = raw[name] or None
            if value is not None and value not in choices:
                errors[name] = _("Choose one of: %(choices)s.", choices=", ".join(choices))
            clean[name] = value
    if "stage" in clean and clean["stage"] is None:
        clean["stage"] = "potential"
    if "birth_date" in raw:
        try:
            born = parse_date(raw["birth_date"])
            if born and not (date(1900, 1, 1) <= born <= date.today()):
                raise ValueError(_("A birth date must be between 1900 and today."))
            clean["birth_date"] = born
        except ValueError as exc:
            errors["birth_date"] = str(exc)
    if "owner_id" in raw:
        owner = raw["owner_id"]
        if owner in (None, ""):
            owner = None
        elif str(owner).isdigit():
            owner = int(owner)
        else:
            errors["owner_id"] = _("Choose an existing user.")
            owner = None
        if owner is not None and owner_ids is not None and owner not in owner_ids:
            errors["owner_id"] = _("Choose an existing user.")
        clean["owner_id"] = owner
    for name, kind in (("emails", "email"), ("phones", "phone")):
        if name in raw:
            items, error = _clean_items(raw[name], kind, region, keep_invalid_phones)
            if error:
                errors[name] = error
            clean[name] = items
    if "custom" in raw:
        clean["custom"], custom_errors = _clean_custom(raw["custom"] or {}, list(custom_fields))
        errors.update(custom_errors)
    if errors:
        raise ContactInvalid(errors)
    return clean
