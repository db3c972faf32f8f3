"""Text folding done in Python, because SQLite's lower() and LIKE fold only ASCII."""

import re

_WORD = re.compile(r"\w+", re.UNICODE)


def fold(text: str | None) -> str:
    """Case-insensitive form for search and sorting: 'Ёлкин' -> 'елкин'."""
    return (text or "").casefold().replace("ё", "е").strip()


def words(text: str | None) -> list[str]:
    return _WORD.findall(fold(text))


def successor(prefix: str) -> str:
    """The smallest string greater than every string starting with prefix (for range scans)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)
