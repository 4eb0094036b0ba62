"""Lists of runs as GraphQL: `runsOrError` (and its legacy name
`pipelineRunsOrError`), `runIdsOrError`, and the tag autocompletion of the runs
page (`runTagKeysOrError`, `runTagsOrError`), with Dagster's `RunsFilter`.

A page is one storage query, newest first, after the cursor (the last run id of
the previous page); `count` is a second query, made only when it is asked for.
A filter the storage cannot express (`snapshotId`) is applied while paging.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import strawberry
from strawberry import UNSET

from oprun.runs import DagsterRunStatus, RunRecord, RunsFilter
from oprun.web.context import WebContext
from oprun.web.graphql import common as c
from oprun.web.graphql.run_object import Run, run_type

# Runs read per query while filtering on a snapshot id (which the storage cannot do).
_SNAPSHOT_BATCH = 500
# Tags that are oprun's and Dagster's bookkeeping, left out of autocompletion
# (Dagster hides `.dagster/` tags; `oprun/` tags name run worker processes).
_HIDDEN_TAG_PREFIXES = (".dagster/", "oprun/")


@strawberry.input(name="RunsFilter", description="Which runs to list; every field given must match (tags: every tag).")
class RunsFilterInput:
    run_ids: list[str | None] | None = UNSET
    pipeline_name: str | None = UNSET
    tags: list[c.ExecutionTag] | None = UNSET
    statuses: list[c.RunStatus] | None = UNSET
    snapshot_id: str | None = UNSET
    updated_after: float | None = UNSET
    updated_before: float | None = UNSET
    created_before: float | None = UNSET
    created_after: float | None = UNSET
    mode: str | None = UNSET


@strawberry.type(name="InvalidPipelineRunsFilterError")
class InvalidPipelineRunsFilterError:
    message: str


@strawberry.interface(name="PipelineRuns")
class PipelineRuns:
    results: list[Run]


@strawberry.type(name="Runs")
class Runs(PipelineRuns):
    _filters: strawberry.Private[RunsFilter | None] = None
    _snapshot_id: strawberry.Private[str | None] = None

    # How many runs match the filter, on every page: a second query, only when asked.
    @strawberry.field
    def count(self, info: strawberry.Info) -> int | None:
        return _count(info.context, self._filters, self._snapshot_id)


@strawberry.type(name="RunIds")
class RunIds:
    results: list[str]


@strawberry.type(name="RunTagKeys")
class RunTagKeys:
    keys: list[str]


@strawberry.type(name="PipelineTagAndValues")
class PipelineTagAndValues:
    key: str
    values: list[str]


@strawberry.type(name="RunTags")
class RunTags:
    tags: list[PipelineTagAndValues]


RunsOrError = Annotated[Runs | InvalidPipelineRunsFilterError | c.PythonError, strawberry.union("RunsOrError")]
RunIdsOrError = Annotated[RunIds | InvalidPipelineRunsFilterError | c.PythonError, strawberry.union("RunIdsOrError")]
RunTagKeysOrError = Annotated[c.PythonError | RunTagKeys, strawberry.union("RunTagKeysOrError")]
RunTagsOrError = Annotated[c.PythonError | RunTags, strawberry.union("RunTagsOrError")]


class _BadFilter(Exception):
    """A filter or page the client got wrong: an InvalidPipelineRunsFilterError."""


def _time(value: float | None, name: str) -> datetime | None:
    if value is None or value is UNSET:
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError) as error:
        raise _BadFilter(f"RunsFilter.{name}: {value!r} is not a time (seconds since the epoch): {error}") from None


def _given(value: Any) -> Any:
    return None if value is UNSET else value


def storage_filter(given: RunsFilterInput | None) -> tuple[RunsFilter | None, str | None]:
    """The instance's `RunsFilter` for a GraphQL one, and the snapshot id the
    storage cannot filter on. `mode` is accepted and ignored: every job has the one
    mode, "default"."""
    if given is None or given is UNSET:
        return None, None
    run_ids = _given(given.run_ids)
    tags = _given(given.tags)
    statuses = _given(given.statuses)
    filters = RunsFilter(
        run_ids=[r for r in run_ids if r is not None] if run_ids is not None else None,
        job_name=_given(given.pipeline_name),
        # As Dagster: a key given twice keeps its last value.
        tags={tag.key: tag.value for tag in tags} if tags else None,
        statuses=[DagsterRunStatus(s.value) for s in statuses] if statuses is not None else None,
        created_before=_time(_given(given.created_before), "createdBefore"),
        created_after=_time(_given(given.created_after), "createdAfter"),
        updated_before=_time(_given(given.updated_before), "updatedBefore"),
        updated_after=_time(_given(given.updated_after), "updatedAfter"),
    )
    return filters, _given(given.snapshot_id)


def _page(context: WebContext, filters: RunsFilter | None, snapshot_id: str | None, cursor: str | None, limit: int | None) -> list[RunRecord]:
    instance = context.instance
    if limit is not None and limit < 0:
        raise _BadFilter(f"limit must be 0 or more, got {limit}.")
    if limit == 0:
        return []
    if cursor is not None and not instance.has_run(cursor):
        # As Dagster's storage: a page after a run that does not exist (any more) is empty.
        return []
    if snapshot_id is None:
        return list(instance.get_run_records(filters, limit=limit, cursor=cursor))
    found: list[RunRecord] = []
    while True:
        batch = instance.get_run_records(filters, limit=_SNAPSHOT_BATCH, cursor=cursor)
        found += [r for r in batch if r.dagster_run.job_snapshot_id == snapshot_id]
        if limit is not None and len(found) >= limit:
            return found[:limit]
        if len(batch) < _SNAPSHOT_BATCH:
            return found
        cursor = batch[-1].dagster_run.run_id


def _count(context: WebContext, filters: RunsFilter | None, snapshot_id: str | None) -> int:
    if snapshot_id is None:
        return int(context.instance.get_runs_count(filters))
    return len(_page(context, filters, snapshot_id, None, None))


def _filtered_page(
    context: WebContext, filter: RunsFilterInput | None, cursor: str | None, limit: int | None
) -> tuple[list[RunRecord], RunsFilter | None, str | None] | InvalidPipelineRunsFilterError | c.PythonError:
    """A page of the runs `filter` selects, with the storage filter and snapshot
    id it maps to; a filter that cannot be is Dagster's InvalidPipelineRunsFilterError."""
    try:
        filters, snapshot_id = storage_filter(filter)
        return _page(context, filters, snapshot_id, _given(cursor), _given(limit)), filters, snapshot_id
    except _BadFilter as error:
        return InvalidPipelineRunsFilterError(message=str(error))
    except Exception as error:  # noqa: BLE001 - reported to the client as data
        return c.python_error(error)


