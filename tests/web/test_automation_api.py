"""Schedules, sensors, their ticks, backfills and daemon health through oprun's
GraphQL schema (Dagster's names and shapes), against a real SQLite instance and
a workspace loaded from tests/fixtures/web_automation_jobs.py. Ticks are made
by running the daemon's loops once, in this process, with the clock set by
`clock_at`; runs go to a QueuedRunCoordinator, so nothing is started."""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from oprun import clock
from oprun.daemon.backfills import BackfillLoop
from oprun.daemon.base import DaemonContext, Workspace
from oprun.daemon.schedules import ScheduleLoop
from oprun.daemon.sensors import SensorLoop
from oprun.instance import DagsterInstance
from oprun.instigation import DAEMON_LEASE, BulkActionStatus, DaemonHeartbeat, instigator_id
from oprun.loading import locations_from_args
from oprun.runs import DagsterRunStatus, RunsFilter
from oprun.web.context import WebContext
from oprun.web.schema import build_schema

FIXTURE = Path(__file__).parents[1] / "fixtures" / "web_automation_jobs.py"
LOCATION = "web_automation_jobs.py"
REPOSITORY = "__repository__"
REPO = {"repositoryName": REPOSITORY, "repositoryLocationName": LOCATION}
QUEUED = {"run_coordinator": {"module": "oprun.execution.coordinator", "class": "QueuedRunCoordinator"}}
SCHEMA = build_schema()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def execute(context, document, variables=None):
    result = SCHEMA.execute_sync(document, variable_values=variables, context_value=context)
    assert result.errors is None, result.errors
    return result.data


class Harness:
    def __init__(self, home: Path, overrides=None) -> None:
        self.instance = DagsterInstance.from_directory(str(home), {**QUEUED, **(overrides or {})})
        self.workspace = Workspace(locations_from_args(python_files=[str(FIXTURE)]))
        self.context = WebContext(instance=self.instance, workspace=self.workspace)
        self.daemon = DaemonContext(self.instance, self.workspace, "test-daemon")
        self.schedules = ScheduleLoop()
        self.sensors = SensorLoop()
        self.backfills = BackfillLoop()

    def run(self, document, variables=None):
        return execute(self.context, document, variables)

    def read_only(self):
        return dataclasses.replace(self.context, read_only=True)


@pytest.fixture
def h(tmp_path):
    harness = Harness(tmp_path / "home")
    yield harness
    harness.instance.dispose()


def schedule_selector(name):
    return {**REPO, "scheduleName": name}


def sensor_selector(name):
    return {**REPO, "sensorName": name}


# ---------- documents (the fields the UI's schedule, sensor and backfill pages read) ----------

STATE_FIELDS = """
  id selectorId name instigationType status repositoryName repositoryLocationName
  repositoryOrigin { id repositoryLocationName repositoryName repositoryLocationMetadata { key value } }
  typeSpecificData {
    __typename
    ... on ScheduleData { cronSchedule startTimestamp }
    ... on SensorData { lastTickTimestamp lastRunKey lastCursor }
  }
  runningCount hasStartPermission hasStopPermission runsCount
  runs(limit: 10) { runId status tags { key value } }
  nextTick { timestamp }
"""

TICK_FIELDS = """
  id tickId status timestamp endTimestamp cursor instigationType skipReason runIds runKeys
  error { message stack } originRunIds logKey runs { runId status }
"""

EVALUATION = """
  evaluationResult {
    runRequests { runKey tags { key value } runConfigYaml jobName }
    skipReason error { message stack } cursor
  }
"""

SCHEDULES = f"""
query Schedules($repositorySelector: RepositorySelector!, $status: InstigationStatus) {{
  schedulesOrError(repositorySelector: $repositorySelector, scheduleStatus: $status) {{
    __typename
    ... on Schedules {{
      results {{
        id name cronSchedule executionTimezone pipelineName solidSelection mode description
        defaultStatus canReset tags {{ key value }}
        scheduleState {{ {STATE_FIELDS} }}
      }}
    }}
    ... on RepositoryNotFoundError {{ message repositoryName repositoryLocationName }}
    ... on PythonError {{ message }}
  }}
}}
"""

SCHEDULE = f"""
query Schedule($selector: ScheduleSelector!, $cursor: Float, $limit: Int, $until: Float, $at: Int!,
               $ticksLimit: Int, $tickCursor: String, $statuses: [InstigationTickStatus!],
               $before: Float, $after: Float, $dayRange: Int, $dayOffset: Int) {{
  scheduleOrError(scheduleSelector: $selector) {{
    __typename
    ... on Schedule {{
      id name canReset
      futureTicks(cursor: $cursor, limit: $limit, until: $until) {{ cursor results {{ timestamp {EVALUATION} }} }}
      futureTick(tickTimestamp: $at) {{ timestamp {EVALUATION} }}
      scheduleState {{
        {STATE_FIELDS}
        nextTick {{ timestamp {EVALUATION} }}
        ticks(limit: $ticksLimit, cursor: $tickCursor, statuses: $statuses, beforeTimestamp: $before,
              afterTimestamp: $after, dayRange: $dayRange, dayOffset: $dayOffset) {{ {TICK_FIELDS} }}
      }}
    }}
    ... on ScheduleNotFoundError {{ message scheduleName }}
    ... on PythonError {{ message }}
  }}
}}
"""

SENSORS = f"""
query Sensors($repositorySelector: RepositorySelector!, $status: InstigationStatus) {{
  sensorsOrError(repositorySelector: $repositorySelector, sensorStatus: $status) {{
    __typename
    ... on Sensors {{
      results {{
        id jobOriginId name description minIntervalSeconds defaultStatus canReset sensorType
        targets {{ pipelineName solidSelection mode }} metadata {{ assetKeys {{ path }} }} tags {{ key value }}
        nextTick {{ timestamp }}
        sensorState {{ {STATE_FIELDS} }}
      }}
    }}
    ... on RepositoryNotFoundError {{ message }}
    ... on PythonError {{ message }}
  }}
}}
"""

SENSOR = f"""
query Sensor($selector: SensorSelector!, $ticksLimit: Int) {{
  sensorOrError(sensorSelector: $selector) {{
    __typename
    ... on Sensor {{
      id name canReset nextTick {{ timestamp }}
      sensorState {{ {STATE_FIELDS} ticks(limit: $ticksLimit) {{ {TICK_FIELDS} }} }}
    }}
    ... on SensorNotFoundError {{ message sensorName }}
    ... on UnauthorizedError {{ message }}
    ... on PythonError {{ message }}
  }}
}}
"""

STATE_RESULT = """
    __typename
    ... on ScheduleStateResult { scheduleState { id status hasStopPermission typeSpecificData { ... on ScheduleData { startTimestamp } } } }
    ... on ScheduleNotFoundError { message scheduleName }
    ... on UnauthorizedError { message }
    ... on PythonError { message }
"""

START_SCHEDULE = f"mutation($s: ScheduleSelector!) {{ startSchedule(scheduleSelector: $s) {{ {STATE_RESULT} }} }}"
RESET_SCHEDULE = f"mutation($s: ScheduleSelector!) {{ resetSchedule(scheduleSelector: $s) {{ {STATE_RESULT} }} }}"
STOP_SCHEDULE = f"""
mutation($id: String, $origin: String, $selectorId: String) {{
  stopRunningSchedule(id: $id, scheduleOriginId: $origin, scheduleSelectorId: $selectorId) {{ {STATE_RESULT} }}
}}
"""

