"""Partition backfills of op jobs: one run per partition, made by the daemon's
backfill loop a chunk at a time (Dagster's job backfills).

`oprun job backfill` stores a `PartitionBackfill` (status REQUESTED) naming the
job, its code location and the chosen partition keys; it makes no run. Each
iteration of `BackfillLoop` then, for every REQUESTED backfill, makes and
submits the runs of up to `chunk_size` pending partitions, each tagged
`dagster/backfill` (the backfill's id) and `dagster/partition` (its key), with
the run config the job's partitioned config gives for the key. Before a run is
made its partition's tags are looked up among the stored runs, so a loop that
died between making a run and recording it on the backfill finds the run and
does not make another. Once every partition has a run and every run is
finished, the backfill is COMPLETED_SUCCESS (all runs succeeded) or
COMPLETED_FAILED (any failed or was canceled), as Dagster's job backfills are
since 1.8. A CANCELING backfill makes no more runs: its queued runs are
canceled, those in progress are terminated, and it is CANCELED once all of
them are finished.

This module knows the instance, the code locations and run creation; it knows
nothing of the command line that asks for backfills.
"""

from __future__ import annotations

import logging
import secrets
import string
from collections.abc import Mapping, Sequence
from typing import Any

from oprun import clock
from oprun.daemon.base import DaemonContext, Workspace, create_run, reconstructable_job
from oprun.daemon.requests import resume_made_run
from oprun.errors import (
    DagsterCodeLocationLoadError,
    DagsterError,
    DagsterInvariantViolationError,
    DagsterStorageError,
    DagsterUnknownPartitionError,
    did_you_mean,
)
from oprun.instigation import BulkActionStatus, PartitionBackfill
from oprun.loading import CodeLocation, CodePointer
from oprun.runs import FINISHED_RUN_STATUSES, DagsterRunStatus, RunsFilter

BACKFILL_DAEMON_TYPE = "BACKFILL"
BACKFILL_ID_TAG = "dagster/backfill"
PARTITION_NAME_TAG = "dagster/partition"
DEFAULT_CHUNK_SIZE = 25

ACTIVE_STATUSES = (BulkActionStatus.REQUESTED, BulkActionStatus.CANCELING)

_log = logging.getLogger("oprun.daemon.backfills")


def make_backfill_id() -> str:
    """Eight random lowercase letters, as Dagster's backfill ids."""
    return "".join(secrets.choice(string.ascii_lowercase) for _ in range(8))


# -- choosing partitions ------------------------------------------------------------------------


def _dynamic_store(partitions_def: Any, instance: Any) -> Any:
    """The store a named DynamicPartitionsDefinition reads its keys from: the
    instance, when it keeps dynamic partitions; else an error saying so."""
    if getattr(partitions_def, "name", None) is None or not hasattr(partitions_def, "build_add_request"):
        return None
    if instance is not None and callable(getattr(instance, "get_dynamic_partitions", None)):
        return instance
    raise DagsterInvariantViolationError(
        f"The partitions of this job are dynamic partitions named '{partitions_def.name}', kept on the instance, "
        "and this oprun instance does not store dynamic partitions yet, so there is no key to backfill. "
        "Use DynamicPartitionsDefinition(partition_fn=...) or static partitions for this job."
    )


def job_partition_keys(job_def: Any, instance: Any = None) -> list[str]:
    """Every partition key of a partitioned job, in its partitions definition's
    order (time windows up to the clock's now); an error for a job without partitions."""
    partitioned = job_def.partitioned_config
    if partitioned is None:
        raise DagsterInvariantViolationError(
            f"Job '{job_def.name}' is not partitioned: a backfill runs a partitioned job once per partition. "
            "Give the job partitions_def=... (or a partitioned config), or run it with `oprun job launch`."
        )
    partitions_def = partitioned.partitions_def
    store = _dynamic_store(partitions_def, instance)
    return list(partitions_def.get_partition_keys(current_time=clock.now(), dynamic_partitions_store=store))


