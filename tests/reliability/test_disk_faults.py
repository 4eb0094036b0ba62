"""A home whose disk fills up, or turns read-only, while a run worker writes to
it: the worker ends (no hang) with a non-zero exit and a message naming the
cause (no raw traceback), the database opens and reads afterwards, every event
stored before the fault is still there (the stream stays a prefix of the
complete run's), and with the fault gone the run re-executes from failure.

The faults are real: the home lives on a small tmpfs mounted for the test;
"disk full" is a file filling that tmpfs (writes fail with ENOSPC); "read-only"
is a read-only bind mount of the home over itself (new opens fail with EROFS),
or the whole tmpfs remounted read-only before the worker starts. Mounting needs
root (as in CI); elsewhere these tests skip.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from typing import NamedTuple

import pytest

from oprun import DagsterInstance, DagsterRunStatus, ReexecutionOptions, execute_job, instance_for_test, reconstructable
from oprun.execution.execute_job import create_run_for_job
from tests.fixtures import reliability_jobs as jobs
from tests.reliability.conftest import sqlite_integrity, stream, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TRACEBACK = "Traceback (most recent call last)"
CAUSES = {"disk_full": ("disk is full", "No space left on device"), "read_only": ("readonly", "read-only", "Read-only")}


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, timeout=30)


def _umount(path: str) -> None:
    if subprocess.run(["umount", path], capture_output=True, timeout=30).returncode != 0:
        subprocess.run(["umount", "-l", path], capture_output=True, timeout=30)


def _reference() -> list[tuple[str | None, str]]:
    with instance_for_test() as other:
        with execute_job(reconstructable(jobs.heavy_chain), other) as result:
            assert result.success
            return stream(other, result.run_id)


def _record(home: str) -> str:
    with DagsterInstance.from_directory(home) as instance:
        recon = reconstructable(jobs.heavy_chain)
        return create_run_for_job(recon, recon.get_definition(), instance).run_id


def _start_worker(home: str, run_id: str, log: str) -> subprocess.Popen[bytes]:
    """The run worker, as the launcher starts it, its output to `log`, off the
    faulty disk (the launcher's log file there could not hold the message)."""
    env = {**os.environ, "OPRUN_HOME": home}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH")) if p)
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "oprun.execution.run_worker", run_id], cwd=ROOT, env=env,
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )


def _finish(worker: subprocess.Popen[bytes], log: str, seconds: float = 60) -> str:
    try:
        worker.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
        pytest.fail(f"the run worker hung after the fault (killed after {seconds} s); its output ends: {_read(log)[-2000:]}")
    return _read(log)


def _read(log: str) -> str:
    with open(log, encoding="utf-8", errors="replace") as f:
        return f.read()


def _fill(disk: str) -> None:
    """Fill the tmpfs to the last byte."""
    chunk = b"\0" * 65536
    with open(os.path.join(disk, "filler"), "wb", buffering=0) as f:
        while True:
            try:
                f.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                return


def _assert_clear_failure(returncode: int, output: str, fault: str) -> None:
    assert returncode != 0, f"the run worker exited 0 after the {fault} fault"
    lines = [line for line in output.splitlines() if "x" * 100 not in line]  # without the big log messages
    shown = "\n".join(lines[-30:])
    assert any(cause in output for cause in CAUSES[fault]), f"no message names the cause ({fault}); the output ends:\n{shown}"
    assert TRACEBACK not in output, f"the run worker ended with a raw traceback:\n{shown}"


class Outcome(NamedTuple):
    fault: str
    home: str
    run_id: str
    returncode: int
    output: str
    before: list  # the run's stream just before the fault
    read_while_faulty: str | None  # what opening the instance during the fault raised


def _stored_once(home: str, run_id: str, events: int, worker: subprocess.Popen[bytes], log: str) -> list:
    """The run's stream once it holds `events` events (the worker still running)."""

    def enough() -> list | None:
        assert worker.poll() is None, f"the run worker ended before the fault: {_read(log)[-3000:]}"
        stored = stream(instance, run_id)
        return stored if len(stored) >= events else None

    with DagsterInstance.from_directory(home) as instance:
        return wait_for(enough, seconds=30, interval=0.005)


def _try_reading(home: str, run_id: str) -> str | None:
    try:
        with DagsterInstance.from_directory(home) as instance:
            stream(instance, run_id)
            instance.get_run_by_id(run_id)
    except Exception as exc:  # noqa: BLE001 - the test reports what opening raised
        return f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
    return None


