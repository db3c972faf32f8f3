"""Background jobs in huey's immediate mode (the test app sets JOBS_IMMEDIATE): enqueue runs the
job at once, and the job pages show what a person would see. Real worker processes are in
test_worker.py."""

import re

import pytest
from sqlalchemy import select

from crmlite import jobs
from crmlite.app import create_app
from crmlite.extensions import db
from crmlite.jobs import JobContext, enqueue, handler
from crmlite.models import Job

# Test-only handlers (their kinds start with "test_", registered at import).
PROCESSED: list[int] = []
FAIL_AT: dict[str, int | None] = {"item": None}


@handler("test_count", label="Count things")
def count_things(ctx: JobContext) -> dict:
    total = ctx.params["total"]
    for i in range(ctx.job.done, total):
        ctx.progress(i + 1, total)
    return {"items": total, "skipped_rows": 0, "url": "/contacts/", "label": "See the contacts"}


@handler("test_resumable")
def resumable(ctx: JobContext) -> dict:
    """Processes items from where it stopped; fails once at FAIL_AT (a bug fixed later)."""
    total = ctx.params["total"]
    for i in range(ctx.job.done, total):
        if FAIL_AT["item"] == i:
            raise RuntimeError(f"cannot read item {i}")
        PROCESSED.append(i)
        ctx.progress(i + 1, total)
    return {"processed": total}


@handler("test_bad_link")
def bad_link(ctx: JobContext) -> dict:
    return {"url": "javascript:alert(1)", "label": "Click me"}


@pytest.fixture(autouse=True)
def _reset():
    PROCESSED.clear()
    FAIL_AT["item"] = None


def _enqueue(app, kind, params, user_id=None) -> int:
    with app.app_context():
        job = enqueue(kind, params, user_id)
        job_id = job.id
        db.session.remove()
    return job_id


def _job(app, job_id) -> Job:
    with app.app_context():
        job = db.session.get(Job, job_id)
        db.session.expunge(job)
        db.session.remove()
    return job


def _status_block(html: str) -> str:
    match = re.search(r'<article id="job-status".*?</article>', html, re.S)
    assert match, html
    return match.group(0)


