"""Saved segments: filters built from rules on the segments page, saved with a name.

A definition is {"match": "all" | "any", "rules": [{"field", "op", "value"}, ...]}.
FIELDS is the whole vocabulary: each field has a type, each type its operators and a value
parser. validate() explains every rule it refuses (unknown fields and operators are refused,
never ignored), to_condition() turns a valid definition into SQL over Contact, so a saved
segment opens as the standard contact list (?saved=<id>, see core/listing.py).

Case-insensitive text: the name and company use the folded columns (sort_name,
company_key). Other text columns are folded in SQL by `folded()`: lower() on PostgreSQL
(which folds Cyrillic in a UTF-8 database), and on SQLite, whose lower() and LIKE fold
only ASCII, a Python function crm_fold (core.text.fold) registered on every connection.
Both sides also read "ё" as "е", like the search.

Visibility: a private segment is its owner's alone; a shared one everyone reads, and only
its owner or an admin edits or deletes it.
"""

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    event,
    exists,
    extract,
    false,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from ..models import Contact, ContactEmail, ContactPhone, CustomField, SavedSegment, Tag, User
from ..models.consent import CHANNELS, PURPOSES
from ..models.contact import GENDERS, SOURCES, STAGES, TEMPERATURES
from ..models.types import utcnow
from . import consent
from .i18n import _
from .text import fold

MAX_RULES = 30
MAX_NAME = 100
MAX_VALUE = 200
MATCHES = ("all", "any")


# -- case folding in SQL ---------------------------------------------------------------------


class folded(FunctionElement):
    """fold(column) in SQL: the same result as core.text.fold for the text people type."""

    type = String()
    inherit_cache = True


@compiles(folded)
def _folded_default(element, compiler, **kw):
    return f"replace(lower({compiler.process(element.clauses, **kw)}), 'ё', 'е')"


@compiles(folded, "sqlite")
def _folded_sqlite(element, compiler, **kw):
    return f"crm_fold({compiler.process(element.clauses, **kw)})"


def _sql_fold(value: Any) -> str | None:
    return None if value is None else fold(str(value))


@event.listens_for(Engine, "connect")
def _register_fold(dbapi_connection, connection_record) -> None:
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        dbapi_connection.create_function("crm_fold", 1, _sql_fold, deterministic=True)


# -- the vocabulary --------------------------------------------------------------------------


class RuleError(ValueError):
    pass