def select_partitions(
    job_name: str,
    keys: Sequence[str],
    partitions: Sequence[str] | None = None,
    from_key: str | None = None,
    to_key: str | None = None,
    all_partitions: bool = False,
) -> list[str]:
    """The keys a backfill of `job_name` covers, from the job's `keys` (in their
    order): `partitions` (each must exist; kept in the job's order, as Dagster
    does), a range `from_key`..`to_key` by position (either end may be left out:
    the first or the last key), or all of them (also when nothing is chosen)."""
    chosen = sum([bool(all_partitions), partitions is not None, from_key is not None or to_key is not None])
    if chosen > 1:
        raise DagsterInvariantViolationError("Choose the partitions one way: --all, --partitions, or --from/--to, not several.")
    if not keys:
        raise DagsterInvariantViolationError(f"Job '{job_name}' has no partitions (its partitions definition gives no key), so there is nothing to backfill.")
    if partitions is not None:
        wanted = [p.strip() for p in partitions if p.strip()]
        if not wanted:
            raise DagsterInvariantViolationError("--partitions names no partition: give keys separated by commas, e.g. --partitions 2024-01-01,2024-01-02.")
        known = set(keys)
        for key in wanted:
            if key not in known:
                raise _unknown_partition(job_name, key, keys)
        wanted_set = set(wanted)
        return [key for key in keys if key in wanted_set]
    start = 0 if from_key is None else _index_of(job_name, keys, from_key, "--from")
    end = len(keys) - 1 if to_key is None else _index_of(job_name, keys, to_key, "--to")
    if start > end:
        raise DagsterInvariantViolationError(
            f"--from {keys[start]} comes after --to {keys[end]} in the partitions of job '{job_name}': "
            "the range goes from an earlier key to a later one."
        )
    return list(keys[start:end + 1])


def _index_of(job_name: str, keys: Sequence[str], key: str, option: str) -> int:
    try:
        return list(keys).index(key)
    except ValueError:
        raise _unknown_partition(job_name, key, keys, option) from None


def _unknown_partition(job_name: str, key: str, keys: Sequence[str], option: str = "--partitions") -> DagsterUnknownPartitionError:
    shown = list(keys) if len(keys) <= 8 else [*keys[:3], "...", *keys[-3:]]
    return DagsterUnknownPartitionError(
        f"Unknown partition '{key}' ({option}) for job '{job_name}'.{did_you_mean(key, keys)} "
        f"Its {len(keys)} partition{'' if len(keys) == 1 else 's'}: {', '.join(shown)}."
    )


def create_backfill(
    instance: Any,
    location: CodeLocation,
    job_def: Any,
    partition_names: Sequence[str],
    tags: Mapping[str, str] | None = None,
    run_config: Mapping[str, Any] | None = None,
) -> PartitionBackfill:
    """Store a REQUESTED backfill of `job_def` (a job of `location`) for these
    partitions; the daemon's backfill loop makes its runs."""
    job_partition_keys(job_def, instance)  # a job without partitions is refused here too
    origin = reconstructable_job(location, job_def.name).to_dict()
    for _attempt in range(5):
        backfill = PartitionBackfill(
            backfill_id=make_backfill_id(),
            job_name=job_def.name,
            location_name=location.name,
            partition_names=tuple(partition_names),
            status=BulkActionStatus.REQUESTED,
            backfill_timestamp=clock.timestamp(),
            job_origin=origin,
            run_config=dict(run_config) if run_config else None,
            tags={str(k): str(v) for k, v in (tags or {}).items()},
        )
        if instance.get_backfill(backfill.backfill_id) is None:
            instance.add_backfill(backfill)
            return backfill
    raise DagsterInvariantViolationError("Could not find an unused backfill id; try again.")


def check_partition_run_config(job_def: Any, key: str, run_config: Mapping[str, Any] | None = None) -> None:
    """Raise the error the run of partition `key` would meet: its run config (the
    job's partitioned config for the key, `run_config` merged over it) must be
    valid. `oprun job backfill` and GraphQL's launchPartitionBackfill check every
    chosen partition so before storing a backfill."""
    from oprun.execution.resolve import resolve_run_config

    probe = PartitionBackfill("-", job_def.name, "-", (key,), BulkActionStatus.REQUESTED, 0.0, run_config=dict(run_config) if run_config else None)
    config, _tags = partition_run_config_and_tags(job_def, probe, key)
    resolve_run_config(job_def, config, partition_key=key)


# -- reading a backfill's progress --------------------------------------------------------------


