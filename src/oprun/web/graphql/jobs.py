"""Jobs as GraphQL: the `Pipeline` type (Dagster's legacy name for a job)."""

from __future__ import annotations

import strawberry


@strawberry.type(name="Pipeline")
class Pipeline:
    name: str


def pipeline_type(location: object, definitions: object, name: str) -> Pipeline:
    return Pipeline(name=name)
