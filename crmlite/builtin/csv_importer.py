"""The builtin CSV importer: detects the encoding and the separator, maps the columns.

Russian Excel saves "CSV" as Windows-1251 with ';'; Google Contacts as UTF-8 (with a BOM
from some tools); Outlook and older Google exports as UTF-16. All of them are read as a
stream: a csv reader over a text wrapper, never the whole file in memory.
"""

import codecs
import csv
import io
from collections.abc import Iterator
from typing import IO, Any

from crmlite import hookimpl
from crmlite.core.import_mapping import auto_map, drafts_from_rows

SAMPLE_SIZE = 64 * 1024
DELIMITERS = (",", ";", "\t")
# A cell may be long (notes), but not without bound.
csv.field_size_limit(1024 * 1024)


def detect_encoding(sample: bytes) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(sample) >= 4:
        # UTF-16 without a BOM: mostly-ASCII text has a zero in every other byte.
        half = len(sample) // 2
        even, odd = sample[0::2].count(0), sample[1::2].count(0)
        if odd > half * 0.4 and even < half * 0.05:
            return "utf-16-le"
        if even > half * 0.4 and odd < half * 0.05:
            return "utf-16-be"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 3 and exc.reason.startswith("unexpected end"):
            return "utf-8"  # the sample cut a character in two
    # One byte per character. Russian words are runs of bytes >= 0xC0 in Windows-1251;
    # Western text (Windows-1252) has an accented letter here and there between ASCII.
    high = paired = 0
    previous = 0
    for byte in sample:
        if byte >= 0xC0:
            high += 1
            if previous >= 0xC0:
                paired += 1
        previous = byte
    if high and paired * 2 >= high:
        return "cp1251"
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def detect_delimiter(text: str) -> str:
    """The separator that splits the first lines into the same, largest number of cells."""
    lines = text.splitlines(keepends=True)
    if len(lines) > 1:
        lines = lines[:-1]  # the sample may end in the middle of a line
    lines = lines[:50]
    best, best_score = ",", (False, 0, 0)
    for delimiter in DELIMITERS:
        try:
            rows = [r for r in csv.reader(io.StringIO("".join(lines)), delimiter=delimiter) if r]
        except csv.Error:
            continue
        if not rows:
            continue
        width = len(rows[0])
        same = sum(1 for r in rows if len(r) == width)
        score = (width > 1, same, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


class CsvImporter:
    name = "csv"
    label = "CSV"
    extensions = (".csv", ".txt", ".tsv")
    tabular = True

    def sniff(self, sample: bytes) -> dict[str, Any]:
        """The encoding and separator of a file, from its first bytes."""
        encoding = detect_encoding(sample)
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        return {"encoding": encoding, "delimiter": detect_delimiter(decoder.decode(sample))}

    def table(self, stream: IO[bytes], options: dict[str, Any]) -> tuple[list[str], Iterator]:
        """(headers, rows): rows is a lazy iterator of lists of cells; blank rows skipped."""
        if not options.get("encoding") or not options.get("delimiter"):
            sample = stream.read(SAMPLE_SIZE)
            stream.seek(0)
            options = {**self.sniff(sample), **{k: v for k, v in options.items() if v}}
        text = io.TextIOWrapper(stream, encoding=options["encoding"], newline="")
        reader = csv.reader(text, delimiter=options["delimiter"])
        headers = next(reader, [])
        if headers and headers[0].startswith("\ufeff"):
            headers[0] = headers[0][1:]
        rows = (row for row in reader if any(cell.strip() for cell in row))
        return headers, rows

    def parse(self, stream: IO[bytes], options: dict[str, Any]) -> Iterator[dict[str, Any]]:
        headers, rows = self.table(stream, options)
        mapping = options.get("mapping") or auto_map(headers, options.get("custom_keys", ()))
        yield from drafts_from_rows(rows, mapping, len(headers))


@hookimpl
def register_importers() -> list[Any]:
    return [CsvImporter()]


@hookimpl
def detect_importer(filename: str, sample: bytes) -> str | None:
    if filename.lower().endswith(CsvImporter.extensions):
        return "csv"
    return None
