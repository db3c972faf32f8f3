"""The consent editor of the contact page: one channel and purpose at a time."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import InputRequired, Length

CHANNEL_LABELS = {
    "email": _l("E-mail"),
    "sms": _l("SMS"),
    "messenger": _l("Messenger"),
    "phone": _l("Phone"),
}
PURPOSE_LABELS = {"marketing": _l("marketing"), "service": _l("service")}
STATUS_LABELS = {
    "granted": _l("granted"),
    "withdrawn": _l("withdrawn"),
    "unknown": _l("unknown"),
}
# Offered in the source field; anything else may be typed.
SOURCE_SUGGESTIONS = (_l("web form"), _l("call"), _l("paper"), _l("e-mail"), _l("meeting"))


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class ConsentForm(FlaskForm):
    channel = SelectField(
        _l("Channel"),
        choices=list(CHANNEL_LABELS.items()),
        validators=[InputRequired(message=_l("Choose a channel."))],
    )
    purpose = SelectField(
        _l("Purpose"),
        choices=list(PURPOSE_LABELS.items()),
        validators=[InputRequired(message=_l("Choose a purpose."))],
    )
    status = SelectField(
        _l("Status"),
        choices=list(STATUS_LABELS.items()),
        validators=[InputRequired(message=_l("Choose a status."))],
    )
    source = StringField(
        _l("Source"),
        filters=[_strip],
        validators=[Length(max=200, message=_l("Keep the source under 200 characters."))],
    )
    wording_version = StringField(
        _l("Wording version"),
        filters=[_strip],
        validators=[Length(max=50, message=_l("Keep the wording version under 50 characters."))],
    )

    def choice_errors(self) -> None:
        """Replace WTForms' generic "Not a valid choice" with a message saying which."""
        wrong = {
            "channel": _l("Unknown channel “%(value)s”: choose e-mail, SMS, messenger or phone."),
            "purpose": _l("Unknown purpose “%(value)s”: choose marketing or service."),
            "status": _l("Unknown status “%(value)s”: choose granted, withdrawn or unknown."),
        }
        for name, message in wrong.items():
            field = self[name]
            if field.errors and field.data:
                field.errors[:] = [str(message) % {"value": field.data}]