def runs_or_error(context: WebContext, filter: RunsFilterInput | None, cursor: str | None, limit: int | None) -> RunsOrError:
    page = _filtered_page(context, filter, cursor, limit)
    if not isinstance(page, tuple):
        return page
    records, filters, snapshot_id = page
    return Runs(results=[run_type(r) for r in records], _filters=filters, _snapshot_id=snapshot_id)


def run_ids_or_error(context: WebContext, filter: RunsFilterInput | None, cursor: str | None, limit: int | None) -> RunIdsOrError:
    page = _filtered_page(context, filter, cursor, limit)
    if not isinstance(page, tuple):
        return page
    return RunIds(results=[r.dagster_run.run_id for r in page[0]])


# ---------- tag autocompletion ----------


def _visible(key: str) -> bool:
    return not key.startswith(_HIDDEN_TAG_PREFIXES)


@c.or_python_error
def run_tag_keys_or_error(context: WebContext) -> RunTagKeysOrError:
    return RunTagKeys(keys=[k for k in tag_keys(context.instance) if _visible(k)])


@c.or_python_error
def run_tags_or_error(context: WebContext, tag_keys_wanted: list[str] | None, value_prefix: str | None, limit: int | None) -> RunTagsOrError:
    keys = [k for k in (tag_keys_wanted or tag_keys(context.instance)) if _visible(k)]
    pairs = tag_values(context.instance, keys, value_prefix or "", limit)
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    return RunTags(tags=[PipelineTagAndValues(key=k, values=v) for k, v in grouped.items()])


def _sql_storage(instance: Any) -> Any:
    storage = instance.run_storage
    return storage if hasattr(storage, "transact") and hasattr(storage, "engine") else None


def tag_keys(instance: Any) -> list[str]:
    """Every tag key of every run, sorted. On SQL storage a loose index scan of
    the tags' (key, value) index: one probe per distinct key, not one per tag."""
    storage = _sql_storage(instance)
    if storage is None:
        return sorted({k for record in instance.get_run_records() for k in record.dagster_run.tags})
    import sqlalchemy as sa

    statement = sa.text(
        "WITH RECURSIVE keys(key) AS ("
        " SELECT MIN(key) FROM run_tags"
        " UNION ALL"
        " SELECT (SELECT MIN(key) FROM run_tags WHERE run_tags.key > keys.key) FROM keys WHERE keys.key IS NOT NULL"
        ") SELECT key FROM keys WHERE key IS NOT NULL"
    )
    return [row[0] for row in storage.transact(lambda conn: list(conn.execute(statement)))]


def tag_values(instance: Any, keys: Sequence[str], value_prefix: str, limit: int | None) -> list[tuple[str, str]]:
    """Distinct (key, value) pairs of these keys whose value starts with the prefix,
    by key then value, at most `limit` of them."""
    if not keys:
        return []
    storage = _sql_storage(instance)
    if storage is None:
        pairs = sorted({
            (k, v) for record in instance.get_run_records() for k, v in record.dagster_run.tags.items()
            if k in keys and v.startswith(value_prefix)
        })
        return pairs[:limit] if limit is not None else pairs
    import sqlalchemy as sa

    from oprun.instance import schema

    tags = schema.run_tags
    query = sa.select(tags.c.key, tags.c.value).distinct().where(tags.c.key.in_(list(keys)))
    if value_prefix:
        query = query.where(tags.c.value.startswith(value_prefix, autoescape=True))
    query = query.order_by(tags.c.key, tags.c.value)
    if limit is not None:
        query = query.limit(max(limit, 0))
    return [(row.key, row.value) for row in storage.transact(lambda conn: list(conn.execute(query)))]
