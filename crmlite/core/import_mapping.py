"""Column mapping for table-shaped imports (CSV, and any importer that reads rows of cells).

A mapping is one target per column. Targets:

    ""                      ignore the column
    first_name ... notes    a contact field (SIMPLE_TARGETS); the first non-empty column wins
    full_name               split into last/first/middle when those are empty
    external_id, tags, owner (a user's e-mail)
    email, phone            one more e-mail / phone with the default label
    email:LABEL, phone:LABEL        one more e-mail / phone with that label ("phone:mobile")
    email.N, email.N.label  the N-th e-mail and its label (Google's "E-mail 1 - Value/Type",
    phone.N, phone.N.label  crmlite's own email_1, email_1_label); the first is the primary
    custom.KEY              a custom field

Headers are recognised (auto_map) for Google Contacts (old and new), Outlook, Thunderbird,
crmlite's own export and Russian spreadsheets. Importers that read tables call
drafts_from_rows() to turn rows into contact drafts; plugins may use it too.
"""

import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .i18n import _

SIMPLE_TARGETS = (
    "first_name",
    "middle_name",
    "last_name",
    "company",
    "position",
    "industry",
    "city",
    "country",
    "address",
    "birth_date",
    "gender",
    "source",
    "stage",
    "temperature",
    "notes",
)
EXTRA_TARGETS = ("full_name", "external_id", "tags", "owner")
MAX_SLOTS = 9
# Several tags in one cell: one per line, Google's "a ::: b", "a; b" or "a, b" (the first
# separator found in that order is the one used, so "a, b" in a one-per-line cell stays).
TAG_SEPARATORS = ("\n", ":::", ";", ",")
MULTI_SPLIT = " ::: "  # Google Contacts: several values in one cell

# crmlite's own export writes these names; everything else is matched case-insensitively.
_ALIASES: dict[str, str] = {
    # external id
    "external_id": "external_id",
    "external id": "external_id",
    "source_id": "external_id",
    "source id": "external_id",
    "id": "external_id",
    "внешний id": "external_id",
    # crmlite, English, Google, Outlook, Thunderbird
    "name": "full_name",
    "full name": "full_name",
    "full_name": "full_name",
    "display name": "full_name",
    "given name": "first_name",
    "first name": "first_name",
    "firstname": "first_name",
    "additional name": "middle_name",
    "middle name": "middle_name",
    "family name": "last_name",
    "last name": "last_name",
    "lastname": "last_name",
    "surname": "last_name",
    "organization 1 - name": "company",
    "organization name": "company",
    "organization": "company",
    "company": "company",
    "organization 1 - title": "position",
    "organization title": "position",
    "job title": "position",
    "position": "position",
    "organization 1 - department": "",
    "industry": "industry",
    "address 1 - city": "city",
    "business city": "city",
    "work city": "city",
    "home city": "city",
    "city": "city",
    "address 1 - country": "country",
    "business country/region": "country",
    "work country": "country",
    "home country": "country",
    "country": "country",
    "address 1 - formatted": "address",
    "address 1 - street": "address",
    "business street": "address",
    "work address": "address",
    "home street": "address",
    "home address": "address",
    "address": "address",
    "birthday": "birth_date",
    "birth date": "birth_date",
    "birth_date": "birth_date",
    "date of birth": "birth_date",
    "gender": "gender",
    "notes": "notes",
    "note": "notes",
    "group membership": "tags",
    "labels": "tags",
    "categories": "tags",
    "tags": "tags",
    "owner": "owner",
    "e-mail address": "email.1",
    "e-mail 2 address": "email.2",
    "e-mail 3 address": "email.3",
    "primary email": "email.1",
    "secondary email": "email.2",
    "email": "email",
    "e-mail": "email",
    "email address": "email",
    "mail": "email",
    "mobile phone": "phone:mobile",
    "mobile number": "phone:mobile",
    "mobile": "phone:mobile",
    "business phone": "phone:work",
    "business phone 2": "phone:work",
    "company main phone": "phone:work",
    "work phone": "phone:work",
    "home phone": "phone:home",
    "home phone 2": "phone:home",
    "other phone": "phone:other",
    "primary phone": "phone",
    "phone": "phone",
    "telephone": "phone",
    # Russian
    "фамилия": "last_name",
    "имя": "first_name",
    "отчество": "middle_name",
    "фио": "full_name",
    "ф.и.о.": "full_name",
    "телефон": "phone",
    "мобильный": "phone:mobile",
    "мобильный телефон": "phone:mobile",
    "рабочий телефон": "phone:work",
    "домашний телефон": "phone:home",
    "почта": "email",
    "эл. почта": "email",
    "электронная почта": "email",
    "e-mail адрес": "email",
    "компания": "company",
    "организация": "company",
    "должность": "position",
    "отрасль": "industry",
    "город": "city",
    "страна": "country",
    "адрес": "address",
    "дата рождения": "birth_date",
    "день рождения": "birth_date",
    "пол": "gender",
    "примечание": "notes",
    "примечания": "notes",
    "комментарий": "notes",
    "заметки": "notes",
    "теги": "tags",
    "метки": "tags",
    # German Outlook (a common export in the wild)
    "vorname": "first_name",
    "weitere vornamen": "middle_name",
    "nachname": "last_name",
    "firma": "company",
    "e-mail-adresse": "email.1",
    "e-mail 2: adresse": "email.2",
    "mobiltelefon": "phone:mobile",
    "telefon geschäftlich": "phone:work",
    "telefon privat": "phone:home",
    "ort geschäftlich": "city",
    "geburtstag": "birth_date",
    "notizen": "notes",
    "kategorien": "tags",
}
_SLOT = re.compile(
    r"^(?:(e-?mail|phone)[ _]?(\d)(?:[ _]-[ _]|_)?(value|type|label)?"
    r"|(e-?mail|phone) (\d) - (value|type|label))$"
)