SENSOR_RESULT = """
    __typename
    ... on Sensor { id name canReset sensorState { status typeSpecificData { ... on SensorData { lastCursor } } } }
    ... on SensorNotFoundError { message sensorName }
    ... on UnauthorizedError { message }
    ... on PythonError { message }
"""

START_SENSOR = f"mutation($s: SensorSelector!) {{ startSensor(sensorSelector: $s) {{ {SENSOR_RESULT} }} }}"
RESET_SENSOR = f"mutation($s: SensorSelector!) {{ resetSensor(sensorSelector: $s) {{ {SENSOR_RESULT} }} }}"
SET_CURSOR = f"mutation($s: SensorSelector!, $c: String) {{ setSensorCursor(sensorSelector: $s, cursor: $c) {{ {SENSOR_RESULT} }} }}"
STOP_SENSOR = """
mutation($id: String, $origin: String, $selectorId: String) {
  stopSensor(id: $id, jobOriginId: $origin, jobSelectorId: $selectorId) {
    __typename
    ... on StopSensorMutationResult { instigationState { id name status } }
    ... on UnauthorizedError { message }
    ... on PythonError { message }
  }
}
"""

DRY_RESULT = f"""
    __typename
    ... on DryRunInstigationTick {{ timestamp {EVALUATION} }}
    ... on NOT_FOUND {{ message }}
    ... on UnauthorizedError {{ message }}
    ... on PythonError {{ message }}
"""
SCHEDULE_DRY_RUN = (
    f"mutation($s: ScheduleSelector!, $t: Float) {{ scheduleDryRun(selectorData: $s, timestamp: $t) {{ {DRY_RESULT} }} }}"
).replace("NOT_FOUND", "ScheduleNotFoundError")
SENSOR_DRY_RUN = (
    f"mutation($s: SensorSelector!, $c: String) {{ sensorDryRun(selectorData: $s, cursor: $c) {{ {DRY_RESULT} }} }}"
).replace("NOT_FOUND", "SensorNotFoundError")
SENSOR_DRY_RUN_STORED = (
    f"mutation($s: SensorSelector!) {{ sensorDryRun(selectorData: $s) {{ {DRY_RESULT} }} }}"
).replace("NOT_FOUND", "SensorNotFoundError")

INSTIGATION_STATE = f"""
query($selector: InstigationSelector!, $id: String) {{
  instigationStateOrError(instigationSelector: $selector, id: $id) {{
    __typename
    ... on InstigationState {{ {STATE_FIELDS} tick(tickId: 1) {{ tickId status }} }}
    ... on InstigationStateNotFoundError {{ message name }}
    ... on PythonError {{ message }}
  }}
}}
"""

INSTIGATION_STATES = """
query($repositoryID: String!) {
  instigationStatesOrError(repositoryID: $repositoryID) {
    __typename
    ... on InstigationStates { results { id name instigationType status } }
    ... on PythonError { message }
  }
}
"""


# ---------- schedules ----------


def test_schedules_list_every_field_with_its_state(h):
    with clock.clock_at(utc(2024, 5, 1, 9, 30)):
        data = h.run(SCHEDULES, {"repositorySelector": REPO})["schedulesOrError"]
    assert data["__typename"] == "Schedules"
    by_name = {s["name"]: s for s in data["results"]}
    assert set(by_name) == {"hourly", "la_daily", "default_running", "bad_config", "skipping", "raising"}
    hourly = by_name["hourly"]
    assert {k: v for k, v in hourly.items() if k != "scheduleState"} == {
        "id": f"{LOCATION}:hourly", "name": "hourly", "cronSchedule": "0 * * * *", "executionTimezone": "UTC",
        "pipelineName": "config_job", "solidSelection": None, "mode": "default", "description": "Every hour, on the hour.",
        "defaultStatus": "STOPPED", "canReset": False, "tags": [{"key": "team", "value": "data"}],
    }
    state = hourly["scheduleState"]
    assert state == {
        "id": f"{LOCATION}:hourly", "selectorId": f"{LOCATION}:hourly", "name": "hourly", "instigationType": "SCHEDULE",
        "status": "STOPPED", "repositoryName": REPOSITORY, "repositoryLocationName": LOCATION,
        "repositoryOrigin": {
            "id": f"{REPOSITORY}@{LOCATION}", "repositoryLocationName": LOCATION, "repositoryName": REPOSITORY,
            "repositoryLocationMetadata": [],
        },
        "typeSpecificData": {"__typename": "ScheduleData", "cronSchedule": "0 * * * *", "startTimestamp": None},
        "runningCount": 0, "hasStartPermission": True, "hasStopPermission": True, "runsCount": 0, "runs": [], "nextTick": None,
    }
    assert by_name["la_daily"]["executionTimezone"] == "America/Los_Angeles"
    running = by_name["default_running"]
    assert running["defaultStatus"] == "RUNNING" and running["scheduleState"]["status"] == "RUNNING"
    assert running["scheduleState"]["nextTick"] == {"timestamp": utc(2024, 5, 1, 10).timestamp()}
    only_running = h.run(SCHEDULES, {"repositorySelector": REPO, "status": "RUNNING"})["schedulesOrError"]["results"]
    assert [s["name"] for s in only_running] == ["default_running"]


@pytest.mark.parametrize(
    "selector",
    [{"repositoryName": "other", "repositoryLocationName": LOCATION}, {"repositoryName": REPOSITORY, "repositoryLocationName": "nowhere.py"}],
)
def test_schedules_and_sensors_of_an_unknown_repository(h, selector):
    for document, field in ((SCHEDULES, "schedulesOrError"), (SENSORS, "sensorsOrError")):
        data = h.run(document, {"repositorySelector": selector})[field]
        assert data["__typename"] == "RepositoryNotFoundError", data
        assert selector["repositoryLocationName"] in data["message"]
    assert h.run(SCHEDULES, {"repositorySelector": selector})["schedulesOrError"]["repositoryName"] == selector["repositoryName"]


def test_an_unknown_schedule_is_schedule_not_found_with_a_close_name(h):
    data = h.run(SCHEDULE, {"selector": schedule_selector("hourli"), "at": 0})["scheduleOrError"]
    assert data["__typename"] == "ScheduleNotFoundError"
    assert data["scheduleName"] == "hourli"
    assert "hourly" in data["message"] and LOCATION in data["message"]


