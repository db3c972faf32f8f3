"""Run `crmlite run` in a subprocess, wait until it serves, talk to it over real HTTP.

Shared by test_cli.py (the checkout's console script) and test_wheel.py (a wheel installed in a
fresh virtualenv). Start-up is synchronised on the server's own output: `crmlite run` prints
"serving on http://HOST:PORT" once its socket listens, and a reader thread hands every output
line to the waiting test; a connect to the port confirms it. No sleeps.
"""

import http.cookiejar
import json
import os
import queue
import re
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

STARTUP_SECONDS = 60  # a deadline for a broken start, not a timing assumption
STOP_SECONDS = 15


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class Server:
    """A running `crmlite run` process and everything it has printed so far."""

    def __init__(self, process: subprocess.Popen, host: str, port: int) -> None:
        self.process = process
        self.host, self.port = host, port
        self.url = f"http://{host}:{port}"
        self.lines: list[str] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)
            self._lines.put(line)
        self._lines.put(None)  # end of output: the process has exited

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for_line(self, pattern: str, deadline: float) -> re.Match:
        """Block on the process output until a line matches; fail when it exits or time is up."""
        regex = re.compile(pattern)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no line matching {pattern!r} in time:\n{self.output}")
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                self.process.wait()
                raise AssertionError(
                    f"crmlite run exited with {self.process.returncode}:\n{self.output}"
                )
            if match := regex.search(line):
                return match

    def wait_until_serving(self, timeout: float = STARTUP_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        self.wait_for_line(rf"serving on .*http://{re.escape(self.host)}:{self.port}\b", deadline)
        # The line comes after listen(), so the first connect succeeds; the bounded retry only
        # guards against a surprise, and waits on the process output, not on a clock.
        while True:
            try:
                socket.create_connection((self.host, self.port), timeout=5).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise AssertionError(
                        f"port {self.port} does not accept:\n{self.output}"
                    ) from None
                try:
                    if self._lines.get(timeout=0.1) is None:
                        self._lines.put(None)
                except queue.Empty:
                    pass

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._reader.join(timeout=STOP_SECONDS)
        self.process.stdout.close()
        return self.process.returncode


@contextmanager
def serving(
    crmlite: str | Path,
    env: dict[str, str],
    cwd: str | Path | None = None,
    host: str = "127.0.0.1",
    port: int | None = None,
) -> Iterator[Server]:
    """`crmlite run --host HOST --port PORT`, stopped (SIGTERM) when the block ends."""
    port = port or free_port(host)
    process = subprocess.Popen(
        [str(crmlite), "run", "--host", host, "--port", str(port)],
        env={**env, "PYTHONUNBUFFERED": "1"},
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
    )
    server = Server(process, host, port)
    try:
        server.wait_until_serving()
        yield server
    finally:
        server.stop()


# -- a small HTTP client: urllib, a cookie jar, redirects not followed ---------------------


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    text: str

    def json(self):
        return json.loads(self.text)


class _KeepRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # hand the 3xx back to the test


class Client:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.cookies = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}),  # never send 127.0.0.1 through an http_proxy
            urllib.request.HTTPCookieProcessor(self.cookies),
            _KeepRedirects(),
        )

    def request(self, path: str, data: dict[str, str] | None = None) -> Response:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base_url + path, data=body)
        try:
            with self._opener.open(request, timeout=30) as resp:
                return Response(resp.status, dict(resp.headers), resp.read().decode())
        except urllib.error.HTTPError as err:
            with err:
                return Response(err.code, dict(err.headers), err.read().decode())

    def get(self, path: str) -> Response:
        return self.request(path)

    def post(self, path: str, data: dict[str, str]) -> Response:
        return self.request(path, data)


def clean_env(**overrides: str) -> dict[str, str]:
    """The current environment without crmlite/Flask settings that would leak into the child."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CRMLITE_", "FLASK_")) and k not in ("VIRTUAL_ENV", "PYTHONPATH")
    }
    env.update(overrides)
    return env