class SegmentInvalid(ValueError):
    """errors: {"name": message} and/or {"rule-<n>": message} (n counts from 1)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    type: str  # a key of OPERATORS
    column: Any = None
    choices: tuple[tuple[str, str], ...] = ()  # (value, label) for choice types
    group: str = ""


# type -> operator -> label; an operator whose label ends in "…" takes a value.
def operators() -> dict[str, dict[str, str]]:
    text = {
        "contains": _("contains"),
        "equals": _("is"),
        "empty": _("is empty"),
        "not_empty": _("is not empty"),
    }
    moment = {"before": _("before"), "after": _("after")}
    number = {"eq": "=", "lt": "<", "gt": ">"}
    return {
        "text": text,
        "name": text,
        "email": {"has": _("has one"), "none": _("has none"), "domain": _("domain is")},
        "phone": {"has": _("has one"), "none": _("has none")},
        "date": {**moment, "month": _("in month")},
        "datetime": moment,
        "purchase_date": {**moment, "within": _("within the last N days")},
        "tag": {"has": _("has"), "has_not": _("has not")},
        "choice": {"is": _("is"), "is_not": _("is not"), "none": _("is not set")},
        "owner": {"is": _("is"), "none": _("is nobody")},
        "consent": {
            "granted": _("granted"),
            "withdrawn": _("withdrawn"),
            "unknown": _("unknown"),
        },
        "count": number,
        "money": number,
        "nps": {**number, "empty": _("no score yet")},
        "custom_text": text,
        "custom_number": {**number, "empty": _("is empty")},
        "custom_date": {**moment, "empty": _("is empty")},
        "custom_choice": {"is": _("is"), "is_not": _("is not"), "empty": _("is empty")},
    }


# Operators that take no value.
NO_VALUE = {"empty", "not_empty", "has", "none", "granted", "withdrawn", "unknown"}
# ...except these, where "has" means a tag.
VALUE_HAS = {"tag"}


def _labels(values: tuple[str, ...], labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((v, labels.get(v, v)) for v in values)


def fields(session: Session) -> dict[str, Field]:
    """Every field a rule may use, in the order the builder offers them."""
    people = _("Contact")
    stage_labels = {
        "potential": _("Potential"),
        "customer": _("Customer"),
        "key_client": _("Key client"),
        "former": _("Former"),
    }
    temperature_labels = {"cold": _("Cold"), "warm": _("Warm"), "hot": _("Hot")}
    source_labels = {
        "web_form": _("Web form"),
        "import": _("Import"),
        "event": _("Event"),
        "referral": _("Referral"),
        "ads": _("Ads"),
        "other": _("Other"),
    }
    gender_labels = {"female": _("Female"), "male": _("Male"), "other": _("Other")}
    found = [
        Field("name", _("Full name"), "name", Contact.sort_name, group=people),
        Field("first_name", _("First name"), "text", Contact.first_name, group=people),
        Field("last_name", _("Last name"), "text", Contact.last_name, group=people),
        Field("middle_name", _("Middle name"), "text", Contact.middle_name, group=people),
        Field("company", _("Company"), "name", Contact.company_key, group=people),
        Field("position", _("Position"), "text", Contact.position, group=people),
        Field("industry", _("Industry"), "text", Contact.industry, group=people),
        Field("city", _("City"), "text", Contact.city, group=people),
        Field("country", _("Country"), "text", Contact.country, group=people),
        Field("address", _("Address"), "text", Contact.address, group=people),
        Field("notes", _("Notes"), "text", Contact.notes, group=people),
        Field("email", _("E-mail"), "email", group=people),
        Field("phone", _("Phone"), "phone", group=people),
        Field("birth_date", _("Birth date"), "date", Contact.birth_date, group=people),
        Field(
            "gender",
            _("Gender"),
            "choice",
            Contact.gender,
            _labels(GENDERS, gender_labels),
            group=people,
        ),
        Field("tag", _("Tag"), "tag", group=people),
        Field("stage", _("Stage"), "choice", Contact.stage, _labels(STAGES, stage_labels), people),
        Field(
            "temperature",
            _("Temperature"),
            "choice",
            Contact.temperature,
            _labels(TEMPERATURES, temperature_labels),
            people,
        ),
        Field(
            "source",
            _("Source"),
            "choice",
            Contact.source,
            _labels(SOURCES, source_labels),
            people,
        ),
        Field("owner", _("Owner"), "owner", Contact.owner_id, group=people),
        Field("created_at", _("Created"), "datetime", Contact.created_at, group=people),
        Field("updated_at", _("Updated"), "datetime", Contact.updated_at, group=people),
    ]
    buying = _("Purchases")
    found += [
        Field(
            "purchase_count", _("Number of purchases"), "count", Contact.purchase_count, (), buying
        ),
        Field(
            "purchase_total", _("Total spent"), "money", Contact.purchase_total_minor, (), buying
        ),
        Field("purchase_avg", _("Average check"), "money", Contact.purchase_avg_minor, (), buying),
        Field(
            "last_purchase",
            _("Last purchase"),
            "purchase_date",
            Contact.last_purchase_at,
            (),
            buying,
        ),
        Field(
            "first_purchase",
            _("First purchase"),
            "purchase_date",
            Contact.first_purchase_at,
            (),
            buying,
        ),
        Field("nps", _("NPS (latest score)"), "nps", Contact.last_nps, (), buying),
    ]
    channel_labels = {
        "email": _("e-mail"),
        "sms": _("SMS"),
        "messenger": _("messenger"),
        "phone": _("phone"),
    }
    purpose_labels = {"marketing": _("marketing"), "service": _("service")}
    for channel in CHANNELS:
        for purpose in PURPOSES:
            label = _(
                "Consent: %(channel)s, %(purpose)s",
                channel=channel_labels[channel],
                purpose=purpose_labels[purpose],
            )
            found.append(
                Field(f"consent:{channel}:{purpose}", label, "consent", group=_("Consent"))
            )
    for custom in session.scalars(select(CustomField).order_by(CustomField.position)):
        found.append(
            Field(
                f"custom:{custom.key}",
                custom.label,
                f"custom_{custom.kind}",
                choices=tuple((c, c) for c in custom.choices or ()),
                group=_("Custom fields"),
            )
        )
    return {f.key: f for f in found}


def needs_value(field_: Field, op: str) -> bool:
    return field_.type in VALUE_HAS or op not in NO_VALUE


# -- values ----------------------------------------------------------------------------------

_MONEY = re.compile(r"^-?\d+([.,]\d{1,2})?$")


def parse_money(raw: str) -> int:
    """ "1 234,50" or "1234.5" -> 123450 minor units (kopecks)."""
    text = re.sub(r"[\s\u00a0\u202f']", "", raw)
    if not _MONEY.match(text):
        raise RuleError(_("“%(value)s” is not an amount, e.g. 1500 or 1500.50.", value=raw))
    try:
        return int(Decimal(text.replace(",", ".")) * 100)
    except InvalidOperation:
        raise RuleError(_("“%(value)s” is not an amount.", value=raw)) from None


def parse_int(raw: str, low: int | None = None, high: int | None = None) -> int:
    text = raw.strip()
    if not re.fullmatch(r"-?\d{1,12}", text):
        raise RuleError(_("“%(value)s” is not a whole number.", value=raw))
    n = int(text)
    if (low is not None and n < low) or (high is not None and n > high):
        raise RuleError(_("Enter a number from %(low)s to %(high)s.", low=low, high=high))
    return n


def parse_day(raw: str) -> date:
    try:
        return date.fromisoformat(raw.strip())
    except ValueError:
        raise RuleError(_("“%(value)s” is not a date (YYYY-MM-DD).", value=raw)) from None


def _parse_value(session: Session, field_: Field, op: str, raw: Any) -> Any:
    """The rule's value, parsed for its field and operator; RuleError says what is wrong."""
    if not needs_value(field_, op):
        return None
    text = str(raw if raw is not None else "").strip()[:MAX_VALUE]
    if text == "":
        raise RuleError(_("Enter a value."))
    kind = field_.type
    if op in ("before", "after"):
        return parse_day(text)
    if op == "month":
        return parse_int(text, 1, 12)
    if op == "within":
        return parse_int(text, 0, 100000)
    if kind == "email" and op == "domain":
        return text.lstrip("@").lower()
    if kind in ("count",):
        return parse_int(text, 0)
    if kind == "nps":
        return parse_int(text, 0, 10)
    if kind == "money":
        return parse_money(text)
    if kind == "custom_number":
        try:
            return float(Decimal(text.replace(",", ".")))
        except InvalidOperation:
            raise RuleError(_("“%(value)s” is not a number.", value=text)) from None
    if kind in ("choice", "custom_choice"):
        if text not in dict(field_.choices):
            raise RuleError(_("Choose one of the offered values."))
        return text
    if kind == "tag":
        tag_id = parse_int(text, 1) if text.isdigit() else None
        if tag_id is None or session.get(Tag, tag_id) is None:
            raise RuleError(_("That tag does not exist (any more)."))
        return tag_id
    if kind == "owner":
        user_id = parse_int(text, 1) if text.isdigit() else None
        if user_id is None or session.get(User, user_id) is None:
            raise RuleError(_("That user does not exist (any more)."))
        return user_id
    return text


