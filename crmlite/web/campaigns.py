"""Campaigns: compose a message to a segment, check who gets it, preview, send as a job.

GET       /campaigns/                         the list, newest first (keyset)
GET/POST  /campaigns/new, /campaigns/<id>/edit   the compose form (editors and admins)
POST      /campaigns/audience, /preview, /test   fragments for the compose form: who gets it,
                                              the message for a real contact, a test to me
GET       /campaigns/<id>                     the campaign: progress (HTMX polls), counts,
                                              recipients by status (keyset)
POST      /campaigns/<id>/start|pause|retry|resend-uncertain
GET/POST  /unsubscribe/<token>                public: one button, records the withdrawal
"""

from datetime import date

from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from .. import jobs
from ..core import campaigns as core
from ..core import segments, sending, unsubscribe
from ..extensions import csrf, db
from ..models import Campaign, Contact, Job
from ..models.campaign import RECIPIENT_STATUSES
from .htmx import render
from .security import public
from .sending import _variables

bp = Blueprint("campaigns", __name__)

PAGE = 50
DEFAULT_BODY = (
    "{{ first_name }}, здравствуйте!\n\n"
    "{% if promo_code is defined and promo_code %}Ваш промокод: {{ promo_code }}\n{% endif %}"
    "\n{{ unsubscribe_url }}\n"
)


def _pm():
    return current_app.extensions["crmlite.plugins"]


def _editor() -> None:
    if not current_user.can_edit():
        abort(403)  # viewers read campaigns; composing and sending are actions


def _campaign_or_404(campaign_id: int) -> Campaign:
    return db.session.get(Campaign, campaign_id) or abort(404)


def _base_url() -> str:
    return current_app.config.get("BASE_URL") or request.url_root


def _form_data() -> dict:
    form = request.form
    key = form.get("segment_key", "")
    segment = segments.get(_pm(), key)
    params = {}
    if segment is not None:
        params = {
            f.name: form.get(f"{segments.PARAM_PREFIX}{f.name}", "")
            for f in segments.param_fields(segment)
        }
    return {
        "name": form.get("name", ""),
        "segment_key": key,
        "segment_params": params,
        "sender": form.get("sender", ""),
        "purpose": form.get("purpose", "marketing"),
        "subject": form.get("subject", ""),
        "body": form.get("body", ""),
        "rate_per_minute": form.get("rate_per_minute", "60"),
    }


def _draft_from_form() -> Campaign:
    """An unsaved Campaign from the form, for audience, preview and test send."""
    data = _form_data()
    segment = segments.get(_pm(), data["segment_key"])
    if segment is not None:
        data["segment_params"], _problems = segments.parse_params(segment, data["segment_params"])
    data["body"] = data["body"].replace("\r\n", "\n")
    data.pop("rate_per_minute")
    return Campaign(**data)


def _compose_page(values: dict, campaign: Campaign | None = None, errors=None, status=200):
    pm = _pm()
    selected = segments.get(pm, values.get("segment_key"))
    return (
        render(
            "campaigns/compose.html",
            values=values,
            campaign=campaign,
            errors=errors or {},
            segment_choices=core.segment_choices(pm, db.session, current_user.id),
            senders=core.campaign_senders(pm),
            param_fields=segments.param_fields(selected) if selected else [],
            variables=[*_variables(), "unsubscribe_url"],
        ),
        status,
    )


def _values_of(campaign: Campaign) -> dict:
    return {
        "name": campaign.name,
        "segment_key": campaign.segment_key,
        "segment_params": campaign.segment_params or {},
        "sender": campaign.sender,
        "purpose": campaign.purpose,
        "subject": campaign.subject,
        "body": campaign.body,
        "rate_per_minute": campaign.rate_per_minute,
    }


@bp.route("/campaigns/")
def index():
    raw = request.args.get("before", "")
    before = int(raw) if raw.isdigit() and len(raw) < 19 else None
    stmt = select(Campaign).order_by(Campaign.id.desc()).limit(PAGE + 1)
    if before is not None:
        stmt = stmt.where(Campaign.id < before)
    rows = list(db.session.scalars(stmt))
    more = len(rows) > PAGE
    rows = rows[:PAGE]
    return render(
        "campaigns/index.html",
        campaigns=rows,
        older_url=url_for("campaigns.index", before=rows[-1].id) if more else None,
        status_label=core.status_label,
    )