def backfill_runs(instance: Any, backfill: PartitionBackfill) -> dict[str, Any]:
    """The stored runs of a backfill, by run id."""
    return {run.run_id: run for run in instance.get_runs(RunsFilter(tags={BACKFILL_ID_TAG: backfill.backfill_id}))}


def partition_statuses(instance: Any, backfill: PartitionBackfill) -> list[tuple[str, str | None, str]]:
    """(partition, run id or None, status) for each partition of a backfill; the
    status is the run's, NOT_LAUNCHED before it has one, MISSING when its run was deleted."""
    runs = backfill_runs(instance, backfill)
    rows: list[tuple[str, str | None, str]] = []
    for key in backfill.partition_names:
        run_id = backfill.run_ids.get(key)
        if run_id is None:
            rows.append((key, None, "NOT_LAUNCHED"))
            continue
        run = runs.get(run_id)
        rows.append((key, run_id, run.status.value if run is not None else "MISSING"))
    return rows


def status_counts(rows: Sequence[tuple[str, str | None, str]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _key, _run_id, status in rows:
        counts[status] = counts.get(status, 0) + 1
    return counts


def find_backfill(instance: Any, backfill_id: str) -> PartitionBackfill:
    """The backfill with this id, or an error with the closest id."""
    backfill: PartitionBackfill | None = instance.get_backfill(backfill_id)
    if backfill is not None:
        return backfill
    known = [b.backfill_id for b in instance.get_backfills(limit=1000)]
    hint = did_you_mean(backfill_id, known)
    listing = "" if hint else (" See `oprun backfill list`." if known else " There are no backfills on this instance.")
    raise DagsterInvariantViolationError(f"No backfill with id '{backfill_id}'.{hint}{listing}")


# -- canceling ----------------------------------------------------------------------------------


def request_cancel(instance: Any, backfill_id: str) -> PartitionBackfill:
    """Mark a REQUESTED backfill CANCELING (the loop cancels its runs); a
    CANCELING one is returned as it is; a finished one is an error."""
    backfill = find_backfill(instance, backfill_id)
    if backfill.status is BulkActionStatus.CANCELING:
        return backfill
    if backfill.status is not BulkActionStatus.REQUESTED:
        raise DagsterInvariantViolationError(
            f"Backfill {backfill_id} is {backfill.status.value}: only a backfill in progress (REQUESTED) can be canceled."
        )
    canceling = backfill.with_status(BulkActionStatus.CANCELING)
    instance.update_backfill(canceling)
    return canceling


def cancel_backfill_runs(instance: Any, backfill: PartitionBackfill, stopping: Any = None) -> PartitionBackfill:
    """One pass over a CANCELING backfill: cancel its queued runs and terminate
    those in progress (through the run coordinator); CANCELED once every run is
    finished. Returns the backfill as stored after the pass."""
    for run in backfill_runs(instance, backfill).values():
        if stopping is not None and stopping.is_set():
            return backfill
        if run.is_finished or run.status is DagsterRunStatus.CANCELING:
            continue  # a run being terminated already finishes on its own (or the run monitor ends it)
        try:
            instance.run_coordinator.cancel_run(run.run_id)
        except DagsterStorageError:
            raise
        except DagsterError as exc:
            _log.warning("Backfill %s: could not cancel run %s: %s", backfill.backfill_id, run.run_id, exc)
    if all(run.is_finished for run in backfill_runs(instance, backfill).values()):
        current = instance.get_backfill(backfill.backfill_id) or backfill
        canceled = current.with_status(BulkActionStatus.CANCELED, end_timestamp=clock.timestamp())
        instance.update_backfill(canceled)
        return canceled
    return instance.get_backfill(backfill.backfill_id) or backfill


def cancel_backfill(instance: Any, backfill_id: str) -> PartitionBackfill:
    """Cancel a REQUESTED backfill: CANCELING, for the daemon's backfill loop to
    cancel its runs; with no daemon alive its runs are canceled here, at once
    (CANCELED when all of them are finished). Returns the backfill as stored."""
    backfill = request_cancel(instance, backfill_id)
    if instance.daemon_is_alive(BACKFILL_DAEMON_TYPE):
        return backfill
    return cancel_backfill_runs(instance, backfill)


def resume_backfill(instance: Any, backfill_id: str) -> PartitionBackfill:
    """Make a FAILED or CANCELED backfill REQUESTED again (its error cleared): the
    backfill loop makes the runs of the partitions that have none yet and
    finishes it as usual. A backfill in progress or completed is an error."""
    backfill = find_backfill(instance, backfill_id)
    if backfill.status not in (BulkActionStatus.FAILED, BulkActionStatus.CANCELED):
        raise DagsterInvariantViolationError(
            f"Backfill {backfill_id} is {backfill.status.value}: only a FAILED or CANCELED backfill can be resumed."
        )
    resumed = backfill.with_status(BulkActionStatus.REQUESTED, error=None, end_timestamp=None)
    instance.update_backfill(resumed)
    return resumed


# -- the daemon loop ----------------------------------------------------------------------------


class BackfillLoop:
    """The daemon loop that makes backfills' runs (see the module docstring)."""

    daemon_type = BACKFILL_DAEMON_TYPE

    def __init__(self, interval_seconds: float = 1.0, chunk_size: int = DEFAULT_CHUNK_SIZE) -> None:
        self.interval_seconds = interval_seconds
        self.chunk_size = max(1, int(chunk_size))
        self._origin_locations: dict[str, CodeLocation] = {}

    def run_iteration(self, context: DaemonContext) -> str | None:
        instance = context.instance
        # Oldest first: the storage lists newest first.
        canceling = list(reversed(instance.get_backfills(BulkActionStatus.CANCELING)))
        requested = list(reversed(instance.get_backfills(BulkActionStatus.REQUESTED)))
        notes = []
        for backfill in canceling:
            if context.stopping.is_set():
                break
            after = cancel_backfill_runs(instance, backfill, context.stopping)
            if after.status is BulkActionStatus.CANCELED:
                notes.append(f"{backfill.backfill_id} canceled")
        for backfill in requested:
            if context.stopping.is_set():
                break
            note = self._advance(context, backfill)
            if note:
                notes.append(note)
        return "; ".join(notes) if notes else None

    def _advance(self, context: DaemonContext, backfill: PartitionBackfill) -> str | None:
        """Make the next chunk of a REQUESTED backfill's runs, or finish it."""
        instance = context.instance
        pending = backfill.pending_partitions
        made = 0
        if pending:
            try:
                location = self._location_for(context.workspace, backfill)
                definitions = location.load()
            except DagsterCodeLocationLoadError as exc:
                # Perhaps being edited: tried again next iteration.
                context.log.warning("Backfill %s waits for code location %s to load: %s", backfill.backfill_id, backfill.location_name, exc)
                return f"{backfill.backfill_id} waiting for {backfill.location_name}"
            try:
                job_def = definitions.resolve_job_def(backfill.job_name)
            except DagsterInvariantViolationError as exc:
                return self._fail(instance, backfill, f"Job '{backfill.job_name}' is no longer in code location {location.name}: {exc}")
            for key in pending[: self.chunk_size]:
                if context.stopping.is_set():
                    break
                current = instance.get_backfill(backfill.backfill_id)
                if current is None or current.status is not BulkActionStatus.REQUESTED:
                    return None  # canceled meanwhile: the next iteration cancels its runs
                try:
                    run_id = _run_for_partition(instance, location, job_def, current, key)
                except DagsterStorageError:
                    raise
                except Exception as exc:  # noqa: BLE001 - a user's config function may raise anything; the backfill records it
                    return self._fail(instance, current, f"Could not create the run for partition '{key}' of job '{backfill.job_name}': {exc}")
                # Re-read just before writing: a cancel stored meanwhile is kept.
                latest = instance.get_backfill(backfill.backfill_id) or current
                backfill = latest.with_run(key, run_id)
                instance.update_backfill(backfill)
                made += 1
                if backfill.status is not BulkActionStatus.REQUESTED:
                    return None
        if backfill.pending_partitions:
            return f"{backfill.backfill_id}: {made} runs made, {len(backfill.pending_partitions)} to go" if made else None
        return self._finish_if_done(instance, backfill, made)

    def _finish_if_done(self, instance: Any, backfill: PartitionBackfill, made: int) -> str | None:
        runs = backfill_runs(instance, backfill)
        statuses = [runs[run_id].status if run_id in runs else None for run_id in backfill.run_ids.values()]
        if not all(status is None or status in FINISHED_RUN_STATUSES for status in statuses):
            return f"{backfill.backfill_id}: {made} runs made, all made" if made else None
        current = instance.get_backfill(backfill.backfill_id)
        if current is None or current.status is not BulkActionStatus.REQUESTED:
            return None
        success = all(status is DagsterRunStatus.SUCCESS for status in statuses)
        status = BulkActionStatus.COMPLETED_SUCCESS if success else BulkActionStatus.COMPLETED_FAILED
        instance.update_backfill(current.with_status(status, end_timestamp=clock.timestamp()))
        return f"{backfill.backfill_id} {status.value}"

    def _location_for(self, workspace: Workspace, backfill: PartitionBackfill) -> CodeLocation:
        """The backfill's code location in the daemon's workspace; when the daemon
        was started on other locations, the one its stored origin points to
        (loaded once, kept for the next iterations)."""
        try:
            return workspace.location(backfill.location_name)
        except DagsterInvariantViolationError:
            pass
        origin = backfill.job_origin
        if not (origin.get("python_file") or origin.get("module_name")):
            raise DagsterCodeLocationLoadError(
                f"Code location {backfill.location_name} is not in the daemon's workspace and the backfill names no file or module."
            )
        attribute = origin.get("attribute")
        pointer = CodePointer(
            python_file=origin.get("python_file"), module_name=origin.get("module_name"),
            attribute=None if attribute in (None, "*") else attribute, working_directory=origin.get("working_directory"),
        )
        location = self._origin_locations.get(backfill.location_name)
        if location is None or location.pointer != pointer:
            location = CodeLocation(backfill.location_name, pointer)
            self._origin_locations[backfill.location_name] = location
        location.load()
        return location

    def _fail(self, instance: Any, backfill: PartitionBackfill, message: str) -> str:
        _log.error("Backfill %s failed: %s", backfill.backfill_id, message)
        instance.update_backfill(backfill.with_status(BulkActionStatus.FAILED, error=message, end_timestamp=clock.timestamp()))
        return f"{backfill.backfill_id} FAILED"


def _run_for_partition(instance: Any, location: CodeLocation, job_def: Any, backfill: PartitionBackfill, key: str) -> str:
    """The run of one partition: found among the stored runs (made by an
    iteration that died before recording it), else made and submitted now."""
    found = resume_made_run(instance, {BACKFILL_ID_TAG: backfill.backfill_id, PARTITION_NAME_TAG: key})
    if found is not None:
        return found
    run_config, tags = partition_run_config_and_tags(job_def, backfill, key)
    run = create_run(instance, location, job_def, run_config, tags)
    instance.submit_run(run.run_id)
    return str(run.run_id)


def partition_run_config_and_tags(job_def: Any, backfill: PartitionBackfill, key: str) -> tuple[dict[str, Any], dict[str, str]]:
    """A partition's run config (the job's partitioned config for the key, with
    the backfill's run config merged over it) and tags (the partition's, then
    the backfill's, then the backfill and partition tags)."""
    from oprun.config.run_config import merge_run_configs

    partitioned = job_def.partitioned_config
    if partitioned is None:
        raise DagsterInvariantViolationError(f"Job '{job_def.name}' is no longer partitioned.")
    if _is_named_dynamic(partitioned.partitions_def):
        function = partitioned.run_config_for_partition_key_fn  # its keys live on the instance: not validated here
        value = function(key)
        config = dict(value.to_config_dict() if hasattr(value, "to_config_dict") else (value or {}))
    else:
        config = partitioned.get_run_config_for_partition_key(key)
    if backfill.run_config:
        config = merge_run_configs(config, backfill.run_config)
    tags = {
        **partitioned.get_tags_for_partition_key(key, job_name=job_def.name),
        **dict(backfill.tags),
        BACKFILL_ID_TAG: backfill.backfill_id,
        PARTITION_NAME_TAG: key,
    }
    return config, tags


def _is_named_dynamic(partitions_def: Any) -> bool:
    return getattr(partitions_def, "name", None) is not None and hasattr(partitions_def, "build_add_request")
