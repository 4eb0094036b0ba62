"""`oprun dev` as a real process: it serves (with GraphiQL), runs the daemon as
its child, reloads edited code, and Ctrl-C stops both, leaving no daemon behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import psutil

from tests.waiting import wait_for

FIXTURE = Path(__file__).parent.parent / "fixtures" / "web_server_jobs.py"


def start_dev(tmp_path: Path, cwd: Path, env: dict[str, str], *args: str) -> tuple[subprocess.Popen[bytes], str, Path]:
    out = tmp_path / "dev.out"
    err = tmp_path / "dev.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "oprun", "dev", "-p", "0", *args], stdout=stdout, stderr=stderr, env=env, cwd=cwd)

    def bound() -> str | None:
        assert process.poll() is None, err.read_text()
        for line in out.read_text().splitlines():
            if line.startswith("Serving oprun on "):
                return line.removeprefix("Serving oprun on ")
        return None

    return process, wait_for(bound, 30), err


def daemon_children(process: subprocess.Popen[bytes]) -> list[psutil.Process]:
    return [child for child in psutil.Process(process.pid).children() if "daemon" in child.cmdline()]


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, **extra}
    env.pop("DAGSTER_HOME", None)
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent.parent.parent), env.get("PYTHONPATH", "")])
    return env


def test_dev_serves_runs_the_daemon_reloads_and_stops_both(tmp_path: Path) -> None:
    from oprun.instance import DagsterInstance

    home = tmp_path / "home"
    jobs = tmp_path / "jobs.py"
    shutil.copy(FIXTURE, jobs)
    env = _env(OPRUN_HOME=str(home))
    process, url, err = start_dev(tmp_path, tmp_path, env, "-f", str(jobs))
    try:
        assert httpx.post(f"{url}/graphql", json={"query": "{ __typename }"}).json() == {"data": {"__typename": "Query"}}
        graphiql = httpx.get(f"{url}/graphql", headers={"accept": "text/html"})
        assert graphiql.status_code == 200
        assert "graphiql" in graphiql.text.lower()

        instance = DagsterInstance.from_directory(str(home))
        try:
            wait_for(lambda: instance.daemon_is_alive("SCHEDULER"), 60)
        finally:
            instance.dispose()
        status = subprocess.run([sys.executable, "-m", "oprun", "daemon", "status"], env=env, capture_output=True, text=True, timeout=60)
        assert status.returncode == 0, status.stdout + status.stderr
        (daemon,) = daemon_children(process)

        # an edit to the code location is picked up by the web server's workspace
        source = jobs.read_text()
        jobs.write_text(source + "\n\n@job\ndef second_job():\n    say_hello()\n")
        os.utime(jobs, (jobs.stat().st_atime, jobs.stat().st_mtime + 5))
        wait_for(lambda: "reloaded code location" in err.read_text(), 30)

        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0, err.read_text()
        assert not daemon.is_running() or daemon.status() == psutil.STATUS_ZOMBIE
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_dev_without_oprun_home_uses_a_temporary_home_in_the_current_directory(tmp_path: Path) -> None:
    env = _env()
    env.pop("OPRUN_HOME", None)
    process, url, err = start_dev(tmp_path, tmp_path, env, "-f", str(FIXTURE))
    try:
        homes = list(tmp_path.glob(".tmp_oprun_home_*"))
        assert len(homes) == 1
        assert httpx.get(f"{url}/server_info").json()["status"] == "ok"
        (daemon,) = daemon_children(process)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, err.read_text()
        assert not daemon.is_running() or daemon.status() == psutil.STATUS_ZOMBIE
        assert not list(tmp_path.glob(".tmp_oprun_home_*"))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_dev_restarts_a_daemon_that_dies(tmp_path: Path) -> None:
    env = _env(OPRUN_HOME=str(tmp_path / "home"))
    process, url, err = start_dev(tmp_path, tmp_path, env, "-f", str(FIXTURE))
    try:
        (first,) = daemon_children(process)
        first.kill()
        wait_for(lambda: "restarting it" in err.read_text(), 30)
        second = wait_for(lambda: [d for d in daemon_children(process) if d.pid != first.pid], 30)[0]
        assert httpx.get(f"{url}/health").status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0, err.read_text()
        assert not second.is_running() or second.status() == psutil.STATUS_ZOMBIE
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
