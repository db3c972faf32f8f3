"""Real worker processes: `crmlite worker` on Redis and on the SQLite queue, and the worker that
`crmlite run` starts. The test enqueues from its own app (not immediate) and polls the database
until the Job row is finished, with a deadline. The job handlers come from a folder plugin that
the worker loads too (tests/plugins/jobs)."""

import os
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text

from crmlite.app import create_app
from crmlite.extensions import db
from crmlite.jobs import INTERRUPTED, enqueue, rerun
from crmlite.models import Job

from .conftest import login
from .serving import Server, clean_env, serving

CRMLITE = Path(sys.executable).parent / "crmlite"
HANDLERS_DIR = str(Path(__file__).parent / "plugins" / "jobs")
REDIS_URL = "redis://127.0.0.1:6379/7"  # a db for tests; each test uses its own queue name
DEADLINE = 60  # seconds for a broken worker, not a timing assumption


@pytest.fixture
def queue_name():
    """A queue name of this test's own: test runs in parallel may share Redis db 7."""
    return f"crmlite-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def redis_db(queue_name):
    """Redis db 7, without this test's keys before and after (other keys may be another
    test run's, so the db is not flushed)."""
    conn = redis.Redis.from_url(REDIS_URL)

    def clean():
        keys = list(conn.scan_iter(f"huey.*.{queue_name.replace('-', '')}*"))
        if keys:
            conn.delete(*keys)

    clean()
    yield conn
    clean()
    conn.close()


def start_worker(app, **env) -> Server:
    """`crmlite worker` on the test database and instance folder, once it says it is ready."""
    process = subprocess.Popen(
        [str(CRMLITE), "worker"],
        env=clean_env(
            CRMLITE_DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
            CRMLITE_INSTANCE_PATH=app.instance_path,
            CRMLITE_PLUGINS_DIR=HANDLERS_DIR,
            PYTHONUNBUFFERED="1",
            **env,
        ),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
    )
    worker = Server(process, "127.0.0.1", 0)  # its output reader; no port
    worker.wait_for_line(r"worker: \d+ thread", time.monotonic() + DEADLINE)
    return worker


@pytest.fixture
def queue_app(app):
    """Apps that enqueue for real workers, on the test database (immediate mode off)."""

    def make(**config):
        return create_app(
            {"TESTING": True, "WTF_CSRF_ENABLED": False, "PLUGINS_DIR": HANDLERS_DIR, **config}
        )

    return make


def wait_for_job(app, job_id: int, until=lambda job: job.status in ("done", "failed")) -> Job:
    deadline = time.monotonic() + DEADLINE
    while True:
        with app.app_context():
            job = db.session.get(Job, job_id)
            db.session.expunge(job)
            db.session.remove()
        if until(job):
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job.status}"
        time.sleep(0.05)  # polling the database, the deadline above bounds it


def test_a_worker_on_redis_runs_a_job_enqueued_by_the_web_app(
    app, users, queue_app, redis_db, queue_name
):
    web = queue_app(REDIS_URL=REDIS_URL, HUEY_NAME=queue_name)
    queue_key = "huey.redis." + queue_name.replace("-", "")
    with web.app_context():
        job_id = enqueue("test_worker_count", {"total": 4}, users["editor"]).id
        db.session.remove()
    # The task waits in Redis until a worker takes it.
    assert redis_db.llen(queue_key) == 1

    worker = start_worker(app, CRMLITE_REDIS_URL=REDIS_URL, CRMLITE_HUEY_NAME=queue_name)
    try:
        assert f"queue in Redis redis://127.0.0.1:6379/7 ({queue_name})" in worker.output
        job = wait_for_job(web, job_id)
        assert (job.status, job.done, job.total, job.error) == ("done", 4, 4, "")
        # Run by the worker process, not by this one.
        assert job.result == {"counted": 4, "worker_pid": worker.process.pid}
        assert redis_db.llen(queue_key) == 0

        # The page a person opens shows it done.
        client = web.test_client()
        assert login(client, "editor@example.com").status_code == 302
        page = client.get(f"/jobs/{job_id}").get_data(as_text=True)
        assert "<dt>Counted</dt><dd>4</dd>" in page
        assert "Started by Editor" in page
    finally:
        assert worker.stop() == 0, worker.output
    assert "Worker stopped." in worker.output
    assert f"job {job_id} (test_worker_count) done" in worker.output


