"""Login, logout and the first-run setup of the first admin."""

import hmac
import sys

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from ..core import users
from ..extensions import db
from ..forms.auth import LoginForm, SetupForm
from .security import any_role, public

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    # Only local paths: an open redirect would let a link send users elsewhere after login.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("contacts.index")


def print_setup_token() -> None:
    token = users.setup_token(current_app.instance_path)
    print(
        f"\n  crmlite setup token: {token}\n  Open /setup and type it to create the first admin.\n",
        file=sys.stderr,
        flush=True,
    )


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if not users.has_users(db.session):
        return redirect(url_for("auth.setup"))
    if current_user.is_authenticated:
        return redirect(url_for("contacts.index"))
    form = LoginForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        keys = [f"email:{email}", f"ip:{request.remote_addr}"]
        cfg = current_app.config
        # One address may try several accounts (a shared office), so it gets more tries.
        limit = cfg["LOGIN_MAX_FAILURES"]
        if users.is_throttled(
            db.session, {keys[0]: limit, keys[1]: 4 * limit}, cfg["LOGIN_WINDOW_SECONDS"]
        ):
            flash(_("Too many failed attempts. Wait a few minutes and try again."), "error")
            return render_template("auth/login.html", form=form), 429
        user = users.find_by_email(db.session, email)
        if user and user.active and user.check_password(form.password.data):
            users.clear_failures(db.session, [f"email:{email}"], cfg["LOGIN_WINDOW_SECONDS"])
            db.session.commit()
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
        users.record_failure(db.session, keys)
        db.session.commit()
        flash(_("Wrong e-mail or password."), "error")
        return render_template("auth/login.html", form=form), 401
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@any_role
def logout():
    logout_user()
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/setup", methods=["GET", "POST"])
@public
def setup():
    if users.has_users(db.session):
        return redirect(url_for("auth.login"))
    form = SetupForm()
    if request.method == "GET":
        print_setup_token()
    if form.validate_on_submit():
        expected = users.setup_token(current_app.instance_path)
        if not hmac.compare_digest(form.token.data.strip(), expected):
            form.token.errors.append(
                _("Wrong setup token. It is printed on the console where the server runs.")
            )
        else:
            try:
                user = users.create_user(
                    db.session, form.email.data, form.password.data, "admin", form.name.data or ""
                )
            except users.UserError as exc:
                form.email.errors.append(str(exc))
            else:
                db.session.commit()
                users.discard_setup_token(current_app.instance_path)
                login_user(user)
                flash(_("Welcome! You are the administrator of this crmlite."), "success")
                return redirect(url_for("contacts.index"))
    return render_template("auth/setup.html", form=form), 422 if form.errors else 200