EMAIL_LABELS = {
    "work": "work",
    "business": "work",
    "office": "work",
    "рабочий": "work",
    "рабочая": "work",
    "home": "personal",
    "personal": "personal",
    "private": "personal",
    "личный": "personal",
    "личная": "personal",
    "домашний": "personal",
    "other": "other",
    "другой": "other",
}
PHONE_LABELS = {
    "mobile": "mobile",
    "cell": "mobile",
    "мобильный": "mobile",
    "work": "work",
    "business": "work",
    "рабочий": "work",
    "home": "home",
    "домашний": "home",
    "other": "other",
    "main": "other",
    "другой": "other",
}
GENDERS = {
    "female": "female",
    "f": "female",
    "ж": "female",
    "жен": "female",
    "женский": "female",
    "male": "male",
    "m": "male",
    "м": "male",
    "муж": "male",
    "мужской": "male",
    "other": "other",
}
# Outlook writes these for "no birthday".
EMPTY_DATES = {"0/0/00", "0.0.00", "00.00.0000", "0000-00-00"}


def normalize_header(header: str) -> str:
    return " ".join((header or "").replace("\ufeff", "").strip().strip('"').lower().split())


def auto_target(header: str, custom_keys: Iterable[str] = ()) -> str:
    """The target for one header, or "" when it is not recognised."""
    key = normalize_header(header)
    if key in _ALIASES:
        return _ALIASES[key]
    if key in SIMPLE_TARGETS:
        return key
    if key.startswith("custom."):
        custom = key[len("custom.") :]
        return f"custom.{custom}" if custom in set(custom_keys) else ""
    for custom in custom_keys:
        if key == custom.lower():
            return f"custom.{custom}"
    match = _SLOT.match(key)
    if match:
        kind, n, part = (
            match.group(1) or match.group(4),
            match.group(2) or match.group(5),
            (match.group(3) or match.group(6)),
        )
        kind = "phone" if kind == "phone" else "email"
        return f"{kind}.{n}.label" if part in ("type", "label") else f"{kind}.{n}"
    return ""


def auto_map(
    headers: list[str], custom_keys: Iterable[str] = (), saved: dict[str, str] | None = None
) -> list[str]:
    """One target per header: from a saved mapping (by header) first, else recognised."""
    custom_keys = list(custom_keys)
    targets = []
    for header in headers:
        if saved and header in saved and is_target(saved[header], custom_keys):
            targets.append(saved[header])
        else:
            targets.append(auto_target(header, custom_keys))
    return targets


