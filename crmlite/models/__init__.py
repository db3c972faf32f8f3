"""SQLAlchemy models, one module per aggregate."""

from .contact import Contact, ContactEmail, ContactPhone, SearchToken
from .custom_field import CustomField
from .history import ContactHistory
from .import_ import Import, ImportItem, ImportMapping
from .job import Job
from .outbox import OutboxMessage
from .plugin import PluginState
from .tag import Tag, contact_tags
from .user import LoginFailure, User

__all__ = [
    "Contact",
    "ContactEmail",
    "ContactPhone",
    "ContactHistory",
    "CustomField",
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
