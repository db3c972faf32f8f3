"""Choices and labels of the contact list's filters, sort orders and bulk actions.

The filter form is a plain GET form rendered by hand (it must work without JS and keep
the URL short), so these are label tables rather than WTForms classes.
"""

from flask_babel import lazy_gettext as _l

STAGE_LABELS = {
    "potential": _l("Potential"),
    "customer": _l("Customer"),
    "key_client": _l("Key client"),
    "former": _l("Former"),
}
TEMPERATURE_LABELS = {"cold": _l("Cold"), "warm": _l("Warm"), "hot": _l("Hot")}
SOURCE_LABELS = {
    "web_form": _l("Web form"),
    "import": _l("Import"),
    "event": _l("Event"),
    "referral": _l("Referral"),
    "ads": _l("Ads"),
    "other": _l("Other"),
}
SORT_LABELS = {
    "name": _l("Name A–Z"),
    "newest": _l("Newest first"),
    "updated": _l("Recently updated"),
    "company": _l("Company A–Z"),
}
