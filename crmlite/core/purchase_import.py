"""Purchases as the second kind of import: rows of a table become purchase interactions.

The pipeline (core.importing) is the same as for contacts: upload, mapping, dry run,
batched resumable run, report, rejected rows, undo. Only the meaning of a row differs:

- the contact is found by its external id, then e-mail, then phone (the first key that
  finds anyone decides; two contacts sharing that key is an error, never a guess);
- the order number goes into Interaction.external_id: a purchase whose order number is
  already stored is "already imported" (so a second upload of the same file adds nothing).
  Without an order number a row counts as already imported when its contact already has a
  purchase of that date and amount;
- each batch ends with interactions.after_change(), which refreshes the contacts' purchase
  summary and moves "potential" contacts with a purchase to "customer";
- undo deletes the purchases of the import and moves back to "potential" the contacts the
  import promoted that have no purchase left.

Row outcomes: create (add a purchase), unchanged (already imported), error.
"""

import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import null, select, update
from sqlalchemy.orm import Session

from ..models import Contact, ContactEmail, ContactPhone, ImportItem, Interaction
from ..models.types import utcnow
from . import history, import_mapping
from . import interactions as interactions_core
from .emails import EmailError, normalize_email
from .i18n import _
from .import_mapping import normalize_header
from .phones import PhoneError, normalize_phone

KIND = "purchases"
KINDS = ("contacts", KIND)
TARGETS = ("external_id", "email", "phone", "date", "amount", "currency", "text", "order")

_ALIASES: dict[str, str] = {
    # the contact
    "external_id": "external_id",
    "external id": "external_id",
    "customer id": "external_id",
    "customer_id": "external_id",
    "client id": "external_id",
    "contact id": "external_id",
    "id клиента": "external_id",
    "код клиента": "external_id",
    "внешний id": "external_id",
    "email": "email",
    "e-mail": "email",
    "email address": "email",
    "customer email": "email",
    "почта": "email",
    "эл. почта": "email",
    "электронная почта": "email",
    "email клиента": "email",
    "phone": "phone",
    "telephone": "phone",
    "customer phone": "phone",
    "mobile": "phone",
    "телефон": "phone",
    "телефон клиента": "phone",
    "мобильный": "phone",
    # the purchase
    "date": "date",
    "order date": "date",
    "purchase date": "date",
    "created at": "date",
    "дата": "date",
    "дата заказа": "date",
    "дата покупки": "date",
    "дата продажи": "date",
    "amount": "amount",
    "total": "amount",
    "order total": "amount",
    "sum": "amount",
    "price": "amount",
    "сумма": "amount",
    "сумма заказа": "amount",
    "итого": "amount",
    "стоимость": "amount",
    "currency": "currency",
    "валюта": "currency",
    "items": "text",
    "item": "text",
    "products": "text",
    "product": "text",
    "description": "text",
    "товар": "text",
    "товары": "text",
    "состав заказа": "text",
    "наименование": "text",
    "описание": "text",
    "order id": "order",
    "order_id": "order",
    "order number": "order",
    "order no": "order",
    "order": "order",
    "номер заказа": "order",
    "№ заказа": "order",
    "заказ": "order",
}

# Currency signs and words a spreadsheet leaves in an amount cell.
_CURRENCY_SIGNS = {
    "₽": "RUB",
    "руб.": "RUB",
    "руб": "RUB",
    "р.": "RUB",
    "rub": "RUB",
    "$": "USD",
    "usd": "USD",
    "€": "EUR",
    "eur": "EUR",
}
_DATE_TIME = re.compile(
    r"^(?:(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"
    r"|(?P<d2>\d{1,2})[./](?P<m2>\d{1,2})[./](?P<y2>\d{4}|\d{2}))"
    r"(?:[ T](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?$"
)


# --- mapping ------------------------------------------------------------------------


def auto_map(headers: list[str], saved: dict[str, str] | None = None) -> list[str]:
    """One purchase target per header: a saved mapping first, else recognised; each target
    is given to the first column that asks for it."""
    targets, taken = [], set()
    for header in headers:
        if saved and header in saved and is_target(saved[header]):
            target = saved[header]
        else:
            target = _ALIASES.get(normalize_header(header), "")
        if target in taken:
            target = ""
        taken.add(target)
        targets.append(target)
    return targets


