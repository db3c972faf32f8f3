"""Background jobs: handlers registered by kind, run by a huey worker with progress on a Job row.

API for the rest of crmlite (stable):
    @handler("import")
    def run_import(ctx: JobContext) -> dict: ...     # ctx.params, ctx.session, ctx.progress()
    job = enqueue("import", {"path": ...}, user_id)  # returns the Job row (committed)
Handlers must be safe to run again after a crash (resume): they re-check what is done.

The Job row is the truth a page shows (status, progress, result, error); huey only carries
"run job N" to a worker. Storage: a SQLite file in the instance folder, or Redis when REDIS_URL
(CRMLITE_REDIS_URL) is set, so workers on other machines share the queue. With JOBS_IMMEDIATE
(tests) enqueue runs the job at once, in its own app context as a worker would.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from .extensions import db
from .models import Job
from .models.types import utcnow

log = logging.getLogger("crmlite.jobs")

HANDLERS: dict[str, Callable[["JobContext"], dict[str, Any]]] = {}
LABELS: dict[str, str] = {}

#: Shown on the page of a job whose worker stopped while it ran; the job can be re-run.
INTERRUPTED = "Interrupted: the worker stopped while this job ran. Re-run it to resume."


@dataclass
class JobContext:
    job: Job
    session: Session

    @property
    def params(self) -> dict[str, Any]:
        return self.job.params

    def progress(self, done: int, total: int | None = None) -> None:
        """Record progress; committed so the polling page sees it."""
        self.job.done = done
        if total is not None:
            self.job.total = total
        self.session.commit()


def handler(kind: str, label: str | None = None):
    """Register fn(ctx) -> result dict as the handler of jobs of this kind.

    The result may hold "url" and "label": the job page links there (e.g. the import report).
    """

    def register(fn):
        HANDLERS[kind] = fn
        if label:
            LABELS[kind] = label
        return fn

    return register


def kind_label(kind: str) -> str:
    return str(LABELS.get(kind) or kind.replace("_", " ").capitalize())


# -- huey ------------------------------------------------------------------------------------


def make_huey(app):
    """The app's huey: RedisHuey with REDIS_URL, else SqliteHuey in the instance folder."""
    from huey import RedisHuey, SqliteHuey
    from huey.signals import SIGNAL_INTERRUPTED

    config = app.config
    name = config.get("HUEY_NAME") or "crmlite"
    immediate = bool(config.get("JOBS_IMMEDIATE"))
    # Results live on the Job row, so huey keeps none.
    if config.get("REDIS_URL"):
        huey = RedisHuey(name, url=config["REDIS_URL"], results=False, immediate=immediate)
    else:
        path = config.get("HUEY_FILE") or str(Path(app.instance_path) / "huey.db")
        huey = SqliteHuey(name, filename=path, results=False, immediate=immediate)

    @huey.task(name="crmlite.run_job")
    def run_job_task(job_id: int) -> None:
        # A fresh app context: its own session, as in a worker process.
        with app.app_context():
            try:
                run_job(job_id)
            finally:
                db.session.remove()

    @huey.signal(SIGNAL_INTERRUPTED)
    def interrupted(signal, task, *args, **kwargs) -> None:
        # The worker stops mid-job (SIGTERM, or `crmlite run` stopping): say so on the job,
        # which a person can then re-run; the handler resumes where it was.
        if task.name == "crmlite.run_job" and task.args:
            with app.app_context():
                mark_interrupted(db.session, task.args[0])
                db.session.remove()

    huey.crmlite_run_job = run_job_task
    # The weekly data review audit (schedule from its settings; see crmlite/web/review.py).
    from .web.review import register_periodic_audit

    register_periodic_audit(huey, app)
    return huey


def get_huey(app=None):
    """The huey of this app (made on first use and kept in app.extensions)."""
    from flask import current_app

    app = app or current_app._get_current_object()
    huey = app.extensions.get("crmlite.huey")
    if huey is None:
        with _huey_lock:
            huey = app.extensions.get("crmlite.huey")
            if huey is None:
                huey = app.extensions["crmlite.huey"] = make_huey(app)
    return huey


_huey_lock = threading.Lock()


def describe_queue(app) -> str:
    """Where the queue lives, for the worker's first line (no password shown)."""
    url = app.config.get("REDIS_URL")
    if url:
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        return f"Redis {parts.scheme}://{netloc}{parts.path} ({app.config.get('HUEY_NAME')})"
    return "SQLite " + (app.config.get("HUEY_FILE") or str(Path(app.instance_path) / "huey.db"))


# -- the job lifecycle -----------------------------------------------------------------------


def enqueue(kind: str, params: dict[str, Any], user_id: int | None) -> Job:
    """Create the Job row, commit, and hand it to a worker (at once in immediate mode)."""
    if kind not in HANDLERS:
        raise KeyError(f"no job handler for {kind!r}")
    job = Job(kind=kind, params=params, created_by_id=user_id)
    db.session.add(job)
    db.session.commit()
    _send(job)
    return job


def rerun(job_id: int) -> bool:
    """Queue a failed job again; its handler resumes. False if it is not failed (any more)."""
    queued = db.session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "failed")
        .values(status="queued", error="", finished_at=None)
    ).rowcount
    db.session.commit()
    if not queued:
        return False
    job = db.session.get(Job, job_id)
    _send(job)
    return True


def _send(job: Job) -> None:
    job_id = job.id
    try:
        get_huey().crmlite_run_job(job_id)
    except Exception as exc:  # e.g. Redis is down: the job says so instead of waiting forever
        log.exception("could not queue job %s", job_id)
        db.session.rollback()
        db.session.execute(
            update(Job)
            .where(Job.id == job_id, Job.status == "queued")
            .values(status="failed", error=f"Could not queue the job: {exc}", finished_at=utcnow())
        )
        db.session.commit()
    # In immediate mode the job ran in another session: show the caller its outcome.
    db.session.commit()
    db.session.refresh(job)


def run_job(job_id: int) -> None:
    """Run one job in the current app context. A job that is running or done is left alone, so
    a task delivered twice never runs its handler twice at once."""
    session = db.session
    claimed = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.in_(("queued", "failed")))
        .values(status="running", started_at=utcnow(), finished_at=None, error="")
    ).rowcount
    session.commit()
    if not claimed:
        log.info("job %s is not waiting to run; skipped", job_id)
        return
    job = session.get(Job, job_id)
    fn = HANDLERS.get(job.kind)
    log.info("job %s (%s) started", job_id, job.kind)
    try:
        if fn is None:
            raise LookupError(f"no handler for jobs of kind {job.kind!r} in this worker")
        result = fn(JobContext(job, session))
    except Exception as exc:  # reported on the job page; the job can be re-run
        log.warning("job %s (%s) failed: %s", job_id, job.kind, exc, exc_info=True)
        session.rollback()
        job = session.get(Job, job_id)
        job.status, job.error, job.finished_at = "failed", f"{type(exc).__name__}: {exc}", utcnow()
        session.commit()
        return
    job.status, job.result, job.finished_at = "done", result or {}, utcnow()
    session.commit()
    log.info("job %s (%s) done", job_id, job.kind)


def mark_interrupted(session: Session, job_id: int) -> None:
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == "running")
        .values(status="failed", error=INTERRUPTED, finished_at=utcnow())
    )
    session.commit()
