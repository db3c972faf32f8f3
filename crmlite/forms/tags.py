"""Forms of the tags page."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length


class TagForm(FlaskForm):
    name = StringField(_l("Tag name"), validators=[DataRequired(), Length(max=100)])
    colour = StringField(_l("Colour"), render_kw={"type": "color"})


class ColourForm(FlaskForm):
    colour = StringField(_l("Colour"), validators=[DataRequired()], render_kw={"type": "color"})


class MergeForm(FlaskForm):
    source = SelectField(_l("Merge the tag"), coerce=int, validate_choice=False)
    target = SelectField(_l("into"), coerce=int, validate_choice=False)
