"""A job's execution plan as GraphQL (`executionPlanOrError`): its steps in
order, each with its kind, inputs (and the steps they read from) and outputs.
Made from `create_execution_plan`, which runs no user code."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

import strawberry

from oprun.web.graphql.job_graph import MetadataItemDefinition


@strawberry.enum(name="StepKind")
class StepKind(enum.Enum):
    COMPUTE = "COMPUTE"
    UNRESOLVED_MAPPED = "UNRESOLVED_MAPPED"
    UNRESOLVED_COLLECT = "UNRESOLVED_COLLECT"


@strawberry.type(name="ExecutionStepOutput")
class ExecutionStepOutput:
    name: str


@strawberry.type(name="ExecutionStepInput")
class ExecutionStepInput:
    name: str
    upstream: strawberry.Private[list[str]]
    plan: strawberry.Private[ExecutionPlan]

    @strawberry.field
    def depends_on(self) -> list[ExecutionStep]:
        return [self.plan.step(key) for key in self.upstream if self.plan.has(key)]


@strawberry.type(name="ExecutionStep")
class ExecutionStep:
    key: str
    solid_handle_id: str = strawberry.field(name="solidHandleID")
    kind: StepKind
    inputs: list[ExecutionStepInput]
    outputs: list[ExecutionStepOutput]
    metadata: list[MetadataItemDefinition]


@strawberry.type(name="ExecutionPlan")
class ExecutionPlan:
    steps: list[ExecutionStep]
    artifacts_persisted: bool
    by_key: strawberry.Private[dict[str, ExecutionStep]]

    def step(self, key: str) -> ExecutionStep:
        return self.by_key[key]

    def has(self, key: str) -> bool:
        return key in self.by_key


def execution_plan(job: Any, run_config: Mapping[str, Any]) -> ExecutionPlan:
    from oprun.execution import plan as plans

    made = plans.create_execution_plan(job, run_config)
    graph_plan = ExecutionPlan(steps=[], artifacts_persisted=False, by_key={})
    for step in made.topological_steps:
        collects = any(isinstance(i.source, plans.FromCollect) for i in step.inputs)
        kind = StepKind.UNRESOLVED_MAPPED if step.is_template else StepKind.UNRESOLVED_COLLECT if collects else StepKind.COMPUTE
        inputs = [
            ExecutionStepInput(name=i.name, upstream=sorted(plans._keys_of_sources([i.source])), plan=graph_plan)  # noqa: SLF001 - the plan's own reading of a source
            for i in step.inputs
        ]
        made_step = ExecutionStep(
            key=step.key, solid_handle_id=step.handle, kind=kind, inputs=inputs,
            outputs=[ExecutionStepOutput(name=o.name) for o in step.op_def.output_defs],
            metadata=[MetadataItemDefinition(key=str(k), value=str(v)) for k, v in step.tags.items()],
        )
        graph_plan.steps.append(made_step)
        graph_plan.by_key[step.key] = made_step
    return graph_plan