@bp.route("/campaigns/new", methods=["GET", "POST"])
def new():
    _editor()
    if request.method == "GET":
        pm = _pm()
        senders = core.campaign_senders(pm)
        values = {
            # ?segment= from a segment's page; segment_key when the picker re-draws params.
            "segment_key": request.args.get("segment_key") or request.args.get("segment", ""),
            "segment_params": {},
            "sender": senders[0].name if senders else "",
            "purpose": "marketing",
            "subject": "",
            "body": DEFAULT_BODY,
            "rate_per_minute": 60,
        }
        return _compose_page(values)
    data = _form_data()
    try:
        campaign = core.create(_pm(), db.session, data, current_user.id)
    except core.CampaignInvalid as exc:
        db.session.rollback()
        return _compose_page(data, errors=exc.errors, status=422)
    db.session.commit()
    flash(_("The campaign “%(name)s” is saved as a draft.", name=campaign.name), "success")
    return redirect(url_for("campaigns.show", campaign_id=campaign.id))


@bp.route("/campaigns/<int:campaign_id>/edit", methods=["GET", "POST"])
def edit(campaign_id: int):
    _editor()
    campaign = _campaign_or_404(campaign_id)
    if campaign.status != "draft":
        flash(_("Only a draft can be changed."), "error")
        return redirect(url_for("campaigns.show", campaign_id=campaign.id))
    if request.method == "GET":
        return _compose_page(_values_of(campaign), campaign)
    data = _form_data()
    try:
        core.update_draft(_pm(), db.session, campaign, data, current_user.id)
    except core.CampaignInvalid as exc:
        db.session.rollback()
        return _compose_page(data, campaign, errors=exc.errors, status=422)
    db.session.commit()
    flash(_("The campaign is saved."), "success")
    return redirect(url_for("campaigns.show", campaign_id=campaign.id))


# -- fragments of the compose form (POST: they read the unsaved form; they change nothing) ---


def _audience_fragment(campaign: Campaign, start: bool = False):
    try:
        found = core.campaign_audience(_pm(), db.session, campaign)
    except LookupError as exc:
        return render("campaigns/_audience.html", error=str(exc)), 422
    return render(
        "campaigns/_audience.html",
        audience=found,
        reason_label=core.reason_label,
        purpose=campaign.purpose,
        start_campaign=campaign if start and campaign.status == "draft" else None,
    )


@bp.post("/campaigns/audience")
def audience():
    _editor()
    return _audience_fragment(_draft_from_form())


@bp.get("/campaigns/<int:campaign_id>/audience")
def campaign_audience(campaign_id: int):
    return _audience_fragment(_campaign_or_404(campaign_id), start=True)


def _recipient_after(pm, campaign: Campaign, registered, after: int | None):
    """The first contact after id `after` who would get the campaign, or None."""
    found = core.preview_contacts(
        pm,
        db.session,
        campaign.segment_key,
        campaign.segment_params or {},
        after,
        1,
        channel=registered.channel,
        purpose=campaign.purpose,
    )
    return found[0] if found else None


def _preview(campaign: Campaign, after: int | None):
    pm = _pm()
    context: dict = {"campaign_id": campaign.id}
    try:
        registered = sending.get_sender(pm, campaign.sender)
        if registered is None:
            raise sending.SendError(_("Choose a sender."))
        problem = core.template_problem(campaign.subject or "", "subject") or (
            core.template_problem(campaign.body or "", "body")
        )
        if problem:
            raise sending.SendError(problem)
        contact = _recipient_after(pm, campaign, registered, after)
        if contact is None and after:  # past the last one: start again from the first
            contact = _recipient_after(pm, campaign, registered, None)
        if contact is None:
            raise sending.SendError(_("Nobody in the segment will get this message."))
        context["contact"] = contact
        context["message"] = core.compose(
            db.session,
            registered,
            campaign,
            contact,
            base_url=_base_url(),
            secret_key=current_app.config["SECRET_KEY"],
        )
    except (sending.SendError, LookupError) as exc:
        context["error"] = str(exc)
        return render("campaigns/_preview.html", **context), 422
    return render("campaigns/_preview.html", **context)