def test_future_ticks_are_evaluated_without_storing_anything(h):
    ten = utc(2024, 5, 1, 10).timestamp()
    with clock.clock_at(utc(2024, 5, 1, 9, 30)):
        data = h.run(SCHEDULE, {"selector": schedule_selector("hourly"), "limit": 3, "at": int(ten)})["scheduleOrError"]
        future = data["futureTicks"]
        assert [t["timestamp"] for t in future["results"]] == [ten, ten + 3600, ten + 7200]
        assert future["cursor"] == ten + 7201
        result = future["results"][0]["evaluationResult"]
        assert result == {
            "runRequests": [{
                "runKey": None, "tags": [{"key": "team", "value": "data"}, {"key": "dagster/schedule_name", "value": "hourly"}],
                "runConfigYaml": "ops:\n  counted:\n    config:\n      n: 1\n", "jobName": "config_job",
            }],
            "skipReason": None, "error": None, "cursor": None,
        }
        assert data["futureTick"]["timestamp"] == ten
        # a cursor on a fire time includes it; `until` ends the page before it
        page = h.run(SCHEDULE, {"selector": schedule_selector("hourly"), "cursor": ten, "until": ten + 3 * 3600, "at": 0})
        assert [t["timestamp"] for t in page["scheduleOrError"]["futureTicks"]["results"]] == [ten, ten + 3600, ten + 7200]
        # default: ten ticks from now
        default = h.run(SCHEDULE, {"selector": schedule_selector("hourly"), "at": 0})["scheduleOrError"]["futureTicks"]["results"]
        assert len(default) == 10 and default[0]["timestamp"] == ten

        skipped = h.run(SCHEDULE, {"selector": schedule_selector("skipping"), "limit": 1, "at": int(ten)})["scheduleOrError"]
        assert skipped["futureTick"]["evaluationResult"]["skipReason"] == "nothing to do at 2024-05-01T10:00:00+00:00"
        assert skipped["futureTick"]["evaluationResult"]["runRequests"] == []
        failed = h.run(SCHEDULE, {"selector": schedule_selector("raising"), "limit": 1, "at": int(ten)})["scheduleOrError"]
        error = failed["futureTick"]["evaluationResult"]["error"]
        assert error["message"].endswith("ValueError: the schedule's function failed") and "raising" in error["message"]
        assert any("raise ValueError" in line for line in error["stack"])
        refused = h.run(SCHEDULE, {"selector": schedule_selector("bad_config"), "limit": 1, "at": int(ten)})["scheduleOrError"]
        message = refused["futureTick"]["evaluationResult"]["error"]["message"]
        assert "bad_config" in message and "config_job" in message and "counted" in message
    assert h.instance.get_ticks(instigator_id(LOCATION, "hourly")) == []
    assert h.instance.get_runs() == []


def test_a_started_schedule_ticks_and_its_ticks_page_back(h):
    sid = instigator_id(LOCATION, "hourly")
    with clock.clock_at(utc(2024, 5, 1, 9, 30)) as move:
        started = h.run(START_SCHEDULE, {"s": schedule_selector("hourly")})["startSchedule"]
        assert started["__typename"] == "ScheduleStateResult"
        assert started["scheduleState"]["status"] == "RUNNING"
        assert started["scheduleState"]["typeSpecificData"]["startTimestamp"] == utc(2024, 5, 1, 9, 30).timestamp()
        for hour in (10, 11, 12):
            move(utc(2024, 5, 1, hour, 0, 5))
            h.schedules.run_iteration(h.daemon)
        variables = {"selector": schedule_selector("hourly"), "at": 0}
        data = h.run(SCHEDULE, variables)["scheduleOrError"]
        assert data["canReset"] is True
        state = data["scheduleState"]
        assert state["status"] == "RUNNING" and state["runningCount"] == 1
        assert state["runsCount"] == 3 and len(state["runs"]) == 3
        assert {"key": "dagster/schedule_name", "value": "hourly"} in state["runs"][0]["tags"]
        assert state["nextTick"]["timestamp"] == utc(2024, 5, 1, 13).timestamp()
        assert state["nextTick"]["evaluationResult"]["runRequests"][0]["runConfigYaml"].startswith("ops:")
        ticks = state["ticks"]
        assert [t["timestamp"] for t in ticks] == [utc(2024, 5, 1, hour).timestamp() for hour in (12, 11, 10)]
        newest = ticks[0]
        stored = h.instance.get_ticks(sid, limit=1)[0]
        assert newest["id"] == f"{sid}:{stored.timestamp}" and newest["tickId"] == str(stored.tick_id)
        assert newest["status"] == "SUCCESS" and newest["instigationType"] == "SCHEDULE"
        assert newest["runIds"] == list(stored.run_ids) and [r["runId"] for r in newest["runs"]] == list(stored.run_ids)
        assert newest["runs"][0]["status"] == "QUEUED"
        assert newest["endTimestamp"] is not None and newest["error"] is None and newest["skipReason"] is None
        assert newest["originRunIds"] == [] and newest["logKey"] is None and newest["runKeys"] == []

        def page(**kw):
            return h.run(SCHEDULE, {**variables, **kw})["scheduleOrError"]["scheduleState"]["ticks"]

        first = page(ticksLimit=2)
        assert len(first) == 2
        rest = page(ticksLimit=2, tickCursor=first[-1]["id"])
        assert [t["timestamp"] for t in rest] == [utc(2024, 5, 1, 10).timestamp()]
        assert page(statuses=["FAILURE"]) == []
        assert len(page(statuses=["SUCCESS", "SKIPPED"])) == 3
        assert [t["timestamp"] for t in page(before=utc(2024, 5, 1, 12).timestamp())] == [utc(2024, 5, 1, h_).timestamp() for h_ in (11, 10)]
        assert [t["timestamp"] for t in page(after=utc(2024, 5, 1, 10).timestamp())] == [utc(2024, 5, 1, h_).timestamp() for h_ in (12, 11)]
        assert page(tickCursor="not-a-cursor") == ticks  # as Dagster: ignored
        move(utc(2024, 5, 3, 12, 30))
        assert page(dayRange=1) == []
        assert len(page(dayRange=3)) == 3
        assert page(dayOffset=1, dayRange=1) == []
        assert len(page(dayOffset=2, dayRange=1)) == 3


def test_failed_and_skipped_ticks(h):
    with clock.clock_at(utc(2024, 5, 1, 9, 30)) as move:
        for name in ("raising", "skipping", "bad_config"):
            assert h.run(START_SCHEDULE, {"s": schedule_selector(name)})["startSchedule"]["__typename"] == "ScheduleStateResult"
        move(utc(2024, 5, 1, 10, 0, 1))
        h.schedules.run_iteration(h.daemon)
        failed = h.run(SCHEDULE, {"selector": schedule_selector("raising"), "at": 0, "statuses": ["FAILURE"]})
        (tick,) = failed["scheduleOrError"]["scheduleState"]["ticks"]
        assert tick["status"] == "FAILURE"
        assert tick["error"]["message"].endswith("ValueError: the schedule's function failed")
        assert any("raise ValueError" in line for line in tick["error"]["stack"])
        skipped = h.run(SCHEDULE, {"selector": schedule_selector("skipping"), "at": 0})["scheduleOrError"]["scheduleState"]["ticks"]
        assert [(t["status"], t["skipReason"]) for t in skipped] == [("SKIPPED", "nothing to do at 2024-05-01T10:00:00+00:00")]
        refused = h.run(SCHEDULE, {"selector": schedule_selector("bad_config"), "at": 0})["scheduleOrError"]["scheduleState"]["ticks"]
        assert refused[0]["status"] == "FAILURE" and "counted" in refused[0]["error"]["message"]


