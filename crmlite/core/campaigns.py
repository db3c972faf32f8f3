"""Campaigns: one message to a segment through one sender, sent by a background job.

Who gets it is decided in SQL, for the whole segment at once (audience() counts, snapshot()
copies it into campaign_recipients with one INSERT ... SELECT). A contact is skipped, with
the first reason that applies:

    no_address       no e-mail (email senders) or no phone (sms, messenger senders)
    invalid_address  an e-mail without "@" and a dotted domain ("anna@localhost",
                     "anna@example"), or a phone not in +E.164 form
    unsubscribed     consent for the sender's channel and the campaign's purpose withdrawn
    no_consent       marketing only: consent not "granted" (unknown is not consent);
                     a service message goes to everyone who has not withdrawn

The sending loop (send_pending) takes pending rows in id order, marks each "sending" and
commits before it sends, so a crash leaves at most a few rows in "sending": the next run
turns them into "uncertain" and never sends them again by itself, so nobody gets a second
copy. Failed rows are re-queued only by retry_failed(), uncertain ones only by
resend_uncertain() (a person's decision: they may get it twice).
"""

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pluggy
from sqlalchemy import (
    ColumnElement,
    and_,
    case,
    func,
    insert,
    literal,
    not_,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased

from ..models import Campaign, CampaignRecipient, Contact, ContactConsent
from ..models.contact import ContactEmail, ContactPhone
from ..models.types import utcnow
from . import consent, saved_segments, segments, sending, unsubscribe
from .i18n import _

PURPOSES = ("marketing", "service")
SAVED_PREFIX = "saved:"  # segment_key of a saved segment: "saved:<id>"
MAX_NAME = 200
MAX_RATE = 6000  # messages per minute; 0 means as fast as the sender goes
PROGRESS_EVERY = 20  # messages between two progress commits (the page polls each second)
REASONS = ("no_address", "invalid_address", "unsubscribed", "no_consent")


class CampaignInvalid(ValueError):
    """What is wrong with a draft, field -> message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(errors.values()))
        self.errors = errors


def reason_label(reason: str) -> str:
    return {
        "no_address": _("no address for the channel"),
        "invalid_address": _("invalid address"),
        "unsubscribed": _("unsubscribed"),
        "no_consent": _("no consent"),
    }.get(reason, reason)


def status_label(status: str) -> str:
    return {
        "draft": _("Draft"),
        "sending": _("Sending"),
        "paused": _("Paused"),
        "done": _("Done"),
        "failed": _("Failed"),
        "pending": _("Waiting"),
        "sent": _("Sent"),
        "uncertain": _("Uncertain"),
        "skipped": _("Skipped"),
    }.get(status, status)


# -- segments and senders --------------------------------------------------------------------


@dataclass
class SegmentChoice:
    key: str
    label: str


def segment_choices(
    pm: pluggy.PluginManager, session: Session, user_id: int | None
) -> list[SegmentChoice]:
    """Every registered segment, then the saved segments the user may see."""
    found = [SegmentChoice(s.key, str(s.label)) for s in segments.all_segments(pm)]
    if user_id is not None:
        found += [
            SegmentChoice(f"{SAVED_PREFIX}{seg.id}", _("Saved: %(name)s", name=seg.name))
            for seg in saved_segments.for_user(session, user_id)
        ]
    return found


def segment_condition(
    pm: pluggy.PluginManager,
    session: Session,
    key: str,
    params: dict[str, Any],
    today: date | None = None,
) -> ColumnElement[bool]:
    """SQL over Contact for the campaign's segment; LookupError when it is gone."""
    if key.startswith(SAVED_PREFIX):
        raw = key[len(SAVED_PREFIX) :]
        seg = session.get(saved_segments.SavedSegment, int(raw)) if raw.isdigit() else None
        if seg is None:
            raise LookupError(_("The saved segment of this campaign no longer exists."))
        try:
            return saved_segments.to_condition(session, seg.definition, today)
        except saved_segments.SegmentInvalid as exc:
            raise LookupError(str(exc)) from exc
    segment = segments.get(pm, key)
    if segment is None:
        raise LookupError(
            _("The segment “%(key)s” is not available (is its plugin enabled?).", key=key)
        )
    return segments.condition(segment, params, today)


def campaign_senders(pm: pluggy.PluginManager) -> list[sending.RegisteredSender]:
    """Senders a campaign can use: those whose channel has consent (not webhooks)."""
    return [s for s in sending.all_senders(pm) if s.channel in consent.CHANNELS]


# -- drafts ----------------------------------------------------------------------------------


def _clean(
    pm: pluggy.PluginManager, session: Session, data: dict[str, Any], user_id: int | None
) -> dict[str, Any]:
    errors: dict[str, str] = {}
    name = " ".join(str(data.get("name") or "").split())[:MAX_NAME]
    if not name:
        errors["name"] = _("Give the campaign a name.")
    key = str(data.get("segment_key") or "")
    params = dict(data.get("segment_params") or {})
    allowed = {c.key for c in segment_choices(pm, session, user_id)}
    if key not in allowed:
        errors["segment_key"] = _("Choose a segment.")
    else:
        segment = segments.get(pm, key)
        if segment is not None:
            params, problems = segments.parse_params(segment, params)
            if problems:
                errors["segment_key"] = " ".join(problems)
        else:
            params = {}
    sender = str(data.get("sender") or "")
    if sender not in {s.name for s in campaign_senders(pm)}:
        errors["sender"] = _("Choose a sender.")
    purpose = str(data.get("purpose") or "")
    if purpose not in PURPOSES:
        errors["purpose"] = _("Choose marketing or service.")
    subject = str(data.get("subject") or "")
    body = str(data.get("body") or "").replace("\r\n", "\n")
    if len(subject) > sending.MAX_SUBJECT:
        errors["subject"] = _("The subject is longer than %(n)s characters.", n=sending.MAX_SUBJECT)
    if not body.strip():
        errors["body"] = _("Write the message first.")
    elif len(body) > sending.MAX_BODY:
        errors["body"] = _("The message is longer than %(n)s characters.", n=sending.MAX_BODY)
    try:
        rate = int(str(data.get("rate_per_minute", 60)).strip() or 0)
        if not 0 <= rate <= MAX_RATE:
            raise ValueError
    except ValueError:
        rate = 60
        errors["rate_per_minute"] = _(
            "The rate is a whole number from 0 (no limit) to %(n)s.", n=MAX_RATE
        )
    # A template that cannot be parsed is refused now, not found by the job.
    for what, source in (("subject", subject), ("body", body)):
        if what not in errors:
            problem = template_problem(source, what)
            if problem:
                errors[what] = problem
    if errors:
        raise CampaignInvalid(errors)
    return {
        "name": name,
        "segment_key": key,
        "segment_params": params,
        "sender": sender,
        "purpose": purpose,
        "subject": subject,
        "body": body,
        "rate_per_minute": rate,
    }


def template_problem(source: str, what: str) -> str | None:
    """A message when the template does not even parse (undefined names show in preview)."""
    try:
        sending._env.parse(source)
    except Exception as exc:  # TemplateSyntaxError and friends
        line = getattr(exc, "lineno", None)
        error = getattr(exc, "message", None) or str(exc)
        label = _("subject") if what == "subject" else _("message")
        if line:
            return _(
                "The %(what)s template has an error on line %(line)s: %(error)s",
                what=label,
                line=line,
                error=error,
            )
        return _("The %(what)s template has an error: %(error)s", what=label, error=error)
    return None


def create(
    pm: pluggy.PluginManager, session: Session, data: dict[str, Any], user_id: int | None
) -> Campaign:
    campaign = Campaign(**_clean(pm, session, data, user_id), created_by_id=user_id)
    session.add(campaign)
    session.flush()
    return campaign


def update_draft(
    pm: pluggy.PluginManager,
    session: Session,
    campaign: Campaign,
    data: dict[str, Any],
    user_id: int | None,
) -> Campaign:
    if campaign.status != "draft":
        raise CampaignInvalid({"name": _("Only a draft can be changed.")})
    for key, value in _clean(pm, session, data, user_id).items():
        setattr(campaign, key, value)
    session.flush()
    return campaign


# -- audience --------------------------------------------------------------------------------


def _address(channel: str):
    """Correlated subquery: the contact's first address for the channel (primary first,
    like Contact.emails / Contact.phones, so it is the address compose() uses)."""
    if channel == "email":
        table, column = ContactEmail, ContactEmail.email
    else:
        table, column = ContactPhone, ContactPhone.e164
    return (
        select(column)
        .where(table.contact_id == Contact.id)
        .order_by(table.is_primary.desc(), table.id)
        .limit(1)
        .correlate(Contact)
        .scalar_subquery()
    )


def _invalid(channel: str, address) -> ColumnElement[bool]:
    if channel == "email":
        # Something before the "@", a domain with a dot, nothing after a trailing dot.
        return or_(
            not_(address.like("%_@_%._%")),
            address.like("% %"),
            address.like("%@%@%"),
            address.like("%.") | address.like("%@.%") | address.like("%..%"),
        )
    return not_(address.like("+_%"))


def _consent_status(channel: str, purpose: str):
    return (
        select(ContactConsent.status)
        .where(
            ContactConsent.contact_id == Contact.id,
            ContactConsent.channel == channel,
            ContactConsent.purpose == purpose,
        )
        .correlate(Contact)
        .scalar_subquery()
    )


def _reason(channel: str, purpose: str, address=None, status=None):
    """SQL: "" when the contact gets the message, else the reason it is skipped; over the
    columns of _facts(), or per contact with correlated subqueries (for a few contacts)."""
    address = _address(channel) if address is None else address
    status = _consent_status(channel, purpose) if status is None else status
    whens = [
        (address.is_(None), "no_address"),
        (_invalid(channel, address), "invalid_address"),
        (status == "withdrawn", "unsubscribed"),
    ]
    if purpose == "marketing":
        whens.append((or_(status.is_(None), status != "granted"), "no_consent"))
    return case(*whens, else_=literal(""))


def _facts(channel: str, purpose: str, cond: ColumnElement[bool]):
    """CTE of the segment: contact id, address, consent status. MATERIALIZED, so the
    address lookup runs once per contact, not once per mention in the reason's CASE."""
    stored = aliased(ContactConsent)  # aliased: a segment's own consent rule stays correlated
    stmt = (
        select(
            Contact.id.label("contact_id"),
            _address(channel).label("address"),
            stored.status.label("status"),
        )
        .select_from(Contact)
        .outerjoin(
            stored,
            and_(
                stored.contact_id == Contact.id,
                stored.channel == channel,
                stored.purpose == purpose,
            ),
        )
        .where(~Contact.is_archived, cond)
    )
    return stmt.cte("segment_facts").prefix_with("MATERIALIZED")


def _channel(pm: pluggy.PluginManager, campaign: Campaign) -> str:
    registered = sending.get_sender(pm, campaign.sender)
    if registered is None:
        raise LookupError(_("There is no sender “%(name)s”.", name=campaign.sender))
    return registered.channel


@dataclass
class Audience:
    total: int
    will_get: int
    skipped: dict[str, int]  # reason -> count, every reason present


def audience(
    pm: pluggy.PluginManager,
    session: Session,
    segment_key: str,
    segment_params: dict[str, Any],
    sender_name: str,
    purpose: str,
) -> Audience:
    """How many of the segment would get the message, and why the others would not."""
    registered = sending.get_sender(pm, sender_name)
    if registered is None:
        raise LookupError(_("Choose a sender."))
    cond = segment_condition(pm, session, segment_key, segment_params)
    facts = _facts(registered.channel, purpose, cond)
    reason = _reason(registered.channel, purpose, facts.c.address, facts.c.status)
    rows = session.execute(
        select(reason.label("reason"), func.count()).select_from(facts).group_by(reason)
    ).all()
    counts = {r or "": n for r, n in rows}
    will_get = counts.pop("", 0)
    skipped = {r: counts.get(r, 0) for r in REASONS}
    return Audience(will_get + sum(skipped.values()), will_get, skipped)


def campaign_audience(pm: pluggy.PluginManager, session: Session, campaign: Campaign) -> Audience:
    return audience(
        pm,
        session,
        campaign.segment_key,
        campaign.segment_params or {},
        campaign.sender,
        campaign.purpose,
    )


def preview_contacts(
    pm: pluggy.PluginManager,
    session: Session,
    segment_key: str,
    segment_params: dict[str, Any],
    after: int | None = None,
    limit: int = 5,
    *,
    channel: str,
    purpose: str,
) -> list[Contact]:
    """The first few contacts of the segment who will get the message, by id (after
    `after`), for the preview and the test send."""
    cond = segment_condition(pm, session, segment_key, segment_params)
    stmt = (
        select(Contact)
        .where(~Contact.is_archived, cond, _reason(channel, purpose) == "")
        .order_by(Contact.id)
        .limit(limit)
    )
    if after:
        stmt = stmt.where(Contact.id > after)
    return list(session.scalars(stmt))


# -- composing one message -------------------------------------------------------------------


def unsubscribe_url(
    base_url: str, secret_key: str, campaign: Campaign, contact_id: int, channel: str
) -> str:
    token = unsubscribe.make_token(
        secret_key, contact_id, channel, campaign.purpose, campaign.id or None
    )
    return f"{base_url.rstrip('/')}/unsubscribe/{token}"


def compose(
    session: Session,
    registered: sending.RegisteredSender,
    campaign: Campaign,
    contact: Contact,
    *,
    base_url: str,
    secret_key: str,
) -> sending.Message:
    """The campaign's message for one contact. Marketing messages carry the unsubscribe
    link (appended when the body does not place {{ unsubscribe_url }} itself) and the
    List-Unsubscribe headers (RFC 2369, RFC 8058 one-click). Raises SendError."""
    url = unsubscribe_url(base_url, secret_key, campaign, contact.id, registered.channel)
    message = sending.compose(
        session,
        registered,
        contact,
        campaign.subject,
        campaign.body,
        extra_context={"unsubscribe_url": url},
    )
    if campaign.purpose == "marketing":
        if "unsubscribe_url" not in campaign.body:
            message.body = (
                message.body.rstrip("\n")
                + "\n\n-- \n"
                + _("To stop getting these messages: %(url)s", url=url)
            )
        if registered.channel == "email":
            message.headers["List-Unsubscribe"] = f"<{url}>"
            message.headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return message


# -- sending ---------------------------------------------------------------------------------


def snapshot(pm: pluggy.PluginManager, session: Session, campaign: Campaign) -> int:
    """Copy the segment into campaign_recipients (pending, or skipped with the reason) with
    one INSERT ... SELECT. Done once: a resumed campaign keeps its first list."""
    exists_already = session.scalar(
        select(CampaignRecipient.id).where(CampaignRecipient.campaign_id == campaign.id).limit(1)
    )
    if exists_already is not None:
        return 0
    channel = _channel(pm, campaign)
    cond = segment_condition(pm, session, campaign.segment_key, campaign.segment_params or {})
    facts = _facts(channel, campaign.purpose, cond)
    reason = _reason(channel, campaign.purpose, facts.c.address, facts.c.status)
    rows = select(
        literal(campaign.id),
        facts.c.contact_id,
        func.substr(func.coalesce(facts.c.address, ""), 1, 320),
        case((reason == "", "pending"), else_="skipped"),
        reason,
        literal(""),
        literal(0),
    ).order_by(facts.c.contact_id)
    result = session.execute(
        insert(CampaignRecipient).from_select(
            ["campaign_id", "contact_id", "address", "status", "reason", "error", "attempts"],
            rows,
        )
    )
    return result.rowcount or 0


def counts(session: Session, campaign_id: int) -> dict[str, int]:
    """Recipients by status, skipped ones also by "skipped:<reason>", and "unsubscribed":
    withdrawals recorded from this campaign's links."""
    rows = session.execute(
        select(CampaignRecipient.status, CampaignRecipient.reason, func.count())
        .where(CampaignRecipient.campaign_id == campaign_id)
        .group_by(CampaignRecipient.status, CampaignRecipient.reason)
    ).all()
    found: dict[str, int] = {}
    for status, reason, n in rows:
        found[status] = found.get(status, 0) + n
        if status == "skipped":
            found[f"skipped:{reason}"] = found.get(f"skipped:{reason}", 0) + n
    found["total"] = sum(n for _s, _r, n in rows)
    source = unsubscribe.Unsubscribe(0, "email", "marketing", campaign_id).source
    # Through the campaign's recipients (indexed), not a scan of every consent by source.
    recipients = select(CampaignRecipient.contact_id).where(
        CampaignRecipient.campaign_id == campaign_id
    )
    found["unsubscribed"] = (
        session.scalar(
            select(func.count())
            .select_from(ContactConsent)
            .where(
                ContactConsent.contact_id.in_(recipients),
                ContactConsent.source == source,
                ContactConsent.status == "withdrawn",
            )
        )
        or 0
    )
    return found


def start(session: Session, campaign: Campaign) -> None:
    """Mark the campaign as sending (the caller queues the job): a draft's first start, or
    going on after a pause, a failure, a retry of failed or uncertain messages."""
    if campaign.status == "sending":
        raise CampaignInvalid({"status": _("This campaign is already sending.")})
    campaign.status = "sending"
    campaign.started_at = campaign.started_at or utcnow()
    campaign.finished_at = None


def pause(session: Session, campaign: Campaign) -> bool:
    """Ask the running job to stop after the message it is sending."""
    changed = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.status == "sending")
        .values(status="paused")
    ).rowcount
    return bool(changed)


