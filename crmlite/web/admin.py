"""Admin area: users and custom field definitions. Every URL here is for admins only."""

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..core import custom_fields as fields_core
from ..core import users as users_core
from ..extensions import db
from ..forms.admin import CustomFieldForm, PasswordResetForm, UserCreateForm, UserEditForm
from ..models import CustomField, User
from .htmx import is_htmx, render
from .security import require_admin

bp = Blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(require_admin)


def _user_or_404(user_id: int) -> User:
    return db.session.get(User, user_id) or abort(404)


def _field_or_404(field_id: int) -> CustomField:
    return db.session.get(CustomField, field_id) or abort(404)


# -- users -------------------------------------------------------------------------------


@bp.route("/users")
def users():
    return render("admin/users.html", users=users_core.list_users(db.session))


@bp.route("/users/new", methods=["GET", "POST"])
def user_new():
    form = UserCreateForm()
    if form.validate_on_submit():
        try:
            user = users_core.create_user(
                db.session, form.email.data, form.password.data, form.role.data, form.name.data
            )
        except users_core.UserError as exc:
            db.session.rollback()
            form.email.errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("User %(email)s created.", email=user.email), "success")
            return redirect(url_for("admin.users"))
    return render("admin/user_new.html", form=form), 422 if form.errors else 200


def _edit_page(user: User, edit_form=None, password_form=None, status: int = 200):
    edit_form = edit_form or UserEditForm(obj=user, formdata=None)
    password_form = password_form or PasswordResetForm(formdata=None)
    page = render("admin/user_edit.html", user=user, form=edit_form, password_form=password_form)
    return page, status


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def user_edit(user_id: int):
    user = _user_or_404(user_id)
    form = UserEditForm(obj=user)
    if not form.is_submitted():
        return _edit_page(user, form)
    if form.validate():
        try:
            users_core.update_user(db.session, current_user, user, form.name.data, form.role.data)
        except users_core.UserError as exc:
            db.session.rollback()
            form.role.errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("Saved %(email)s.", email=user.email), "success")
            return redirect(url_for("admin.users"))
    return _edit_page(user, form, status=422)


@bp.route("/users/<int:user_id>/active", methods=["POST"])
def user_active(user_id: int):
    user = _user_or_404(user_id)
    active = request.form.get("active") == "1"
    try:
        users_core.set_active(db.session, current_user, user, active)
    except users_core.UserError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _edit_page(_user_or_404(user_id), status=422)
    db.session.commit()
    if active:
        flash(_("%(email)s can log in again.", email=user.email), "success")
    else:
        flash(
            _(
                "%(email)s is deactivated and cannot log in; their contacts keep them as owner.",
                email=user.email,
            ),
            "success",
        )
    return redirect(url_for("admin.user_edit", user_id=user.id))


@bp.route("/users/<int:user_id>/password", methods=["POST"])
def user_password(user_id: int):
    user = _user_or_404(user_id)
    form = PasswordResetForm()
    if form.validate():
        users_core.set_password(db.session, user, form.password.data)
        db.session.commit()
        flash(
            _("New password set for %(email)s; tell them in person.", email=user.email), "success"
        )
        return redirect(url_for("admin.user_edit", user_id=user.id))
    return _edit_page(user, password_form=form, status=422)


# -- custom fields -----------------------------------------------------------------------


@bp.route("/fields", methods=["GET", "POST"])
def custom_fields():
    """The list of fields with a form to add one."""
    form = CustomFieldForm()
    status = 200
    if form.is_submitted():
        if form.validate():
            try:
                field = fields_core.create_field(
                    db.session, form.label.data, form.kind.data, form.choice_list()
                )
            except fields_core.FieldError as exc:
                db.session.rollback()
                getattr(form, exc.field).errors.append(str(exc))
            else:
                db.session.commit()
                flash(_("Field “%(label)s” added.", label=field.label), "success")
                return redirect(url_for("admin.custom_fields"))
        status = 422
    fields = fields_core.all_fields(db.session)
    return render("admin/fields.html", block="fields", fields=fields, form=form), status


@bp.route("/fields/<int:field_id>", methods=["GET", "POST"])
def field_edit(field_id: int):
    field = _field_or_404(field_id)
    form = CustomFieldForm(obj=field)
    if not form.is_submitted():
        form.choices.data = "\n".join(field.choices or [])
        return render("admin/field_edit.html", field=field, form=form)
    if form.validate():
        try:
            fields_core.update_field(
                db.session, field, form.label.data, form.kind.data, form.choice_list()
            )
        except fields_core.FieldError as exc:
            db.session.rollback()
            field = _field_or_404(field_id)
            getattr(form, exc.field).errors.append(str(exc))
        else:
            db.session.commit()
            flash(_("Field “%(label)s” saved.", label=field.label), "success")
            return redirect(url_for("admin.custom_fields"))
    return render("admin/field_edit.html", field=field, form=form), 422


@bp.route("/fields/<int:field_id>/move", methods=["POST"])
def field_move(field_id: int):
    field = _field_or_404(field_id)
    fields_core.move_field(db.session, field, -1 if request.form.get("direction") == "up" else 1)
    db.session.commit()
    if not is_htmx():
        return redirect(url_for("admin.custom_fields"))
    # HTMX swaps only the table.
    fields = fields_core.all_fields(db.session)
    return render("admin/fields.html", block="fields", fields=fields, form=CustomFieldForm())


@bp.route("/fields/<int:field_id>/delete", methods=["GET", "POST"])
def field_delete(field_id: int):
    field = _field_or_404(field_id)
    if request.method == "GET":
        return render("admin/field_delete.html", field=field)
    label, key = field.label, field.key
    fields_core.delete_field(db.session, field)
    db.session.commit()
    flash(
        _(
            "Field “%(label)s” deleted. Its values stay stored in the contacts under "
            "the key “%(key)s” and show again if you add a field with the same label.",
            label=label,
            key=key,
        ),
        "success",
    )
    return redirect(url_for("admin.custom_fields"))
