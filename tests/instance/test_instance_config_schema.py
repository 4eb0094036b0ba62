"""The whole instance config file (`oprun.yaml` / `dagster.yaml`) is checked
against its schema: every error names the file and the path, with a close match."""

import textwrap

import pytest

from oprun import DagsterInstance
from oprun.errors import DagsterInstanceConfigError


def _open(tmp_path, text, name="oprun.yaml"):
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    (home / name).write_text(textwrap.dedent(text))
    return DagsterInstance.from_directory(str(home))


def _error(tmp_path, text, name="oprun.yaml"):
    with pytest.raises(DagsterInstanceConfigError) as raised:
        _open(tmp_path, text, name).dispose()
    return raised.value


def test_unknown_key_under_storage_sqlite_says_did_you_mean(tmp_path):
    error = _error(tmp_path, "storage:\n  sqlite:\n    bse_dir: /tmp/elsewhere\n")
    assert "oprun.yaml: storage:sqlite: unknown key 'bse_dir'" in str(error)
    assert "Did you mean 'base_dir'?" in str(error)
    assert not (tmp_path / "home" / "history").exists()  # no database made with the default


def test_unknown_key_under_local_artifact_storage_says_did_you_mean(tmp_path):
    error = _error(tmp_path, "local_artifact_storage:\n  bas_dir: /shared\n", name="dagster.yaml")
    assert "dagster.yaml: local_artifact_storage: unknown key 'bas_dir'" in str(error)
    assert "Did you mean 'base_dir'?" in str(error)
    error = _error(tmp_path, "local_artifact_storage:\n  module: dagster.core.storage.root\n  class: LocalArtifactStorage\n  config: {basedir: /x}\n")
    assert "local_artifact_storage:config: unknown key 'basedir'" in str(error)
    assert "Did you mean 'base_dir'?" in str(error)


def test_a_non_string_base_dir_is_refused_not_made_a_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    error = _error(tmp_path, "storage:\n  sqlite:\n    base_dir: 5\n")
    assert "oprun.yaml: storage:sqlite:base_dir: expected a string, found 5" in str(error)
    assert not (tmp_path / "5").exists()
    assert [e.path for e in error.errors] == [("root", "storage", "sqlite", "base_dir")]


def test_a_wrong_type_deep_inside_postgres_config_names_its_path(tmp_path):
    error = _error(
        tmp_path,
        """
        storage:
          postgres:
            postgres_db:
              username: oprun
              hostname: db.internal
              db_name: oprun
              port: [5432]
              params: not-a-mapping
        """,
    )
    text = str(error)
    assert "storage:postgres:postgres_db:port: expected an integer, found [5432]" in text
    assert "storage:postgres:postgres_db:params: expected a mapping, found 'not-a-mapping'" in text
    error = _error(tmp_path, "storage:\n  postgres:\n    postgres_db: {username: u, hostname: h, db_name: d, prot: 1}\n")
    assert "storage:postgres:postgres_db: unknown key 'prot'" in str(error) and "Did you mean 'port'?" in str(error)


def test_every_error_is_reported_at_once(tmp_path):
    error = _error(
        tmp_path,
        """
        storage:
          sqlite:
            base_dir: 5
        telemetry:
          enabled: sometimes
        run_monitoring:
          poll_interval_secs: 3
        """,
    )
    lines = str(error).splitlines()
    assert len(lines) == 3 and all(line.startswith("Instance config ") and "oprun.yaml: " in line for line in lines)
    assert "telemetry:enabled: expected true or false, found 'sometimes'" in str(error)
    assert "Did you mean 'poll_interval_seconds'?" in str(error)


@pytest.mark.parametrize(
    "text, message",
    [
        ("compute_logs:\n  module: dagster.core.storage.local_compute_log_manager\n", "compute_logs: missing required key 'class'"),
        ("run_coordinator:\n  module: m\n  class: 5\n", "run_coordinator:class: expected a string, found 5"),
        ("run_launcher:\n  config: {grace_secs: 1}\n", "run_launcher:config: unknown key 'grace_secs'"),
        (
            "concurrency:\n  runs:\n    tag_concurrency_limits: [{key: a, limit: x}]\n",
            "concurrency:runs:tag_concurrency_limits[0]:limit: expected an integer, found 'x'",
        ),
        ("concurrency:\n  pool:\n    default_limit: 1\n", "Did you mean 'pools'?"),
        ("storage:\n  sqlite: {}\n  postgres: {}\n", "storage: expected exactly one of 'postgres' or 'sqlite'"),
        ("local_artifact_storage:\n  module: dagster.core.storage.root\n", "module and class go together"),
        ("python_logs:\n  dagster_handler_config:\n    handlers: 5\n", "python_logs:dagster_handler_config:handlers: expected a mapping"),
    ],
)
def test_sections_named_by_class_and_the_others_are_checked(tmp_path, text, message):
    assert message in str(_error(tmp_path, text))


