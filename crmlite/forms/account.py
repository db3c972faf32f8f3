"""The user's own settings: password and language."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField
from wtforms.validators import DataRequired, EqualTo, Length

from ..core.users import MIN_PASSWORD


class PasswordChangeForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    password = PasswordField(
        _l("New password"), validators=[DataRequired(), Length(min=MIN_PASSWORD)]
    )
    confirm = PasswordField(
        _l("Repeat the new password"),
        validators=[EqualTo("password", _l("Passwords do not match."))],
    )


def language_choices() -> list[tuple[str, str]]:
    # Language names are written in their own language, so anyone finds theirs.
    return [("", _l("Browser default")), ("en", "English"), ("ru", "Русский")]


class LanguageForm(FlaskForm):
    language = SelectField(_l("Language"), choices=language_choices)
