"""Checking one import row: the cells a parser made into clean contact values and the keys
that match it to existing contacts (external id, e-mails, phones).

No database and no Flask, so the helper process that checks a big file's rows
(core.import_reading) imports only this and its importer, not the whole application.
"""

from dataclasses import dataclass
from typing import Any

from .i18n import _
from .validation import IDENTITY_FIELDS, ContactInvalid, TagError, clean_tag_name, validate


@dataclass(frozen=True)
class FieldSpec:
    """What validation.validate reads of a custom field (picklable, unlike the model)."""

    key: str
    kind: str
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Checked:
    clean: dict[str, Any] | None
    keys: list[tuple[str, str]]
    tags: list[str]
    error: str = ""


@dataclass(frozen=True)
class RowChecker:
    """Checks and normalizes one draft, with no session: a helper process runs it for big
    files (core.import_reading). importing.row_checker makes one for an import."""

    region: str
    fields: tuple[FieldSpec, ...]
    users: dict[str, int]  # lower-cased e-mail -> user id

    def __call__(self, draft: dict[str, Any]) -> Checked:
        if draft.get("_error"):
            return Checked(None, [], [], draft["_error"])
        raw = {k: v for k, v in draft.items() if not k.startswith("_")}
        external_id = str(raw.pop("external_id", "") or "").strip()[:200]
        tag_names = raw.pop("tags", None) or []
        owner = str(raw.pop("owner", "") or "").strip()
        problems: list[str] = []
        tags: list[str] = []
        if owner:
            owner_id = self.users.get(owner.lower())
            if owner_id is None and owner.isdigit() and int(owner) in self.users.values():
                owner_id = int(owner)
            if owner_id is None:
                problems.append(_("owner: no user “%(value)s”", value=owner))
            raw["owner_id"] = owner_id
        try:
            # A phone that fails only the number-range check is kept, flagged invalid, for
            # the review queue (docs/reviews.md) instead of losing the whole row.
            clean = validate(raw, self.region, self.fields, keep_invalid_phones=True)
        except ContactInvalid as exc:
            problems.extend(f"{k}: {v}" for k, v in exc.errors.items())
            clean = None
        for name in tag_names:
            try:
                tags.append(clean_tag_name(name))
            except TagError as exc:
                problems.append(f"tags: {exc}")
        if clean is not None and not any(clean.get(n) for n in IDENTITY_FIELDS):
            problems.append(_("The row has no name, company, e-mail or phone."))
        if problems:
            return Checked(None, [], tags, "; ".join(problems))
        keys: list[tuple[str, str]] = []
        if external_id:
            clean["external_id"] = external_id
            keys.append(("x", external_id))
        keys += [("e", i.value) for i in clean.get("emails", ())]
        keys += [("p", i.value) for i in clean.get("phones", ())]
        return Checked(clean, keys, tags)
