"""Translatable messages for flask-free code.

Core marks its messages with _() like the views do; the web layer installs Flask-Babel's
gettext at startup, so the same message reaches the user in their language. Without a
translator (scripts, tests of core) messages stay in English.
"""

from collections.abc import Callable

_translator: Callable[[str], str] = lambda message: message  # noqa: E731
_language: Callable[[], str | None] = lambda: None  # noqa: E731
_catalogs: str | None = None


def set_translator(
    gettext: Callable[[str], str],
    language: Callable[[], str | None] | None = None,
    catalogs: str | None = None,
) -> None:
    """gettext translates; language() names the language it uses now and catalogs is the
    folder of its .mo files, so a helper process can speak the same (see snapshot)."""
    global _translator, _language, _catalogs
    _translator = gettext
    _language = language or (lambda: None)
    _catalogs = catalogs


def _(message: str, **values) -> str:
    text = _translator(message)
    return text % values if values else text


def snapshot() -> tuple[str | None, str | None]:
    """(catalogs, language) in use here, for use_catalog in another process."""
    return _catalogs, _language()


def use_catalog(catalogs: str | None, language: str | None) -> None:
    """Translate with the compiled catalog of a language (in a process without Flask)."""
    if not (catalogs and language):
        return
    from babel.support import Translations

    set_translator(Translations.load(catalogs, [language]).gettext, lambda: language, catalogs)
