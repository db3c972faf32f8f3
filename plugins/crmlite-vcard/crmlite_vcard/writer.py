"""crmlite contacts as vCard 3.0 (RFC 2426), which the importer reads back.

Written by hand rather than through vobject: the format is a few escaped lines per contact, and
an export of a million contacts should not build a million vobject trees.
"""

import re
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO, TextIO

# crmlite label -> vCard TYPE values (3.0); other labels go out as iPhone-style item labels.
EMAIL_TYPES = {"work": "INTERNET,WORK", "personal": "INTERNET,HOME", "other": "INTERNET,OTHER"}
FIELDS = (
    "id",
    "first_name",
    "last_name",
    "middle_name",
    "company",
    "position",
    "address",
    "city",
    "country",
    "birth_date",
    "gender",
    "notes",
    "external_id",
)
GENDERS = {"male": "male", "female": "female", "other": "other"}  # read back from X-GENDER
PHONE_TYPES = {
    "mobile": "CELL,VOICE",
    "work": "WORK,VOICE",
    "home": "HOME,VOICE",
    "other": "OTHER,VOICE",
}


def escape(value: Any) -> str:
    text = str(value or "")
    text = text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")


def fold(line: str) -> str:
    """Lines longer than 75 octets go on after CRLF + space, never inside a character."""
    data = line.encode("utf-8")
    if len(data) <= 75:
        return line + "\r\n"
    out, chunk, size, limit = [], [], 0, 75
    # A backslash escape ("\\n", "\\;") stays on one line: some readers do not rejoin it.
    for char in re.findall(r"\\.|.", line, re.DOTALL):
        width = len(char.encode("utf-8"))
        if size + width > limit:
            out.append("".join(chunk))
            chunk, size, limit = [], 0, 74  # the leading space takes one octet
        chunk.append(char)
        size += width
    out.append("".join(chunk))
    return "\r\n ".join(out) + "\r\n"


def as_record(row: Any) -> dict[str, Any]:
    """A contact record (crmlite.core.exporting's dict) from a record or a Contact object."""
    if isinstance(row, dict):
        return row
    record = {name: getattr(row, name, None) for name in FIELDS}
    record["emails"] = [
        {"value": e.email, "label": e.label, "primary": e.is_primary} for e in row.emails
    ]
    record["phones"] = [
        {"value": p.e164, "label": p.label, "primary": p.is_primary} for p in row.phones
    ]
    record["tags"] = [t.name for t in row.tags]
    return record


def contact_to_vcard(row: Any) -> str:
    """One contact (a record dict or a Contact with emails, phones and tags loaded)."""
    c = as_record(row)
    get = lambda name: c.get(name) or ""  # noqa: E731
    lines = ["BEGIN:VCARD", "VERSION:3.0"]
    names = (get("last_name"), get("first_name"), get("middle_name"))
    lines.append("N:" + ";".join(escape(n) for n in names) + ";;")
    full = " ".join(n for n in (names[1], names[2], names[0]) if n)
    lines.append("FN:" + escape(full or get("company") or f"#{get('id')}"))
    if get("company"):
        lines.append("ORG:" + escape(get("company")))
    if get("position"):
        lines.append("TITLE:" + escape(get("position")))
    item = 0
    for prop, items, types in (
        ("EMAIL", c.get("emails") or [], EMAIL_TYPES),
        ("TEL", c.get("phones") or [], PHONE_TYPES),
    ):
        for entry in items:
            value, label = entry["value"], entry.get("label") or ""
            pref = ",PREF" if entry.get("primary") else ""
            if label in types or not label:
                lines.append(f"{prop};TYPE={types.get(label, types['other'])}{pref}:{value}")
            else:
                item += 1
                base = "INTERNET" if prop == "EMAIL" else "VOICE"
                lines.append(f"item{item}.{prop};TYPE={base}{pref}:{value}")
                lines.append(f"item{item}.X-ABLabel:{escape(label)}")
    if get("address") or get("city") or get("country"):
        parts = ("", "", get("address"), get("city"), "", "", get("country"))
        lines.append("ADR:" + ";".join(escape(p) for p in parts))
    born = c.get("birth_date")
    if born:
        lines.append("BDAY:" + (born.isoformat() if hasattr(born, "isoformat") else str(born)))
    if get("gender") in GENDERS:
        lines.append("X-GENDER:" + GENDERS[get("gender")])
    if get("notes"):
        lines.append("NOTE:" + escape(get("notes")))
    if c.get("tags"):
        lines.append("CATEGORIES:" + ",".join(escape(t) for t in c["tags"]))
    if get("external_id"):
        lines.append("UID:" + escape(get("external_id")))
    lines.append("END:VCARD")
    return "".join(fold(line) for line in lines)


def iter_vcards(rows: Iterable[Any], batch: int = 200) -> Iterator[bytes]:
    """UTF-8 bytes of the cards, a few hundred contacts per chunk."""
    cards: list[str] = []
    for row in rows:
        cards.append(contact_to_vcard(row))
        if len(cards) >= batch:
            yield "".join(cards).encode("utf-8")
            cards = []
    if cards:
        yield "".join(cards).encode("utf-8")


def write_vcards(rows: Iterable[Any], stream: TextIO | BinaryIO) -> int:
    """Write every contact to a binary (UTF-8) or text stream; returns how many."""
    try:
        stream.write("")
        text = True
    except TypeError:
        text = False  # a binary stream
    count = 0
    for row in rows:
        card = contact_to_vcard(row)
        stream.write(card if text else card.encode("utf-8"))
        count += 1
    return count
