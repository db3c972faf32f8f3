"""Builtin settings of the data-cleanup review (the /review page and the scheduled audit),
declared through register_settings so they are edited on Admin → Plugins, plus the Review
menu link. The review logic itself is in crmlite/core/review.py and crmlite/core/audit.py.
"""

from flask import url_for
from flask_babel import gettext

from .. import hookimpl
from ..core.i18n import _
from ..core.review import DEFAULTS, PLUGIN
from ..plugins import PluginSettings, SettingField


@hookimpl
def register_settings():
    return [
        PluginSettings(
            plugin=PLUGIN,
            fields=[
                SettingField(
                    "verify_every_months",
                    _("Verify every contact every N months"),
                    "int",
                    DEFAULTS["verify_every_months"],
                    _("3 is a quarterly review; it is also the length of a review cycle."),
                ),
                SettingField(
                    "consent_max_age_months",
                    _("Re-confirm consent older than N months"),
                    "int",
                    DEFAULTS["consent_max_age_months"],
                ),
                SettingField(
                    "quiet_days",
                    _("Customers are quiet after N days without an interaction"),
                    "int",
                    DEFAULTS["quiet_days"],
                ),
                SettingField(
                    "audit_enabled",
                    _("Run the audit on a schedule"),
                    "bool",
                    DEFAULTS["audit_enabled"],
                ),
                SettingField(
                    "audit_weekday",
                    _("Audit weekday (0 = Monday … 6 = Sunday)"),
                    "int",
                    DEFAULTS["audit_weekday"],
                    _("The worker reads the schedule when it starts."),
                ),
                SettingField(
                    "audit_hour",
                    _("Audit hour (0–23, UTC)"),
                    "int",
                    DEFAULTS["audit_hour"],
                ),
                SettingField(
                    "digest_sender",
                    _("Send each owner a digest through this sender"),
                    "text",
                    DEFAULTS["digest_sender"],
                    _("A sender name such as smtp or outbox; empty: no digest."),
                ),
            ],
        )
    ]


@hookimpl
def menu_links(user):
    return [(gettext("Review"), url_for("review.index"))]
