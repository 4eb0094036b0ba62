"""SQLite under concurrency and crashes, and the instance config file."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from oprun import DagsterInstance
from oprun.errors import DagsterInstanceConfigError

WRITER = textwrap.dedent(
    """
    import sys, time
    from oprun import DagsterInstance, DagsterRun
    from oprun.events import DagsterEvent, EventLogEntry
    home, run_id, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    instance = DagsterInstance.from_directory(home)
    run = instance.get_run_by_id(run_id)
    for i in range(count):
        batch = [
            EventLogEntry(run_id, time.time(), 10, "m", run.job_name, f"s{i}", None,
                          DagsterEvent("STEP_START", run.job_name, f"s{i}", None, None, "m", 0))
            for _ in range(5)
        ]
        instance.handle_new_events(batch)
    instance.dispose()
    """
)


def test_twenty_concurrent_writer_processes_never_see_database_is_locked(tmp_path):
    home = str(tmp_path / "home")
    with DagsterInstance.from_directory(home) as instance:
        run = instance.create_run(__import__("oprun").DagsterRun(job_name="busy"))
        script = tmp_path / "writer.py"
        script.write_text(WRITER)
        procs = [
            subprocess.Popen([sys.executable, str(script), home, run.run_id, "20"], stderr=subprocess.PIPE, text=True)
            for _ in range(20)
        ]
        errors = [p.communicate(timeout=300)[1] for p in procs]
        assert [p.returncode for p in procs] == [0] * 20, errors
        assert len(instance.all_logs(run.run_id)) == 20 * 20 * 5


def test_a_killed_writer_leaves_every_committed_batch(tmp_path):
    home = str(tmp_path / "home")
    with DagsterInstance.from_directory(home) as instance:
        run = instance.create_run(__import__("oprun").DagsterRun(job_name="crashy"))
        script = tmp_path / "writer.py"
        # Writes batches forever, telling the parent after each committed one.
        script.write_text(WRITER.replace("for i in range(count):", "i = 0\nwhile True:\n    i += 1").replace(
            "instance.handle_new_events(batch)", "instance.handle_new_events(batch); print(i, flush=True)"
        ))
        with subprocess.Popen([sys.executable, str(script), home, run.run_id, "0"], stdout=subprocess.PIPE, text=True) as proc:
            committed = 0
            while committed < 30:
                line = proc.stdout.readline()
                assert line, "the writer died before it was killed"
                committed = int(line)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
        assert len(instance.all_logs(run.run_id)) >= committed * 5


@pytest.mark.parametrize(
    "text, message",
    [
        ("storag: {}\n", "Did you mean 'storage'"),
        ("storage:\n  mysql: {}\n", "unknown storage 'mysql'"),
        ("storage:\n  postgres:\n    postgres_db: {username: u}\n", "missing required key 'hostname'"),
        ("storage: [unclosed\n", "not valid YAML"),
    ],
)
def test_bad_instance_config_names_file_and_key(tmp_path, text, message):
    home = tmp_path / "home"
    home.mkdir()
    (home / "oprun.yaml").write_text(text)
    with pytest.raises(DagsterInstanceConfigError, match=message) as raised:
        DagsterInstance.from_directory(str(home))
    assert "oprun.yaml" in str(raised.value)


def test_dagster_yaml_and_env_values_are_read(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("OPRUN_TEST_DB_DIR", str(tmp_path / "elsewhere"))
    (home / "dagster.yaml").write_text("storage:\n  sqlite:\n    base_dir: {env: OPRUN_TEST_DB_DIR}\n")
    with DagsterInstance.from_directory(str(home)) as instance:
        assert instance.run_storage.path == str(tmp_path / "elsewhere" / "oprun.db")
    monkeypatch.setenv("OPRUN_HOME", str(home))
    with DagsterInstance.get() as instance:
        assert instance.root_directory == str(home)
