"""Forms of the admin area: users and custom fields."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from ..core.users import MIN_PASSWORD


def role_choices() -> list[tuple[str, str]]:
    return [("admin", _l("Admin")), ("editor", _l("Editor")), ("viewer", _l("Viewer"))]


class UserCreateForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    name = StringField(_l("Name"), validators=[Length(max=200)])
    role = SelectField(_l("Role"), choices=role_choices, default="editor")
    password = PasswordField(
        _l("Initial password"), validators=[DataRequired(), Length(min=MIN_PASSWORD)]
    )


class UserEditForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Length(max=200)])
    role = SelectField(_l("Role"), choices=role_choices)


class PasswordResetForm(FlaskForm):
    password = PasswordField(
        _l("New password"), validators=[DataRequired(), Length(min=MIN_PASSWORD)]
    )


def kind_choices() -> list[tuple[str, str]]:
    return [
        ("text", _l("Text")),
        ("number", _l("Number")),
        ("date", _l("Date")),
        ("choice", _l("Choice")),
    ]


class CustomFieldForm(FlaskForm):
    label = StringField(_l("Label"), validators=[DataRequired(), Length(max=200)])
    kind = SelectField(_l("Kind"), choices=kind_choices, default="text")
    choices = TextAreaField(
        _l("Choices, one per line (for the kind “Choice”)"), render_kw={"rows": 4}
    )

    def choice_list(self) -> list[str]:
        return (self.choices.data or "").splitlines()
