"""The contact form: field labels, choice labels, and the raw values handed to core.

Core (crmlite.core.contacts.validate) checks and normalizes every value, so these WTForms
fields only render inputs and carry the CSRF token and the version the edit is based on.
Form field names are the model's names; custom fields are named custom__<key>.
"""

import re
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import HiddenField, SelectField, StringField, TextAreaField

try:
    from wtforms.fields.choices import SelectChoice
except ImportError:  # wtforms < 3.3 takes (value, label) tuples

    def SelectChoice(value, label):  # noqa: N802
        return (value, label)


from ..core.contacts import SIMPLE_FIELDS
from ..models import Contact, CustomField, User

CUSTOM_PREFIX = "custom__"
MAX_ROWS = 50

FIELD_LABELS = {
    "first_name": _l("First name"),
    "middle_name": _l("Middle name"),
    "last_name": _l("Last name"),
    "emails": _l("E-mails"),
    "phones": _l("Phones"),
    "company": _l("Company"),
    "position": _l("Position"),
    "industry": _l("Industry"),
    "city": _l("City"),
    "country": _l("Country"),
    "address": _l("Address"),
    "birth_date": _l("Birth date"),
    "gender": _l("Gender"),
    "source": _l("Source"),
    "owner_id": _l("Owner"),
    "stage": _l("Lifecycle stage"),
    "temperature": _l("Temperature"),
    "notes": _l("Notes"),
    "tags": _l("Tags"),
    "is_archived": _l("Archived"),
    # A sent message in the history (action "message").
    "sender": _l("Sender"),
    "to": _l("To"),
    "subject": _l("Subject"),
    "delivery": _l("Delivery"),
    # Merges in the history (actions "merge", "merge_undone").
    "merged": _l("Merged contacts"),
    "merge": _l("Merge"),
    # Reminders in the history (actions "reminder_*").
    "reminder_due": _l("Reminder due"),
    "reminder_note": _l("Reminder"),
    "reminder_assignee": _l("Assignee"),
}

CHOICE_LABELS = {
    "gender": {"female": _l("Female"), "male": _l("Male"), "other": _l("Other")},
    "source": {
        "web_form": _l("Web form"),
        "import": _l("Import"),
        "event": _l("Event"),
        "referral": _l("Referral"),
        "ads": _l("Ads"),
        "other": _l("Other"),
    },
    "stage": {
        "potential": _l("Potential"),
        "customer": _l("Customer"),
        "key_client": _l("Key client"),
        "former": _l("Former"),
    },
    "temperature": {"cold": _l("Cold"), "warm": _l("Warm"), "hot": _l("Hot")},
}

ITEM_LABELS = {
    "emails": {"work": _l("work"), "personal": _l("personal"), "other": _l("other")},
    "phones": {
        "mobile": _l("mobile"),
        "work": _l("work"),
        "home": _l("home"),
        "other": _l("other"),
    },
}

ACTION_LABELS = {
    "create": _l("created the contact"),
    "update": _l("edited"),
    "tag_add": _l("added a tag"),
    "tag_remove": _l("removed a tag"),
    "tag_merge": _l("merged tags"),
    "archive": _l("archived the contact"),
    "restore": _l("restored the contact"),
    "message": _l("sent a message"),
    "import": _l("imported"),
    "import_undo": _l("undid an import"),
    "consent": _l("recorded consent"),
    "interaction_add": _l("added a chronicle entry"),
    "interaction_edit": _l("edited a chronicle entry"),
    "interaction_delete": _l("deleted a chronicle entry"),
    "merge": _l("merged duplicates into this contact"),
    "merge_undone": _l("undid a merge"),
    "reminder_added": _l("added a reminder"),
    "reminder_done": _l("completed a reminder"),
    "reminder_reopen": _l("reopened a reminder"),
    "verified": _l("marked the contact as verified"),
}

# The contact page, section by section; custom fields follow "crm", notes come last.
SECTIONS = (
    (_l("Full name"), ("first_name", "middle_name", "last_name")),
    (_l("Reach"), ("emails", "phones")),
    (_l("Work"), ("company", "position", "industry")),
    (_l("Address"), ("city", "country", "address")),
    (_l("Personal"), ("birth_date", "gender")),
    (_l("Relationship"), ("source", "owner_id", "stage", "temperature")),
)


@dataclass
class Row:
    """One e-mail or phone row of the list editor."""

    value: str = ""
    label: str = ""
    primary: bool = False


def _choices(name: str, empty: bool = True) -> list:
    options = [SelectChoice(value, label) for value, label in CHOICE_LABELS[name].items()]
    return ([SelectChoice("", _l("—"))] if empty else []) + options


