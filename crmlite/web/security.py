"""Login and role checks for every route, and the security headers.

The checks run before every request, so a new route is protected by default:
- only views marked @public are reachable without login;
- a viewer may only read, except in views marked @any_role (own password, language);
- the admin blueprint adds its own admin check.
"""

from collections.abc import Callable

from flask import Flask, abort, current_app, redirect, request, url_for
from flask_login import current_user

from .htmx import is_htmx

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

CSP = (
    "default-src 'self'; script-src 'self'; "
    # Tag colours are style attributes; no inline script is allowed anywhere.
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'self'; object-src 'none'"
)


def public(view: Callable) -> Callable:
    """Reachable without login (login, setup, health)."""
    view.crmlite_public = True
    return view


def any_role(view: Callable) -> Callable:
    """A logged-in viewer may POST here too (their own settings)."""
    view.crmlite_any_role = True
    return view


def _view_flag(name: str) -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, name, False))


def check_access():
    if request.endpoint is None or request.endpoint == "static":
        return None
    if _view_flag("crmlite_public"):
        return None
    if not current_user.is_authenticated:
        from ..core.users import has_users
        from ..extensions import db

        target = (
            url_for("auth.login", next=request.full_path)
            if has_users(db.session)
            else url_for("auth.setup")
        )
        if is_htmx():
            resp = current_app.response_class(status=401)
            resp.headers["HX-Redirect"] = target
            return resp
        return redirect(target)
    if request.method not in SAFE_METHODS and not current_user.can_edit():
        if not _view_flag("crmlite_any_role"):
            abort(403)
    return None


def require_admin():
    if not current_user.is_authenticated or not current_user.is_admin:
        abort(403)


def add_headers(response):
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.vary.add("HX-Request")
    return response


def init_app(app: Flask) -> None:
    app.before_request(check_access)
    app.after_request(add_headers)
