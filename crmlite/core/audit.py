"""The data-cleanup audit: run weekly by the worker (a huey periodic task queueing a job of
kind "audit") and on demand with `crmlite audit run`.

1. re-check every stored e-mail and phone (review.revalidate);
2. count the review queue per owner;
3. give each owner with something due one open "review" reminder, due today, saying how
   many contacts need review (an open one from an earlier audit is updated, never piled up;
   one with nothing due any more is closed);
4. where a digest sender is set (setting digest_sender), send each owner a short message with
   the counts per reason and a link to the review page, through the sender hook.
"""

from datetime import date
from typing import Any

import pluggy
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Reminder, User
from ..models.types import utcnow
from . import review, sending
from .i18n import _

REVIEW_KIND = "review"


def _add_reminder(session: Session, **fields: Any) -> Reminder:
    """Reminders are made by core/reminders.py (its add()); until that module exists, the same
    row is made here with the same arguments."""
    try:
        from . import reminders
    except ImportError:
        reminders = None
    if reminders is not None and hasattr(reminders, "add"):
        return reminders.add(session, **fields)
    item = Reminder(
        assignee_id=fields["assignee_id"],
        due_on=fields["due_on"],
        note=fields.get("note", ""),
        contact_id=fields.get("contact_id"),
        kind=fields.get("kind", "follow_up"),
        created_by_id=fields.get("created_by_id"),
    )
    session.add(item)
    session.flush()
    return item


def note_for(total: int) -> str:
    if total == 1:
        return _("1 contact needs review")
    return _("%(num)s contacts need review", num=total)


def digest_text(user: User, counts: dict[str, int], link: str) -> tuple[str, str]:
    """(subject, body) of one owner's digest."""
    total = sum(counts.values())
    labels = review.reason_labels()
    lines = [
        _("Hello %(name)s,", name=user.display_name),
        "",
        _("The weekly data review found contacts of yours to look at:"),
        "",
    ]
    lines += [f"- {labels[r]}: {counts[r]}" for r in review.REASONS if counts.get(r)]
    lines += ["", _("Open the review queue: %(link)s", link=link), ""]
    return note_for(total), "\n".join(lines)


def run_audit(
    session: Session,
    pm: pluggy.PluginManager,
    today: date | None = None,
    base_url: str = "",
    revalidate: bool = True,
    progress_cb=None,
) -> dict[str, Any]:
    """Run the audit once; the caller commits. Returns what it did (for the CLI and the job
    page): checked, owners (id -> counts), reminders_created, reminders_updated,
    reminders_closed, digests_sent, digest_errors."""
    conf = review.settings(session)
    today = today or utcnow().date()
    result: dict[str, Any] = {
        "checked": review.revalidate(session, progress_cb=progress_cb) if revalidate else {},
        "owners": {},
        "owner_emails": {},
        "reminders_created": 0,
        "reminders_updated": 0,
        "reminders_closed": 0,
        "digests_sent": 0,
        "digest_errors": [],
    }
    session.flush()
    by_owner = review.counts_by_owner(session, conf)
    users = {
        u.id: u for u in session.scalars(select(User).where(User.active, User.role != "viewer"))
    }
    open_reminders = {
        r.assignee_id: r
        for r in session.scalars(
            select(Reminder)
            .where(Reminder.kind == REVIEW_KIND, Reminder.done_at.is_(None))
            .order_by(Reminder.id.desc())
        )
    }
    for owner_id, counts in by_owner.items():
        user = users.get(owner_id)
        if user is None:  # no owner, or one who cannot edit: nobody to remind
            continue
        total = sum(counts.values())
        result["owners"][owner_id] = counts
        result["owner_emails"][owner_id] = user.email
        existing = open_reminders.pop(owner_id, None)
        if existing is not None:
            existing.note = note_for(total)
            existing.due_on = min(existing.due_on, today)
            result["reminders_updated"] += 1
        else:
            _add_reminder(
                session,
                assignee_id=owner_id,
                due_on=today,
                note=note_for(total),
                contact_id=None,
                kind=REVIEW_KIND,
            )
            result["reminders_created"] += 1
    for leftover in open_reminders.values():  # nothing due any more for this person
        leftover.done_at = utcnow()
        result["reminders_closed"] += 1
    session.flush()
    sender = conf["digest_sender"]
    if sender:
        link = (base_url.rstrip("/") + "/review") if base_url else "/review"
        for owner_id, counts in result["owners"].items():
            user = users[owner_id]
            subject, body = digest_text(user, counts, f"{link}?owner={owner_id}")
            message = sending.Message(channel="email", to=user.email, subject=subject, body=body)
            try:
                sent = sending.send(pm, session, sender, message)
            except sending.SendError as exc:
                result["digest_errors"].append(f"{user.email}: {exc}")
                continue
            if sent.ok:
                result["digests_sent"] += 1
            else:
                result["digest_errors"].append(f"{user.email}: {sent.detail}")
    return result


def report_lines(result: dict[str, Any]) -> list[str]:
    """What one run did, in a few lines (the CLI prints them)."""
    checked = result.get("checked") or {}
    lines = []
    if checked:
        lines.append(
            _(
                "Checked %(emails)s e-mails (%(bad_emails)s invalid) and %(phones)s phones "
                "(%(bad_phones)s invalid); %(changed)s changed.",
                emails=checked["emails"],
                bad_emails=checked["emails_invalid"],
                phones=checked["phones"],
                bad_phones=checked["phones_invalid"],
                changed=checked["changed"],
            )
        )
    labels = review.reason_labels()
    for owner_id, counts in result["owners"].items():
        parts = ", ".join(f"{labels[r]}: {counts[r]}" for r in review.REASONS if counts.get(r))
        who = result.get("owner_emails", {}).get(owner_id) or f"#{owner_id}"
        lines.append(_("%(owner)s: %(counts)s", owner=who, counts=parts))
    lines.append(
        _(
            "Review reminders: %(created)s created, %(updated)s updated, %(closed)s closed.",
            created=result["reminders_created"],
            updated=result["reminders_updated"],
            closed=result["reminders_closed"],
        )
    )
    if result["digests_sent"] or result["digest_errors"]:
        lines.append(_("Digests sent: %(n)s.", n=result["digests_sent"]))
    lines += [_("Digest not sent: %(error)s", error=e) for e in result["digest_errors"]]
    return lines