def is_target(target: str) -> bool:
    return target == "" or target in TARGETS


def target_choices() -> list[tuple[str, str]]:
    return [
        ("", _("— ignore —")),
        ("external_id", _("Contact: external id")),
        ("email", _("Contact: e-mail")),
        ("phone", _("Contact: phone")),
        ("date", _("Purchase date")),
        ("amount", _("Amount")),
        ("currency", _("Currency")),
        ("text", _("What was bought")),
        ("order", _("Order number")),
    ]


def check_mapping(mapping: list[str]) -> None:
    """ValueError (the message for the user) unless the mapping can identify a contact and
    has a date and an amount, each at most once."""
    used = [t for t in mapping if t]
    twice = sorted({t for t in used if used.count(t) > 1})
    if twice:
        raise ValueError(
            _("Choose each field for one column only: %(fields)s.", fields=", ".join(twice))
        )
    if not {"external_id", "email", "phone"} & set(used):
        raise ValueError(
            _("Choose a column that identifies the contact: external id, e-mail or phone.")
        )
    missing = [t for t in ("date", "amount") if t not in used]
    if missing:
        raise ValueError(_("Choose the columns with the purchase date and amount."))


# --- cells --------------------------------------------------------------------------


def parse_when(raw: str) -> datetime:
    """ "2026-03-31", "31.03.2026", "31.03.26", "31.03.2026 14:05" (Excel), "2026-03-31T14:05:00"
    -> a naive datetime; ValueError otherwise."""
    match = _DATE_TIME.match(" ".join(raw.split()))
    if not match:
        raise ValueError(raw)
    g = match.groupdict()
    if g["y"]:
        year, month, day = int(g["y"]), int(g["m"]), int(g["d"])
    else:
        year, month, day = int(g["y2"]), int(g["m2"]), int(g["d2"])
        if len(g["y2"]) == 2:
            year += 2000 if year < 70 else 1900
    clock = time(int(g["H"] or 0), int(g["M"] or 0), int(g["S"] or 0)) if g["H"] else time()
    return datetime.combine(date(year, month, day), clock)


def parse_money(raw: str) -> tuple[int, str | None]:
    """(minor units, currency named in the cell or None) from "1 234,50 ₽", "1234.50",
    "$1,234.50", "1 234,50 руб."; ValueError otherwise."""
    text = raw.replace("\xa0", " ").replace("\u202f", " ").strip()
    currency = None
    lowered = text.lower()
    for sign, code in _CURRENCY_SIGNS.items():
        if lowered.endswith(sign) or lowered.startswith(sign):
            currency = code
            text = text[len(sign) :] if lowered.startswith(sign) else text[: -len(sign)]
            break
    if not re.fullmatch(r"[\d\s.,']+", text.strip() or "x"):
        raise ValueError(raw)
    return interactions_core.parse_amount(text.strip()), currency


# --- rows to drafts -----------------------------------------------------------------


def drafts_from_rows(
    rows: Iterable[list[str]], mapping: list[str], width: int | None = None
) -> Iterator[dict[str, Any]]:
    """Purchase drafts {target: cell} from rows of cells, with "_data" (the cells, for the
    rejected-rows file) and "_error" when the row itself is malformed."""
    plan = [(i, t) for i, t in enumerate(mapping) if t]

    def to_draft(values: list[str]) -> dict[str, Any]:
        cells = ((target, values[i].strip() if i < len(values) else "") for i, target in plan)
        return {target: value for target, value in cells if value}

    width = len(mapping) if width is None else width
    return import_mapping.checked_drafts(rows, width, to_draft)


# --- planning -----------------------------------------------------------------------