def is_target(target: str, custom_keys: Iterable[str] = ()) -> bool:
    if target in ("", "email", "phone", *SIMPLE_TARGETS, *EXTRA_TARGETS):
        return True
    kind, sep, rest = target.partition(":")
    if sep and kind in ("email", "phone") and re.fullmatch(r"[\w-]{1,32}", rest):
        return True
    if target.startswith("custom."):
        return target[len("custom.") :] in set(custom_keys)
    return bool(re.fullmatch(r"(email|phone)\.[1-9](\.label)?", target))


def target_choices(custom_fields: Iterable[Any] = (), slots: int = 3) -> list[tuple[str, str]]:
    """(target, label) for the mapping page's select per column."""
    labels = {
        "first_name": _("First name"),
        "middle_name": _("Middle name"),
        "last_name": _("Last name"),
        "full_name": _("Full name (split into parts)"),
        "company": _("Company"),
        "position": _("Position"),
        "industry": _("Industry"),
        "city": _("City"),
        "country": _("Country"),
        "address": _("Address"),
        "birth_date": _("Birth date"),
        "gender": _("Gender"),
        "source": _("Source"),
        "stage": _("Lifecycle stage"),
        "temperature": _("Temperature"),
        "notes": _("Notes"),
        "tags": _("Tags"),
        "owner": _("Owner (user's e-mail)"),
        "external_id": _("External id"),
    }
    choices = [("", _("— ignore —"))]
    for name in ("first_name", "middle_name", "last_name", "full_name"):
        choices.append((name, labels[name]))
    choices.append(("email", _("E-mail")))
    choices.append(("email:personal", _("E-mail (personal)")))
    choices.append(("phone", _("Phone")))
    choices.append(("phone:mobile", _("Phone (mobile)")))
    choices.append(("phone:work", _("Phone (work)")))
    choices.append(("phone:home", _("Phone (home)")))
    for n in range(1, slots + 1):
        choices.append((f"email.{n}", _("E-mail %(n)s", n=n)))
        choices.append((f"email.{n}.label", _("E-mail %(n)s type", n=n)))
    for n in range(1, slots + 1):
        choices.append((f"phone.{n}", _("Phone %(n)s", n=n)))
        choices.append((f"phone.{n}.label", _("Phone %(n)s type", n=n)))
    for name in SIMPLE_TARGETS:
        if name not in ("first_name", "middle_name", "last_name"):
            choices.append((name, labels[name]))
    for name in ("tags", "owner", "external_id"):
        choices.append((name, labels[name]))
    for field in custom_fields:
        choices.append((f"custom.{field.key}", _("Custom: %(label)s", label=field.label)))
    return choices


# --- rows to drafts -----------------------------------------------------------------


def _label(raw: str, kind: str) -> tuple[str, bool]:
    """("work", primary?) from a cell such as Google's "* Work"."""
    text = raw.strip()
    primary = text.startswith("*")
    text = text.lstrip("* ").strip().lower()
    table = EMAIL_LABELS if kind == "email" else PHONE_LABELS
    return table.get(text, text[:32]), primary


def _split_full_name(full: str) -> tuple[str, str, str]:
    """(last, first, middle): Cyrillic names are written "Фамилия Имя Отчество", others
    "First Middle Last"."""
    parts = full.split()
    if not parts:
        return "", "", ""
    if re.search("[а-яА-ЯёЁ]", full):
        parts += ["", "", ""]
        return parts[0], parts[1], " ".join(p for p in parts[2:] if p)
    if len(parts) == 1:
        return "", parts[0], ""
    return parts[-1], parts[0], " ".join(parts[1:-1])


def _split_values(value: str, kind: str) -> list[str]:
    """Several values in one cell: Google's " ::: "; e-mails also by "," or ";" (which no
    address has unquoted)."""
    parts = value.split(MULTI_SPLIT)
    if kind == "email":
        parts = [p for part in parts for p in re.split(r"\s*[,;]\s*", part)]
    return [p for p in parts if p.strip()]


