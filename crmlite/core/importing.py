"""The import pipeline: upload, mapping, dry run, batched run with resume, report, undo.

Any importer from the register_importers hook plugs in: an object with name, label,
extensions and parse(stream, options) yielding contact drafts (the contacts.validate raw
format plus "external_id" and "tags"). Importers of tables (CSV, XLSX) may also offer
table(stream, options) -> (headers, rows) and sniff(sample) -> options; the pipeline then
shows a column mapping and hands parse() options["mapping"].

Each row's outcome: create; update (matched by external id, then e-mail, then phone; a
later row of the same file that matches an earlier one updates it too); unchanged; or
error with the reasons. A created contact whose name equals an existing contact's is
flagged as a possible duplicate (created anyway, listed in the report).

A run writes BATCH rows per transaction and records the last committed row on the Import,
so a failure part-way leaves whole batches only and a re-run continues after them.
"""

import csv
import io
import os
import sqlite3
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, Any

from phonenumbers import COUNTRY_CODE_TO_REGION_CODE
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from ..models import (
    Contact,
    ContactEmail,
    ContactHistory,
    ContactPhone,
    CustomField,
    Import,
    ImportItem,
    ImportMapping,
    SearchToken,
    Tag,
    User,
    contact_tags,
)
from ..models.types import utcnow
from . import contacts as contacts_core
from . import dedup, history, import_reading, names, purchase_import
from . import tags as tags_core
from .bulk_insert import insert_rows
from .i18n import _
from .import_checking import FieldSpec, RowChecker
from .import_mapping import auto_map, is_target
from .search import MAX_TOKEN, contact_tokens
from .text import fold

# Rows per transaction. On SQLite each commit costs a WAL checkpoint (~80 ms here, whatever
# the batch holds): 5,000 rows took a 100k-row import from 39 s to 29 s (bench/import.py).
BATCH = 5000
IMPORT_CACHE_KIB = 16 * 1024  # SQLite page cache while an import writes
# Contacts per duplicate check after an import: each loads its contacts' neighbours too (up
# to a block's cap of them), so a smaller batch keeps the peak down (300k imported contacts:
# 187 MB at 5,000, 165 MB at 1,000, for about a tenth more time).
FINDER_BATCH = 2000
PREVIEW_ROWS = 20
SAMPLE_SIZE = 64 * 1024
ACTIONS = ("create", "update", "unchanged", "error")


class ImportProblem(ValueError):
    """Why a file cannot be imported; nothing was written."""


# --- importers ----------------------------------------------------------------------


def importers(pm) -> dict[str, Any]:
    """name -> importer, from every enabled plugin (the first one of a name wins)."""
    found: dict[str, Any] = {}
    for group in pm.hook.register_importers():
        for importer in group or []:
            found.setdefault(importer.name, importer)
    return found


def store_upload(folder: str | Path, stream: IO[bytes], max_bytes: int) -> tuple[str, int]:
    """Copy an upload to folder in chunks; refuse it (and keep nothing) above max_bytes."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4().hex}.upload"
    size = 0
    try:
        with open(path, "wb") as out:
            while chunk := stream.read(1024 * 1024):
                size += len(chunk)
                if size > max_bytes:
                    raise ImportProblem(
                        _("The file is larger than %(mb)s MB.", mb=max_bytes // (1024 * 1024))
                    )
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    if size == 0:
        path.unlink(missing_ok=True)
        raise ImportProblem(_("The file is empty."))
    return str(path), size


def custom_keys(session: Session) -> list[str]:
    return list(session.scalars(select(CustomField.key).order_by(CustomField.position)))


def create_import(
    session: Session,
    pm,
    path: str,
    filename: str,
    user_id: int | None,
    importer_name: str | None = None,
    region: str = "RU",
    overrides: dict[str, str] | None = None,
    saved_mapping: dict[str, str] | None = None,
    kind: str = "contacts",
    currency: str | None = None,
) -> Import:
    """An Import for a stored file: importer chosen (or detected), encoding, separator and
    column mapping detected; overrides {column header: target} adjust the mapping.
    kind: what the rows are, "contacts" or "purchases" (core.purchase_import); currency:
    the purchases' currency when the file names none."""
    if kind not in purchase_import.KINDS:
        raise ImportProblem(_("There is no import of “%(kind)s”.", kind=kind))
    found = importers(pm)
    with open(path, "rb") as f:
        sample = f.read(SAMPLE_SIZE)
    if not importer_name:
        importer_name = pm.hook.detect_importer(filename=filename, sample=sample)
    if not importer_name:
        raise ImportProblem(
            _("No importer reads “%(name)s”. Choose one, or save the file as CSV.", name=filename)
        )
    if importer_name not in found:
        raise ImportProblem(_("There is no importer named “%(name)s”.", name=importer_name))
    importer = found[importer_name]
    keys = custom_keys(session)
    options: dict[str, Any] = {"region": region, "custom_keys": keys, "kind": kind}
    if kind == purchase_import.KIND:
        if not hasattr(importer, "table"):
            raise ImportProblem(_("Purchases are imported from tables (CSV) only."))
        options["currency"] = currency or "RUB"
    if hasattr(importer, "sniff"):
        options.update(importer.sniff(sample))
    if hasattr(importer, "table"):
        with open(path, "rb") as f:
            try:
                headers, _rows = importer.table(f, dict(options))
            except (UnicodeDecodeError, csv.Error, ValueError) as exc:
                raise ImportProblem(
                    _("The file cannot be read: %(error)s", error=str(exc))
                ) from None
        if not headers:
            raise ImportProblem(_("The file has no header row."))
        options["headers"] = headers
        if kind == purchase_import.KIND:
            options["mapping"] = purchase_import.auto_map(headers, saved_mapping)
        else:
            options["mapping"] = auto_map(headers, keys, saved_mapping)
        for column, target in (overrides or {}).items():
            set_mapping_column(options, column, target, keys)
    imp = Import(
        filename=filename[:255],
        path=path,
        size=os.path.getsize(path),
        importer=importer_name,
        options=options,
        created_by_id=user_id,
        counts={},
    )
    session.add(imp)
    session.flush()
    return imp


