"""What oprun creates for an instance is owner-only, whatever the umask allows:
the home and the directories under it 0700, the SQLite database (and so its -wal
and -shm files), step outputs, compute logs and the run worker's log 0600. A
directory the user made keeps its mode."""

import os
import stat

import pytest

from oprun import DagsterInstance, DagsterRunStatus, fs_io_manager, job, op
from oprun.execution.execute_job import create_run_for_job
from oprun.execution.reconstruct import reconstructable

from tests.fixtures import launch_jobs


@pytest.fixture(autouse=True)
def permissive_umask():
    # The usual default, under which files would be 0644 and directories 0755.
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def _private(path):
    """No group or other bits; returns the path's mode for the assertion message."""
    mode = _mode(path)
    assert mode & 0o077 == 0, f"{path} is {oct(mode)}"
    return mode


@op
def prints() -> int:
    print("a line for the compute log")
    return 1


# Outputs stored as a launched run stores them, under the home's storage/.
@job(resource_defs={"io_manager": fs_io_manager})
def printing():
    prints()


def test_home_database_and_wal_are_owner_only(tmp_path):
    home = tmp_path / "home"
    with DagsterInstance.from_directory(str(home)) as instance:
        result = printing.execute_in_process(instance=instance)
        assert result.success
        db = home / "history" / "oprun.db"
        # The run's writes went through the WAL, which stays while connections are open.
        assert (home / "history" / "oprun.db-wal").exists()
        for path in (home, home / "history", home / "logs", home / "storage"):
            assert _private(path) == 0o700
        for path in (db, home / "history" / "oprun.db-wal", home / "history" / "oprun.db-shm"):
            assert _private(path) == 0o600


def test_step_outputs_and_compute_logs_are_owner_only(tmp_path):
    home = tmp_path / "home"
    with DagsterInstance.from_directory(str(home)) as instance:
        result = printing.execute_in_process(instance=instance)
        run_dir = home / "storage" / result.run_id
        for path in (run_dir, run_dir / "prints"):
            assert _private(path) == 0o700
        assert _private(run_dir / "prints" / "result") == 0o600
        logs = home / "logs" / result.run_id
        assert _private(logs) == 0o700
        out = logs / "prints.out"
        assert "a line for the compute log" in out.read_text()
        assert _private(out) == 0o600


def test_a_launched_run_logs_owner_only(tmp_path):
    # The multiprocess executor: step logs captured by file descriptor in a worker.
    home = tmp_path / "home"
    with DagsterInstance.from_directory(str(home)) as instance:
        recon = reconstructable(launch_jobs.launched)
        run = create_run_for_job(recon, recon.get_definition(), instance)
        launcher = instance.run_launcher
        launcher.launch_run(run.run_id)
        assert launcher.wait(run.run_id, timeout=120) == 0
        assert instance.get_run_by_id(run.run_id).status == DagsterRunStatus.SUCCESS
        logs = home / "logs" / run.run_id
        assert _private(logs) == 0o700
        assert _private(logs / "run_worker.log") == 0o600
        for name in ("quick.out", "quick.err"):
            assert _private(logs / name) == 0o600


def test_a_home_the_user_made_keeps_its_mode(tmp_path):
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    with DagsterInstance.from_directory(str(home)):
        pass
    assert _mode(home) == 0o755
    # What oprun created inside it is still owner-only.
    assert _private(home / "history") == 0o700
    assert _private(home / "history" / "oprun.db") == 0o600


def test_an_existing_database_keeps_its_mode(tmp_path):
    home = tmp_path / "home"
    with DagsterInstance.from_directory(str(home)):
        pass
    db = home / "history" / "oprun.db"
    db.chmod(0o640)  # the owner chose to share it with a group
    with DagsterInstance.from_directory(str(home)) as instance:
        assert instance.get_runs() == []
    assert _mode(db) == 0o640