@bp.post("/campaigns/preview")
def preview():
    _editor()
    return _preview(_draft_from_form(), request.form.get("after", type=int))


@bp.post("/campaigns/<int:campaign_id>/preview")
def campaign_preview(campaign_id: int):
    _editor()
    return _preview(_campaign_or_404(campaign_id), request.form.get("after", type=int))


def _test_send(campaign: Campaign):
    """The message as the first contact of the segment would get it, sent to the user."""
    pm = _pm()
    result = None
    try:
        registered = sending.get_sender(pm, campaign.sender)
        if registered is None:
            raise sending.SendError(_("Choose a sender."))
        if registered.channel != "email" or not current_user.email:
            raise sending.SendError(_("A test can be sent to yourself by e-mail only."))
        found = _recipient_after(pm, campaign, registered, None)
        if found is None:
            raise sending.SendError(_("Nobody in the segment will get this message."))
        message = core.compose(
            db.session,
            registered,
            campaign,
            found,
            base_url=_base_url(),
            secret_key=current_app.config["SECRET_KEY"],
        )
        # To the user, not to the contact, and recorded in nobody's chronicle.
        message.to, message.contact_id = current_user.email, None
        message.subject = _("[Test] %(subject)s", subject=message.subject)
        result = sending.send(pm, db.session, registered.name, message, user_id=current_user.id)
        db.session.commit()
    except (sending.SendError, LookupError) as exc:
        db.session.rollback()
        result = sending.SendResult(False, str(exc))
    return (
        render("campaigns/_test_result.html", result=result, to=current_user.email),
        200 if result.ok else 422,
    )


@bp.post("/campaigns/test")
def test_send():
    _editor()
    return _test_send(_draft_from_form())


@bp.post("/campaigns/<int:campaign_id>/test")
def campaign_test_send(campaign_id: int):
    _editor()
    return _test_send(_campaign_or_404(campaign_id))


# -- the campaign page and its actions -------------------------------------------------------


@bp.route("/campaigns/<int:campaign_id>")
def show(campaign_id: int):
    campaign = _campaign_or_404(campaign_id)
    status = request.args.get("status", "")
    status = status if status in RECIPIENT_STATUSES else ""
    after = request.args.get("after", type=int)
    rows, next_after = core.recipients_page(db.session, campaign.id, status or None, after, PAGE)
    job = db.session.get(Job, campaign.job_id) if campaign.job_id else None
    return render(
        "campaigns/show.html",
        block="campaign_status" if request.args.get("part") == "status" else "recipients",
        campaign=campaign,
        job=job,
        counts=core.counts(db.session, campaign.id),
        rows=rows,
        status=status,
        statuses=RECIPIENT_STATUSES,
        next_url=(
            url_for("campaigns.show", campaign_id=campaign.id, status=status, after=next_after)
            if next_after
            else None
        ),
        segment_label=_segment_label(campaign),
        sender_label=_sender_label(campaign),
        status_label=core.status_label,
        reason_label=core.reason_label,
        reasons=core.REASONS,
    )


def _sender_label(campaign: Campaign) -> str:
    registered = sending.get_sender(_pm(), campaign.sender)
    return registered.label if registered else campaign.sender


def _segment_label(campaign: Campaign) -> str:
    for choice in core.segment_choices(_pm(), db.session, current_user.id):
        if choice.key == campaign.segment_key:
            return choice.label
    return campaign.segment_key


def _queue(campaign: Campaign) -> None:
    job = jobs.enqueue(
        "campaign_send", {"campaign_id": campaign.id, "base_url": _base_url()}, current_user.id
    )
    campaign = db.session.get(Campaign, campaign.id)
    campaign.job_id = job.id
    db.session.commit()


