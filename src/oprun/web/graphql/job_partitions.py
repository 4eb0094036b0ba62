"""A partitioned job's partitions as GraphQL (what the launchpad's partition
picker reads): `Pipeline.partitionKeysOrError` pages through the keys, and
`Pipeline.partition(partitionName)` gives one partition's run config (YAML) and
tags (`PartitionTagsAndConfig`, Dagster's names)."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from oprun.web.context import WebContext
from oprun.web.graphql import common as c
from oprun.web.graphql.runs import PipelineTag


@strawberry.type(name="PartitionKeys")
class PartitionKeys:
    partition_keys: list[str]


@strawberry.type(name="PartitionRunConfig")
class PartitionRunConfig:
    yaml: str


@strawberry.type(name="PartitionTags")
class PartitionTags:
    results: list[PipelineTag]


PartitionRunConfigOrError = Annotated[PartitionRunConfig | c.PythonError, strawberry.union("PartitionRunConfigOrError")]
PartitionTagsOrError = Annotated[PartitionTags | c.PythonError, strawberry.union("PartitionTagsOrError")]


@strawberry.type(name="PartitionTagsAndConfig")
class PartitionTagsAndConfig:
    name: str
    job_name: str
    job: strawberry.Private[Any]

    @strawberry.field
    def run_config_or_error(self) -> PartitionRunConfigOrError:
        from oprun.web.graphql.config_scaffold import to_yaml

        try:
            config = self.job.partitioned_config.get_run_config_for_partition_key(self.name)
            return PartitionRunConfig(yaml=to_yaml(config))
        except Exception as error:  # noqa: BLE001 - the partition's config function raised: data
            return c.python_error(error)

    @strawberry.field
    def tags_or_error(self) -> PartitionTagsOrError:
        try:
            tags = self.job.partitioned_config.get_tags_for_partition_key(self.name, job_name=self.job.name)
            return PartitionTags(results=[PipelineTag(key=str(k), value=str(v)) for k, v in tags.items()])
        except Exception as error:  # noqa: BLE001 - the partition's tags function raised: data
            return c.python_error(error)


def partition_keys(context: WebContext, job: Any, cursor: str | None, limit: int | None, reverse: bool) -> PartitionKeys:
    """The job's partition keys (none for a job without partitions), after
    `cursor` (a key), at most `limit`, newest first with `reverse`."""
    partitions_def = job.partitions_def
    if partitions_def is None:
        return PartitionKeys(partition_keys=[])
    keys = list(partitions_def.get_partition_keys(dynamic_partitions_store=context.instance))
    if reverse:
        keys.reverse()
    if cursor is not None and cursor in keys:
        keys = keys[keys.index(cursor) + 1 :]
    if limit is not None:
        keys = keys[: max(limit, 0)]
    return PartitionKeys(partition_keys=keys)


def partition_of(job: Any, name: str) -> PartitionTagsAndConfig | None:
    """One partition of a partitioned job (None when the job has no partitions)."""
    if job.partitioned_config is None:
        return None
    return PartitionTagsAndConfig(name=name, job_name=job.name, job=job)