# -- validation and SQL ----------------------------------------------------------------------


@dataclass
class Checked:
    """A definition after validation: its parsed rules and the messages by rule number."""

    match: str = "all"
    rules: list[tuple[Field, str, Any]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)


def check(session: Session, definition: Any) -> Checked:
    known = fields(session)
    ops = operators()
    if not isinstance(definition, dict):
        return Checked(errors={"match": _("A segment definition is a set of rules.")})
    match = definition.get("match", "all")
    checked = Checked(match=match if match in MATCHES else "all")
    if match not in MATCHES:
        checked.errors["match"] = _("Match “all” or “any” of the rules.")
    rules = definition.get("rules")
    if not isinstance(rules, list) or not rules:
        checked.errors["rules"] = _("Add at least one rule.")
        return checked
    if len(rules) > MAX_RULES:
        checked.errors["rules"] = _("At most %(n)s rules.", n=MAX_RULES)
        return checked
    for n, rule in enumerate(rules, 1):
        where = f"rule-{n}"
        if not isinstance(rule, dict):
            checked.errors[where] = _("Rule %(n)s is not a rule.", n=n)
            continue
        field_ = known.get(str(rule.get("field") or ""))
        if field_ is None:
            checked.errors[where] = _(
                "Rule %(n)s: there is no field “%(field)s”.", n=n, field=rule.get("field") or ""
            )
            continue
        op = str(rule.get("op") or "")
        if op not in ops[field_.type]:
            checked.errors[where] = _(
                "Rule %(n)s: “%(field)s” has no operator “%(op)s”.",
                n=n,
                field=field_.label,
                op=op,
            )
            continue
        try:
            value = _parse_value(session, field_, op, rule.get("value"))
        except RuleError as exc:
            checked.errors[where] = _(
                "Rule %(n)s (%(field)s): %(problem)s", n=n, field=field_.label, problem=str(exc)
            )
            continue
        checked.rules.append((field_, op, value))
    return checked