def test_an_enqueued_job_runs_and_its_page_shows_done_with_the_result(app, users, editor_client):
    job_id = _enqueue(app, "test_count", {"total": 3}, users["editor"])

    job = _job(app, job_id)
    assert (job.status, job.done, job.total, job.error) == ("done", 3, 3, "")

    page = editor_client.get(f"/jobs/{job_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    status = _status_block(html)
    assert "Count things" in html
    assert "Done" in status
    assert '<progress value="1" max="1">' in status
    # The summary is rendered generically; the link the kind provides is a button.
    assert re.search(r"<dt>Items</dt><dd>3</dd>", status)
    assert re.search(r"<dt>Skipped rows</dt><dd>0</dd>", status)
    assert '<a href="/contacts/" role="button">See the contacts</a>' in status
    assert "Started by Editor" in status
    # Finished: nothing polls any more.
    assert "hx-trigger" not in status

    listing = editor_client.get("/jobs/").get_data(as_text=True)
    assert f'href="/jobs/{job_id}"' in listing
    assert "Count things" in listing and "Done" in listing
    assert "hx-trigger" not in listing  # no job is active


def test_the_progress_bar_polls_while_the_job_runs_and_stops_when_it_is_done(
    app, users, viewer_client
):
    # A job a worker is running right now (state as the worker commits it).
    with app.app_context():
        job = Job(kind="test_count", params={"total": 5}, status="running", done=2, total=5)
        db.session.add(job)
        db.session.commit()
        job_id = job.id
        db.session.remove()

    page = viewer_client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "<html" in page
    status = _status_block(page)
    assert f'hx-get="/jobs/{job_id}" hx-trigger="every 1s" hx-swap="outerHTML"' in status
    assert '<progress value="2" max="5"' in status
    assert "2 of 5 (40%)" in status
    assert "You may close this page" in status

    # The poll (an HTMX request) gets only the status block, still polling.
    poll = viewer_client.get(f"/jobs/{job_id}", headers={"HX-Request": "true"})
    fragment = poll.get_data(as_text=True)
    assert "<html" not in fragment
    assert fragment.lstrip().startswith('<article id="job-status"')
    assert 'hx-trigger="every 1s"' in fragment

    # The list of jobs polls too while one is active.
    assert 'hx-trigger="every 2s"' in viewer_client.get("/jobs/").get_data(as_text=True)

    with app.app_context():
        job = db.session.get(Job, job_id)
        job.status, job.done, job.result = "done", 5, {"items": 5}
        db.session.commit()
        db.session.remove()

    last = viewer_client.get(f"/jobs/{job_id}", headers={"HX-Request": "true"})
    fragment = last.get_data(as_text=True)
    assert "Done" in fragment
    assert "<dt>Items</dt><dd>5</dd>" in fragment
    assert "hx-trigger" not in fragment  # swapped in, it ends the polling


def test_a_failed_job_says_why_and_a_rerun_resumes_where_it_stopped(app, users, editor_client):
    FAIL_AT["item"] = 3
    job_id = _enqueue(app, "test_resumable", {"total": 5}, users["editor"])

    job = _job(app, job_id)
    assert job.status == "failed"
    assert job.error == "RuntimeError: cannot read item 3"
    assert job.done == 3
    status = _status_block(editor_client.get(f"/jobs/{job_id}").get_data(as_text=True))
    assert "Failed" in status
    assert "The job failed." in status
    assert "<code>RuntimeError: cannot read item 3</code>" in status
    assert "It had got to 3 before it stopped." in status
    assert 'role="alert"' in status
    assert ">Re-run</button>" in status
    assert "hx-trigger" not in status

    FAIL_AT["item"] = None  # the cause is fixed
    resp = editor_client.post(f"/jobs/{job_id}/rerun")
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith(f"/jobs/{job_id}")

    page = editor_client.get(f"/jobs/{job_id}").get_data(as_text=True)
    assert "The job was queued again." in page
    status = _status_block(page)
    assert "Done" in status and "<dt>Processed</dt><dd>5</dd>" in status
    assert "Re-run" not in status
    # The handler resumed: every item was processed exactly once.
    assert PROCESSED == [0, 1, 2, 3, 4]
    assert _job(app, job_id).error == ""

    # A finished job is not run again.
    again = editor_client.post(f"/jobs/{job_id}/rerun", follow_redirects=True)
    assert "Only a failed job can be re-run." in again.get_data(as_text=True)
    assert PROCESSED == [0, 1, 2, 3, 4]


def test_a_viewer_sees_a_failed_job_but_cannot_rerun_it(app, users, viewer_client):
    FAIL_AT["item"] = 0
    job_id = _enqueue(app, "test_resumable", {"total": 2}, users["editor"])

    page = viewer_client.get(f"/jobs/{job_id}")
    assert page.status_code == 200
    status = _status_block(page.get_data(as_text=True))
    assert "RuntimeError: cannot read item 0" in status
    assert "Re-run" not in status

    FAIL_AT["item"] = None
    assert viewer_client.post(f"/jobs/{job_id}/rerun").status_code == 403
    assert _job(app, job_id).status == "failed"
    assert PROCESSED == []


def test_a_job_interrupted_by_a_stopping_worker_says_so_and_can_be_rerun(app, users, editor_client):
    with app.app_context():
        job = Job(kind="test_count", params={"total": 4}, status="running", done=1, total=4)
        db.session.add(job)
        db.session.commit()
        job_id = job.id
        jobs.mark_interrupted(db.session, job_id)
        db.session.remove()

    status = _status_block(editor_client.get(f"/jobs/{job_id}").get_data(as_text=True))
    assert "The worker stopped while this job ran." in status
    assert ">Re-run</button>" in status

    editor_client.post(f"/jobs/{job_id}/rerun")
    job = _job(app, job_id)
    assert (job.status, job.done, job.result["items"]) == ("done", 4, 4)


def test_a_result_link_to_another_site_or_script_is_not_shown(app, users, editor_client):
    job_id = _enqueue(app, "test_bad_link", {})
    status = _status_block(editor_client.get(f"/jobs/{job_id}").get_data(as_text=True))
    assert "Done" in status
    assert "javascript:" not in status
    assert "Click me" not in status


def test_pages_of_jobs_need_login_and_an_unknown_job_is_404(client, editor_client):
    resp = client.get("/jobs/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    assert editor_client.get("/jobs/999999").status_code == 404
    assert "No jobs yet." in editor_client.get("/jobs/").get_data(as_text=True)


def test_the_jobs_list_pages_through_older_jobs(app, users, editor_client, monkeypatch):
    monkeypatch.setattr("crmlite.web.jobs.PAGE_SIZE", 2)
    ids = [_enqueue(app, "test_count", {"total": 1}) for _ in range(3)]

    first = editor_client.get("/jobs/").get_data(as_text=True)
    assert f'href="/jobs/{ids[2]}"' in first and f'href="/jobs/{ids[1]}"' in first
    assert f'href="/jobs/{ids[0]}"' not in first
    older = re.search(r'href="(/jobs/\?before=\d+)">Older jobs', first).group(1)
    second = editor_client.get(older).get_data(as_text=True)
    assert f'href="/jobs/{ids[0]}"' in second
    assert "Older jobs" not in second


def test_enqueue_refuses_an_unknown_kind(ctx):
    with pytest.raises(KeyError, match="no job handler"):
        enqueue("no_such_kind", {}, None)
    assert db.session.scalars(select(Job)).all() == []


def test_a_queue_that_cannot_be_reached_fails_the_job_with_a_clear_message(app, users, ctx):
    # Redis on a port where nothing listens: the job says so rather than waiting forever.
    broken = create_app({"TESTING": True, "REDIS_URL": "redis://127.0.0.1:9/0"})
    with broken.app_context():
        job = enqueue("test_count", {"total": 1}, None)
        assert job.status == "failed"
        assert job.error.startswith("Could not queue the job:")
        db.session.remove()