FULL = """
storage:
  sqlite:
    base_dir: {history}
local_artifact_storage:
  module: dagster.core.storage.root
  class: LocalArtifactStorage
  config:
    base_dir: {artifacts}
compute_logs:
  module: dagster.core.storage.local_compute_log_manager
  class: LocalComputeLogManager
  config:
    base_dir: /anything
    polling_timeout: 2.5
run_launcher:
  module: oprun.execution.launcher
  class: DefaultRunLauncher
  config:
    grace_seconds: 3
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    max_concurrent_runs: 10
    any_key_of_the_class: [1, 2]
telemetry:
  enabled: false
run_monitoring:
  enabled: true
  start_timeout_seconds: 180
  cancel_timeout_seconds: 180
  max_resume_run_attempts: 3
  poll_interval_seconds: 120
  free_slots_after_run_end_seconds: 300
  max_runtime_seconds: 7200
concurrency:
  pools:
    granularity: op
    default_limit: 1
  runs:
    max_concurrent_runs: 15
    tag_concurrency_limits:
      - key: dagster/backfill
        limit: 10
      - key: team
        value: {{applyLimitPerUniqueValue: true}}
        limit: 2
python_logs:
  managed_python_loggers: [my_logger]
  python_log_level: INFO
"""


def test_a_valid_full_file_is_accepted_and_dagsters_artifact_storage_is_used(tmp_path):
    history, artifacts = tmp_path / "history", tmp_path / "artifacts"
    with _open(tmp_path, FULL.format(history=history, artifacts=artifacts), name="dagster.yaml") as instance:
        assert instance.run_storage.path == str(history / "oprun.db")
        assert instance.storage_directory() == str(artifacts / "storage")
        assert instance.run_launcher.grace_seconds == 3
        assert instance.managed_python_loggers == ["my_logger"]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "storage:\n",
        "storage: {{}}\n",
        "storage:\n  sqlite:\n",
        "storage:\n  sqlite:\n    base_dir:\n",
        "local_artifact_storage:\n  base_dir: {tmp}/shared\n",
        "python_logs:\n",
        "python_logs:\n  managed_python_loggers: [root]\n  python_log_level: debug\n",
        "run_launcher:\n  module: oprun.execution.launcher\n  class: DefaultRunLauncher\n",
        "telemetry:\n  enabled: true\n",
    ],
)
def test_forms_accepted_before_are_still_accepted(tmp_path, text):
    # A regression guard (these passed before the schema too).
    _open(tmp_path, text.format(tmp=tmp_path)).dispose()


def test_env_var_forms_are_read_and_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("OPRUN_TEST_ARTIFACTS", str(tmp_path / "art"))
    with _open(tmp_path, "local_artifact_storage:\n  base_dir: {env: OPRUN_TEST_ARTIFACTS}\n") as instance:
        assert instance.storage_directory() == str(tmp_path / "art" / "storage")
    # An unset variable is found when the file is read, not when a run first stores an output.
    monkeypatch.delenv("OPRUN_TEST_ARTIFACTS")
    error = _error(tmp_path, "local_artifact_storage:\n  base_dir: {env: OPRUN_TEST_ARTIFACTS}\n")
    assert "local_artifact_storage:base_dir: environment variable OPRUN_TEST_ARTIFACTS is not set" in str(error)
    # An IntSource reads the variable and checks it is an integer; the value is not shown.
    monkeypatch.setenv("OPRUN_TEST_PG_PORT", "not-a-port")
    error = _error(
        tmp_path,
        "storage:\n  postgres:\n    postgres_db: {username: u, hostname: h, db_name: d, port: {env: OPRUN_TEST_PG_PORT}}\n",
    )
    assert "storage:postgres:postgres_db:port: environment variable OPRUN_TEST_PG_PORT is not an integer" in str(error)
    assert "not-a-port" not in str(error)
    # {env: ...} only where Dagster takes a source: not for a plain string such as a class name.
    error = _error(tmp_path, "run_coordinator:\n  module: {env: OPRUN_TEST_MODULE}\n  class: C\n")
    assert "run_coordinator:module: expected a string" in str(error)


def test_postgres_db_params_and_scheme_make_the_url(monkeypatch):
    from oprun.instance.instance import _postgres_url

    monkeypatch.setenv("OPRUN_TEST_PG_PASSWORD", "s3cret/x")
    config = {
        "postgres_db": {
            "username": "oprun",
            "password": {"env": "OPRUN_TEST_PG_PASSWORD"},
            "hostname": "db",
            "db_name": "runs",
            "port": 5433,
            "params": {"sslmode": "require", "connect_timeout": 5},
            "scheme": "postgresql",
        }
    }
    assert _postgres_url(config, "oprun.yaml:storage:postgres") == ("postgresql://oprun:s3cret%2Fx@db:5433/runs?sslmode=require&connect_timeout=5")


def test_overrides_are_checked_too(tmp_path, monkeypatch):
    from oprun.instance.instance import instance_for_test

    monkeypatch.chdir(tmp_path)
    with pytest.raises(DagsterInstanceConfigError, match=r"overrides: storage:sqlite:base_dir: expected a string, found 5"):
        with instance_for_test(overrides={"storage": {"sqlite": {"base_dir": 5}}}):
            pass
    assert not (tmp_path / "5").exists()
