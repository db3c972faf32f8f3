"""Test-only job handlers, loaded as a folder plugin (CRMLITE_PLUGINS_DIR) by the test's app
and by the real `crmlite worker` processes that tests/test_worker.py starts: both register
the same kinds because the worker calls create_app(), which imports the plugin folder."""

import os
import time
from pathlib import Path

from crmlite.jobs import JobContext, handler


@handler("test_worker_count", label="Count (test)")
def count(ctx: JobContext) -> dict:
    """Count to params["total"], reporting progress; says which process did the work."""
    total = int(ctx.params.get("total", 3))
    for i in range(ctx.job.done, total):
        ctx.progress(i + 1, total)
    return {"counted": total, "worker_pid": os.getpid()}


@handler("test_worker_wait")
def wait_for_gate(ctx: JobContext) -> dict:
    """Run until the file params["gate"] exists (or a minute passes): a job to interrupt."""
    ctx.progress(1, 2)
    gate = Path(ctx.params["gate"])
    deadline = time.monotonic() + 60
    while not gate.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    ctx.progress(2, 2)
    return {"gate": "opened" if gate.exists() else "timed out"}