@bp.post("/campaigns/<int:campaign_id>/start")
def start(campaign_id: int):
    _editor()
    campaign = _campaign_or_404(campaign_id)
    try:
        if campaign.status != "draft":
            raise core.CampaignInvalid({"status": _("This campaign was started already.")})
        core.start(db.session, campaign)
    except core.CampaignInvalid as exc:
        flash(str(exc), "error")
        return redirect(url_for("campaigns.show", campaign_id=campaign.id))
    # Check the templates once more before anything goes out (a plugin may have changed).
    problem = core.template_problem(campaign.subject, "subject") or core.template_problem(
        campaign.body, "body"
    )
    if problem or core.sending.get_sender(_pm(), campaign.sender) is None:
        db.session.rollback()
        flash(problem or _("There is no sender “%(name)s”.", name=campaign.sender), "error")
        return redirect(url_for("campaigns.show", campaign_id=campaign.id))
    db.session.commit()
    _queue(campaign)
    flash(_("The campaign is being sent."), "success")
    return redirect(url_for("campaigns.show", campaign_id=campaign_id))


@bp.post("/campaigns/<int:campaign_id>/pause")
def pause(campaign_id: int):
    _editor()
    campaign = _campaign_or_404(campaign_id)
    if core.pause(db.session, campaign):
        flash(_("The campaign is paused after the message being sent now."), "success")
    else:
        flash(_("Only a campaign that is sending can be paused."), "error")
    db.session.commit()
    return redirect(url_for("campaigns.show", campaign_id=campaign_id))


def _restart(campaign_id: int, requeue, done_message: str, none_message: str):
    _editor()
    campaign = _campaign_or_404(campaign_id)
    if campaign.status in ("sending", "draft"):
        flash(_("Wait until the campaign stops sending."), "error")
        return redirect(url_for("campaigns.show", campaign_id=campaign_id))
    n = requeue(db.session, campaign.id) if requeue else 0
    if requeue and not n:
        flash(none_message, "error")
        db.session.rollback()
        return redirect(url_for("campaigns.show", campaign_id=campaign_id))
    core.start(db.session, campaign)
    db.session.commit()
    _queue(campaign)
    flash(done_message % {"n": n} if requeue else done_message, "success")
    return redirect(url_for("campaigns.show", campaign_id=campaign_id))


@bp.post("/campaigns/<int:campaign_id>/resume")
def resume(campaign_id: int):
    return _restart(campaign_id, None, _("The campaign goes on."), "")


@bp.post("/campaigns/<int:campaign_id>/retry")
def retry(campaign_id: int):
    return _restart(
        campaign_id,
        core.retry_failed,
        _("%(n)s failed messages are queued again."),
        _("There are no failed messages to retry."),
    )


@bp.post("/campaigns/<int:campaign_id>/resend-uncertain")
def resend_uncertain(campaign_id: int):
    return _restart(
        campaign_id,
        core.resend_uncertain,
        _("%(n)s uncertain messages are queued again."),
        _("There are no uncertain messages."),
    )


@jobs.handler("campaign_send", label=_l("Campaign"))
def run_campaign(ctx: jobs.JobContext) -> dict:
    campaign_id = int(ctx.params["campaign_id"])
    base_url = current_app.config.get("BASE_URL") or ctx.params.get("base_url") or ""
    try:
        result = core.send_pending(
            _pm(),
            ctx.session,
            campaign_id,
            base_url=base_url,
            secret_key=current_app.config["SECRET_KEY"],
            progress=ctx.progress,
        )
    except Exception:
        ctx.session.rollback()
        core.mark_failed(ctx.session, campaign_id)
        ctx.session.commit()
        raise
    keep = ("sent", "failed", "skipped", "uncertain", "pending")
    # The job page links to the campaign (no request here, so no url_for).
    return {
        **{k: result.get(k, 0) for k in keep},
        "url": f"/campaigns/{campaign_id}",
        "label": _("Open the campaign"),
    }


# -- unsubscribe: no login; GET shows one button, POST records the withdrawal -----------------


def _link(token: str):
    return unsubscribe.read_token(current_app.config["SECRET_KEY"], token)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@public
@csrf.exempt  # a mail client's RFC 8058 one-click POST carries no CSRF token
def unsubscribe_link(token: str):
    link = _link(token)
    if link is None:
        return render("unsubscribe.html", state="invalid"), 404
    contact = db.session.get(Contact, link.contact_id)
    if contact is None:
        return render("unsubscribe.html", state="invalid"), 404
    if request.method == "GET":
        return render("unsubscribe.html", state="ask", link=link, token=token)
    unsubscribe.withdraw(db.session, link)
    db.session.commit()
    return render("unsubscribe.html", state="done", link=link, today=date.today().isoformat())