def test_stop_by_each_id_and_reset(h):
    sid = instigator_id(LOCATION, "hourly")
    with clock.clock_at(utc(2024, 5, 1, 9, 30)):
        h.run(START_SCHEDULE, {"s": schedule_selector("hourly")})
        for key in ("id", "origin", "selectorId"):
            h.run(START_SCHEDULE, {"s": schedule_selector("hourly")})
            stopped = h.run(STOP_SCHEDULE, {key: sid})["stopRunningSchedule"]
            assert stopped["__typename"] == "ScheduleStateResult"
            started_at = {"startTimestamp": utc(2024, 5, 1, 9, 30).timestamp()}
            assert stopped["scheduleState"] == {"id": sid, "status": "STOPPED", "hasStopPermission": True, "typeSpecificData": started_at}
        assert h.instance.get_instigator_state(sid).status.value == "STOPPED"
        reset = h.run(RESET_SCHEDULE, {"s": schedule_selector("hourly")})["resetSchedule"]
        assert reset["scheduleState"]["status"] == "STOPPED"  # its default
        assert h.instance.get_instigator_state(sid).status.value == "DECLARED_IN_CODE"
        assert h.run(SCHEDULE, {"selector": schedule_selector("hourly"), "at": 0})["scheduleOrError"]["canReset"] is False
    # never stored: stopped by its id all the same
    stopped = h.run(STOP_SCHEDULE, {"id": instigator_id(LOCATION, "la_daily")})["stopRunningSchedule"]
    assert stopped["scheduleState"]["status"] == "STOPPED"
    unknown = h.run(STOP_SCHEDULE, {"id": f"{LOCATION}:nope"})["stopRunningSchedule"]
    assert unknown["__typename"] == "ScheduleNotFoundError" and unknown["scheduleName"] == "nope"
    missing = h.run(STOP_SCHEDULE, {})["stopRunningSchedule"]
    assert missing["__typename"] == "PythonError" and "id" in missing["message"]
    for document in (START_SCHEDULE, RESET_SCHEDULE):
        data = next(iter(h.run(document, {"s": schedule_selector("nope")}).values()))
        assert data["__typename"] == "ScheduleNotFoundError"


def test_reset_of_a_default_running_schedule_starts_it_from_now(h):
    sid = instigator_id(LOCATION, "default_running")
    stopped = h.run(STOP_SCHEDULE, {"id": sid})["stopRunningSchedule"]
    assert stopped["scheduleState"]["status"] == "STOPPED"
    with clock.clock_at(utc(2024, 6, 1, 8, 15)):
        reset = h.run(RESET_SCHEDULE, {"s": schedule_selector("default_running")})["resetSchedule"]
    assert reset["scheduleState"]["status"] == "RUNNING"
    assert reset["scheduleState"]["typeSpecificData"]["startTimestamp"] == utc(2024, 6, 1, 8, 15).timestamp()


def test_schedule_dry_run(h):
    with clock.clock_at(utc(2024, 5, 1, 9, 30)):
        now = h.run(SCHEDULE_DRY_RUN, {"s": schedule_selector("hourly")})["scheduleDryRun"]
        assert now["__typename"] == "DryRunInstigationTick" and now["timestamp"] == utc(2024, 5, 1, 10).timestamp()
        assert now["evaluationResult"]["runRequests"][0]["runConfigYaml"] == "ops:\n  counted:\n    config:\n      n: 1\n"
        later = h.run(SCHEDULE_DRY_RUN, {"s": schedule_selector("hourly"), "t": utc(2024, 7, 1, 0, 10).timestamp()})["scheduleDryRun"]
        assert later["timestamp"] == utc(2024, 7, 1, 1).timestamp()
        failed = h.run(SCHEDULE_DRY_RUN, {"s": schedule_selector("raising")})["scheduleDryRun"]
        assert failed["evaluationResult"]["error"]["message"].endswith("ValueError: the schedule's function failed")
        assert failed["evaluationResult"]["runRequests"] is None
    unknown = h.run(SCHEDULE_DRY_RUN, {"s": schedule_selector("nope")})["scheduleDryRun"]
    assert unknown["__typename"] == "ScheduleNotFoundError"
    assert h.instance.get_runs() == [] and h.instance.get_ticks(instigator_id(LOCATION, "hourly")) == []


# ---------- sensors ----------


def test_sensors_list_every_field(h):
    data = h.run(SENSORS, {"repositorySelector": REPO})["sensorsOrError"]
    by_name = {s["name"]: s for s in data["results"]}
    assert set(by_name) == {"file_sensor", "quiet_sensor", "raising_sensor", "running_sensor", "on_failure"}
    files = by_name["file_sensor"]
    assert {k: v for k, v in files.items() if k != "sensorState"} == {
        "id": f"{LOCATION}:file_sensor", "jobOriginId": f"{LOCATION}:file_sensor", "name": "file_sensor",
        "description": "A file appears per cursor step.", "minIntervalSeconds": 60, "defaultStatus": "STOPPED", "canReset": False,
        "sensorType": "STANDARD", "targets": [{"pipelineName": "config_job", "solidSelection": None, "mode": "default"}],
        "metadata": {"assetKeys": None}, "tags": [], "nextTick": None,
    }
    state = files["sensorState"]
    assert state["instigationType"] == "SENSOR" and state["status"] == "STOPPED"
    assert state["typeSpecificData"] == {"__typename": "SensorData", "lastTickTimestamp": None, "lastRunKey": None, "lastCursor": None}
    assert by_name["on_failure"]["sensorType"] == "RUN_STATUS"
    assert by_name["running_sensor"]["sensorState"]["status"] == "RUNNING"
    running = h.run(SENSORS, {"repositorySelector": REPO, "status": "RUNNING"})["sensorsOrError"]["results"]
    assert [s["name"] for s in running] == ["running_sensor"]


def test_a_started_sensor_ticks_with_its_cursor_then_stops_and_resets(h):
    sid = instigator_id(LOCATION, "file_sensor")
    with clock.clock_at(utc(2024, 5, 1, 9, 0)) as move:
        started = h.run(START_SENSOR, {"s": sensor_selector("file_sensor")})["startSensor"]
        assert started["__typename"] == "Sensor" and started["sensorState"]["status"] == "RUNNING" and started["canReset"]
        h.sensors.run_iteration(h.daemon)
        move(utc(2024, 5, 1, 9, 1))
        h.sensors.run_iteration(h.daemon)
        data = h.run(SENSOR, {"selector": sensor_selector("file_sensor")})["sensorOrError"]
        state = data["sensorState"]
        assert state["typeSpecificData"] == {
            "__typename": "SensorData", "lastTickTimestamp": state["typeSpecificData"]["lastTickTimestamp"],
            "lastRunKey": "file-2", "lastCursor": "2",
        }
        assert data["nextTick"] == {"timestamp": utc(2024, 5, 1, 9, 2).timestamp()} == state["nextTick"]
        assert state["runsCount"] == 2
        ticks = state["ticks"]
        assert [(t["status"], t["cursor"], t["runKeys"]) for t in ticks] == [("SUCCESS", "2", ["file-2"]), ("SUCCESS", "1", ["file-1"])]
        assert ticks[0]["instigationType"] == "SENSOR" and len(ticks[0]["runs"]) == 1
        run = h.instance.get_run_by_id(ticks[0]["runIds"][0])
        assert run.tags["dagster/run_key"] == "file-2" and run.tags["file"] == "2"

        cursor = h.run(SET_CURSOR, {"s": sensor_selector("file_sensor"), "c": "41"})["setSensorCursor"]
        assert cursor["sensorState"]["typeSpecificData"] == {"lastCursor": "41"}
        deleted = h.run(SET_CURSOR, {"s": sensor_selector("file_sensor"), "c": None})["setSensorCursor"]
        assert deleted["sensorState"]["typeSpecificData"] == {"lastCursor": None}
        h.run(SET_CURSOR, {"s": sensor_selector("file_sensor"), "c": "41"})

    for key in ("id", "origin", "selectorId"):
        h.run(START_SENSOR, {"s": sensor_selector("file_sensor")})
        stopped = h.run(STOP_SENSOR, {key: sid})["stopSensor"]
        assert stopped == {"__typename": "StopSensorMutationResult", "instigationState": {"id": sid, "name": "file_sensor", "status": "STOPPED"}}
    assert h.instance.get_instigator_state(sid).cursor == "41"  # kept
    reset = h.run(RESET_SENSOR, {"s": sensor_selector("file_sensor")})["resetSensor"]
    assert reset["canReset"] is False and reset["sensorState"]["status"] == "STOPPED"
    # a sensor running by default, stopped then reset, runs again
    h.run(STOP_SENSOR, {"id": instigator_id(LOCATION, "running_sensor")})
    assert h.run(RESET_SENSOR, {"s": sensor_selector("running_sensor")})["resetSensor"]["sensorState"]["status"] == "RUNNING"