def _compile(mapping: list[str]) -> list[tuple[int, str, str]]:
    plan = []
    for index, target in enumerate(mapping):
        if not target:
            continue
        if target in SIMPLE_TARGETS:
            plan.append((index, "simple", target))
        elif target in EXTRA_TARGETS:
            plan.append((index, target, ""))
        elif target in ("email", "phone"):
            plan.append((index, target, ""))
        elif ":" in target:
            kind, _sep, label = target.partition(":")
            plan.append((index, kind, label))
        elif target.startswith("custom."):
            plan.append((index, "custom", target[len("custom.") :]))
        else:
            kind, n, *label = target.split(".")
            plan.append((index, f"{kind}.label" if label else f"{kind}.slot", n))
    return plan


def draft_from_row(values: list[str], plan: list[tuple[int, str, str]]) -> dict[str, Any]:
    """One contact draft (the contacts.validate raw format, plus external_id and tags)."""
    draft: dict[str, Any] = {}
    slots: dict[str, dict[str, list]] = {"email": {}, "phone": {}}
    extra: dict[str, list] = {"email": [], "phone": []}
    full_name = ""
    width = len(values)
    for index, kind, arg in plan:
        value = values[index].strip() if index < width else ""
        if not value:
            continue
        if kind == "simple":
            if arg not in draft:
                draft[arg] = value
        elif kind in ("email.slot", "phone.slot"):
            slots[kind[:5]].setdefault(arg, [None, None])[0] = value
        elif kind in ("email.label", "phone.label"):
            slots[kind[:5]].setdefault(arg, [None, None])[1] = value
        elif kind in ("email", "phone"):
            for item in _split_values(value, kind):
                extra[kind].append({"value": item, "label": arg or None})
        elif kind == "custom":
            draft.setdefault("custom", {})[arg] = value
        elif kind == "tags":
            sep = next(s for s in TAG_SEPARATORS if s in value or s == ",")
            names = [t.strip() for t in value.split(sep)]
            names = [t for t in names if t and not t.startswith("*")]
            draft.setdefault("tags", []).extend(names)
        elif kind == "full_name":
            full_name = full_name or value
        elif kind not in draft:  # external_id, owner
            draft[kind] = value
    for kind in ("email", "phone"):
        items = []
        for _n, (value, label) in sorted(slots[kind].items()):
            if not value:
                continue
            values_ = _split_values(value, kind)
            labels = (label or "").split(MULTI_SPLIT)
            for i, item in enumerate(values_):
                name, primary = _label(labels[i] if i < len(labels) else "", kind)
                items.append({"value": item, "label": name or None, "primary": primary})
        for item in extra[kind]:
            name = item["label"]
            item["label"] = _label(name, kind)[0] if name else None
            items.append(item)
        if items:
            draft[kind + "s"] = items
    if full_name and not any(k in draft for k in ("first_name", "last_name", "middle_name")):
        last, first, middle = _split_full_name(full_name)
        for key, value in (("last_name", last), ("first_name", first), ("middle_name", middle)):
            if value:
                draft[key] = value
    if "birth_date" in draft:
        born = draft["birth_date"]
        if born in EMPTY_DATES:
            del draft["birth_date"]
        elif len(born) > 10 and born[10] in "T ":  # a date-time from a spreadsheet
            draft["birth_date"] = born[:10]
    if "gender" in draft:
        draft["gender"] = GENDERS.get(draft["gender"].lower(), draft["gender"])
    return draft


def drafts_from_rows(
    rows: Iterable[list[str]], mapping: list[str], width: int | None = None
) -> Iterator[dict[str, Any]]:
    """Contact drafts from rows of cells. Each draft carries "_data" (the cells, for the
    rejected-rows file) and "_error" when the row itself is malformed."""
    plan = _compile(mapping)
    width = len(mapping) if width is None else width
    return checked_drafts(rows, width, lambda values: draft_from_row(values, plan))


def checked_drafts(
    rows: Iterable[list[str]], width: int, to_draft: Callable[[list[str]], dict[str, Any]]
) -> Iterator[dict[str, Any]]:
    """to_draft(cells) for each row, plus "_data" (the cells, for the rejected-rows file) and
    "_error" when the row has more non-empty cells than the header has columns."""
    for values in rows:
        draft = to_draft(values)
        draft["_data"] = values
        if len(values) > width and any(v.strip() for v in values[width:]):
            draft["_error"] = _(
                "The row has %(n)s values but the header has %(m)s columns.",
                n=len(values),
                m=width,
            )
        yield draft
