"""`oprun job backfill` and `oprun backfill list/show/cancel`, run as real
subprocesses on their own OPRUN_HOME (whose run coordinator queues runs, so no
run process starts); the backfill loop runs in this process on the same
instance. Every user mistake is one message, exit 2, no traceback."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from oprun import DagsterInstance, DagsterRunStatus
from oprun.daemon.backfills import BACKFILL_ID_TAG, PARTITION_NAME_TAG, BackfillLoop
from oprun.daemon.base import DaemonContext, Workspace
from oprun.instigation import DAEMON_LEASE, BulkActionStatus, DaemonHeartbeat
from oprun.loading import locations_from_args
from oprun.runs import RunsFilter
from tests.waiting import wait_for

FIXTURE = str(Path(__file__).resolve().parents[1] / "fixtures" / "daemon_backfill_jobs.py")
QUEUED_CONFIG = "run_coordinator:\n  module: oprun.execution.coordinator\n  class: QueuedRunCoordinator\n"


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "oprun.yaml").write_text(QUEUED_CONFIG)
    return home


@pytest.fixture
def oprun(home, tmp_path):
    def run(*args, stdin=None):
        return subprocess.run(
            [sys.executable, "-m", "oprun", *map(str, args)], capture_output=True, text=True, cwd=tmp_path, timeout=120,
            input=stdin, env={**os.environ, "OPRUN_HOME": str(home)},
        )

    return run


@pytest.fixture
def instance(home):
    instance = DagsterInstance.from_directory(str(home))
    yield instance
    instance.dispose()


def _iterate(instance):
    context = DaemonContext(instance=instance, workspace=Workspace(locations_from_args(python_files=[FIXTURE])), daemon_id="cli-test")
    return BackfillLoop().run_iteration(context)


def _request(oprun, *args):
    out = oprun("job", "backfill", "-f", FIXTURE, *args, "--noprompt")
    assert out.returncode == 0, out.stderr
    backfill_id = out.stdout.strip()
    assert len(backfill_id) == 8 and backfill_id.isalpha() and backfill_id.islower()
    return backfill_id, out


def _user_error(out, *fragments):
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    for fragment in fragments:
        assert fragment in out.stderr, out.stderr


def test_backfill_then_list_and_show_its_runs(oprun, instance):
    backfill_id, out = _request(oprun, "-j", "colors_job", "--partitions", "yellow,red", "--tags", '{"team": "paint"}')
    assert "Partitions (2): red, yellow" in out.stderr and "no daemon is running" in out.stderr
    stored = instance.get_backfill(backfill_id)
    assert stored.status is BulkActionStatus.REQUESTED and stored.partition_names == ("red", "yellow")
    assert stored.tags == {"team": "paint"} and stored.job_origin["job_name"] == "colors_job"

    listed = json.loads(oprun("backfill", "list", "--json").stdout)
    assert [(b["backfill_id"], b["status"], b["counts"]) for b in listed] == [(backfill_id, "REQUESTED", {"NOT_LAUNCHED": 2})]

    _iterate(instance)
    shown = json.loads(oprun("backfill", "show", backfill_id, "--json").stdout)
    assert shown["job_name"] == "colors_job" and shown["counts"] == {"QUEUED": 2}
    by_key = {p["partition"]: p for p in shown["partitions"]}
    for key in ("red", "yellow"):
        run = instance.get_run_by_id(by_key[key]["run_id"])
        assert by_key[key]["run_status"] == "QUEUED" and run.status is DagsterRunStatus.QUEUED
        assert run.tags[BACKFILL_ID_TAG] == backfill_id and run.tags[PARTITION_NAME_TAG] == key and run.tags["team"] == "paint"
        assert run.run_config == {"ops": {"paint": {"config": {"color": key}}}}
    text = oprun("backfill", "show", backfill_id)
    assert text.returncode == 0, text.stderr
    assert f"Backfill: {backfill_id}" in text.stdout and "Status: REQUESTED" in text.stdout and "Partitions: 2 (QUEUED 2)" in text.stdout
    table = oprun("backfill", "list", "--status", "requested")
    assert backfill_id in table.stdout and "colors_job" in table.stdout
    assert backfill_id not in oprun("backfill", "list", "--status", "CANCELED").stdout


def test_range_all_and_config_choose_the_partitions(oprun, instance, tmp_path):
    ranged, _ = _request(oprun, "-j", "daily_job", "--from", "2024-01-02", "--to", "2024-01-04")
    assert instance.get_backfill(ranged).partition_names == ("2024-01-02", "2024-01-03", "2024-01-04")
    everything, _ = _request(oprun, "-j", "colors_job", "--all")
    assert instance.get_backfill(everything).partition_names == ("red", "green", "blue", "yellow")
    config = tmp_path / "override.yaml"
    config.write_text("ops:\n  paint:\n    config:\n      color: black\n")
    overridden, _ = _request(oprun, "-j", "colors_job", "--partitions", "blue", "-c", config)
    assert instance.get_backfill(overridden).run_config == {"ops": {"paint": {"config": {"color": "black"}}}}
    _iterate(instance)
    (run,) = instance.get_runs(RunsFilter(tags={BACKFILL_ID_TAG: overridden}))
    assert run.run_config == {"ops": {"paint": {"config": {"color": "black"}}}} and run.tags[PARTITION_NAME_TAG] == "blue"


def test_user_mistakes_are_one_clear_message(oprun, instance):
    _user_error(oprun("job", "backfill", "-f", FIXTURE, "-j", "colrs_job", "--all", "--noprompt"), 'Job "colrs_job" not found', "Did you mean 'colors_job'?")
    _user_error(oprun("job", "backfill", "-f", FIXTURE, "-j", "unpartitioned_job", "--all", "--noprompt"), "'unpartitioned_job' is not partitioned")
    _user_error(
        oprun("job", "backfill", "-f", FIXTURE, "-j", "colors_job", "--partitions", "red,gren", "--noprompt"),
        "Unknown partition 'gren'", "Did you mean 'green'?",
    )
    _user_error(oprun("job", "backfill", "-f", FIXTURE, "-j", "daily_job", "--from", "2024-01-05", "--to", "2024-01-02", "--noprompt"), "comes after")
    _user_error(oprun("job", "backfill", "-f", FIXTURE, "-j", "colors_job", "--all", "--partitions", "red", "--noprompt"), "one way")
    _user_error(oprun("job", "backfill", "-f", FIXTURE, "-j", "regions_job", "--all", "--noprompt"), "dynamic partitions named 'regions'")
    _user_error(
        oprun("job", "backfill", "-f", FIXTURE, "-j", "colors_job", "--all", "--config-json", '{"ops": {"paint": {"config": {"colour": "x"}}}}', "--noprompt"),
        "partition 'red' of job 'colors_job'", "colour",
    )
    _user_error(oprun("job", "backfill", "-f", FIXTURE, "-j", "colors_job", "--all", "--tags", "[1]", "--noprompt"), "--tags must be a JSON object")
    _user_error(oprun("backfill", "show", "nosuchid"), "No backfill with id 'nosuchid'")
    _user_error(oprun("backfill", "cancel", "nosuchid"), "No backfill with id 'nosuchid'")
    assert instance.get_backfills() == []  # nothing was stored


def test_the_prompt_asks_before_storing(oprun, instance):
    refused = oprun("job", "backfill", "-f", FIXTURE, "-j", "colors_job", "--all", stdin="n\n")
    assert refused.returncode != 0 and "Do you want to proceed with the backfill (4 partitions)?" in refused.stderr
    assert instance.get_backfills() == []
    accepted = oprun("job", "backfill", "-f", FIXTURE, "-j", "colors_job", "--all", stdin="y\n")
    assert accepted.returncode == 0, accepted.stderr
    assert [b.backfill_id for b in instance.get_backfills()] == [accepted.stdout.strip()]


def test_cancel_without_a_daemon_cancels_the_runs_itself(oprun, instance):
    backfill_id, _ = _request(oprun, "-j", "colors_job", "--all")
    _iterate(instance)
    out = oprun("backfill", "cancel", backfill_id)
    assert out.returncode == 0, out.stderr
    assert f"Backfill {backfill_id} canceled." in out.stdout
    assert instance.get_backfill(backfill_id).status is BulkActionStatus.CANCELED
    runs = instance.get_runs(RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))
    assert len(runs) == 4 and {run.status for run in runs} == {DagsterRunStatus.CANCELED}
    _user_error(oprun("backfill", "cancel", backfill_id), "is CANCELED: only a backfill in progress")
    shown = oprun("backfill", "show", backfill_id)
    assert "Status: CANCELED" in shown.stdout and "CANCELED 4" in shown.stdout


def test_cancel_with_a_daemon_leaves_the_runs_to_it(oprun, instance):
    backfill_id, _ = _request(oprun, "-j", "colors_job", "--partitions", "red")
    _iterate(instance)
    # A daemon is alive: a fresh heartbeat (real time) from the holder of the daemon lease.
    now = time.time()
    assert instance.automation_storage.claim_lease(DAEMON_LEASE, "cli-test", now, 600)
    instance.add_daemon_heartbeat(DaemonHeartbeat("BACKFILL", "cli-test", now))
    out = oprun("backfill", "cancel", backfill_id)
    assert out.returncode == 0, out.stderr
    assert "CANCELING: the daemon cancels its runs" in out.stdout
    assert instance.get_backfill(backfill_id).status is BulkActionStatus.CANCELING
    (run,) = instance.get_runs(RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))
    assert run.status is DagsterRunStatus.QUEUED
    assert _iterate(instance) == f"{backfill_id} canceled"
    assert instance.get_run_by_id(run.run_id).status is DagsterRunStatus.CANCELED


def test_a_running_daemon_makes_the_runs_and_completes_the_backfill(tmp_path):
    # This test's daemon launches real runs: the instance's default coordinator.
    home = tmp_path / "e2e_home"
    home.mkdir()
    env = {**os.environ, "OPRUN_HOME": str(home)}
    log = open(tmp_path / "daemon.log", "w")
    daemon = subprocess.Popen([sys.executable, "-m", "oprun", "daemon", "run", "-f", FIXTURE], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        with DagsterInstance.from_directory(str(home)) as e2e:
            wait_for(lambda: e2e.daemon_is_alive("BACKFILL"), 60)
            out = subprocess.run(
                [sys.executable, "-m", "oprun", "job", "backfill", "-f", FIXTURE, "-j", "colors_job", "--partitions", "red,blue", "--noprompt"],
                capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
            )
            assert out.returncode == 0, out.stderr
            assert "the daemon makes its runs" in out.stderr
            backfill_id = out.stdout.strip()
            done = wait_for(lambda: (b := e2e.get_backfill(backfill_id)).status is not BulkActionStatus.REQUESTED and b, 120)
            assert done.status is BulkActionStatus.COMPLETED_SUCCESS, (done, (tmp_path / "daemon.log").read_text())
            runs = e2e.get_runs(RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))
            assert sorted(run.tags[PARTITION_NAME_TAG] for run in runs) == ["blue", "red"]
            assert {run.status for run in runs} == {DagsterRunStatus.SUCCESS}
    finally:
        daemon.terminate()
        daemon.wait(timeout=60)
        log.close()
