"""Admin-defined contact fields: create, edit, reorder, delete.

Values live in Contact.custom under the field's key. The key is made once from the label and
never changes, so renaming a field keeps its values. Deleting a field keeps the values stored
in contacts (they stop showing); a new field with the same key shows them again. Nothing is
lost silently, and no request has to rewrite a million contacts.
"""

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import CustomField
from ..models.custom_field import FIELD_KINDS
from .i18n import _

# Cyrillic to Latin for keys: "Размер обуви" -> "razmer_obuvi".
_LATIN = "a b v g d e e zh z i y k l m n o p r s t u f kh ts ch sh shch - y - e yu ya i i e g"
_TRANSLIT = {
    cyr: lat.strip("-")
    for cyr, lat in zip("абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґ", _LATIN.split(), strict=True)
}
_NOT_KEY = re.compile(r"[^a-z0-9]+")
MAX_CHOICES = 100


class FieldError(ValueError):
    """A refused value; `field` names the form field it belongs to."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def slugify(label: str) -> str:
    text = "".join(_TRANSLIT.get(ch, ch) for ch in label.casefold())
    return _NOT_KEY.sub("_", text).strip("_")[:64]


def all_fields(session: Session) -> list[CustomField]:
    return list(session.scalars(select(CustomField).order_by(CustomField.position, CustomField.id)))


def clean_choices(kind: str, choices: list[str]) -> list[str]:
    if kind != "choice":
        return []
    seen: list[str] = []
    for choice in choices:
        choice = " ".join(choice.split())
        if not choice or choice in seen:
            continue
        if len(choice) > 100:
            raise FieldError("choices", _("A choice has at most 100 characters."))
        seen.append(choice)
    if not seen:
        raise FieldError("choices", _("A choice field needs at least one choice, one per line."))
    if len(seen) > MAX_CHOICES:
        raise FieldError("choices", _("At most %(n)s choices.", n=MAX_CHOICES))
    return seen


def _clean(label: str, kind: str, choices: list[str]) -> tuple[str, list[str]]:
    label = " ".join((label or "").split())
    if not label:
        raise FieldError("label", _("A field needs a label."))
    if len(label) > 200:
        raise FieldError("label", _("At most %(n)s characters.", n=200))
    if kind not in FIELD_KINDS:
        raise FieldError("kind", _("Choose one of: %(choices)s.", choices=", ".join(FIELD_KINDS)))
    return label, clean_choices(kind, choices)


def create_field(
    session: Session, label: str, kind: str, choices: list[str] | None = None
) -> CustomField:
    label, choices = _clean(label, kind, choices or [])
    key = slugify(label)
    if not key:
        raise FieldError("label", _("The label needs at least one letter or digit."))
    existing = session.scalar(select(CustomField).where(CustomField.key == key))
    if existing is not None:
        raise FieldError(
            "label",
            _(
                "The key “%(key)s” is taken by the field “%(label)s”; choose another label.",
                key=key,
                label=existing.label,
            ),
        )
    position = session.scalar(select(func.coalesce(func.max(CustomField.position), -1))) + 1
    field = CustomField(key=key, label=label, kind=kind, choices=choices, position=position)
    session.add(field)
    session.flush()
    return field


def update_field(
    session: Session, field: CustomField, label: str, kind: str, choices: list[str] | None = None
) -> None:
    """Change label, kind and choices; the key stays, so stored values stay attached."""
    field.label, field.choices = _clean(label, kind, choices or [])
    field.kind = kind
    session.flush()


def move_field(session: Session, field: CustomField, step: int) -> bool:
    """Move a field up (step -1) or down (+1) in the form order; False at either end."""
    fields = all_fields(session)
    index = fields.index(field)
    other = index + step
    if not 0 <= other < len(fields):
        return False
    fields[index], fields[other] = fields[other], fields[index]
    for position, f in enumerate(fields):  # renumber: positions stay dense and distinct
        f.position = position
    session.flush()
    return True


def delete_field(session: Session, field: CustomField) -> None:
    """Remove the definition only; contacts keep their values under the key."""
    session.delete(field)
    session.flush()
