"""The job page in a real browser: the progress bar moves while a worker commits progress and the
page turns to the result without a reload, then stops polling; a failed job is re-run."""

import pytest
from playwright.sync_api import expect

from crmlite.extensions import db
from crmlite.jobs import JobContext, handler
from crmlite.models import Job
from tests.conftest import PASSWORD

from .conftest import login

pytestmark = pytest.mark.browser


@handler("test_browser_count")
def count(ctx: JobContext) -> dict:
    total = ctx.params["total"]
    for i in range(ctx.job.done, total):
        ctx.progress(i + 1, total)
    return {"items": total}


def _update(app, job_id, **values):
    # What a worker in another process commits.
    with app.app_context():
        job = db.session.get(Job, job_id)
        for key, value in values.items():
            setattr(job, key, value)
        db.session.commit()
        db.session.remove()


def test_the_job_page_follows_the_job_until_it_is_done(page, app, users):
    with app.app_context():
        job = Job(kind="test_browser_count", params={"total": 4}, status="running", done=1, total=4)
        db.session.add(job)
        db.session.commit()
        job_id = job.id
        db.session.remove()

    login(page, "editor@example.com", PASSWORD)
    page.goto(f"/jobs/{job_id}")
    status = page.locator("#job-status")
    expect(status).to_contain_text("1 of 4 (25%)")
    expect(page.locator("#job-status progress")).to_have_attribute("value", "1")

    _update(app, job_id, done=3)
    expect(status).to_contain_text("3 of 4 (75%)")  # polled, no reload

    _update(app, job_id, done=4, status="done", result={"items": 4, "url": "/contacts/"})
    expect(status).to_have_attribute("data-status", "done")
    expect(status.get_by_role("button", name="Open the result")).to_be_visible()
    expect(status).not_to_have_attribute("hx-trigger", "every 1s")

    # A failure shows its reason; the re-run goes through the real form with its CSRF token.
    _update(app, job_id, status="failed", error="ValueError: the file is gone", result={})
    page.reload()
    expect(status).to_contain_text("ValueError: the file is gone")
    page.get_by_role("button", name="Re-run").click()
    expect(page.get_by_text("The job was queued again.")).to_be_visible()
    expect(status).to_have_attribute("data-status", "done")  # immediate mode in tests
