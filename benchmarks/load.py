"""The pages over HTTP: gunicorn (production settings, several sync workers) on loopback under
wrk with 16 connections. wrk's Lua `done` hook reports the 50th and 95th percentiles and the
answers of 400 and above (a redirect is an answer); a run with any or a socket error fails its
row."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.request import urlopen

from benchmarks.pages import Page
from benchmarks.processes import Child, free_port, production_env, python_module
from benchmarks.sessions import session_cookie
from benchmarks.timing import median

WRK_SCRIPT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH %d %d %d %d %d %d\\n", summary.requests, e.status,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(95),
    summary.duration))
end
"""


@dataclass(frozen=True)
class LoadFigures:
    requests_per_second: float
    p50_ms: float
    p95_ms: float
    requests: int
    bad: int  # answers of 400 and above and socket errors, over every run
    runs: int


def load_measure(
    pages: list[Page], *, workers: int, connections: int, seconds: int, runs: int, redis_url: str
) -> tuple[dict[str, LoadFigures], dict[int, float]]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk).")
    env = production_env(redis_url=redis_url)
    subprocess.run(
        python_module("django", "collectstatic", "--noinput", "-v0"), env=env, check=True
    )
    port = free_port()
    server = Child(
        python_module(
            "gunicorn",
            "config.wsgi",
            f"--workers={workers}",
            f"--bind=127.0.0.1:{port}",
            "--log-level=info",
            # Load the app once in the master before forking, as a deployment does: no worker
            # pays Django's start-up on its first request.
            "--preload",
        ),
        env,
        ready="Booting worker",
    )
    script = Path(tempfile.mkstemp(prefix="bench-wrk-", suffix=".lua")[1])
    script.write_text(WRK_SCRIPT)
    figures = {}
    try:
        for page in pages:
            url = f"http://127.0.0.1:{port}{page.url}"
            cookie = f"Cookie: {session_cookie(page.client)}"
            _wrk(wrk, url, cookie, script, connections=connections, seconds=5)  # warm-up
            rounds = []
            for _ in range(runs):
                _drain(port)
                rounds.append(
                    _wrk(wrk, url, cookie, script, connections=connections, seconds=seconds)
                )
            _drain(port)
            figures[page.name] = LoadFigures(
                requests_per_second=median(r[0] / (r[5] / 1e6) for r in rounds),
                p50_ms=median(r[3] / 1000 for r in rounds),
                p95_ms=median(r[4] / 1000 for r in rounds),
                requests=sum(r[0] for r in rounds),
                bad=sum(r[1] + r[2] for r in rounds),
                runs=runs,
            )
        memory = server.peak_rss_mb()
    finally:
        server.stop()
        script.unlink()
    return figures, memory


def _drain(port: int) -> None:
    """Wait until the workers have answered what wrk left queued (sync workers finish every
    request they accepted, whether or not wrk still waits), so a slow page does not stall the
    next page's runs: until the sign-in page answers within a second, at most two minutes."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        started = time.monotonic()
        with contextlib.suppress(OSError):
            urlopen(f"http://127.0.0.1:{port}/sign-in/", timeout=30).read()
        if time.monotonic() - started < 1:
            return


def _wrk(wrk, url, cookie, script, *, connections, seconds) -> list[int]:
    # A 10 s timeout, so that slow answers count in the percentiles instead of as errors.
    options = [f"-c{connections}", f"-d{seconds}s", "--timeout=10s", "-s", str(script)]
    out = subprocess.run(
        [wrk, "-t2", *options, "-H", cookie, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    line = next(line for line in out.splitlines() if line.startswith("BENCH "))
    return [int(value) for value in line.split()[1:]]
