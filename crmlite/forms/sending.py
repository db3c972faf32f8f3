"""Forms of the send-message page and the admin test message."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from ..core.sending import MAX_BODY, MAX_SUBJECT


class SendForm(FlaskForm):
    sender = SelectField(_l("Send through"), validate_choice=True)
    subject = StringField(
        _l("Subject"), validators=[Length(max=MAX_SUBJECT)], render_kw={"maxlength": MAX_SUBJECT}
    )
    body = TextAreaField(
        _l("Message"),
        validators=[DataRequired(_l("Write the message first.")), Length(max=MAX_BODY)],
        render_kw={"rows": 10},
    )


class TestSendForm(FlaskForm):
    sender = SelectField(_l("Sender"), validate_choice=True)
