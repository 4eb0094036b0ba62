"""`oprun run show` after a run ended with a step still open: a canceled run's
steps never show RUNNING. A step the interrupt reached ends FAILURE (its
STEP_FAILURE names the interrupt); one whose process was SIGKILLed before it could
record anything shows CANCELED, or ABANDONED when the run ended otherwise."""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap

import pytest

from oprun import DagsterInstance, DagsterRunStatus
from tests.waiting import wait_for

JOBS = textwrap.dedent(
    """
    import os
    import signal
    import threading

    from oprun import Definitions, in_process_executor, job, op

    def _started():
        path = os.environ["OPRUN_TEST_STARTED_FILE"]
        with open(path + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.replace(path + ".tmp", path)

    @op
    def waits():
        _started()
        threading.Event().wait()  # until the run is canceled

    @op
    def ignores_sigterm():
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # so only SIGKILL stops it
        _started()
        threading.Event().wait()

    @job(executor_def=in_process_executor)
    def interruptible():
        waits()

    @job(executor_def=in_process_executor)
    def stubborn():
        ignores_sigterm()

    defs = Definitions(jobs=[interruptible, stubborn])
    """
)


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    # SIGKILL after one second of SIGTERM, not the default ten.
    (home / "oprun.yaml").write_text("run_launcher:\n  config:\n    grace_seconds: 1.0\n")
    return home


@pytest.fixture
def oprun(home, tmp_path):
    (tmp_path / "cancel_jobs.py").write_text(JOBS)
    exe = shutil.which("oprun")
    base = [exe] if exe else [sys.executable, "-m", "oprun"]
    env = {**os.environ, "OPRUN_HOME": str(home), "OPRUN_TEST_STARTED_FILE": str(tmp_path / "started")}

    def run(*args):
        return subprocess.run([*base, *map(str, args)], capture_output=True, text=True, cwd=tmp_path, timeout=120, env=env)

    return run


def _launch(oprun, tmp_path, job_name):
    launched = oprun("job", "launch", "-f", tmp_path / "cancel_jobs.py", "-j", job_name)
    assert launched.returncode == 0, launched.stderr
    return launched.stdout.strip()


def _show(oprun, run_id):
    shown = oprun("run", "show", run_id, "--json")
    assert shown.returncode == 0, shown.stderr
    return json.loads(shown.stdout)


def _cancel(oprun, tmp_path, job_name):
    run_id = _launch(oprun, tmp_path, job_name)
    wait_for((tmp_path / "started").exists)
    canceled = oprun("run", "cancel", run_id)
    assert canceled.returncode == 0, canceled.stderr
    assert canceled.stdout.strip() == f"Run {run_id} canceled: CANCELED."
    return run_id


def test_a_step_the_cancel_interrupted_shows_failure(oprun, tmp_path):
    run_id = _cancel(oprun, tmp_path, "interruptible")
    data = _show(oprun, run_id)
    assert data["status"] == "CANCELED"
    (step,) = data["steps"]
    assert (step["step_key"], step["status"]) == ("waits", "FAILURE")
    assert step["error"]["cls_name"] == "DagsterExecutionInterruptedError"
    text = oprun("run", "show", run_id).stdout
    assert "RUNNING" not in text
    assert "The run was canceled" in text


def test_a_step_killed_by_the_cancel_shows_canceled(oprun, tmp_path):
    run_id = _cancel(oprun, tmp_path, "stubborn")
    data = _show(oprun, run_id)
    assert data["status"] == "CANCELED"
    (step,) = data["steps"]
    assert (step["step_key"], step["status"], step["error"]) == ("ignores_sigterm", "CANCELED", None)
    text = oprun("run", "show", run_id).stdout
    assert "RUNNING" not in text
    assert "ignores_sigterm" in text and "CANCELED" in text


def test_a_step_whose_run_worker_died_shows_abandoned_once_the_run_ends(oprun, tmp_path, home):
    run_id = _launch(oprun, tmp_path, "interruptible")
    worker_pid = int(wait_for((tmp_path / "started").exists) and (tmp_path / "started").read_text())
    with DagsterInstance.from_directory(str(home)) as instance:
        def step_start_stored():
            return any(e.dagster_event and e.dagster_event.event_type_value == "STEP_START" for e in instance.all_logs(run_id))

        wait_for(step_start_stored)
        assert _show(oprun, run_id)["steps"][0]["status"] == "RUNNING"  # the run is not over yet
        # The run worker dies with the step open (an OOM kill, a crash), and the
        # run is then ended as the run monitor would.
        os.kill(worker_pid, signal.SIGKILL)
        instance.report_run_failed(instance.get_run_by_id(run_id), "The run worker disappeared.")
        assert instance.get_run_by_id(run_id).status == DagsterRunStatus.FAILURE
    (step,) = _show(oprun, run_id)["steps"]
    assert (step["step_key"], step["status"]) == ("waits", "ABANDONED")
