"""The daemon controller on a real SQLite instance: loops in threads that
outlive their errors and store heartbeats, one active daemon per instance (the
lease), a dead holder replaced at once, a clean shutdown."""

import subprocess
import sys
import threading

import pytest

from oprun import DagsterInstance
from oprun.daemon.base import Workspace
from oprun.daemon.controller import LEASE_NAME, DaemonController
from tests.waiting import wait_for


class _Counting:
    daemon_type = "COUNTING"
    interval_seconds = 0.01

    def __init__(self) -> None:
        self.iterations = 0

    def run_iteration(self, context) -> str:
        self.iterations += 1
        return f"{self.iterations} iterations"


class _Failing:
    daemon_type = "FAILING"
    interval_seconds = 0.01

    def __init__(self) -> None:
        self.calls = 0

    def run_iteration(self, context) -> str:
        self.calls += 1
        raise ValueError(f"user code broke (call {self.calls})")


@pytest.fixture
def home(tmp_path):
    return str(tmp_path / "home")


def _serving(controller: DaemonController) -> threading.Thread:
    controller.start()
    thread = threading.Thread(target=controller.serve, daemon=True)
    thread.start()
    return thread


def test_a_loop_that_raises_is_recorded_and_the_other_loops_go_on(home):
    with DagsterInstance.from_directory(home) as instance:
        counting, failing = _Counting(), _Failing()
        controller = DaemonController(instance, Workspace([]), [counting, failing])
        serving = _serving(controller)
        try:
            wait_for(lambda: failing.calls >= 3 and counting.iterations >= 3, seconds=30)
            beats = wait_for(lambda: (b := instance.get_daemon_heartbeats()) and "FAILING" in b and "COUNTING" in b and b, seconds=30)
            assert "ValueError: user code broke" in beats["FAILING"].errors[0]
            assert "Traceback" in beats["FAILING"].errors[0]
            assert beats["COUNTING"].errors == () and beats["COUNTING"].info.endswith("iterations")
            assert beats["COUNTING"].daemon_id == controller.daemon_id
            assert instance.daemon_is_alive("COUNTING") and instance.daemon_is_alive("FAILING")
            before = counting.iterations
            wait_for(lambda: counting.iterations > before + 3, seconds=30)  # still going after the failures
        finally:
            controller.shutdown()
            serving.join(30)
        assert not serving.is_alive()
        assert instance.automation_storage.get_lease(LEASE_NAME) is None
        assert not instance.daemon_is_alive("COUNTING")  # stopped: the lease is given up


def test_one_daemon_per_instance_and_a_standby_takes_over_when_it_stops(home):
    with DagsterInstance.from_directory(home) as first_instance, DagsterInstance.from_directory(home) as second_instance:
        first_loop, second_loop = _Counting(), _Counting()
        first = DaemonController(first_instance, Workspace([]), [first_loop])
        second = DaemonController(second_instance, Workspace([]), [second_loop])
        first_serving = _serving(first)
        second_serving = _serving(second)
        try:
            assert first.active.is_set() and not second.active.is_set()
            wait_for(lambda: first_loop.iterations >= 5, seconds=30)
            assert second_loop.iterations == 0
            first.shutdown()
            first_serving.join(30)
            wait_for(second.active.is_set, seconds=30)  # at its next renewal
            wait_for(lambda: second_loop.iterations >= 3, seconds=30)
            assert second_instance.automation_storage.get_lease(LEASE_NAME)[0] == second.daemon_id
        finally:
            first.shutdown()
            second.shutdown()
            second_serving.join(30)


def test_a_lease_held_by_a_dead_daemon_of_this_machine_is_taken_at_once(home):
    import socket
    import time

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    with DagsterInstance.from_directory(home) as instance:
        dead_owner = f"{socket.gethostname()}:{gone.pid}:deadbeef"
        assert instance.automation_storage.claim_lease(LEASE_NAME, dead_owner, time.time(), 3600.0)
        controller = DaemonController(instance, Workspace([]), [_Counting()])
        controller.start()
        try:
            assert controller.active.is_set()
            assert instance.automation_storage.get_lease(LEASE_NAME)[0] == controller.daemon_id
        finally:
            controller.shutdown()


def test_a_live_holder_on_another_machine_is_not_displaced(home):
    import time

    with DagsterInstance.from_directory(home) as instance:
        assert instance.automation_storage.claim_lease(LEASE_NAME, "elsewhere:1:cafe", time.time(), 3600.0)
        loop = _Counting()
        controller = DaemonController(instance, Workspace([]), [loop])
        controller.start()
        try:
            assert not controller.active.is_set()
            assert loop.iterations == 0
        finally:
            controller.shutdown()
        assert instance.automation_storage.get_lease(LEASE_NAME)[0] == "elsewhere:1:cafe"
