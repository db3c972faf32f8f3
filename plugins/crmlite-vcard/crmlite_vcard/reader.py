"""vCard files (2.1, 3.0, 4.0) into crmlite contact drafts; vobject does the parsing.

vobject reads 2.1 quoted-printable values, soft line breaks included, when their CHARSET is
right. This module only does what vobject cannot:
- the file's encoding: UTF-16 (with or without a BOM), UTF-8 (with or without a BOM), and
  8-bit lines that are not UTF-8 (read as cp1251 unless the caller names an encoding);
- quoted-printable values whose bytes are not in the declared charset, or that declare none
  (The Bat! writes Latin-2 or cp1251 bytes with no CHARSET): those lines are decoded here and
  handed to vobject as plain text;
- PHOTO, LOGO, SOUND and KEY are dropped before parsing: crmlite keeps no pictures, a broken
  base64 photo must not cost the whole card, and memory stays small.
The file is read card by card, so memory does not grow with the file.
"""

import codecs
import itertools
import logging
import quopri
import re
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO, TextIO

import vobject

from crmlite.core.i18n import _

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
FALLBACK_ENCODING = "cp1251"  # Russian Windows programs write 8-bit vCards in cp1251
DROPPED = {"PHOTO", "LOGO", "SOUND", "KEY"}
_BASE64_LINE = re.compile(r"[A-Za-z0-9+/=]+")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_LINE_BREAK_BYTES = re.compile(rb"\r\n|\r|\n")

# vCard TYPE values -> crmlite labels (the contact form's choices).
EMAIL_LABELS = {"work": "work", "home": "personal", "personal": "personal", "other": "other"}
PHONE_LABELS = {
    "cell": "mobile",
    "mobile": "mobile",
    "iphone": "mobile",
    "work": "work",
    "home": "home",
    "other": "other",
    "fax": "other",
    "pager": "other",
}
# Types that say nothing about whose address or number it is.
NEUTRAL_TYPES = {"pref", "internet", "x400", "voice", "msg", "text", "main", "video", "uri"}


# -- reading lines -------------------------------------------------------------------------


