"""Translatable messages for flask-free code.

Core marks its messages with _() like the views do; the web layer installs Flask-Babel's
gettext at startup, so the same message reaches the user in their language. Without a
translator (scripts, tests of core) messages stay in English.
"""

from collections.abc import Callable

_translator: Callable[[str], str] = lambda message: message  # noqa: E731


def set_translator(gettext: Callable[[str], str]) -> None:
    global _translator
    _translator = gettext


def _(message: str, **values) -> str:
    text = _translator(message)
    return text % values if values else text
