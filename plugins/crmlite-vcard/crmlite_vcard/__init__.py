"""crmlite-vcard: import vCard 2.1/3.0/4.0 files and export contacts as vCard 3.0."""

from typing import Any

from crmlite import hookimpl

from .reader import read_vcards
from .writer import iter_vcards, write_vcards

__version__ = "0.1.0"

__all__ = ["VCardExporter", "VCardImporter", "read_vcards", "write_vcards"]


class VCardImporter:
    name = "vcard"
    label = "vCard (.vcf)"
    extensions = [".vcf", ".vcard"]

    def parse(self, stream: Any, options: dict | None = None):
        """Contact drafts, one per card; options["encoding"] overrides the 8-bit fallback."""
        return read_vcards(stream, encoding=(options or {}).get("encoding") or None)


class VCardExporter:
    name = "vcard"
    label = "vCard (.vcf)"
    extension = ".vcf"
    mimetype = "text/vcard"

    def write(self, rows: Any, stream: Any, options: dict | None = None) -> int:
        """rows: contact records (crmlite.core.exporting) or Contact objects; stream: binary
        (UTF-8 is written) or text."""
        return write_vcards(rows, stream)

    def chunks(self, rows: Any, options: dict | None = None):
        """The same vCards as UTF-8 bytes, a few hundred contacts at a time, for streaming."""
        return iter_vcards(rows)


@hookimpl
def register_importers() -> list[Any]:
    return [VCardImporter()]


@hookimpl
def register_exporters() -> list[Any]:
    return [VCardExporter()]


@hookimpl
def detect_importer(filename: str, sample: bytes) -> str | None:
    if (filename or "").lower().endswith((".vcf", ".vcard")):
        return "vcard"
    head = sample or b""
    for bom, encoding in (
        (b"\xef\xbb\xbf", "utf-8"),
        (b"\xff\xfe", "utf-16-le"),
        (b"\xfe\xff", "utf-16-be"),
    ):
        if head.startswith(bom):
            head = head[len(bom) :].decode(encoding, errors="ignore").encode()
            break
    else:
        if head[:1] == b"\x00" or head[1:2] == b"\x00":  # UTF-16 without a BOM
            head = head.replace(b"\x00", b"")
    return "vcard" if head.lstrip().upper().startswith(b"BEGIN:VCARD") else None