def validate(session: Session, definition: Any) -> dict[str, str]:
    """A message per refused part: "match", "rules" or "rule-<n>"; empty when valid."""
    return check(session, definition).errors


def _start(day: date) -> datetime:
    return datetime.combine(day, time.min)


def _moment(column, op: str, day: date) -> ColumnElement[bool]:
    if column.type.python_type is date:
        return column < day if op == "before" else column > day
    # Datetimes: before the day starts, or after it ends.
    return column < _start(day) if op == "before" else column >= _start(day + timedelta(days=1))


def _number(column, op: str, value: Any) -> ColumnElement[bool]:
    return {"eq": column == value, "lt": column < value, "gt": column > value}[op]


def _text(column, op: str, value: Any, is_folded: bool) -> ColumnElement[bool]:
    if op == "empty":
        return or_(column.is_(None), column == "")
    if op == "not_empty":
        return and_(column.is_not(None), column != "")
    target = column if is_folded else folded(column)
    if op == "contains":
        return target.contains(fold(value), autoescape=True)
    return target == fold(value)


def rule_condition(field_: Field, op: str, value: Any, today: date) -> ColumnElement[bool]:
    """SQL over Contact for one validated rule."""
    kind, column = field_.type, field_.column
    if kind in ("text", "name"):
        return _text(column, op, value, is_folded=kind == "name")
    if kind == "email":
        has = exists().where(ContactEmail.contact_id == Contact.id)
        if op == "domain":
            return has.where(ContactEmail.email.endswith("@" + value, autoescape=True))
        return has if op == "has" else ~has
    if kind == "phone":
        has = exists().where(ContactPhone.contact_id == Contact.id)
        return has if op == "has" else ~has
    if kind == "date":
        if op == "month":
            return extract("month", column) == value
        return _moment(column, op, value)
    if kind in ("datetime", "purchase_date"):
        if op == "within":
            return column >= _start(today - timedelta(days=value))
        return _moment(column, op, value)
    if kind == "tag":
        from ..models import contact_tags

        has = exists().where(
            contact_tags.c.contact_id == Contact.id, contact_tags.c.tag_id == value
        )
        return has if op == "has" else ~has
    if kind == "choice":
        if op == "none":
            return column.is_(None)
        return column == value if op == "is" else or_(column.is_(None), column != value)
    if kind == "owner":
        return column.is_(None) if op == "none" else column == value
    if kind == "consent":
        _consent, channel, purpose = field_.key.split(":")
        return consent.condition(channel, purpose, op)
    if kind in ("count", "money"):
        return _number(column, op, value)
    if kind == "nps":
        return column.is_(None) if op == "empty" else _number(column, op, value)
    key = field_.key.split(":", 1)[1]
    stored = Contact.custom[key]
    if kind == "custom_text":
        return _text(stored.as_string(), op, value, is_folded=False)
    if op == "empty":
        return or_(stored.as_string().is_(None), stored.as_string() == "")
    if kind == "custom_number":
        return _number(stored.as_float(), op, value)
    if kind == "custom_date":
        # Stored as ISO text, which sorts like the dates.
        iso = value.isoformat()
        return stored.as_string() < iso if op == "before" else stored.as_string() > iso
    text = stored.as_string()
    return text == value if op == "is" else or_(text.is_(None), text != value)


def to_condition(
    session: Session, definition: Any, today: date | None = None
) -> ColumnElement[bool]:
    """SQL over Contact: all (AND) or any (OR) of the rules. SegmentInvalid when a rule is
    refused: a half-understood segment must not reach more contacts than it says."""
    checked = check(session, definition)
    if checked.errors:
        raise SegmentInvalid(checked.errors)
    today = today or date.today()
    conds = [rule_condition(f, op, value, today) for f, op, value in checked.rules]
    return and_(true(), *conds) if checked.match == "all" else or_(false(), *conds)


# -- saving, visibility ----------------------------------------------------------------------