class PurchasePlanner:
    """Validates purchase rows and finds their contacts, one batch at a time. plan() returns
    importing._Row objects: action, error, draft (with "_contact_id", "_name", "_clean")."""

    def __init__(self, session: Session, imp, dry: bool, row_class):
        self.session = session
        self.imp = imp
        self.dry = dry
        self.row_class = row_class
        self.region = imp.options.get("region") or "RU"
        self.currency = imp.options.get("currency") or interactions_core.DEFAULT_CURRENCY
        self.today = interactions_core._today()
        # hash(order number) -> the row of this file that has it (hashes: small for millions)
        self.orders: dict[int, int] = {}

    def _validate(self, r) -> None:
        draft = r.draft
        if draft.get("_error"):
            r.error = draft["_error"]
            return
        problems: list[str] = []
        keys: list[tuple[str, str]] = []
        if draft.get("external_id"):
            keys.append(("x", draft["external_id"][:200]))
        if draft.get("email"):
            try:
                keys.append(("e", normalize_email(draft["email"])))
            except EmailError:
                problems.append(_("e-mail: “%(value)s” is not an address", value=draft["email"]))
        if draft.get("phone"):
            try:
                keys.append(("p", normalize_phone(draft["phone"], self.region)))
            except PhoneError:
                problems.append(_("phone: “%(value)s” is not a number", value=draft["phone"]))
        if not keys and not problems:
            problems.append(_("The row has no external id, e-mail or phone of a contact."))
        clean: dict[str, Any] = {}
        raw_date = draft.get("date", "")
        if not raw_date:
            problems.append(_("date: empty"))
        else:
            try:
                when = parse_when(raw_date)
            except ValueError:
                problems.append(
                    _("date: “%(value)s” is not a date like 31.03.2026", value=raw_date)
                )
            else:
                if when.date() > self.today:
                    problems.append(_("date: “%(value)s” is in the future", value=raw_date))
                elif when.year < 1900:
                    problems.append(_("date: “%(value)s” is too far in the past", value=raw_date))
                clean["occurred_at"] = when
        raw_amount = draft.get("amount", "")
        cell_currency = None
        if not raw_amount:
            problems.append(_("amount: empty"))
        else:
            try:
                minor, cell_currency = parse_money(raw_amount)
            except ValueError:
                minor = None
                problems.append(
                    _("amount: “%(value)s” is not an amount like 1 234,50", value=raw_amount)
                )
            if minor is not None:
                if minor <= 0:
                    problems.append(_("amount: “%(value)s” is not above zero", value=raw_amount))
                elif minor >= interactions_core.MAX_AMOUNT_MINOR:
                    problems.append(_("amount: “%(value)s” is too large", value=raw_amount))
                clean["amount_minor"] = minor
        currency = (draft.get("currency") or cell_currency or self.currency).strip().upper()
        currency = _CURRENCY_SIGNS.get(currency.lower(), currency)
        if not re.fullmatch(r"[A-Z]{3}", currency):
            problems.append(_("currency: “%(value)s” is not a code like RUB", value=currency))
        clean["currency"] = currency
        clean["text"] = (draft.get("text") or "")[: interactions_core.MAX_TEXT]
        order = (draft.get("order") or "")[:200]
        if order:
            if hash(order) in self.orders:
                problems.append(
                    _(
                        "order %(order)s is already on row %(row)s of this file",
                        order=order,
                        row=self.orders[hash(order)],
                    )
                )
            else:
                self.orders[hash(order)] = r.row
        clean["external_id"] = order or None
        if problems:
            r.error = "; ".join(problems)
            return
        r.keys = keys
        r.clean = clean

    def _matches(self, rows: list) -> dict[tuple[str, str], set[int]]:
        wanted: dict[str, set[str]] = {"x": set(), "e": set(), "p": set()}
        for r in rows:
            for kind, value in r.keys:
                wanted[kind].add(value)
        found: dict[tuple[str, str], set[int]] = {}
        queries = (
            ("x", select(Contact.external_id, Contact.id), Contact.external_id),
            ("e", select(ContactEmail.email, ContactEmail.contact_id), ContactEmail.email),
            ("p", select(ContactPhone.e164, ContactPhone.contact_id), ContactPhone.e164),
        )
        for kind, stmt, column in queries:
            values = sorted(wanted[kind])
            for start in range(0, len(values), 500):
                for value, contact_id in self.session.execute(
                    stmt.where(column.in_(values[start : start + 500]))
                ):
                    found.setdefault((kind, value), set()).add(contact_id)
        return found

    def plan(self, batch: list[tuple[int, dict[str, Any]]]) -> list:
        rows = [self.row_class(n, draft) for n, draft in batch]
        for r in rows:
            self._validate(r)
        valid = [r for r in rows if r.clean is not None]
        matches = self._matches(valid)
        names = {"x": _("external id"), "e": _("e-mail"), "p": _("phone")}
        for r in valid:
            for key in r.keys:  # external id, then e-mail, then phone
                ids = matches.get(key, set())
                if len(ids) > 1:
                    r.error = _(
                        "%(key)s %(value)s belongs to %(n)s contacts (%(ids)s); which one is "
                        "meant is not guessed",
                        key=names[key[0]],
                        value=key[1],
                        n=len(ids),
                        ids=", ".join(f"#{i}" for i in sorted(ids)[:5]),
                    )
                    break
                if ids:
                    r.draft["_contact_id"] = next(iter(ids))
                    break
            else:
                tried = ", ".join(f"{names[k]} {v}" for k, v in r.keys)
                r.error = _("no contact found (tried %(keys)s)", keys=tried)
        contact_ids = {r.draft["_contact_id"] for r in valid if not r.error}
        display = self._names(contact_ids)
        done = self._already_imported([r for r in valid if not r.error])
        for r in rows:
            if r.error:
                r.action, r.clean = "error", None
                continue
            r.draft["_name"] = display.get(r.draft["_contact_id"], "")
            r.draft["_detail"] = _detail(r.clean)
            if r.row in done:
                r.action = "unchanged"
                r.error = done[r.row]
            else:
                r.action = "create"
        return rows

    def _names(self, ids: set[int]) -> dict[int, str]:
        if not ids:
            return {}
        rows = self.session.execute(
            select(
                Contact.id,
                Contact.last_name,
                Contact.first_name,
                Contact.middle_name,
                Contact.company,
            ).where(Contact.id.in_(sorted(ids)))
        )
        # As Contact.full_name shows it.
        return {
            cid: " ".join(p for p in (last, first, middle) if p) or company or f"#{cid}"
            for cid, last, first, middle, company in rows
        }

    def _already_imported(self, rows: list) -> dict[int, str]:
        """row -> why it is already in the chronicle."""
        done: dict[int, str] = {}
        by_order = {r.clean["external_id"]: r for r in rows if r.clean["external_id"]}
        if by_order:
            stored = set(
                self.session.scalars(
                    select(Interaction.external_id).where(
                        Interaction.kind == interactions_core.PURCHASE,
                        Interaction.external_id.in_(list(by_order)),
                    )
                )
            )
            for order in stored:
                done[by_order[order].row] = _("already imported (order %(order)s)", order=order)
        plain = [r for r in rows if not r.clean["external_id"]]
        if plain:
            wanted = {(r.draft["_contact_id"], r.clean["occurred_at"]) for r in plain}
            stored = set(
                self.session.execute(
                    select(
                        Interaction.contact_id, Interaction.occurred_at, Interaction.amount_minor
                    ).where(
                        Interaction.kind == interactions_core.PURCHASE,
                        Interaction.contact_id.in_({c for c, _w in wanted}),
                        Interaction.occurred_at.in_({w for _c, w in wanted}),
                    )
                ).all()
            )
            for r in plain:
                key = (r.draft["_contact_id"], r.clean["occurred_at"], r.clean["amount_minor"])
                if key in stored:
                    done[r.row] = _("already imported (same contact, date and amount)")
        return done


