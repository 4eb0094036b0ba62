"""A schedule's or sensor's `RunRequest` made into a submitted run, at most once.

Each request has a key that says which run it is: its `run_key` if given (a
sensor's key is launched once, ever; a schedule's once per tick), else, for a
schedule, the tick's time and the request's position in the tick. The key goes
on the run as tags (`dagster/run_key`, and `dagster/schedule_name` or
`dagster/sensor_name`), in the same transaction that records the run. Before
making a run the key is looked up among the stored runs, so a tick resumed after
a crash (or a second evaluation of the same key) finds the run it already made
and does not make another.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from oprun.daemon.base import create_run
from oprun.loading import CodeLocation
from oprun.runs import RunsFilter

RUN_KEY_TAG = "dagster/run_key"
SCHEDULE_NAME_TAG = "dagster/schedule_name"
SENSOR_NAME_TAG = "dagster/sensor_name"
SCHEDULED_EXECUTION_TIME_TAG = "dagster/scheduled_execution_time"
TICK_ID_TAG = "oprun/tick_id"
# A schedule's request without a run_key: which tick and which request of it.
SCHEDULE_TICK_KEY_TAG = "oprun/schedule_tick_key"


@dataclass(frozen=True)
class Submitted:
    run_id: str
    run_key: str | None
    created: bool  # False: a run for this key existed already (not made again)


def existing_run_id(instance: Any, owner_tag: str, owner_name: str, key_tag: str, key: str) -> str | None:
    """The run already made for this key by this schedule or sensor, if any."""
    runs = instance.get_runs(RunsFilter(tags={owner_tag: owner_name, key_tag: key}), limit=1)
    return runs[0].run_id if runs else None


def resume_made_run(instance: Any, tags: Mapping[str, str]) -> str | None:
    """The id of the run already made with these tags, if any, submitted now if
    the one that made it died before submitting it (a tick or a backfill
    iteration resumed after a crash)."""
    from oprun.runs import DagsterRunStatus

    runs = instance.get_runs(RunsFilter(tags=dict(tags)), limit=1)
    if not runs:
        return None
    if runs[0].status is DagsterRunStatus.NOT_STARTED:
        instance.submit_run(runs[0].run_id)
    return str(runs[0].run_id)


def submit_request(
    instance: Any,
    location: CodeLocation,
    job_def: Any,
    request: Any,
    *,
    owner_tag: str,
    owner_name: str,
    dedup_key: str | None,
    extra_tags: Mapping[str, str] | None = None,
) -> Submitted:
    """Record and submit the run a request asks for, unless the run for its key
    exists. `dedup_key` is the request's `run_key`, or the key a schedule gives a
    request without one (None: always a new run, a sensor's request without a key)."""
    key_tag = RUN_KEY_TAG if request.run_key is not None else SCHEDULE_TICK_KEY_TAG
    if dedup_key is not None:
        found = resume_made_run(instance, {owner_tag: owner_name, key_tag: dedup_key})
        if found is not None:
            return Submitted(found, request.run_key, created=False)
    tags = {**dict(request.tags), **dict(extra_tags or {}), owner_tag: owner_name}
    if dedup_key is not None:
        tags[key_tag] = dedup_key
    if request.partition_key is not None and "dagster/partition" not in tags:
        tags["dagster/partition"] = request.partition_key
    run = create_run(instance, location, job_def, request.run_config, tags)
    instance.submit_run(run.run_id)
    return Submitted(run.run_id, request.run_key, created=True)