class ContactForm(FlaskForm):
    version = HiddenField()
    first_name = StringField(FIELD_LABELS["first_name"], render_kw={"maxlength": 100})
    middle_name = StringField(FIELD_LABELS["middle_name"], render_kw={"maxlength": 100})
    last_name = StringField(FIELD_LABELS["last_name"], render_kw={"maxlength": 100})
    company = StringField(FIELD_LABELS["company"], render_kw={"maxlength": 200})
    position = StringField(FIELD_LABELS["position"], render_kw={"maxlength": 200})
    industry = StringField(FIELD_LABELS["industry"], render_kw={"maxlength": 100})
    city = StringField(FIELD_LABELS["city"], render_kw={"maxlength": 100})
    country = StringField(FIELD_LABELS["country"], render_kw={"maxlength": 100})
    address = StringField(FIELD_LABELS["address"], render_kw={"maxlength": 500})
    birth_date = StringField(FIELD_LABELS["birth_date"], render_kw={"type": "date"})
    gender = SelectField(FIELD_LABELS["gender"], choices=_choices("gender"), validate_choice=False)
    source = SelectField(FIELD_LABELS["source"], choices=_choices("source"), validate_choice=False)
    owner_id = SelectField(FIELD_LABELS["owner_id"], choices=[], validate_choice=False)
    stage = SelectField(
        FIELD_LABELS["stage"], choices=_choices("stage", empty=False), validate_choice=False
    )
    temperature = SelectField(
        FIELD_LABELS["temperature"], choices=_choices("temperature"), validate_choice=False
    )
    notes = TextAreaField(FIELD_LABELS["notes"], render_kw={"rows": 4})


def _custom_input(field: CustomField):
    if field.kind == "choice":
        choices = [SelectChoice("", _l("—"))] + [SelectChoice(c, c) for c in field.choices]
        return SelectField(field.label, choices=choices, validate_choice=False)
    if field.kind == "date":
        return StringField(field.label, render_kw={"type": "date"})
    if field.kind == "number":
        return StringField(field.label, render_kw={"inputmode": "decimal"})
    return StringField(field.label, render_kw={"maxlength": 2000})


def make_form(
    custom_fields: list[CustomField],
    owners: list[User],
    contact: Contact | None = None,
    formdata: MultiDict | None = None,
    defaults: dict[str, Any] | None = None,
) -> ContactForm:
    """A form with the custom fields; filled from formdata (a submission) or the contact."""

    class Form(ContactForm):
        pass

    for field in custom_fields:
        setattr(Form, CUSTOM_PREFIX + field.key, _custom_input(field))
    data = form_values(contact) if contact is not None else dict(defaults or {})
    form = Form(formdata=formdata, data=data)
    form.owner_id.choices = [SelectChoice("", _l("— nobody —"))] + [
        SelectChoice(str(u.id), u.display_name) for u in owners
    ]
    if contact is not None:
        form.version.data = str(contact.version)
    return form


def form_values(contact: Contact) -> dict[str, Any]:
    """The contact's values as form data (strings)."""
    data: dict[str, Any] = {}
    for name in SIMPLE_FIELDS:
        value = getattr(contact, name)
        data[name] = "" if value is None else str(value)
    data["birth_date"] = contact.birth_date.isoformat() if contact.birth_date else ""
    for key, value in (contact.custom or {}).items():
        data[CUSTOM_PREFIX + key] = "" if value is None else str(value)
    return data


def contact_rows(contact: Contact | None, kind: str) -> list[Row]:
    if contact is None:
        return []
    if kind == "emails":
        return [Row(e.email, e.label, e.is_primary) for e in contact.emails]
    return [Row(p.e164, p.label, p.is_primary) for p in contact.phones]


def submitted_rows(formdata: MultiDict, kind: str) -> list[Row]:
    """Rows posted as <kind>-<i>-value / <kind>-<i>-label, with <kind>-primary = i."""
    pattern = re.compile(rf"^{kind}-(\d+)-value$")
    indices = sorted({int(m.group(1)) for key in formdata if (m := pattern.match(key))})
    primary = formdata.get(f"{kind}-primary")
    return [
        Row(
            formdata.get(f"{kind}-{i}-value", ""),
            formdata.get(f"{kind}-{i}-label", ""),
            str(i) == primary,
        )
        for i in indices[:MAX_ROWS]
    ]


def raw_values(formdata: MultiDict, names: list[str]) -> dict[str, Any]:
    """What core.contacts.validate expects, for the given form field names."""
    raw: dict[str, Any] = {}
    for name in names:
        if name in ("emails", "phones"):
            raw[name] = [
                {"value": r.value, "label": r.label, "primary": r.primary}
                for r in submitted_rows(formdata, name)
            ]
        elif name.startswith(CUSTOM_PREFIX):
            raw.setdefault("custom", {})[name[len(CUSTOM_PREFIX) :]] = formdata.get(name, "")
        else:
            raw[name] = formdata.get(name, "")
    return raw


def form_name(history_field: str) -> str:
    """'custom.size' (history, errors) -> 'custom__size' (form)."""
    if history_field.startswith("custom."):
        return CUSTOM_PREFIX + history_field[len("custom.") :]
    return history_field


def history_field(name: str) -> str:
    """'custom__size' (form) -> 'custom.size' (history, errors)."""
    if name.startswith(CUSTOM_PREFIX):
        return "custom." + name[len(CUSTOM_PREFIX) :]
    return name


def item_label_choices(kind: str, current: str = "") -> list[tuple[str, Any]]:
    """Known labels for an e-mail or phone, plus the current one if it is not among them."""
    choices = list(ITEM_LABELS[kind].items())
    if current and current not in ITEM_LABELS[kind]:
        choices.append((current, current))
    return choices


def all_names(custom_fields: list[CustomField]) -> list[str]:
    names = [name for _title, names in SECTIONS for name in names]
    names += [CUSTOM_PREFIX + f.key for f in custom_fields]
    return [*names, "notes"]
