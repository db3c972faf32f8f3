"""The user's own settings: password and language. Viewers may change these too."""

from flask import Blueprint, flash, redirect, url_for
from flask_babel import gettext as _
from flask_babel import refresh
from flask_login import current_user, login_user

from ..core import users as users_core
from ..extensions import db
from ..forms.account import LanguageForm, PasswordChangeForm
from .htmx import render
from .security import any_role

bp = Blueprint("account", __name__, url_prefix="/account")


def _page(password_form=None, language_form=None, status: int = 200):
    password_form = password_form or PasswordChangeForm(formdata=None)
    language_form = language_form or LanguageForm(
        formdata=None, data={"language": current_user.language or ""}
    )
    page = render("account/settings.html", password_form=password_form, language_form=language_form)
    return page, status


@bp.route("/")
def settings():
    return _page()


@bp.route("/password", methods=["POST"])
@any_role
def password():
    form = PasswordChangeForm()
    if form.validate():
        try:
            users_core.change_own_password(
                db.session, current_user, form.current.data, form.password.data
            )
        except users_core.UserError as exc:
            db.session.rollback()
            form.current.errors.append(str(exc))
        else:
            db.session.commit()
            login_user(current_user._get_current_object())  # this session stays, others end
            flash(_("Your password is changed."), "success")
            return redirect(url_for("account.settings"))
    return _page(password_form=form, status=422)


@bp.route("/language", methods=["POST"])
@any_role
def language():
    form = LanguageForm()
    if form.validate():
        users_core.set_language(db.session, current_user, form.language.data or None)
        db.session.commit()
        refresh()  # the flash below is already in the new language
        flash(_("Language saved."), "success")
        return redirect(url_for("account.settings"))
    return _page(language_form=form, status=422)