def set_mapping_column(options: dict, column: str, target: str, keys: Iterable[str]) -> None:
    """Map one column (by header, or by 1-based number) to a target."""
    headers = options.get("headers") or []
    if column in headers:
        index = headers.index(column)
    elif column.isdigit() and 1 <= int(column) <= len(headers):
        index = int(column) - 1
    else:
        raise ImportProblem(_("The file has no column “%(column)s”.", column=column))
    if not _is_target(options, target, keys):
        raise ImportProblem(_("“%(target)s” is not a field to import into.", target=target))
    mapping = list(options["mapping"])
    mapping[index] = target
    options["mapping"] = mapping


def set_mapping(session: Session, imp: Import, mapping: list[str]) -> None:
    keys = custom_keys(session)
    headers = imp.options.get("headers") or []
    if len(mapping) != len(headers):
        raise ImportProblem(_("Choose a field for every column."))
    for target in mapping:
        if not _is_target(imp.options, target, keys):
            raise ImportProblem(_("“%(target)s” is not a field to import into.", target=target))
    if is_purchases(imp):
        try:
            purchase_import.check_mapping(mapping)
        except ValueError as exc:
            raise ImportProblem(str(exc)) from None
    imp.options = {**imp.options, "mapping": list(mapping), "custom_keys": keys}
    imp.preview = None  # the dry run was for the old mapping


def is_purchases(imp: Import) -> bool:
    return (imp.options or {}).get("kind") == purchase_import.KIND


def _is_target(options: dict, target: str, keys: Iterable[str]) -> bool:
    if options.get("kind") == purchase_import.KIND:
        return purchase_import.is_target(target)
    return is_target(target, keys)


def save_mapping(session: Session, imp: Import, name: str, user_id: int | None) -> ImportMapping:
    name = " ".join((name or "").split())[:100]
    if not name:
        raise ImportProblem(_("Give the mapping a name."))
    headers = imp.options.get("headers") or []
    mapping = {h: t for h, t in zip(headers, imp.options.get("mapping") or [], strict=False)}
    saved = session.scalar(select(ImportMapping).where(ImportMapping.name == name))
    if saved is None:
        saved = ImportMapping(name=name, created_by_id=user_id)
        session.add(saved)
    saved.mapping = mapping
    session.flush()
    return saved


def saved_mappings(session: Session) -> list[ImportMapping]:
    return list(session.scalars(select(ImportMapping).order_by(ImportMapping.name)))


# --- reading and planning -------------------------------------------------------------


def _row_batches(
    pm, imp: Import, planner, size: int, after: int = 0, ahead: bool = False
) -> Iterator[list]:
    """The rows after row `after` in batches: (number, draft) for purchases, (number, draft,
    Checked) for contacts. ahead (a run, whose writing keeps this process busy): a big file
    is read and checked by a helper process meanwhile. A dry run reads in-process: on two
    cores shared with other machines, a helper made it slower, not faster (13.6 s -> 20 s
    at 100k rows, bench/import.py)."""
    importer = importers(pm).get(imp.importer)
    if importer is None:
        raise ImportProblem(_("The importer “%(name)s” is not available.", name=imp.importer))
    if is_purchases(imp):
        yield from _batches(_purchase_drafts(importer, imp, after), size)
        return
    yield from import_reading.batches(
        importer,
        imp.path,
        dict(imp.options),
        planner.check,
        size,
        after,
        parallel=ahead and (imp.size or 0) >= import_reading.PARALLEL_BYTES,
    )


def _purchase_drafts(importer, imp: Import, after: int) -> Iterator[tuple[int, dict[str, Any]]]:
    mapping = imp.options.get("mapping") or []
    try:
        purchase_import.check_mapping(mapping)
    except ValueError as exc:
        raise ImportProblem(str(exc)) from None
    with open(imp.path, "rb") as f:
        headers, rows = importer.table(f, dict(imp.options))
        drafts = purchase_import.drafts_from_rows(rows, mapping, len(headers))
        yield from ((n, d) for n, d in enumerate(drafts, 1) if n > after)


def _planner(session: Session, imp: Import, dry: bool):
    if is_purchases(imp):
        return purchase_import.PurchasePlanner(session, imp, dry, _Row)
    return _Planner(session, imp, dry)


@dataclass
class _State:
    """A contact as this batch will leave it."""

    contact_id: int | None  # None: created by this batch
    values: dict[str, Any]
    original: dict[str, Any] | None = None
    version: int = 1
    rows: list[int] = field(default_factory=list)
    duplicate_of: int | None = None
    changed: bool = False