def test_sensor_errors(h):
    for document, field in ((START_SENSOR, "startSensor"), (RESET_SENSOR, "resetSensor"), (SENSOR, "sensorOrError")):
        variables = {"s": sensor_selector("file_sensr"), "selector": sensor_selector("file_sensr")}
        data = h.run(document, variables)[field]
        assert data["__typename"] == "SensorNotFoundError" and data["sensorName"] == "file_sensr"
        assert "file_sensor" in data["message"]
    unknown = h.run(STOP_SENSOR, {"id": f"{LOCATION}:nope"})["stopSensor"]
    assert unknown["__typename"] == "PythonError" and f"{LOCATION}:nope" in unknown["message"]
    assert h.run(STOP_SENSOR, {})["stopSensor"]["__typename"] == "PythonError"
    assert h.run(SET_CURSOR, {"s": sensor_selector("nope"), "c": "1"})["setSensorCursor"]["__typename"] == "SensorNotFoundError"


def test_failed_sensor_ticks(h):
    with clock.clock_at(utc(2024, 5, 1, 9, 0)):
        h.run(START_SENSOR, {"s": sensor_selector("raising_sensor")})
        h.run(START_SENSOR, {"s": sensor_selector("quiet_sensor")})
        h.sensors.run_iteration(h.daemon)
    failed = h.run(SENSOR, {"selector": sensor_selector("raising_sensor")})["sensorOrError"]["sensorState"]["ticks"]
    assert failed[0]["status"] == "FAILURE"
    assert failed[0]["error"]["message"].endswith("RuntimeError: the sensor's function failed")
    quiet = h.run(SENSOR, {"selector": sensor_selector("quiet_sensor"), "ticksLimit": 1})["sensorOrError"]["sensorState"]["ticks"]
    assert [(t["status"], t["skipReason"]) for t in quiet] == [("SKIPPED", "no new files")]


def test_sensor_dry_run_from_a_given_or_the_stored_cursor(h):
    h.run(SET_CURSOR, {"s": sensor_selector("file_sensor"), "c": "4"})
    with clock.clock_at(utc(2024, 5, 1, 9, 0)):
        given = h.run(SENSOR_DRY_RUN, {"s": sensor_selector("file_sensor"), "c": "9"})["sensorDryRun"]
    assert given["__typename"] == "DryRunInstigationTick" and given["timestamp"] == utc(2024, 5, 1, 9).timestamp()
    assert given["evaluationResult"]["cursor"] == "10"
    (request,) = given["evaluationResult"]["runRequests"]
    tags = [{"key": "file", "value": "10"}, {"key": "dagster/sensor_name", "value": "file_sensor"}]
    assert request == {"runKey": "file-10", "tags": tags, "runConfigYaml": "ops:\n  counted:\n    config:\n      n: 10\n", "jobName": "config_job"}
    stored = h.run(SENSOR_DRY_RUN_STORED, {"s": sensor_selector("file_sensor")})["sensorDryRun"]
    assert stored["evaluationResult"]["cursor"] == "5"
    none = h.run(SENSOR_DRY_RUN, {"s": sensor_selector("file_sensor"), "c": None})["sensorDryRun"]
    assert none["evaluationResult"]["cursor"] == "1"
    quiet = h.run(SENSOR_DRY_RUN, {"s": sensor_selector("quiet_sensor")})["sensorDryRun"]
    assert quiet["evaluationResult"]["skipReason"] == "no new files" and quiet["evaluationResult"]["runRequests"] == []
    failed = h.run(SENSOR_DRY_RUN, {"s": sensor_selector("raising_sensor")})["sensorDryRun"]
    assert failed["evaluationResult"]["error"]["message"].endswith("RuntimeError: the sensor's function failed")
    assert h.run(SENSOR_DRY_RUN, {"s": sensor_selector("nope")})["sensorDryRun"]["__typename"] == "SensorNotFoundError"
    assert h.instance.get_runs() == [] and h.instance.get_ticks(instigator_id(LOCATION, "file_sensor")) == []
    assert h.instance.get_instigator_state(instigator_id(LOCATION, "file_sensor")).cursor == "4"


# ---------- instigation states ----------


def test_instigation_state_by_selector_by_id_and_by_repository(h):
    with clock.clock_at(utc(2024, 5, 1, 9, 30)) as move:
        h.run(START_SCHEDULE, {"s": schedule_selector("hourly")})
        move(utc(2024, 5, 1, 10, 0, 1))
        h.schedules.run_iteration(h.daemon)
    selector = {**REPO, "name": "hourly"}
    by_selector = h.run(INSTIGATION_STATE, {"selector": selector})["instigationStateOrError"]
    assert by_selector["__typename"] == "InstigationState" and by_selector["status"] == "RUNNING"
    first_tick = h.instance.get_ticks(instigator_id(LOCATION, "hourly"))[-1]
    assert by_selector["tick"] == ({"tickId": "1", "status": first_tick.status.value} if first_tick.tick_id == 1 else None)
    by_id = h.run(INSTIGATION_STATE, {"selector": {**REPO, "name": "ignored"}, "id": f"{LOCATION}:hourly"})["instigationStateOrError"]
    assert by_id["name"] == "hourly"
    sensor = h.run(INSTIGATION_STATE, {"selector": {**REPO, "name": "file_sensor"}})["instigationStateOrError"]
    assert sensor["instigationType"] == "SENSOR"
    missing = h.run(INSTIGATION_STATE, {"selector": {**REPO, "name": "nope"}})["instigationStateOrError"]
    assert missing == {"__typename": "InstigationStateNotFoundError", "message": missing["message"], "name": "nope"}
    for repository_id in (f"{REPOSITORY}@{LOCATION}", LOCATION):
        states = h.run(INSTIGATION_STATES, {"repositoryID": repository_id})["instigationStatesOrError"]["results"]
        assert {(s["name"], s["instigationType"]) for s in states} >= {("hourly", "SCHEDULE"), ("default_running", "SCHEDULE")}
    assert h.run(INSTIGATION_STATES, {"repositoryID": "nowhere"})["instigationStatesOrError"]["results"] == []


def test_a_stored_state_whose_code_is_gone_is_still_shown_and_stoppable(h):
    from oprun.instigation import InstigatorState, InstigatorStatus, InstigatorType

    sid = instigator_id(LOCATION, "removed")
    h.instance.add_instigator_state(InstigatorState(sid, "removed", LOCATION, InstigatorType.SCHEDULE, InstigatorStatus.RUNNING, {}))
    state = h.run(INSTIGATION_STATE, {"selector": {**REPO, "name": "removed"}})["instigationStateOrError"]
    assert state["status"] == "RUNNING" and state["nextTick"] is None
    assert state["typeSpecificData"] == {"__typename": "ScheduleData", "cronSchedule": "", "startTimestamp": None}
    unloadable = """
    query($type: InstigationType) {
      unloadableInstigationStatesOrError(instigationType: $type) {
        __typename ... on InstigationStates { results { id name status } } ... on PythonError { message }
      }
    }
    """
    h.run(START_SCHEDULE, {"s": schedule_selector("hourly")})  # running, and its code is loaded: not listed
    for kind in (None, "SCHEDULE"):
        found = h.run(unloadable, {"type": kind})["unloadableInstigationStatesOrError"]["results"]
        assert found == [{"id": sid, "name": "removed", "status": "RUNNING"}]
    for kind in ("SENSOR", "AUTO_MATERIALIZE"):
        assert h.run(unloadable, {"type": kind})["unloadableInstigationStatesOrError"]["results"] == []
    stopped = h.run(STOP_SCHEDULE, {"id": sid})["stopRunningSchedule"]
    assert stopped["scheduleState"]["status"] == "STOPPED"
    assert h.run(unloadable, {})["unloadableInstigationStatesOrError"]["results"] == []


