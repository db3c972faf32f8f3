"""Background jobs: the recent jobs and one job's page, whose progress bar HTMX polls.

State lives in the jobs table, so a page opened again later (or in another browser) shows
where the job is. Polling stops when the job is finished: the finished fragment has no trigger.
"""

from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import jobs
from ..extensions import db
from ..models import Job
from .htmx import render

bp = Blueprint("jobs", __name__, url_prefix="/jobs")

PAGE_SIZE = 50


@bp.app_template_global()
def job_kind_label(kind: str) -> str:
    return jobs.kind_label(kind)


@bp.app_template_filter()
def job_result_link(result: dict) -> str | None:
    """The result's "url" if it is a local path (never javascript: or another site)."""
    url = (result or {}).get("url")
    if isinstance(url, str) and url.startswith("/") and not url.startswith("//"):
        return url
    return None


@bp.route("/")
def index():
    before = request.args.get("before", type=int)
    query = select(Job).options(selectinload(Job.created_by)).order_by(Job.id.desc())
    if before:
        query = query.where(Job.id < before)
    rows = list(db.session.scalars(query.limit(PAGE_SIZE + 1)))
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    active = any(not job.finished for job in rows)
    return render(
        "jobs/index.html",
        block="jobs_table",
        jobs=rows,
        older=rows[-1].id if more else None,
        before=before,
        active=active,
    )


def _job_or_404(job_id: int) -> Job:
    job = db.session.scalars(
        select(Job).options(selectinload(Job.created_by)).where(Job.id == job_id)
    ).first()
    return job or abort(404)


@bp.route("/<int:job_id>")
def show(job_id: int):
    job = _job_or_404(job_id)
    return render("jobs/page.html", block="job_status", job=job, interrupted=jobs.INTERRUPTED)


@bp.post("/<int:job_id>/rerun")
def rerun(job_id: int):
    # Viewers never get here: the global check refuses their POSTs.
    job = _job_or_404(job_id)
    if not current_user.can_edit():
        abort(403)
    if jobs.rerun(job.id):
        flash(_("The job was queued again."), "success")
    else:  # e.g. re-run twice from two tabs: it already runs or is done
        flash(_("Only a failed job can be re-run."), "error")
    return redirect(url_for("jobs.show", job_id=job.id))
