"""SQLAlchemy models, one module per aggregate."""

from .campaign import Campaign, CampaignRecipient
from .consent import ContactConsent
from .contact import Contact, ContactEmail, ContactPhone, SearchToken
from .custom_field import CustomField
from .duplicate import DuplicatePair, MatchKey, Merge
from .history import ContactHistory
from .import_ import Import, ImportItem, ImportMapping
from .interaction import Interaction
from .job import Job
from .outbox import OutboxMessage
from .plugin import PluginState
from .privacy import PrivacyRequest
from .reminder import Reminder
from .saved_segment import SavedSegment
from .tag import Tag, contact_tags
from .user import LoginFailure, User

__all__ = [
    "Campaign",
    "CampaignRecipient",
    "ContactConsent",
    "Interaction",
    "SavedSegment",
    "Contact",
    "ContactEmail",
    "ContactPhone",
    "ContactHistory",
    "CustomField",
    "DuplicatePair",
    "MatchKey",
    "Merge",
    "PrivacyRequest",
    "Reminder",
    "Import",
    "ImportItem",
    "ImportMapping",
    "Job",
    "LoginFailure",
    "OutboxMessage",
    "PluginState",
    "SearchToken",
    "Tag",
    "User",
    "contact_tags",
]