# ---------- backfills ----------

LAUNCH_BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId launchedRunIds }
    ... on PartitionSetNotFoundError { message partitionSetName }
    ... on RunConfigValidationInvalid { pipelineName errors { message path reason } }
    ... on UnauthorizedError { message }
    ... on PythonError { message }
  }
}
"""

BACKFILL_FIELDS = """
  id status partitionNames isValidSerialization numPartitions numCancelable fromFailure reexecutionSteps
  partitionSetName jobName timestamp endTimestamp error { message } isAssetBackfill hasCancelPermission
  hasResumePermission user tags { key value } title description
  runs(limit: 10) { runId status tags { key value } }
  unfinishedRuns { runId } cancelableRuns(limit: 1) { runId }
  partitionStatuses { results { id partitionName runId runStatus runDuration } }
  partitionStatusCounts { runStatus count }
"""

BACKFILL = f"""
query($id: String!) {{
  partitionBackfillOrError(backfillId: $id) {{
    __typename
    ... on PartitionBackfill {{ {BACKFILL_FIELDS} }}
    ... on BackfillNotFoundError {{ message backfillId }}
    ... on PythonError {{ message }}
  }}
}}
"""

BACKFILLS = """
query($status: BulkActionStatus, $cursor: String, $limit: Int) {
  partitionBackfillsOrError(status: $status, cursor: $cursor, limit: $limit) {
    __typename
    ... on PartitionBackfills { results { id status jobName } }
    ... on PythonError { message }
  }
}
"""

CANCEL_BACKFILL = """
mutation($id: String!) { cancelPartitionBackfill(backfillId: $id) {
  __typename ... on CancelBackfillSuccess { backfillId } ... on UnauthorizedError { message } ... on PythonError { message } } }
"""
RESUME_BACKFILL = """
mutation($id: String!) { resumePartitionBackfill(backfillId: $id) {
  __typename ... on ResumeBackfillSuccess { backfillId } ... on UnauthorizedError { message } ... on PythonError { message } } }
