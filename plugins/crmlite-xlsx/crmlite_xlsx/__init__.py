"""crmlite-xlsx: import contacts from Excel workbooks (.xlsx) with openpyxl in read-only mode.

The importer is "tabular" like the builtin CSV importer: table() gives the headers and a lazy
iterator of rows of text cells, and crmlite's column mapping (crmlite.core.import_mapping)
turns them into contact drafts, so Google, Outlook and Russian headers map the same way.
"""

import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from datetime import date, datetime, time
from decimal import Decimal
from typing import IO, Any

from crmlite import hookimpl
from crmlite.core.i18n import _
from crmlite.core.import_mapping import auto_map, drafts_from_rows

__version__ = "0.1.0"

EXTENSIONS = (".xlsx", ".xlsm")


class NotAWorkbook(ValueError):
    """The file is not an .xlsx workbook openpyxl can read."""


def cell_text(value: Any) -> str:
    """A cell as the text a person sees: dates as ISO dates, 79161234567.0 as 79161234567."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))  # phone numbers and ids typed as numbers
        return format(Decimal(repr(value)), "f")  # never 1e-05
    return str(value).strip()


def _seekable(stream: IO[bytes]) -> IO[bytes]:
    # A .xlsx is a ZIP: its directory is at the end, so openpyxl needs to seek.
    try:
        if stream.seekable():
            return stream
    except AttributeError:
        pass
    copy = tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024)
    shutil.copyfileobj(stream, copy)
    copy.seek(0)
    return copy


def _open_first_sheet(stream: IO[bytes]):
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        workbook = load_workbook(_seekable(stream), read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise NotAWorkbook(
            _(
                "This file is not an Excel workbook (.xlsx) that can be read: %(reason)s",
                reason=exc,
            )
        ) from exc
    if not workbook.worksheets:
        workbook.close()
        raise NotAWorkbook(_("The workbook has no sheets."))
    sheet = workbook.worksheets[0]
    # Some programs write a wrong size ("A1") into the sheet; read-only mode would then cut
    # rows and columns short, silently. Read every cell that is there instead.
    sheet.reset_dimensions()
    return workbook, sheet


def iter_table(stream: IO[bytes]) -> tuple[list[str], Iterator[list[str]]]:
    """(headers, rows) of the first sheet; the first non-empty row is the header.

    Rows come lazily (read-only streaming) as lists of text cells; blank rows are skipped.
    The workbook is closed when the rows run out.
    """
    workbook, sheet = _open_first_sheet(stream)
    rows = sheet.iter_rows(values_only=True)
    headers: list[str] = []
    for raw in rows:
        cells = [cell_text(v) for v in raw]
        if any(cells):
            while cells and not cells[-1]:
                cells.pop()
            headers = cells
            break

    def data() -> Iterator[list[str]]:
        try:
            for raw in rows:
                cells = [cell_text(v) for v in raw]
                if any(cells):
                    yield cells
        finally:
            workbook.close()

    if not headers:
        workbook.close()
        return [], iter(())
    return headers, data()


class XlsxImporter:
    name = "xlsx"
    label = "Excel (.xlsx)"
    extensions = EXTENSIONS
    tabular = True

    def table(self, stream: IO[bytes], options: dict[str, Any]) -> tuple[list[str], Iterator]:
        """(headers, rows): rows is a lazy iterator of lists of text cells."""
        return iter_table(stream)

    def rows(self, stream: IO[bytes], options: dict[str, Any] | None = None) -> Iterator[dict]:
        """Each data row as {header: text}, for code that wants records rather than lists."""
        headers, rows = iter_table(stream)
        for cells in rows:
            yield {h: (cells[i] if i < len(cells) else "") for i, h in enumerate(headers) if h}

    def parse(self, stream: IO[bytes], options: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Contact drafts through crmlite's column mapping (options["mapping"] or automatic)."""
        options = options or {}
        headers, rows = self.table(stream, options)
        mapping = options.get("mapping") or auto_map(headers, options.get("custom_keys", ()))
        yield from drafts_from_rows(rows, mapping, len(headers))


@hookimpl
def register_importers() -> list[Any]:
    return [XlsxImporter()]


@hookimpl
def detect_importer(filename: str, sample: bytes) -> str | None:
    if (filename or "").lower().endswith(EXTENSIONS):
        return "xlsx"
    # An .xlsx is a ZIP whose first entries include the xl/ folder.
    if (sample or b"").startswith(b"PK\x03\x04") and b"xl/" in sample:
        return "xlsx"
    return None