@pytest.fixture(scope="module")
def outcome(request, tmp_path_factory) -> Iterator[Outcome]:
    """One run worker meeting one fault (the param), on a home on its own
    16 MB tmpfs; the fault is gone when the tests look (the tmpfs stays
    mounted until the module's tests are done)."""
    fault = request.param
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs for the disk-fault tests needs root (CI runs them as root)")
    disk = str(tmp_path_factory.mktemp(fault) / "disk")
    os.makedirs(disk)
    try:
        _mount("-t", "tmpfs", "-o", "size=16m", "tmpfs", disk)
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        pytest.skip(f"cannot mount a tmpfs here ({exc}): the disk-fault tests need mount permission")
    try:
        home = os.path.join(disk, "home")
        log = os.path.join(os.path.dirname(disk), "worker.log")
        run_id = _record(home)
        if fault == "read_only_home":
            _mount("-o", "remount,ro", disk)
            try:
                worker = _start_worker(home, run_id, log)
                output = _finish(worker, log)
                before: list = []
                read_while_faulty = _try_reading(home, run_id)
            finally:
                _mount("-o", "remount,rw", disk)
        else:
            worker = _start_worker(home, run_id, log)
            try:
                before = _stored_once(home, run_id, 40, worker, log)  # a few steps in
                if fault == "disk_full":
                    _fill(disk)
                else:
                    _mount("--bind", home, home)
                    _mount("-o", "remount,bind,ro", home)
                output = _finish(worker, log)
                read_while_faulty = _try_reading(home, run_id)
            finally:
                if worker.poll() is None:
                    os.killpg(worker.pid, signal.SIGKILL)
                    worker.wait(timeout=10)
                if fault == "disk_full":
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(os.path.join(disk, "filler"))
                else:
                    _umount(home)
        yield Outcome(fault, home, run_id, worker.returncode, output, before, read_while_faulty)
    finally:
        _umount(disk)


@pytest.fixture(scope="module")
def reference() -> list[tuple[str | None, str]]:
    return _reference()


DURING_A_RUN = ["disk_full", "read_only_during_run"]
# After a fault the run may take its failure path (an output that cannot be
# written is a step failure): these are the events that path adds.
_FAILURE_PATH = {"STEP_FAILURE", "RUN_FAILURE", "ENGINE_EVENT", "LOG"}


@pytest.mark.parametrize("outcome", DURING_A_RUN, indirect=True)
def test_a_fault_during_a_run_loses_nothing_and_the_run_reexecutes(outcome: Outcome, reference) -> None:
    with DagsterInstance.from_directory(outcome.home) as instance:
        assert sqlite_integrity(instance) == "ok"
        stored = stream(instance, outcome.run_id)
        assert stored[: len(outcome.before)] == outcome.before, "events stored before the fault were lost"
        diverge = next((i for i, (got, want) in enumerate(zip(stored, reference, strict=False)) if got != want), min(len(stored), len(reference)))
        assert diverge >= len(outcome.before)
        assert all(kind in _FAILURE_PATH for _, kind in stored[diverge:]), f"not a prefix, nor a failure path: {stored[diverge:]}"
        run = instance.get_run_by_id(outcome.run_id)
        assert run.status in (DagsterRunStatus.STARTED, DagsterRunStatus.FAILURE)
        if run.status == DagsterRunStatus.STARTED:
            instance.report_run_failed(run, "The run worker ended without recording the run's end.")  # as the run monitor will
        assert instance.get_run_by_id(outcome.run_id).status == DagsterRunStatus.FAILURE
        options = ReexecutionOptions.from_failure(outcome.run_id, instance)
        with execute_job(reconstructable(jobs.heavy_chain), instance, reexecution_options=options) as retried:
            assert retried.success
            assert retried.output_for_node(jobs.HEAVY_LINKS[-1].name) == jobs.HEAVY_TOTAL




@pytest.mark.parametrize(
    "outcome",
    [
        "disk_full",
        "read_only_during_run",
        "read_only_home",
    ],
    indirect=True,
)
def test_the_worker_ends_with_a_message_naming_the_fault(outcome: Outcome) -> None:
    _assert_clear_failure(outcome.returncode, outcome.output, "disk_full" if outcome.fault == "disk_full" else "read_only")


@pytest.mark.parametrize("outcome", ["read_only_home"], indirect=True)
def test_a_read_only_home_changes_nothing_and_the_run_runs_once_writable(outcome: Outcome) -> None:
    with DagsterInstance.from_directory(outcome.home) as instance:
        assert sqlite_integrity(instance) == "ok"
        assert instance.get_run_by_id(outcome.run_id).status == DagsterRunStatus.NOT_STARTED
        assert stream(instance, outcome.run_id) == []
        instance.run_launcher.launch_run(outcome.run_id)
        assert instance.run_launcher.wait(outcome.run_id, timeout=60) == 0
        assert instance.get_run_by_id(outcome.run_id).status == DagsterRunStatus.SUCCESS


@pytest.mark.parametrize(
    "outcome",
    [
        "read_only_home",
        "disk_full",
    ],
    indirect=True,
)
def test_the_database_reads_while_the_fault_lasts(outcome: Outcome) -> None:
    assert outcome.read_while_faulty is None, outcome.read_while_faulty