def _detail(clean: dict[str, Any]) -> str:
    amount = clean["amount_minor"]
    when = clean["occurred_at"]
    day = when.strftime("%d.%m.%Y") + (when.strftime(" %H:%M") if when.time() != time() else "")
    money = f"{amount // 100:,}".replace(",", " ") + f".{amount % 100:02d}"
    return f"{money} {clean['currency']}, {day}"


# --- run and undo -------------------------------------------------------------------


def write(session: Session, imp, rows: list, user_id: int | None, insert) -> dict[str, int]:
    """Write one batch (in the caller's transaction): the purchases, one import item per
    row, the contacts' summary and promotions. Returns the batch's counts.

    insert: bulk_insert.insert_rows."""
    now = utcnow()
    new = [r for r in rows if r.action == "create"]
    contact_ids = {r.draft["_contact_id"] for r in new}
    # Who is "potential" before this batch: undo moves them back if nothing is left.
    potential = set()
    if contact_ids:
        potential = set(
            session.scalars(
                select(Contact.id).where(
                    Contact.id.in_(sorted(contact_ids)), Contact.stage == "potential"
                )
            )
        )
    insert(
        session,
        Interaction.__table__,
        [
            {
                "contact_id": r.draft["_contact_id"],
                "kind": interactions_core.PURCHASE,
                "occurred_at": r.clean["occurred_at"],
                "text": r.clean["text"],
                "amount_minor": r.clean["amount_minor"],
                "currency": r.clean["currency"],
                "data": {},
                "external_id": r.clean["external_id"],
                "import_id": imp.id,
                "author_id": user_id,
                "created_at": now,
                "updated_at": now,
            }
            for r in new
        ],
    )
    counts: dict[str, int] = {}
    items = []
    promoted_row: set[int] = set()
    for r in rows:
        counts[r.action] = counts.get(r.action, 0) + 1
        contact_id = r.draft.get("_contact_id") if r.action != "error" else None
        before = None
        if r.action == "create" and contact_id in potential and contact_id not in promoted_row:
            promoted_row.add(contact_id)
            before = {"stage": ["potential", "customer"]}
        item = {
            "import_id": imp.id,
            "row": r.row,
            "contact_id": contact_id,
            "action": r.action,
            "before": before,
            "reason": r.error,
            "data": None,
        }
        if r.action == "error":
            data = r.draft.get("_data")
            item["data"] = {"cells": data} if isinstance(data, list) else {"draft": {}}
        items.append(item)
    insert(session, ImportItem.__table__, items)
    interactions_core.after_change(session, contact_ids, user_id)
    return counts


