"""One URL serves the full page or, for an HTMX request, only the block it needs."""

from flask import get_flashed_messages, render_template, request
from jinja2_fragments.flask import render_block


def is_htmx() -> bool:
    # A history restore (back button, cache miss) also says HX-Request but needs the full page.
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def render(template: str, block: str | None = None, **context) -> str:
    """The page, or for HTMX only `block` plus the flash messages swapped out of band."""
    if block and is_htmx():
        return render_block(template, block, **context) + flashes_oob()
    return render_template(template, **context)


def fragment(template: str, **context) -> str:
    """A partial template plus out-of-band flash messages."""
    return render_template(template, **context) + flashes_oob()


def flashes_oob() -> str:
    messages = get_flashed_messages(with_categories=True)
    if not messages:
        return ""
    return render_template("_partials/flash.html", messages=messages, oob=True)