def visible(user_id: int) -> ColumnElement[bool]:
    return or_(SavedSegment.shared.is_(True), SavedSegment.owner_id == user_id)


def for_user(session: Session, user_id: int) -> list[SavedSegment]:
    """The user's own segments and those shared with the team, by name."""
    stmt = select(SavedSegment).where(visible(user_id)).order_by(SavedSegment.name, SavedSegment.id)
    return list(session.scalars(stmt))


def get_visible(session: Session, segment_id: int | None, user_id: int) -> SavedSegment | None:
    if segment_id is None:
        return None
    seg = session.get(SavedSegment, segment_id)
    return seg if seg is not None and (seg.shared or seg.owner_id == user_id) else None


def may_edit(seg: SavedSegment, user: Any) -> bool:
    if not user.can_edit():
        return False
    if seg.owner_id == user.id:
        return True
    return bool(seg.shared and user.is_admin)


def _clean_name(name: str | None) -> str:
    return " ".join((name or "").split())


def _checked_input(session: Session, name: str, definition: Any) -> str:
    name = _clean_name(name)
    errors = dict(validate(session, definition))
    if not name:
        errors["name"] = _("Give the segment a name.")
    elif len(name) > MAX_NAME:
        errors["name"] = _("At most %(n)s characters.", n=MAX_NAME)
    if errors:
        raise SegmentInvalid(errors)
    return name


def normalized(definition: dict) -> dict:
    """The definition as stored: match and the rules' field, op and value as text."""
    return {
        "match": definition.get("match", "all"),
        "rules": [
            {
                "field": str(r.get("field") or ""),
                "op": str(r.get("op") or ""),
                "value": str(r.get("value") if r.get("value") is not None else "")[:MAX_VALUE],
            }
            for r in definition.get("rules", [])
        ],
    }


def create(
    session: Session, owner_id: int, name: str, definition: dict, shared: bool = False
) -> SavedSegment:
    name = _checked_input(session, name, definition)
    seg = SavedSegment(
        name=name, definition=normalized(definition), shared=bool(shared), owner_id=owner_id
    )
    session.add(seg)
    session.flush()
    return seg


def update(
    session: Session, seg: SavedSegment, name: str, definition: dict, shared: bool
) -> SavedSegment:
    seg.name = _checked_input(session, name, definition)
    seg.definition = normalized(definition)
    seg.shared = bool(shared)
    seg.updated_at = utcnow()
    session.flush()
    return seg


def delete(session: Session, seg: SavedSegment) -> None:
    session.delete(seg)
    session.flush()


def count(session: Session, definition: Any, today: date | None = None) -> int:
    """How many contacts (not archived, like the list) match."""
    cond = to_condition(session, definition, today)
    stmt = select(func.count()).select_from(Contact).where(~Contact.is_archived, cond)
    return session.scalar(stmt) or 0


# -- the contact list's filter ---------------------------------------------------------------


def bind(session: Session, flt: Any, user_id: int | None) -> tuple[Any, list[str], Any]:
    """(filter with the saved segment's SQL attached, messages, the segment or None).

    A segment the user may not see, or whose rules no longer hold (a deleted tag), matches
    nothing and says so."""
    from dataclasses import replace

    saved_id = getattr(flt, "saved", None)
    if saved_id is None:
        return flt, [], None
    seg = get_visible(session, saved_id, user_id) if user_id is not None else None
    if seg is None:
        message = _("This saved segment does not exist or is private to someone else.")
        return replace(flt, saved_condition=false()), [message], None
    try:
        cond = to_condition(session, seg.definition)
    except SegmentInvalid as exc:
        message = _(
            "The saved segment “%(name)s” has a rule that no longer holds: %(problem)s",
            name=seg.name,
            problem=str(exc),
        )
        return replace(flt, saved_condition=false()), [message], seg
    return replace(flt, saved_condition=cond), [], seg


def contact_ids(session: Session, segment_id: int, region: str = "RU") -> Any:
    """SELECT ids of a saved segment's contacts, whoever owns it (for the CLI, which runs
    with the server's rights). LookupError when there is none; SegmentInvalid when a rule
    no longer holds."""
    from . import listing

    seg = session.get(SavedSegment, segment_id)
    if seg is None:
        raise LookupError(_("There is no saved segment #%(id)s.", id=segment_id))
    flt = listing.ContactFilter(saved=seg.id, saved_condition=to_condition(session, seg.definition))
    return listing.filtered_ids(flt, region)