def undo(session: Session, imp, user_id: int | None, batch: int = 1000) -> dict[str, int]:
    """Delete the purchases this import added (batched, resumable), refresh the contacts'
    summary, and move back to "potential" the contacts it promoted that have no purchase
    left (a contact with other purchases, or moved on by hand, keeps its stage)."""
    deleted = 0
    while True:
        found = session.execute(
            select(Interaction.id, Interaction.contact_id)
            .where(Interaction.import_id == imp.id, Interaction.kind == interactions_core.PURCHASE)
            .limit(batch)
        ).all()
        if not found:
            break
        ids = [i for i, _c in found]
        session.execute(Interaction.__table__.delete().where(Interaction.__table__.c.id.in_(ids)))
        interactions_core.after_change(session, {c for _i, c in found}, user_id)
        deleted += len(ids)
        session.commit()
    demoted = 0
    last = 0
    while True:
        chunk = session.execute(
            select(ImportItem.id, ImportItem.contact_id, ImportItem.before)
            .where(
                ImportItem.import_id == imp.id,
                ImportItem.action == "create",
                ImportItem.contact_id.is_not(None),
                ImportItem.id > last,
            )
            .order_by(ImportItem.id)
            .limit(batch)
        ).all()
        if not chunk:
            break
        last = chunk[-1][0]
        # JSON "null" and SQL NULL both read as None here (PostgreSQL keeps the former).
        promoted = [(i, c) for i, c, before in chunk if before]
        if not promoted:
            continue
        back = list(
            session.scalars(
                select(Contact.id).where(
                    Contact.id.in_([c for _i, c in promoted]),
                    Contact.stage == "customer",
                    Contact.purchase_count == 0,
                )
            )
        )
        if back:
            session.execute(
                update(Contact)
                .where(Contact.id.in_(back))
                .values(stage="potential", version=Contact.version + 1, updated_at=utcnow()),
                execution_options={"synchronize_session": False},
            )
            history.record_bulk(
                session, back, user_id, "import_undo", {"stage": ["customer", "potential"]}
            )
            demoted += len(back)
        session.execute(
            update(ImportItem)
            .where(ImportItem.id.in_([i for i, _c in promoted]))
            .values(before=null())
        )
        session.commit()
    return {"deleted": deleted, "demoted": demoted}