@dataclass
class _Row:
    row: int
    draft: dict[str, Any]
    clean: dict[str, Any] | None = None
    keys: list[tuple[str, str]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    error: str = ""
    action: str = ""
    state: _State | None = None


def row_checker(session: Session, imp: Import) -> RowChecker:
    """The row checker of an import: its region, the custom fields and the users by e-mail."""
    fields = tuple(
        FieldSpec(f.key, f.kind, tuple(f.choices or ()))
        for f in contacts_core.custom_fields(session)
    )
    users = {(u.email or "").lower(): u.id for u in session.scalars(select(User))}
    return RowChecker(imp.options.get("region") or "RU", fields, users)


class _Planner:
    """Validates rows and decides each one's outcome, one batch at a time."""

    def __init__(self, session: Session, imp: Import, dry: bool):
        self.session = session
        self.imp = imp
        self.dry = dry
        self.check = row_checker(session, imp)
        # Dry run only: keys of contacts earlier batches would create, so a repeat later in
        # the file shows as an update.
        self.seen = _SeenKeys() if dry else None
        # "Existing" means before the import began, so the dry run and the run flag the same
        # rows, and a name's answer can be kept (a common name is asked once, not per batch).
        self.base_max_id = _base_max_id(session, imp, dry)
        self.namesakes: dict[str, int | None] = {}  # name -> an existing contact, or None

    def _matches(self, rows: list[_Row]) -> dict[tuple[str, str], int]:
        wanted: dict[str, set[str]] = {"x": set(), "e": set(), "p": set()}
        for r in rows:
            for kind, value in r.keys:
                wanted[kind].add(value)
        found: dict[tuple[str, str], int] = {}
        queries = (
            ("x", select(Contact.external_id, Contact.id), Contact.external_id),
            ("e", select(ContactEmail.email, ContactEmail.contact_id), ContactEmail.email),
            ("p", select(ContactPhone.e164, ContactPhone.contact_id), ContactPhone.e164),
        )
        for kind, stmt, column in queries:
            if wanted[kind]:
                for value, contact_id in self.session.execute(
                    stmt.where(column.in_(wanted[kind])).order_by(column, stmt.selected_columns[1])
                ):
                    found.setdefault((kind, value), contact_id)
        return found

    def _load(self, ids: set[int]) -> dict[int, _State]:
        if not ids:
            return {}
        states: dict[int, _State] = {}
        simple = [getattr(Contact, n) for n in contacts_core.SIMPLE_FIELDS]
        for row in self.session.execute(
            select(Contact.id, Contact.version, Contact.custom, Contact.external_id, *simple).where(
                Contact.id.in_(ids)
            )
        ):
            values = dict(zip(contacts_core.SIMPLE_FIELDS, row[4:], strict=True))
            values.update(custom=dict(row.custom or {}), external_id=row.external_id)
            values.update(emails=[], phones=[], tags=[])
            states[row.id] = _State(row.id, values, version=row.version)
        for model, column, key in (
            (ContactEmail, ContactEmail.email, "emails"),
            (ContactPhone, ContactPhone.e164, "phones"),
        ):
            for cid, value, label, primary in self.session.execute(
                select(model.contact_id, column, model.label, model.is_primary)
                .where(model.contact_id.in_(ids))
                .order_by(model.contact_id, model.is_primary.desc(), model.id)
            ):
                states[cid].values[key].append(contacts_core.Item(value, label, primary))
        for cid, name in self.session.execute(
            select(contact_tags.c.contact_id, Tag.name)
            .join(Tag, Tag.id == contact_tags.c.tag_id)
            .where(contact_tags.c.contact_id.in_(ids))
        ):
            states[cid].values["tags"].append(name)
        for state in states.values():
            state.original = _copy(state.values)
        return states

    def plan(self, batch: import_reading.Batch) -> list[_Row]:
        rows = [
            _Row(n, draft, checked.clean, checked.keys, checked.tags, checked.error)
            for n, draft, checked in batch
        ]
        valid = [r for r in rows if r.clean is not None]
        matches = self._matches(valid)
        states = self._load(set(matches.values()))
        seen = self.seen.among(hash(k) for r in valid for k in r.keys) if self.dry else set()
        index: dict[tuple[str, str], _State] = {}
        for r in rows:
            if r.clean is None:
                r.action = "error"
                continue
            state = None
            for key in r.keys:  # external id, then e-mails, then phones
                # This file's earlier rows, then the base. A shared e-mail or phone with another
                # first name is another person (a family's home phone, a company's info@).
                held = (index.get(key), states.get(matches.get(key)))
                state = next(
                    (s for s in held if s and (key[0] == "x" or not _someone_else(r.clean, s))),
                    None,
                )
                if state is None and hash(key) in seen:
                    r.action = "update"  # of a contact an earlier row creates
                    break
                if state is not None:
                    break
            if r.action:
                continue
            if state is None:
                state = _State(None, _new_values(r.clean, r.tags))
                r.action = "create"
            else:
                r.action = "update" if _merge(state.values, r.clean, r.tags) else "unchanged"
                if r.action == "update":
                    state.changed = True
            state.rows.append(r.row)
            r.state = state
            for key in r.keys:
                index.setdefault(key, state)
        self._flag_duplicates([r.state for r in rows if r.action == "create"])
        if self.dry:
            self.seen.add(hash(k) for r in rows if r.action == "create" for k in r.keys)
        return rows

    def _flag_duplicates(self, created: list[_State]) -> None:
        by_name: dict[str, list[_State]] = {}
        for state in created:
            v = state.values
            if v.get("first_name") and v.get("last_name"):
                name = contacts_core.sort_name(
                    v["last_name"], v["first_name"], v.get("middle_name") or ""
                )
                by_name.setdefault(name, []).append(state)
        # One contact per name, each a one-row index lookup: a common name ("Иванов Иван")
        # may have thousands of namesakes, and reading them all per batch would not scale.
        for name, states in by_name.items():
            if name in self.namesakes:
                contact_id = self.namesakes[name]
            else:
                contact_id = self.session.scalar(
                    select(Contact.id)
                    .where(
                        Contact.is_archived.is_(False),
                        Contact.sort_name == name,
                        Contact.id <= self.base_max_id,
                    )
                    .order_by(Contact.id)
                    .limit(1)
                )
                if len(self.namesakes) < 100_000:
                    self.namesakes[name] = contact_id
            for state in states:
                state.duplicate_of = contact_id


class _SeenKeys:
    """A set of key hashes in an in-memory SQLite table. A Python set of the two million
    keys of a 1M-row file took some 110 MB; the table takes a fraction of that."""

    def __init__(self) -> None:
        self.db = sqlite3.connect(":memory:")
        self.db.execute("CREATE TABLE seen (hash INTEGER PRIMARY KEY)")

    def add(self, hashes: Iterable[int]) -> None:
        self.db.executemany("INSERT OR IGNORE INTO seen VALUES (?)", ((h,) for h in hashes))

    def among(self, hashes: Iterable[int]) -> set[int]:
        """Those of hashes that are in the set."""
        wanted, found = list(set(hashes)), set()
        for i in range(0, len(wanted), 500):
            part = wanted[i : i + 500]
            sql = f"SELECT hash FROM seen WHERE hash IN ({', '.join('?' * len(part))})"
            found.update(h for (h,) in self.db.execute(sql, part))
        return found


def _base_max_id(session: Session, imp: Import, dry: bool) -> int:
    """The newest contact id before the import's run began (kept on the import, so a resumed
    run does not count its own first batches as existing contacts)."""
    if not dry and "base_max_id" in (imp.options or {}):
        return imp.options["base_max_id"]
    newest = session.scalar(select(func.max(Contact.id))) or 0
    if not dry:
        imp.options = {**imp.options, "base_max_id": newest}
    return newest


def _someone_else(clean: dict[str, Any], state: "_State") -> bool:
    """A row that shares an e-mail or phone with a contact but names another person."""
    return names.clearly_different_first_names(
        clean.get("first_name"), state.values.get("first_name")
    )


def _copy(values: dict[str, Any]) -> dict[str, Any]:
    copied = dict(values)
    for key in ("emails", "phones"):
        copied[key] = [contacts_core.Item(i.value, i.label, i.primary) for i in values[key]]
    copied["custom"] = dict(values["custom"])
    copied["tags"] = list(values["tags"])
    return copied


def _new_values(clean: dict[str, Any], tags: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {name: None for name in contacts_core.SIMPLE_FIELDS}
    values.update({name: "" for name in contacts_core.TEXT_FIELDS})
    values["stage"] = "potential"
    values.update(emails=[], phones=[], custom={}, tags=[], external_id=None)
    for name, value in clean.items():
        if name == "custom":
            values["custom"] = {k: v for k, v in value.items() if v is not None}
        else:
            values[name] = value
    values["source"] = values.get("source") or "import"
    seen = set()
    for name in tags:
        if fold(name) not in seen:
            seen.add(fold(name))
            values["tags"].append(name)
    return values


def _merge(values: dict[str, Any], clean: dict[str, Any], tags: list[str]) -> bool:
    """Apply one row's values onto a contact: non-empty values replace, e-mails, phones and
    tags are added. The source of an existing contact stays. True when something changed."""
    changed = False
    for name, value in clean.items():
        if name in ("emails", "phones"):
            have = {i.value for i in values[name]}
            for item in value:
                if item.value not in have:
                    primary = not values[name]
                    values[name].append(contacts_core.Item(item.value, item.label, primary))
                    have.add(item.value)
                    changed = True
        elif name == "custom":
            for key, v in value.items():
                if v is not None and values["custom"].get(key) != v:
                    values["custom"][key] = v
                    changed = True
        elif name == "source":
            continue
        elif name == "external_id":
            if not values.get("external_id"):
                values["external_id"] = value
                changed = True
        elif value not in (None, "") and values.get(name) != value:
            values[name] = value
            changed = True
    have_tags = {fold(t) for t in values["tags"]}
    for name in tags:
        if fold(name) not in have_tags:
            values["tags"].append(name)
            have_tags.add(fold(name))
            changed = True
    return changed


def _batches(drafts: Iterator[tuple[int, dict]], size: int) -> Iterator[list[tuple[int, dict]]]:
    batch: list[tuple[int, dict]] = []
    for item in drafts:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _display(draft: dict[str, Any]) -> str:
    if "_name" in draft:  # a purchase: its contact
        return draft["_name"]
    name = " ".join(
        str(draft.get(k) or "") for k in ("last_name", "first_name", "middle_name") if draft.get(k)
    )
    if not name:
        items = draft.get("emails") or draft.get("phones") or []
        first = items[0] if items else ""
        name = draft.get("company") or (first.get("value") if isinstance(first, dict) else first)
    return str(name or "")[:200]


def _read_problem(exc: Exception) -> ImportProblem:
    if isinstance(exc, UnicodeDecodeError):
        return ImportProblem(
            _(
                "The file is not valid %(encoding)s text (byte %(pos)s). Save it as UTF-8 "
                "and upload it again.",
                encoding=exc.encoding,
                pos=exc.start,
            )
        )
    return ImportProblem(_("The file cannot be read: %(error)s", error=str(exc)))


# --- dry run ------------------------------------------------------------------------


def dry_run(
    session: Session, pm, imp: Import, progress: Callable[[int], None] | None = None
) -> dict[str, Any]:
    """Each row's outcome without writing a contact; stored on imp.preview and returned."""
    with import_reading.fewer_collections():
        return _dry_run(session, pm, imp, progress)


def _dry_run(session: Session, pm, imp: Import, progress) -> dict[str, Any]:
    planner = _planner(session, imp, dry=True)
    counts: Counter = Counter()
    shown: list[dict[str, Any]] = []
    errors: list[dict[str, Any]] = []
    total = 0
    try:
        for batch in _row_batches(pm, imp, planner, BATCH):
            for r in planner.plan(batch):
                counts[r.action] += 1
                if r.action == "create" and r.state and r.state.duplicate_of:
                    counts["duplicate"] += 1
                entry = {
                    "row": r.row,
                    "action": r.action,
                    "name": _display(r.draft),
                    "reason": r.error,
                    "duplicate_of": r.state.duplicate_of if r.state else None,
                    "detail": r.draft.get("_detail", ""),
                }
                if len(shown) < PREVIEW_ROWS:
                    shown.append(entry)
                if r.action == "error" and len(errors) < PREVIEW_ROWS:
                    errors.append(entry)
            total = batch[-1][0]
            session.rollback()  # nothing was written; end the read transaction per batch
            if progress:
                progress(total)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise _read_problem(exc) from None
    imp = session.get(Import, imp.id)
    imp.preview = {"counts": dict(counts), "total": total, "rows": shown, "errors": errors}
    return imp.preview


# --- run ----------------------------------------------------------------------------


def run(
    session: Session,
    pm,
    import_id: int,
    user_id: int | None,
    progress: Callable[[int, int | None], None] | None = None,
    batch_size: int = BATCH,
) -> dict[str, Any]:
    """Import the rows after imp.committed_row, batch by batch; returns the counts."""
    with import_reading.fewer_collections():
        return _run(session, pm, import_id, user_id, progress, batch_size)


def _run(session: Session, pm, import_id: int, user_id, progress, batch_size) -> dict[str, Any]:
    imp = session.get(Import, import_id)
    if imp.status in ("done", "undoing", "undone"):
        return dict(imp.counts)
    imp.status, imp.error = "running", ""
    session.commit()
    total = (imp.preview or {}).get("total")
    start = imp.committed_row
    planner = _planner(session, imp, dry=False)
    try:
        for batch in _row_batches(pm, imp, planner, batch_size, after=start, ahead=True):
            with _small_page_cache(session):
                rows = planner.plan(batch)
                if is_purchases(imp):
                    counts = purchase_import.write(session, imp, rows, user_id, insert_rows)
                else:
                    counts = _write(session, imp, rows, user_id)
            imp = session.get(Import, import_id)
            merged = Counter(imp.counts or {})
            merged.update(counts)
            imp.counts = dict(merged)
            imp.committed_row = batch[-1][0]
            if progress:  # a job's progress commits: the batch goes in the same commit
                progress(imp.committed_row, total)
            session.commit()
    except (UnicodeDecodeError, csv.Error) as exc:
        raise _read_problem(exc) from None
    imp = session.get(Import, import_id)
    imp.status, imp.finished_at = "done", utcnow()
    for action in ACTIONS:
        imp.counts = {action: 0, **imp.counts}
    session.commit()
    return dict(imp.counts)


@contextmanager
def _small_page_cache(session: Session) -> Iterator[None]:
    """A smaller SQLite page cache while an import's batch is written or checked for
    duplicates. The app's is 64 MB per connection, for the list pages; the import would fill
    it (a 1M-row import: 248 -> 197 MB peak, no slower; bench/import.py)."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    before = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql(f"PRAGMA cache_size=-{IMPORT_CACHE_KIB}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size={int(before)}")


def check_duplicates(
    session: Session,
    pm,
    import_id: int,
    progress: Callable[[int, int | None], None] | None = None,
) -> int:
    """Run the duplicate finder (core.dedup) over the contacts an import created or updated,
    a batch per transaction; returns how many were checked. The import's own report is
    ready before this: its rows are in, and the finder's pairs follow (docs/importing.md)."""
    imp = session.get(Import, import_id)
    if is_purchases(imp):  # its items are purchases; their contacts were not changed
        return 0
    import_reading.pin_malloc_threshold()
    total = items_count(session, imp, "create") + items_count(session, imp, "update")
    big_keys: set[str] = set()  # finder keys past the block cap: not counted again per batch
    checked = 0
    for action in ("create", "update"):  # each a range of the (import, action, row) index
        last_row = 0
        while True:
            items = session.execute(
                select(ImportItem.row, ImportItem.contact_id)
                .where(
                    ImportItem.import_id == import_id,
                    ImportItem.action == action,
                    ImportItem.row > last_row,
                )
                .order_by(ImportItem.row)
                .limit(FINDER_BATCH)
            ).all()
            if not items:
                break
            ids = {i.contact_id for i in items if i.contact_id is not None}
            with _small_page_cache(session):
                dedup.check_contacts(session, ids, pm, big_keys=big_keys)
            session.commit()
            checked += len(items)
            last_row = items[-1].row
            if progress:
                progress(checked, total)
    return checked


def mark_failed(session: Session, import_id: int, error: str) -> None:
    session.rollback()
    imp = session.get(Import, import_id)
    if imp is not None:
        imp.status, imp.error = "failed", error[:2000]
        session.commit()


def _history_value(name: str, value: Any) -> Any:
    if name in ("emails", "phones"):
        return [i.display() for i in value]
    return history.jsonable(value)


def _tag_ids(session: Session, names: set[str]) -> dict[str, int]:
    """fold(name) -> tag id, creating the tags that do not exist yet."""
    keys = {fold(n): n for n in names}
    ids = dict(
        session.execute(select(Tag.name_key, Tag.id).where(Tag.name_key.in_(list(keys)))).all()
    )
    for key, name in keys.items():
        if key not in ids:
            ids[key] = tags_core.get_or_create(session, name).id
    return ids


def _contact_row(values: dict[str, Any], now, user_id, version: int = 1) -> dict[str, Any]:
    row = {name: values.get(name) for name in contacts_core.SIMPLE_FIELDS}
    for name in contacts_core.TEXT_FIELDS:
        row[name] = row[name] or ""
    row.update(
        custom=values["custom"],
        external_id=values.get("external_id"),
        sort_name=contacts_core.sort_name(
            row["last_name"], row["first_name"], row["middle_name"], row["company"]
        ),
        company_key=fold(row["company"])[:200],
    )
    return row


def _national(e164: str) -> str:
    """The national number of a valid E.164 number, as phonenumbers.parse gives it (country
    codes are prefix-free), without parsing it again."""
    for size in (1, 2, 3):
        if int(e164[1 : 1 + size]) in COUNTRY_CODE_TO_REGION_CODE:
            return str(int(e164[1 + size :] or 0))
    return ""


def _tokens(values: dict[str, Any]) -> set[str]:
    """search.contact_tokens of the contact; phone tokens made here (the same ones: the
    digits and the national number), because parsing every number again costs more than
    all the rest."""
    tokens = contact_tokens(
        values.get("first_name") or "",
        values.get("last_name") or "",
        values.get("middle_name") or "",
        values.get("company") or "",
        [i.value for i in values["emails"]],
        (),
    )
    for item in values["phones"]:
        tokens.add(item.value.lstrip("+")[:MAX_TOKEN])
        national = _national(item.value)
        if national:
            tokens.add(national)
    return tokens


def _token_rows(contact_id: int, values: dict[str, Any]) -> list[dict[str, Any]]:
    # The tokens carry the contact's sort_name (see contacts.refresh_tokens).
    name = contacts_core.sort_name(
        values.get("last_name") or "",
        values.get("first_name") or "",
        values.get("middle_name") or "",
        values.get("company") or "",
    )
    return [{"contact_id": contact_id, "token": t, "sort_name": name} for t in _tokens(values)]


def _write(session: Session, imp: Import, rows: list[_Row], user_id: int | None) -> Counter:
    """Write one batch (in the caller's transaction); return its counts."""
    now = utcnow()
    created = [s for s in {id(r.state): r.state for r in rows if r.action == "create"}.values()]
    updated = {
        id(r.state): r.state
        for r in rows
        if r.state is not None and r.state.contact_id is not None and r.state.changed
    }.values()
    all_tags = {t for s in [*created, *updated] for t in s.values["tags"]}
    tag_ids = _tag_ids(session, all_tags) if all_tags else {}
    emails, phones, tokens, tagged, entries = [], [], [], [], []
    label = f"{imp.filename} (#{imp.id})"
    if created:
        contact_rows = []
        for state in created:
            row = _contact_row(state.values, now, user_id)
            row.update(
                is_archived=False,
                created_at=now,
                updated_at=now,
                created_by_id=user_id,
                version=1,
            )
            contact_rows.append(row)
        ids = insert_rows(session, Contact.__table__, contact_rows, returning_ids=True)
        for state, contact_id in zip(created, ids, strict=True):
            state.contact_id = contact_id
            v = state.values
            emails += [
                {
                    "contact_id": contact_id,
                    "email": i.value,
                    "label": i.label,
                    "is_primary": i.primary,
                    "is_valid": i.valid,
                }
                for i in v["emails"]
            ]
            phones += [
                {
                    "contact_id": contact_id,
                    "e164": i.value,
                    "label": i.label,
                    "is_primary": i.primary,
                    "is_valid": i.valid,
                }
                for i in v["phones"]
            ]
            tokens += _token_rows(contact_id, v)
            tagged += [{"contact_id": contact_id, "tag_id": tag_ids[fold(t)]} for t in v["tags"]]
            entries.append(
                {
                    "contact_id": contact_id,
                    "user_id": user_id,
                    "at": now,
                    "action": "import",
                    "version": 1,
                    "changes": {"import": [None, label]},
                }
            )
    befores: dict[int, dict[str, Any]] = {}
    for state in updated:
        before, changes = _changes(state, tag_ids)
        befores[state.contact_id] = before
        values = state.values
        row = _contact_row(values, now, user_id)
        row["updated_at"] = now
        table = Contact.__table__
        result = session.execute(
            update(table)
            .where(table.c.id == state.contact_id, table.c.version == state.version)
            .values(**row, version=state.version + 1)
        )
        if result.rowcount != 1:
            raise RuntimeError(
                f"contact #{state.contact_id} changed during the import; run it again"
            )
        cid = state.contact_id
        orig = state.original
        for key, _model, column in (
            ("emails", ContactEmail, "email"),
            ("phones", ContactPhone, "e164"),
        ):
            have = {i.value for i in orig[key]}
            rows_ = [
                {
                    "contact_id": cid,
                    column: i.value,
                    "label": i.label,
                    "is_primary": i.primary,
                    "is_valid": i.valid,
                }
                for i in values[key]
                if i.value not in have
            ]
            (emails if key == "emails" else phones).extend(rows_)
        if {"first_name", "last_name", "middle_name", "company", "emails", "phones"} & set(changes):
            session.execute(delete(SearchToken).where(SearchToken.contact_id == cid))
            tokens += _token_rows(cid, values)
        for tag_id in before.get("tags_added", ()):
            tagged.append({"contact_id": cid, "tag_id": tag_id})
        changes["import"] = [None, label]
        entries.append(
            {
                "contact_id": cid,
                "user_id": user_id,
                "at": now,
                "action": "import",
                "version": state.version + 1,
                "changes": changes,
            }
        )
    for table, rows_ in (
        (ContactEmail.__table__, emails),
        (ContactPhone.__table__, phones),
        (SearchToken.__table__, tokens),
        (ContactHistory.__table__, entries),
        (contact_tags, tagged),
    ):
        insert_rows(session, table, rows_)
    counts: Counter = Counter()
    items = []
    first_row: dict[int, int] = {}
    for r in rows:
        counts[r.action] += 1
        item = {
            "import_id": imp.id,
            "row": r.row,
            "contact_id": r.state.contact_id if r.state else None,
            "action": r.action,
            "before": None,
            "reason": r.error,
            "data": None,
        }
        if r.action == "error":
            data = r.draft.get("_data")
            item["data"] = {"cells": data} if isinstance(data, list) else {"draft": _plain(r.draft)}
        elif r.action == "create" and r.state.duplicate_of:
            counts["duplicate"] += 1
            item["reason"] = _("possible duplicate of #%(id)s", id=r.state.duplicate_of)
        elif r.action == "update" and r.state.contact_id in befores:
            if r.state.contact_id not in first_row:
                first_row[r.state.contact_id] = r.row
                item["before"] = befores[r.state.contact_id]
        items.append(item)
    insert_rows(session, ImportItem.__table__, items)
    return counts


def _plain(draft: dict[str, Any]) -> dict[str, Any]:
    return {k: history.jsonable(v) for k, v in draft.items() if not k.startswith("_")}


def _item_list(items: list) -> list[list]:
    return [[i.value, i.label, i.primary] for i in items]


def _changes(state: _State, tag_ids: dict[str, int]) -> tuple[dict, dict]:
    """(before for undo, history changes) of an updated contact."""
    orig, values = state.original, state.values
    before: dict[str, Any] = {}
    changes: dict[str, list] = {}
    for name in (*contacts_core.SIMPLE_FIELDS, "external_id"):
        if orig.get(name) != values.get(name):
            before[name] = [history.jsonable(orig.get(name)), history.jsonable(values.get(name))]
            changes[name] = before[name]
    for name in ("emails", "phones"):
        have = {i.value for i in orig[name]}
        added = [i.value for i in values[name] if i.value not in have]
        if added:
            before[f"{name}_added"] = added
            changes[name] = [
                _history_value(name, orig[name]),
                _history_value(name, values[name]),
            ]
    custom = {}
    for key, value in values["custom"].items():
        if orig["custom"].get(key) != value:
            custom[key] = [orig["custom"].get(key), value]
            changes[f"custom.{key}"] = custom[key]
    if custom:
        before["custom"] = custom
    have_tags = {fold(t) for t in orig["tags"]}
    added_tags = [t for t in values["tags"] if fold(t) not in have_tags]
    if added_tags:
        before["tags_added"] = [tag_ids[fold(t)] for t in added_tags]
        changes["tags"] = [None, ", ".join(added_tags)]
    return before, changes


# --- report -------------------------------------------------------------------------


def rejected_csv(session: Session, imp: Import) -> Iterator[str]:
    """The rejected rows as CSV (the file's own columns, then row and reason), streamed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    headers = imp.options.get("headers")
    writer.writerow([*(headers or ["data"]), "row", "reason"])
    yield "\ufeff" + buffer.getvalue()  # a BOM, so Excel reads UTF-8
    last = 0
    while True:
        items = session.execute(
            select(ImportItem.row, ImportItem.reason, ImportItem.data)
            .where(
                ImportItem.import_id == imp.id, ImportItem.action == "error", ImportItem.row > last
            )
            .order_by(ImportItem.row)
            .limit(1000)
        ).all()
        if not items:
            return
        buffer.seek(0)
        buffer.truncate()
        for row, reason, data in items:
            data = data or {}
            if headers is not None:
                cells = list(data.get("cells") or [])
                cells += [""] * (len(headers) - len(cells))
            else:
                cells = [str(data.get("draft") or data)]
            writer.writerow([*cells, row, reason])
        last = items[-1].row
        yield buffer.getvalue()


def items_count(session: Session, imp: Import, action: str) -> int:
    return session.scalar(
        select(func.count())
        .select_from(ImportItem)
        .where(ImportItem.import_id == imp.id, ImportItem.action == action)
    )


def imports_page(session: Session, limit: int = 50) -> list[Import]:
    return list(session.scalars(select(Import).order_by(Import.id.desc()).limit(limit)))


# --- undo ---------------------------------------------------------------------------


def undo(session: Session, import_id: int, user_id: int | None) -> dict[str, int]:
    """Delete the contacts the import created; restore the fields it changed where they
    still hold the imported value (a later edit by a person is kept). Batched, resumable."""
    imp = session.get(Import, import_id)
    imp.status = "undoing"
    session.commit()
    if is_purchases(imp):
        result = purchase_import.undo(session, imp, user_id)
        imp = session.get(Import, import_id)
        imp.status, imp.undone_at = "undone", utcnow()
        imp.counts = {**imp.counts, "undo_deleted": result["deleted"]}
        imp.counts = {**imp.counts, "undo_demoted": result["demoted"]}
        session.commit()
        return result
    deleted = restored = 0
    while True:
        ids = list(
            session.scalars(
                select(ImportItem.contact_id)
                .where(
                    ImportItem.import_id == import_id,
                    ImportItem.action == "create",
                    ImportItem.contact_id.is_not(None),
                )
                .limit(BATCH)
            )
        )
        if not ids:
            break
        # ON DELETE SET NULL on import_items marks them done.
        session.execute(delete(Contact).where(Contact.id.in_(ids)))
        deleted += len(ids)
        session.commit()
    items = session.execute(
        select(ImportItem.id, ImportItem.contact_id, ImportItem.before)
        .where(
            ImportItem.import_id == import_id,
            ImportItem.action == "update",
            ImportItem.before.is_not(None),
            ImportItem.contact_id.is_not(None),
        )
        .order_by(ImportItem.row.desc())
    ).all()
    for item_id, contact_id, before in items:
        contact = contacts_core.load_contact(session, contact_id)
        if contact is not None and before and _restore(session, contact, before, user_id):
            restored += 1
        session.execute(update(ImportItem).where(ImportItem.id == item_id).values(before=None))
        session.commit()
    imp = session.get(Import, import_id)
    imp.status, imp.undone_at = "undone", utcnow()
    imp.counts = {**imp.counts, "undo_deleted": deleted, "undo_restored": restored}
    session.commit()
    return {"deleted": deleted, "restored": restored}


def _restore(session: Session, contact: Contact, before: dict[str, Any], user_id) -> bool:
    changes: dict[str, tuple[Any, Any]] = {}
    for name in (*contacts_core.SIMPLE_FIELDS, "external_id"):
        if name not in before:
            continue
        old, new = before[name]
        current = history.jsonable(getattr(contact, name))
        if current == new:
            if name == "birth_date" and old:
                old = date.fromisoformat(old)
            setattr(contact, name, old)
            changes[name] = (new, history.jsonable(old))
    for name, rel, column in (("emails", "emails", "email"), ("phones", "phones", "e164")):
        added = set(before.get(f"{name}_added") or ())
        if not added:
            continue
        items = getattr(contact, rel)
        keep = [i for i in items if getattr(i, column) not in added]
        if len(keep) != len(items):
            was = [getattr(i, column) for i in items]
            if keep and not any(i.is_primary for i in keep):
                keep[0].is_primary = True
            setattr(contact, rel, keep)
            changes[name] = (was, [getattr(i, column) for i in keep])
    custom = dict(contact.custom or {})
    for key, (old, new) in (before.get("custom") or {}).items():
        if custom.get(key) == new:
            if old is None:
                custom.pop(key, None)
            else:
                custom[key] = old
            changes[f"custom.{key}"] = (new, old)
    if custom != (contact.custom or {}):
        contact.custom = custom
    removed = []
    for tag in list(contact.tags):
        if tag.id in set(before.get("tags_added") or ()):
            contact.tags.remove(tag)
            removed.append(tag.name)
    if removed:
        changes["tags"] = (", ".join(removed), None)
    if not changes:
        return False
    contact.sort_name = contacts_core.sort_name(
        contact.last_name, contact.first_name, contact.middle_name, contact.company
    )
    contact.company_key = fold(contact.company)[:200]
    contact.updated_at = utcnow()
    session.flush()
    contacts_core.refresh_tokens(session, contact)
    history.record(session, contact.id, user_id, "import_undo", changes, contact.version)
    return True
