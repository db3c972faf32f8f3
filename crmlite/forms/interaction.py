"""Labels of the chronicle's forms and history entries (the forms are built per kind in
templates/contact/_interaction_form.html; crmlite.core.interactions validates them)."""

from flask_babel import lazy_gettext as _l

FIELD_LABELS = {
    "date": _l("Date"),
    "occurred_at": _l("Date"),
    "kind": _l("Kind"),
    "text": _l("Text"),
    "amount": _l("Amount"),
    "amount_minor": _l("Amount"),
    "currency": _l("Currency"),
    "status": _l("Status"),
    "score": _l("NPS score (0–10)"),
    "data": _l("Details"),
    "interaction_id": _l("Entry"),
    # The message a sender wrote into the chronicle.
    "sender": _l("Sender"),
    "to": _l("To"),
    "subject": _l("Subject"),
    "delivery": _l("Delivery"),
}

# What the text of each builtin kind is about.
TEXT_LABELS = {
    "note": _l("Note"),
    "call": _l("What was said"),
    "meeting": _l("What was discussed"),
    "purchase": _l("What was bought"),
    "support": _l("The request"),
    "feedback": _l("Comment"),
}

STATUS_LABELS = {"open": _l("open"), "closed": _l("closed")}

# The timeline's filter: every kind, or only the changes to the contact's fields.
CHANGES = "changes"
CHANGES_LABEL = _l("Field changes")
