"""The builtin CSV exporter: what crmlite's own CSV importer reads back losslessly.

One row per contact; e-mails and phones in numbered columns (email_1, email_1_label, ...;
the first is the primary), tags in one cell, custom fields as custom.KEY columns. UTF-8
with a BOM, so Excel opens Cyrillic correctly.
"""

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date
from typing import IO, Any

from crmlite import hookimpl

BASE_COLUMNS = (
    "external_id",
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
    "owner",
    "tags",
    "notes",
)


def join_tags(names: list[str]) -> str:
    # "; " reads well; a tag name with ; or , in it is written one per line instead,
    # which the importer splits on first.
    if any(";" in n or "," in n for n in names):
        return "\n".join(names)
    return "; ".join(names)


class CsvExporter:
    name = "csv"
    label = "CSV"
    extension = "csv"
    mimetype = "text/csv"

    def header(self, options: dict[str, Any]) -> list[str]:
        columns = list(BASE_COLUMNS)
        for kind, count in (
            ("email", options.get("max_emails", 1)),
            ("phone", options.get("max_phones", 1)),
        ):
            for n in range(1, count + 1):
                columns += [f"{kind}_{n}", f"{kind}_{n}_label"]
        columns += [f"custom.{key}" for key in options.get("custom_keys", ())]
        return columns

    def cells(self, row: dict[str, Any], options: dict[str, Any]) -> list[str]:
        cells = []
        for name in BASE_COLUMNS:
            value = row.get(name)
            if name == "tags":
                value = join_tags(value or [])
            elif isinstance(value, date):
                value = value.isoformat()
            cells.append("" if value is None else str(value))
        for kind, count in (
            ("emails", options.get("max_emails", 1)),
            ("phones", options.get("max_phones", 1)),
        ):
            items = sorted(row.get(kind) or [], key=lambda i: not i.get("primary"))
            for n in range(count):
                item = items[n] if n < len(items) else {}
                cells += [item.get("value", ""), item.get("label", "") if item else ""]
        custom = row.get("custom") or {}
        cells += [
            "" if custom.get(k) is None else str(custom[k]) for k in options.get("custom_keys", ())
        ]
        return cells

    def chunks(self, rows: Iterable[dict[str, Any]], options: dict[str, Any]) -> Iterator[bytes]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(self.header(options))
        yield ("\ufeff" + buffer.getvalue()).encode("utf-8")
        n = 0
        for row in rows:
            if n == 0:
                buffer.seek(0)
                buffer.truncate()
            writer.writerow(self.cells(row, options))
            n += 1
            if n == 500:
                yield buffer.getvalue().encode("utf-8")
                n = 0
        if n:
            yield buffer.getvalue().encode("utf-8")

    def write(
        self,
        rows: Iterable[dict[str, Any]],
        stream: IO[bytes],
        options: dict[str, Any] | None = None,
    ) -> None:
        for chunk in self.chunks(rows, options or {}):
            stream.write(chunk)


@hookimpl
def register_exporters() -> list[Any]:
    return [CsvExporter()]