"""


def backfill_params(partition_set="colors_job_partition_set", **kw):
    return {"params": {"selector": {"partitionSetName": partition_set, "repositorySelector": REPO}, **kw}}


def test_launch_a_backfill_then_the_daemon_makes_its_runs(h):
    launched = h.run(LAUNCH_BACKFILL, backfill_params(partitionNames=["blue", "red"], tags=[{"key": "team", "value": "data"}]))
    result = launched["launchPartitionBackfill"]
    assert result["__typename"] == "LaunchBackfillSuccess" and result["launchedRunIds"] == []
    backfill_id = result["backfillId"]
    before = h.run(BACKFILL, {"id": backfill_id})["partitionBackfillOrError"]
    assert before["status"] == "REQUESTED" and before["partitionNames"] == ["red", "blue"]  # the partitions' own order
    assert before["runs"] == [] and before["numCancelable"] == 0
    assert before["partitionStatusCounts"] == [{"runStatus": "NOT_STARTED", "count": 2}]
    h.backfills.run_iteration(h.daemon)
    data = h.run(BACKFILL, {"id": backfill_id})["partitionBackfillOrError"]
    stored = h.instance.get_backfill(backfill_id)
    assert {k: v for k, v in data.items() if k not in ("runs", "unfinishedRuns", "cancelableRuns", "partitionStatuses")} == {
        "__typename": "PartitionBackfill", "id": backfill_id, "status": "REQUESTED", "partitionNames": ["red", "blue"], "isValidSerialization": True,
        "numPartitions": 2, "numCancelable": 2, "fromFailure": False, "reexecutionSteps": None,
        "partitionSetName": "colors_job_partition_set", "jobName": "colors_job", "timestamp": stored.backfill_timestamp,
        "endTimestamp": None, "error": None, "isAssetBackfill": False, "hasCancelPermission": True, "hasResumePermission": False,
        "user": None, "tags": [{"key": "team", "value": "data"}], "title": None, "description": None,
        "partitionStatusCounts": [{"runStatus": "QUEUED", "count": 2}],
    }
    assert [r["runId"] for r in data["runs"]] == [stored.run_ids["red"], stored.run_ids["blue"]]
    tags = {t["key"]: t["value"] for t in data["runs"][0]["tags"]}
    assert tags["dagster/backfill"] == backfill_id and tags["dagster/partition"] == "red" and tags["team"] == "data" and tags["shade"] == "RED"
    assert len(data["unfinishedRuns"]) == 2 and len(data["cancelableRuns"]) == 1
    statuses = data["partitionStatuses"]["results"]
    assert statuses[0] == {"id": f"{backfill_id}:red", "partitionName": "red", "runId": stored.run_ids["red"], "runStatus": "QUEUED", "runDuration": None}

    # canceled with no daemon alive: its queued runs are canceled here, at once
    canceled = h.run(CANCEL_BACKFILL, {"id": backfill_id})["cancelPartitionBackfill"]
    assert canceled == {"__typename": "CancelBackfillSuccess", "backfillId": backfill_id}
    after = h.run(BACKFILL, {"id": backfill_id})["partitionBackfillOrError"]
    assert after["status"] == "CANCELED" and after["numCancelable"] == 0 and after["endTimestamp"] is not None
    assert after["hasResumePermission"] is True and after["hasCancelPermission"] is False
    assert {r.status for r in h.instance.get_runs()} == {DagsterRunStatus.CANCELED}
    again = h.run(CANCEL_BACKFILL, {"id": backfill_id})["cancelPartitionBackfill"]
    assert again["__typename"] == "PythonError" and "CANCELED" in again["message"]

    resumed = h.run(RESUME_BACKFILL, {"id": backfill_id})["resumePartitionBackfill"]
    assert resumed == {"__typename": "ResumeBackfillSuccess", "backfillId": backfill_id}
    assert h.instance.get_backfill(backfill_id).status is BulkActionStatus.REQUESTED
    in_progress = h.run(RESUME_BACKFILL, {"id": backfill_id})["resumePartitionBackfill"]
    assert in_progress["__typename"] == "PythonError" and "REQUESTED" in in_progress["message"]
    h.backfills.run_iteration(h.daemon)  # every run finished (canceled): the backfill completes, failed
    assert h.instance.get_backfill(backfill_id).status is BulkActionStatus.COMPLETED_FAILED


def test_backfill_lists_page_by_cursor_and_filter_by_status(h):
    ids = [h.run(LAUNCH_BACKFILL, backfill_params(allPartitions=True))["launchPartitionBackfill"]["backfillId"] for _ in range(3)]
    everything = h.run(BACKFILLS, {})["partitionBackfillsOrError"]["results"]
    assert [b["id"] for b in everything] == list(reversed(ids))  # newest first
    assert all(b["jobName"] == "colors_job" for b in everything)
    first = h.run(BACKFILLS, {"limit": 2})["partitionBackfillsOrError"]["results"]
    rest = h.run(BACKFILLS, {"limit": 2, "cursor": first[-1]["id"]})["partitionBackfillsOrError"]["results"]
    assert [b["id"] for b in first + rest] == list(reversed(ids))
    h.run(CANCEL_BACKFILL, {"id": ids[0]})
    assert [b["id"] for b in h.run(BACKFILLS, {"status": "CANCELED"})["partitionBackfillsOrError"]["results"]] == [ids[0]]
    assert len(h.run(BACKFILLS, {"status": "REQUESTED"})["partitionBackfillsOrError"]["results"]) == 2
    assert h.instance.get_backfill(ids[1]).partition_names == ("red", "green", "blue")


def test_backfill_errors(h):
    unknown_set = h.run(LAUNCH_BACKFILL, backfill_params("colours_job_partition_set"))["launchPartitionBackfill"]
    assert unknown_set["__typename"] == "PartitionSetNotFoundError" and unknown_set["partitionSetName"] == "colours_job_partition_set"
    assert "colors_job_partition_set" in unknown_set["message"]
    not_partitioned = h.run(LAUNCH_BACKFILL, backfill_params("plain_job_partition_set"))["launchPartitionBackfill"]
    assert not_partitioned["__typename"] == "PartitionSetNotFoundError"
    unknown_key = h.run(LAUNCH_BACKFILL, backfill_params(partitionNames=["purple"]))["launchPartitionBackfill"]
    assert unknown_key["__typename"] == "PythonError" and "purple" in unknown_key["message"]
    refused = h.run(LAUNCH_BACKFILL, backfill_params("half_broken_job_partition_set", allPartitions=True))["launchPartitionBackfill"]
    assert refused["__typename"] == "RunConfigValidationInvalid" and refused["pipelineName"] == "half_broken_job"
    assert refused["errors"][0]["path"] == ["ops", "paint", "config", "color"]
    from_failure = h.run(LAUNCH_BACKFILL, backfill_params(fromFailure=True))["launchPartitionBackfill"]
    assert from_failure["__typename"] == "PythonError" and "fromFailure" in from_failure["message"]
    no_selector = h.run(LAUNCH_BACKFILL, {"params": {"partitionNames": ["red"]}})["launchPartitionBackfill"]
    assert no_selector["__typename"] == "PythonError"
    elsewhere = {"partitionSetName": "colors_job_partition_set", "repositorySelector": {**REPO, "repositoryLocationName": "nowhere.py"}}
    bad_repo = h.run(LAUNCH_BACKFILL, {"params": {"selector": elsewhere}})
    assert bad_repo["launchPartitionBackfill"]["__typename"] == "PythonError"
    assert h.instance.get_backfills() == []
    missing = h.run(BACKFILL, {"id": "nosuchid"})["partitionBackfillOrError"]
    assert missing == {"__typename": "BackfillNotFoundError", "message": "Backfill nosuchid could not be found.", "backfillId": "nosuchid"}
    for document, field in ((CANCEL_BACKFILL, "cancelPartitionBackfill"), (RESUME_BACKFILL, "resumePartitionBackfill")):
        data = h.run(document, {"id": "nosuchid"})[field]
        assert data["__typename"] == "PythonError" and "nosuchid" in data["message"]


# ---------- the instance and daemon health ----------

INSTANCE = """
query($type: String) {
  instance {
    id info hasInfo executablePath autoMaterializePaused supportsConcurrencyLimits useAutoMaterializeSensors
    runLauncher { name } runQueuingSupported
    runQueueConfig { maxConcurrentRuns tagConcurrencyLimitsYaml isOpConcurrencyAware }
    daemonHealth {
      id
      daemonStatus(daemonType: $type) { id daemonType required healthy lastHeartbeatTime lastHeartbeatErrors { message stack } }
      allDaemonStatuses { id daemonType required healthy lastHeartbeatTime lastHeartbeatErrors { message stack } }
    }
  }
}
"""


def test_instance_without_a_daemon(h):
    data = h.run(INSTANCE, {"type": "SCHEDULER"})["instance"]
    assert data["id"] == "Instance" and data["hasInfo"] is True and "storage" in data["info"]
    assert data["runLauncher"] == {"name": "DefaultRunLauncher"} and data["runQueuingSupported"] is True
    assert data["runQueueConfig"] == {"maxConcurrentRuns": 10, "tagConcurrencyLimitsYaml": None, "isOpConcurrencyAware": False}
    assert data["autoMaterializePaused"] is False and data["supportsConcurrencyLimits"] is False
    health = data["daemonHealth"]
    assert health["daemonStatus"] == {
        "id": "SCHEDULER", "daemonType": "SCHEDULER", "required": True, "healthy": False, "lastHeartbeatTime": None, "lastHeartbeatErrors": [],
    }
    assert [s["daemonType"] for s in health["allDaemonStatuses"]] == ["BACKFILL", "MONITORING", "QUEUED_RUN_COORDINATOR", "SCHEDULER", "SENSOR"]
    other = h.run(INSTANCE, {"type": "ASSET"})["instance"]["daemonHealth"]["daemonStatus"]
    assert other["required"] is False and other["healthy"] is None


def test_daemon_health_from_heartbeats_and_the_lease(h):
    now = time.time()  # heartbeats are real time
    h.instance.automation_storage.claim_lease(DAEMON_LEASE, "d1", now, 10.0, None)
    h.instance.add_daemon_heartbeat(DaemonHeartbeat("SCHEDULER", "d1", now, "0 ticks"))
    trace = "Traceback (most recent call last):\n  File \"x.py\", line 1, in <module>\nValueError: storage went away\n"
    h.instance.add_daemon_heartbeat(DaemonHeartbeat("SENSOR", "d1", now, None, (trace,)))
    h.instance.add_daemon_heartbeat(DaemonHeartbeat("BACKFILL", "d0", now - 120, None))
    statuses = {s["daemonType"]: s for s in h.run(INSTANCE)["instance"]["daemonHealth"]["allDaemonStatuses"]}
    assert statuses["SCHEDULER"]["healthy"] is True and statuses["SCHEDULER"]["lastHeartbeatTime"] == pytest.approx(now)
    assert statuses["SENSOR"]["healthy"] is True
    (error,) = statuses["SENSOR"]["lastHeartbeatErrors"]
    assert error["message"] == "ValueError: storage went away" and error["stack"][0].startswith("Traceback")
    assert statuses["BACKFILL"]["healthy"] is False  # stale, and not the lease holder's
    assert statuses["MONITORING"]["healthy"] is False and statuses["MONITORING"]["lastHeartbeatTime"] is None


def test_run_queue_config_from_the_instance_settings(tmp_path):
    limits = [{"key": "team", "limit": 2}, {"key": "db", "value": "pg", "limit": 1}]
    harness = Harness(tmp_path / "home", {"run_queue": {"max_concurrent_runs": 3, "tag_concurrency_limits": limits}})
    try:
        config = harness.run(INSTANCE)["instance"]["runQueueConfig"]
        assert config["maxConcurrentRuns"] == 3
        assert config["tagConcurrencyLimitsYaml"] == "- key: team\n  limit: 2\n- key: db\n  value: pg\n  limit: 1\n"
    finally:
        harness.instance.dispose()
    immediate = Harness(tmp_path / "home2", {"run_coordinator": {"module": "oprun.execution.coordinator", "class": "DefaultRunCoordinator"}})
    try:
        data = immediate.run(INSTANCE)["instance"]
        assert data["runQueuingSupported"] is False and data["runQueueConfig"] is None
    finally:
        immediate.instance.dispose()


# ---------- read-only ----------


def test_read_only_answers_queries_and_refuses_every_mutation(h):
    with clock.clock_at(utc(2024, 5, 1, 9, 30)):
        h.run(START_SCHEDULE, {"s": schedule_selector("hourly")})
        backfill_id = h.run(LAUNCH_BACKFILL, backfill_params(allPartitions=True))["launchPartitionBackfill"]["backfillId"]
        read_only = h.read_only()
        ticks_before = h.instance.get_ticks(instigator_id(LOCATION, "hourly"))
        states_before = {s.id: s.to_dict() for s in h.instance.all_instigator_state()}
        mutations = [
            (START_SCHEDULE, {"s": schedule_selector("la_daily")}, "startSchedule"),
            (STOP_SCHEDULE, {"id": instigator_id(LOCATION, "hourly")}, "stopRunningSchedule"),
            (RESET_SCHEDULE, {"s": schedule_selector("hourly")}, "resetSchedule"),
            (START_SENSOR, {"s": sensor_selector("file_sensor")}, "startSensor"),
            (STOP_SENSOR, {"id": instigator_id(LOCATION, "running_sensor")}, "stopSensor"),
            (RESET_SENSOR, {"s": sensor_selector("file_sensor")}, "resetSensor"),
            (SET_CURSOR, {"s": sensor_selector("file_sensor"), "c": "9"}, "setSensorCursor"),
            (SCHEDULE_DRY_RUN, {"s": schedule_selector("hourly")}, "scheduleDryRun"),
            (SENSOR_DRY_RUN, {"s": sensor_selector("file_sensor"), "c": "1"}, "sensorDryRun"),
            (LAUNCH_BACKFILL, backfill_params(allPartitions=True), "launchPartitionBackfill"),
            (CANCEL_BACKFILL, {"id": backfill_id}, "cancelPartitionBackfill"),
            (RESUME_BACKFILL, {"id": backfill_id}, "resumePartitionBackfill"),
        ]
        for document, variables, field in mutations:
            answer = execute(read_only, document, variables)[field]
            assert answer["__typename"] == "UnauthorizedError", (field, answer)
            assert "--read-only" in answer["message"]
        assert {s.id: s.to_dict() for s in h.instance.all_instigator_state()} == states_before
        assert h.instance.get_ticks(instigator_id(LOCATION, "hourly")) == ticks_before
        assert len(h.instance.get_backfills()) == 1 and h.instance.get_backfill(backfill_id).status is BulkActionStatus.REQUESTED
        # queries answer, saying what this server may not do
        state = execute(read_only, SCHEDULE, {"selector": schedule_selector("hourly"), "at": 0})["scheduleOrError"]["scheduleState"]
        assert state["status"] == "RUNNING" and state["hasStartPermission"] is False and state["hasStopPermission"] is False
        backfill = execute(read_only, BACKFILL, {"id": backfill_id})["partitionBackfillOrError"]
        assert backfill["hasCancelPermission"] is False
        assert execute(read_only, INSTANCE)["instance"]["daemonHealth"]["id"] == "daemonHealth"


# ---------- a real server ----------


def test_a_real_server_serves_schedules_and_daemon_health(tmp_path):
    from tests.web.test_server import start

    server = start(tmp_path, "-f", str(FIXTURE))
    try:
        body = json.dumps({"query": SCHEDULES, "variables": {"repositorySelector": REPO}})
        response = server.post(body)
        assert response.status_code == 200, response.text
        names = {s["name"] for s in response.json()["data"]["schedulesOrError"]["results"]}
        assert "hourly" in names
        started = server.post(json.dumps({"query": START_SCHEDULE, "variables": {"s": schedule_selector("hourly")}}))
        assert started.json()["data"]["startSchedule"]["scheduleState"]["status"] == "RUNNING"
        health = server.post(json.dumps({"query": INSTANCE})).json()["data"]["instance"]["daemonHealth"]
        assert {s["daemonType"] for s in health["allDaemonStatuses"]} >= {"SCHEDULER", "SENSOR", "BACKFILL"}
    finally:
        server.process.kill()
        server.process.wait()
    with DagsterInstance.from_directory(str(tmp_path / "home")) as instance:
        assert instance.get_instigator_state(instigator_id(LOCATION, "hourly")).status.value == "RUNNING"
        assert instance.get_runs(RunsFilter()) == []


# ---------- arguments a client gets wrong ----------


def test_out_of_range_arguments_are_answered_not_raised(h):
    with clock.clock_at(utc(2024, 5, 1, 9, 30)) as move:
        h.run(START_SCHEDULE, {"s": schedule_selector("hourly")})
        move(utc(2024, 5, 1, 10, 0, 1))
        h.schedules.run_iteration(h.daemon)
        hostile = {
            "selector": schedule_selector("hourly"), "at": 2**31 - 1, "cursor": 1e300, "limit": -5, "until": -1e300,
            "ticksLimit": -1, "tickCursor": "x:1e308", "before": 1e300, "after": -1e300, "dayRange": 10**9, "dayOffset": 10**9,
        }
        data = h.run(SCHEDULE, hostile)["scheduleOrError"]
        assert data["futureTicks"]["results"] == []
        assert data["scheduleState"]["ticks"] == []
        far = h.run(SCHEDULE, {"selector": schedule_selector("hourly"), "at": 0, "cursor": 1e300, "until": 1e300})["scheduleOrError"]
        assert len(far["futureTicks"]["results"]) == 10  # both ignored: ten from now
        until = utc(2030, 1, 1).timestamp()
        document = (
            "query($s: ScheduleSelector!, $u: Float) { scheduleOrError(scheduleSelector: $s) "
            "{ ... on Schedule { futureTicks(until: $u) { results { timestamp } } } } }"
        )
        page = h.run(document, {"s": schedule_selector("hourly"), "u": until})
        assert len(page["scheduleOrError"]["futureTicks"]["results"]) == 1000  # a page at most
        out_of_range = h.run(SCHEDULE_DRY_RUN, {"s": schedule_selector("hourly"), "t": 1e300})["scheduleDryRun"]
        assert out_of_range["__typename"] == "PythonError" and "9999" in out_of_range["message"]
    assert h.run(BACKFILLS, {"limit": -3})["partitionBackfillsOrError"]["results"] == []
    assert h.run(BACKFILLS, {"cursor": "unknown"})["partitionBackfillsOrError"]["results"] == []
    assert h.run(SENSOR, {"selector": sensor_selector("file_sensor"), "ticksLimit": -1})["sensorOrError"]["sensorState"]["ticks"] == []


# ---------- what the jobs and workspace parts call ----------


def test_repository_and_job_schedules_and_sensors(h):
    from oprun.web.graphql.automation import repository_schedules, repository_sensors
    from oprun.web.graphql.automation_shared import SensorType

    assert len(repository_schedules(h.context, LOCATION)) == 6
    assert [s.name for s in repository_schedules(h.context, LOCATION, job_name="config_job")] == ["hourly", "bad_config"]
    assert repository_schedules(h.context, "nowhere.py") == []
    assert len(repository_sensors(h.context, LOCATION)) == 5
    assert [s.name for s in repository_sensors(h.context, LOCATION, SensorType.RUN_STATUS)] == ["on_failure"]
    assert [s.name for s in repository_sensors(h.context, LOCATION, job_name="config_job")] == ["file_sensor"]
    assert repository_sensors(h.context, "nowhere.py") == []