def _sniff(head: bytes) -> str | None:
    """The encoding a byte-order mark or the NUL pattern of the first bytes gives away."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if len(head) >= 2 and head[0] == 0 and head[1] != 0:
        return "utf-16-be"
    if len(head) >= 2 and head[0] != 0 and head[1] == 0:
        return "utf-16-le"
    return None


def _split(chunks: Iterable, pattern: re.Pattern, cr) -> Iterator:
    """Lines of a stream of chunks, whatever the line ends (CRLF, LF, CR, or mixed)."""
    rest = None
    for chunk in chunks:
        buffer = chunk if rest is None else rest + chunk
        # A CR at the very end may be the first half of a CRLF split across two chunks.
        held = cr if buffer.endswith(cr) else buffer[:0]
        parts = pattern.split(buffer[: len(buffer) - len(held)])
        rest = parts.pop() + held
        yield from parts
    if rest:
        parts = pattern.split(rest)
        yield from parts if parts[-1] else parts[:-1]


def _decode_line(raw: bytes, encoding: str | None) -> str:
    if encoding:
        return raw.decode(encoding, errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode(FALLBACK_ENCODING, errors="replace")


def iter_lines(stream: BinaryIO | TextIO, encoding: str | None = None) -> Iterator[str]:
    """Text lines of a binary or text stream, read in chunks."""
    chunks = iter(lambda: stream.read(CHUNK), b"")
    first = next(chunks, b"")
    if isinstance(first, str):
        texts = itertools.chain([first], iter(lambda: stream.read(CHUNK), ""))
        yield from _split(texts, _LINE_BREAK, "\r")
        return
    chunks = itertools.chain([first], chunks)
    sniffed = _sniff(first)
    if sniffed or (encoding and encoding.lower().replace("_", "-").startswith("utf-16")):
        decoder = codecs.getincrementaldecoder(sniffed or encoding)(errors="replace")
        texts = itertools.chain((decoder.decode(c) for c in chunks), [decoder.decode(b"", True)])
        for n, line in enumerate(_split(texts, _LINE_BREAK, "\r")):
            yield line.lstrip("\ufeff") if n == 0 else line
        return
    for n, raw in enumerate(_split(chunks, _LINE_BREAK_BYTES, b"\r")):
        if n == 0 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        yield _decode_line(raw, encoding)


# -- splitting cards and fixing what vobject cannot read ----------------------------------


def _property(line: str) -> tuple[str, str]:
    """(NAME without its group, the parameters part) of a content line."""
    head = line.split(":", 1)[0]
    name, _sep, params = head.partition(";")
    return name.rsplit(".", 1)[-1].strip().upper(), params


def iter_cards(lines: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """(line number where the card starts, its lines) for every BEGIN:VCARD ... END:VCARD."""
    card: list[str] | None = None
    start = depth = 0
    skipping = False
    for number, line in enumerate(lines, 1):
        word = line.strip().upper()
        if card is None:
            if word == "BEGIN:VCARD":
                card, start, depth, skipping = [word], number, 1, False
            continue  # text between cards is not part of any contact
        if skipping:
            # A dropped photo goes on with folded lines, bare base64 lines (2.1) or blank lines.
            if not word or line[:1] in " \t" or _BASE64_LINE.fullmatch(word):
                continue
            skipping = False
        if _property(line)[0] in DROPPED:
            skipping = True
            continue
        card.append(line)
        if word == "BEGIN:VCARD":
            depth += 1  # a 2.1 AGENT card inside this one
        elif word == "END:VCARD":
            depth -= 1
            if depth == 0:
                yield start, card
                card = None
    if card is not None:
        card.append("END:VCARD")  # a file cut short: keep what it has
        yield start, card


def _charset(params: str) -> str | None:
    match = re.search(r"CHARSET=([^;:]+)", params, re.IGNORECASE)
    if not match:
        return None
    try:
        return codecs.lookup(match.group(1).strip().strip('"')).name
    except LookupError:
        return None


def _plain_qp_line(logical: list[str], fallback: str) -> list[str]:
    """A quoted-printable property as vobject can read it.

    Kept as it is when its bytes decode in the declared charset (vobject decodes it then);
    otherwise decoded here and written back as plain text without ENCODING and CHARSET.
    """
    head, _sep, first_value = logical[0].partition(":")
    value = "\n".join([first_value, *logical[1:]])
    data = quopri.decodestring(value.encode("latin-1", errors="replace"))
    declared = _charset(head)
    try:
        data.decode(declared or "utf-8")
        return logical
    except UnicodeDecodeError:
        pass
    if declared:
        text = data.decode(declared, errors="replace")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode(fallback, errors="replace")
    name, *params = head.split(";")
    params = [
        p
        for p in params
        if p.strip().upper() not in ("QUOTED-PRINTABLE", "ENCODING=QUOTED-PRINTABLE")
        and not p.strip().upper().startswith("CHARSET=")
    ]
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    return [";".join([name, *params]) + ":" + text]


def fix_quoted_printable(lines: list[str], fallback: str = FALLBACK_ENCODING) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        params = _property(line)[1] if ":" in line else ""
        if "QUOTED-PRINTABLE" not in params.upper():
            out.append(line)
            i += 1
            continue
        logical = [line]
        # A soft line break: the line ends with "=" and the value goes on on the next line.
        while logical[-1].endswith("=") and i + 1 < len(lines) and lines[i + 1].strip():
            i += 1
            logical.append(lines[i])
        i += 1
        out.extend(_plain_qp_line(logical, fallback))
    return out


# -- one card into a draft ----------------------------------------------------------------


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return " ".join(_text(v) for v in value if _text(v))
    return " ".join(str(value or "").split())


def _lines(value: Any) -> str:
    """Multi-line text with "\n" line ends whatever the file used (2.1 notes carry CRLF)."""
    return str(value or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def _types(line: Any) -> set[str]:
    found: set[str] = set()
    for value in line.params.get("TYPE", []):
        found.update(t.strip().strip('"').lower() for t in value.split(","))
    found.update(p.strip().lower() for p in line.singletonparams)
    return found - {""}


def _is_pref(line: Any, types: set[str]) -> bool:
    return "pref" in types or "PREF" in line.params


def _apple_label(text: str) -> str:
    # iPhone and macOS write their standard labels as _$!<Mobile>!$_, custom ones as typed.
    match = re.fullmatch(r"_\$!<(.*)>!\$_", text.strip())
    return (match.group(1) if match else text).strip()


def _label(types: set[str], custom: str | None, table: dict[str, str]) -> str | None:
    if custom:
        word = custom.lower()
        return table.get(word, word)[:32]
    for vcard_type in ("cell", "mobile", "iphone", "fax", "pager", "work", "home", "personal"):
        if vcard_type in types and vcard_type in table:
            return table[vcard_type]
    if types - NEUTRAL_TYPES:
        return "other"
    return None  # no type: crmlite's default label


def _birthday(text: str) -> str | None:
    text = text.strip()
    if not text or text.startswith("--"):
        return None  # a birthday without a year cannot be a birth date
    match = re.match(r"(\d{4})-?(\d{2})-?(\d{2})(?:$|T)", text)
    if match:
        year, month, day = match.groups()
        if year in ("0000", "1604"):  # 1604: Apple's "year not set"
            return None
        return f"{year}-{month}-{day}"
    return text  # let validation say what is wrong with it


def _tags(value: Any) -> list[str]:
    # vobject splits on commas and keeps escaped ones ("a\\, b") inside a name, as the RFC says.
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    return [t for t in (_text(i) for i in items) if t]


def _phone(value: str) -> str:
    value = value.strip()
    if value.lower().startswith("tel:"):
        value = value[4:].split(";", 1)[0]  # vCard 4.0 URIs: tel:+1-555-555-1234;ext=5
    return value


def card_to_draft(card: Any) -> dict[str, Any]:
    """A parsed vobject card as a crmlite contact draft (only the fields the card has)."""
    draft: dict[str, Any] = {}
    lines = list(card.getChildren())
    labels = {
        line.group.lower(): _apple_label(str(line.value))
        for line in lines
        if line.name == "X-ABLABEL" and line.group
    }

    def first(name: str) -> Any:
        return next((line for line in lines if line.name == name), None)

    n = first("N")
    if n is not None and hasattr(n.value, "family"):
        for field, part in (
            ("last_name", n.value.family),
            ("first_name", n.value.given),
            ("middle_name", n.value.additional),
        ):
            if _text(part):
                draft[field] = _text(part)
    org = first("ORG")
    if org is not None:
        parts = org.value if isinstance(org.value, list) else [org.value]
        company = next((_text(p) for p in parts if _text(p)), "")
        if company:
            draft["company"] = company
    fn = first("FN")
    if fn is not None and not any(k in draft for k in ("first_name", "last_name")):
        words = _text(fn.value).split()
        # A company card (X-ABShowAs:COMPANY) has the company as its FN: no person's name.
        if words and " ".join(words) != draft.get("company"):
            draft["first_name"] = " ".join(words[:-1]) if len(words) > 1 else words[0]
            if len(words) > 1:
                draft["last_name"] = words[-1]
    title = first("TITLE") or first("ROLE")
    if title is not None and _text(title.value):
        draft["position"] = _text(title.value)

    for kind, table, clean in (
        ("EMAIL", EMAIL_LABELS, lambda v: v.strip()),
        ("TEL", PHONE_LABELS, _phone),
    ):
        items = []
        for line in lines:
            if line.name != kind or not str(line.value).strip():
                continue
            types = _types(line)
            item: dict[str, Any] = {"value": clean(str(line.value))}
            label = _label(types, labels.get((line.group or "").lower()), table)
            if label:
                item["label"] = label
            if _is_pref(line, types):
                item["primary"] = True
            items.append(item)
        if items:
            draft["emails" if kind == "EMAIL" else "phones"] = items

    adrs = [line for line in lines if line.name == "ADR" and hasattr(line.value, "street")]
    if adrs:
        adr = next((a for a in adrs if _is_pref(a, _types(a))), adrs[0]).value
        address = ", ".join(
            p for p in (_text(adr.street), _text(adr.extended), _text(adr.box)) if p
        )
        address = ", ".join(p for p in (address, _text(adr.region), _text(adr.code)) if p)
        for field, value in (("address", address), ("city", adr.city), ("country", adr.country)):
            if _text(value):
                draft[field] = _text(value)
    bday = first("BDAY")
    if bday is not None:
        born = _birthday(str(bday.value))
        if born:
            draft["birth_date"] = born
    notes = [_lines(line.value) for line in lines if line.name == "NOTE"]
    if any(notes):
        draft["notes"] = "\n\n".join(n for n in notes if n)
    uid = first("UID")
    if uid is not None and str(uid.value).strip():
        draft["external_id"] = str(uid.value).strip()
    tags: list[str] = []
    for line in lines:
        if line.name == "CATEGORIES":
            tags += [t for t in _tags(line.value) if t not in tags]
    if tags:
        draft["tags"] = tags
    gender = first("GENDER") or first("X-GENDER")
    if gender is not None:
        word = str(gender.value).split(";", 1)[0].strip().lower()
        sex = {"m": "male", "male": "male", "f": "female", "female": "female", "o": "other"}
        sex["other"] = "other"
        if word in sex:
            draft["gender"] = sex[word]
    return draft


def read_vcards(stream: BinaryIO | TextIO, encoding: str | None = None) -> Iterator[dict[str, Any]]:
    """Drafts for every card in the stream.

    Each draft also has "_card" (its number in the file) and "_line" (where it starts). A card
    vobject cannot read becomes {"_card", "_line", "_error": reason}: it is reported, not lost.
    """
    fallback = encoding or FALLBACK_ENCODING
    for number, (start, lines) in enumerate(iter_cards(iter_lines(stream, encoding)), 1):
        where = {"_card": number, "_line": start}
        try:
            text = "\r\n".join(fix_quoted_printable(lines, fallback)) + "\r\n"
            card = next(vobject.readComponents(text, ignoreUnreadable=True, allowQP=True))
            draft = card_to_draft(card)
        except Exception as exc:  # vobject raises many kinds; the card is reported instead
            log.info("vCard card %s (line %s) unreadable: %s", number, start, exc)
            yield {
                **where,
                "_error": _(
                    "vCard %(card)s (line %(line)s) cannot be read: %(reason)s",
                    card=number,
                    line=start,
                    reason=exc,
                ),
            }
            continue
        if not draft:
            yield {**where, "_error": _("vCard %(card)s has no data crmlite keeps.", card=number)}
            continue
        yield {**draft, **where}