def test_a_worker_on_the_sqlite_queue_runs_a_job(app, users, queue_app):
    web = queue_app()
    huey_file = Path(app.instance_path) / "huey.db"
    worker = start_worker(app)
    try:
        assert f"queue in SQLite {huey_file}" in worker.output
        with web.app_context():
            job_id = enqueue("test_worker_count", {"total": 2}, None).id
            db.session.remove()
        job = wait_for_job(web, job_id)
        assert job.status == "done"
        assert job.result["worker_pid"] == worker.process.pid
    finally:
        assert worker.stop() == 0, worker.output
    assert huey_file.exists()


def test_a_worker_stopped_mid_job_marks_it_interrupted_and_a_rerun_finishes_it(
    app, users, queue_app, redis_db, queue_name, tmp_path
):
    web = queue_app(REDIS_URL=REDIS_URL, HUEY_NAME=queue_name)
    gate = tmp_path / "gate"
    worker = start_worker(app, CRMLITE_REDIS_URL=REDIS_URL, CRMLITE_HUEY_NAME=queue_name)
    try:
        with web.app_context():
            job_id = enqueue("test_worker_wait", {"gate": str(gate)}, None).id
            db.session.remove()
        # The handler has started and reported its first step.
        wait_for_job(web, job_id, lambda job: job.status == "running" and job.done == 1)
    finally:
        assert worker.stop() == 0, worker.output  # SIGTERM: stop now
    job = wait_for_job(web, job_id)
    assert (job.status, job.error) == ("failed", INTERRUPTED)

    gate.touch()
    worker = start_worker(app, CRMLITE_REDIS_URL=REDIS_URL, CRMLITE_HUEY_NAME=queue_name)
    try:
        with web.app_context():
            assert rerun(job_id)
            db.session.remove()
        job = wait_for_job(web, job_id)
        assert (job.status, job.result) == ("done", {"gate": "opened"})
    finally:
        worker.stop()


def test_crmlite_run_starts_a_worker_and_stops_it_with_the_server(tmp_path, monkeypatch):
    env = clean_env(
        CRMLITE_DATABASE_URL="sqlite:///" + str(tmp_path / "crm.db"),
        CRMLITE_INSTANCE_PATH=str(tmp_path / "instance"),
        CRMLITE_PLUGINS_DIR=HANDLERS_DIR,
    )
    migrated = subprocess.run(
        [str(CRMLITE), "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120
    )
    assert migrated.returncode == 0, migrated.stderr
    for key in ("CRMLITE_DATABASE_URL", "CRMLITE_INSTANCE_PATH", "CRMLITE_PLUGINS_DIR"):
        monkeypatch.setenv(key, env[key])
    web = create_app({"TESTING": True})

    with serving(CRMLITE, env, cwd=tmp_path) as server:
        pid = int(
            server.wait_for_line(
                r"Background worker started \(pid (\d+)\)", time.monotonic() + DEADLINE
            ).group(1)
        )
        with web.app_context():
            job_id = enqueue("test_worker_count", {"total": 3}, None).id
            db.session.remove()
        job = wait_for_job(web, job_id)
        assert job.status == "done"
        assert job.result["worker_pid"] == pid

    assert server.process.returncode == 0, server.output
    assert "Stopped." in server.output
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the worker is gone with the server
    engine = create_engine(env["CRMLITE_DATABASE_URL"])
    with engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM jobs")).scalars().all() == ["done"]
    engine.dispose()


def test_run_and_worker_help_describe_the_worker_options(tmp_path):
    env = clean_env(
        CRMLITE_DATABASE_URL="sqlite:///" + str(tmp_path / "crm.db"),
        CRMLITE_INSTANCE_PATH=str(tmp_path / "instance"),
    )
    help_text = subprocess.run(
        [str(CRMLITE), "run", "--help"], env=env, capture_output=True, text=True, timeout=120
    ).stdout
    assert "--no-worker" in help_text
    worker_help = subprocess.run(
        [str(CRMLITE), "worker", "--help"], env=env, capture_output=True, text=True, timeout=120
    )
    assert worker_help.returncode == 0
    assert re.search(r"--threads INTEGER", worker_help.stdout)
    assert "CRMLITE_REDIS_URL" in worker_help.stdout