def mark_failed(session: Session, campaign_id: int) -> None:
    """The job stopped on an error: the page offers to resume (nothing sent is sent again)."""
    session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status == "sending")
        .values(status="failed")
    )


def retry_failed(session: Session, campaign_id: int) -> int:
    return (
        session.execute(
            update(CampaignRecipient)
            .where(
                CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.status == "failed"
            )
            .values(status="pending", error="")
        ).rowcount
        or 0
    )


def resend_uncertain(session: Session, campaign_id: int) -> int:
    """Queue the uncertain ones again: a person decided they may get a second copy."""
    return (
        session.execute(
            update(CampaignRecipient)
            .where(
                CampaignRecipient.campaign_id == campaign_id,
                CampaignRecipient.status == "uncertain",
            )
            .values(status="pending")
        ).rowcount
        or 0
    )


def _still_allowed(session: Session, campaign: Campaign, contact_id: int, channel: str) -> str:
    """Consent is checked again just before sending: "" or the reason to skip."""
    status = consent.status_of(session, contact_id, channel, campaign.purpose)
    if status == "withdrawn":
        return "unsubscribed"
    if campaign.purpose == "marketing" and status != "granted":
        return "no_consent"
    return ""


def send_pending(
    pm: pluggy.PluginManager,
    session: Session,
    campaign_id: int,
    *,
    base_url: str,
    secret_key: str,
    progress: Callable[[int, int], None] = lambda done, total: None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, int]:
    """The job: snapshot, recover from a crash, send the pending rows one by one."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise LookupError(f"campaign {campaign_id} does not exist")
    if campaign.status == "failed":  # the job page re-runs a job that failed: resume
        campaign.status = "sending"
    if campaign.status != "sending":  # paused or done meanwhile: nothing to do
        return counts(session, campaign_id)
    registered = sending.get_sender(pm, campaign.sender)
    if registered is None:
        raise LookupError(f"there is no sender {campaign.sender!r}")
    snapshot(pm, session, campaign)
    # Rows a crashed run left in "sending" may or may not have gone out: never again by itself.
    session.execute(
        update(CampaignRecipient)
        .where(CampaignRecipient.campaign_id == campaign_id, CampaignRecipient.status == "sending")
        .values(status="uncertain", error=_("The sending stopped while this message was sent."))
    )
    session.commit()
    wait = 60.0 / campaign.rate_per_minute if campaign.rate_per_minute else 0.0
    # Counted once; then one step per message taken (no count per message on a big list).
    by_status = counts(session, campaign_id)
    queued = by_status["total"] - by_status.get("skipped", 0)
    done = queued - by_status.get("pending", 0)

    def _progress() -> None:
        nonlocal done
        done += 1
        if done % PROGRESS_EVERY == 0 or wait >= 1:
            progress(done, queued)

    progress(done, queued)
    last_id = 0
    while True:
        session.refresh(campaign)
        if campaign.status != "sending":
            break  # paused from the page
        row = session.scalar(
            select(CampaignRecipient)
            .where(
                CampaignRecipient.campaign_id == campaign_id,
                CampaignRecipient.status == "pending",
                CampaignRecipient.id > last_id,
            )
            .order_by(CampaignRecipient.id)
            .limit(1)
        )
        if row is None:
            break
        last_id = row.id
        row.status, row.attempts = "sending", row.attempts + 1
        session.commit()
        reason = _still_allowed(session, campaign, row.contact_id, registered.channel)
        contact = session.get(Contact, row.contact_id)
        if reason or contact is None:
            row.status, row.reason = "skipped", reason or "no_address"
            session.commit()
            _progress()
            continue
        try:
            message = compose(
                session, registered, campaign, contact, base_url=base_url, secret_key=secret_key
            )
        except sending.SendError as exc:
            row.status, row.error = "failed", str(exc)
            session.commit()
            _progress()
            continue
        result = sending.send(pm, session, campaign.sender, message, campaign.created_by_id)
        row.address = message.to[:320]
        if result.ok:
            row.status, row.error, row.sent_at = "sent", "", utcnow()
        else:
            row.status, row.error = "failed", result.detail or _("unknown error")
        session.commit()
        _progress()
        if wait:
            sleep(wait)
    progress(done, queued)
    session.refresh(campaign)
    if campaign.status == "sending":
        campaign.status, campaign.finished_at = "done", utcnow()
        session.commit()
    return counts(session, campaign_id)


def recipients_page(
    session: Session, campaign_id: int, status: str | None, after: int | None, size: int = 50
) -> tuple[list[tuple[CampaignRecipient, Contact]], int | None]:
    """One page of recipients (keyset by id), with their contacts; the next page's key."""
    stmt = (
        select(CampaignRecipient, Contact)
        .join(Contact, Contact.id == CampaignRecipient.contact_id)
        .where(CampaignRecipient.campaign_id == campaign_id)
        .order_by(CampaignRecipient.id)
        .limit(size + 1)
    )
    if status:
        stmt = stmt.where(CampaignRecipient.status == status)
    if after:
        stmt = stmt.where(CampaignRecipient.id > after)
    rows = [tuple(r) for r in session.execute(stmt).all()]
    more = len(rows) > size
    rows = rows[:size]
    return rows, (rows[-1][0].id if more else None)
