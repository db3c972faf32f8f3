"""Jinja filters and globals."""

from flask import Flask
from flask_babel import format_date, format_datetime, get_locale

from ..core.phones import format_phone


def init_app(app: Flask) -> None:
    app.jinja_env.filters["phone"] = lambda e164: format_phone(e164)
    app.jinja_env.filters["date"] = lambda d: format_date(d, "medium") if d else ""
    app.jinja_env.filters["datetime"] = lambda d: format_datetime(d, "short") if d else ""
    app.jinja_env.globals["current_locale"] = lambda: str(get_locale() or "en")
