"""A job's graph as GraphQL (Dagster's legacy "solid" names): `Solid` (a node),
its `Input`s and `Output`s with what they depend on and what depends on them,
`SolidDefinition` (an op) and `CompositeSolidDefinition` (a graph, with its own
nodes and input and output mappings), and `SolidHandle`s, the nodes of nested
graphs by dotted path (`outer.inner`).

Built from the job definition on demand, once per request and graph: nodes are
looked up by name, so asking for one op of a 10,000-op job builds only it.
"""

from __future__ import annotations

from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from oprun.config import types as ct
from oprun.web.graphql.config_schema import ConfigTypeField, ConfigTypeRegistry
from oprun.web.graphql.events import MetadataEntry, metadata_entries
from oprun.web.graphql.job_types import DagsterType, dagster_type
from oprun.web.graphql.run_stats import RunStepStats


def config_field(name: str, schema: Any, any_if_none: bool = True) -> ConfigTypeField | None:
    """A config schema as a `ConfigTypeField` (an absent schema takes any value, optionally)."""
    if schema is None:
        if not any_if_none:
            return None
        field = ct.Field(ct.Any, is_required=False)
    else:
        field = ct.as_field(schema)
    return ConfigTypeRegistry(field.config_type).field(name, field)


class GraphIndex:
    """The GraphQL objects of one job's graph and its nested graphs, made once each."""

    def __init__(self, job: Any) -> None:
        self.job = job
        self._solids: dict[tuple[int, str], Solid] = {}
        self._definitions: dict[int, Any] = {}
        self._downstream: dict[int, dict[tuple[str, str], list[tuple[str, str]]]] = {}

    def solid(self, graph: Any, name: str) -> Solid:
        key = (id(graph), name)
        made = self._solids.get(key)
        if made is None:
            made = self._solids[key] = Solid(name=name, graph=graph, node=graph.node_dict[name], index=self)
        return made

    def solids(self, graph: Any) -> list[Solid]:
        return [self.solid(graph, name) for name in graph.toposorted_node_names]

    def definition(self, definition: Any) -> ISolidDefinition:
        made = self._definitions.get(id(definition))
        if made is None:
            cls = CompositeSolidDefinition if definition.node_type == "graph" else SolidDefinition
            made = self._definitions[id(definition)] = cls(definition=definition, index=self)
        return made

    def downstream(self, graph: Any) -> dict[tuple[str, str], list[tuple[str, str]]]:
        """(node, output) -> [(node, input)] that read it, in `graph`."""
        found = self._downstream.get(id(graph))
        if found is None:
            found = {}
            for node_name in graph.toposorted_node_names:
                for input_name, dep in graph.dependencies.get(node_name, {}).items():
                    for upstream in upstream_outputs(dep):
                        found.setdefault(upstream, []).append((node_name, input_name))
            self._downstream[id(graph)] = found
        return found

    def handles(self, root: Any) -> dict[str, SolidHandle]:
        """Every node of graph `root`, nested graphs' too, by handle id."""
        found: dict[str, SolidHandle] = {}
        pending: list[tuple[Any, SolidHandle | None]] = [(root, None)]
        while pending:
            graph, parent = pending.pop()
            for name in graph.toposorted_node_names:
                handle_id = f"{parent.handle_id}.{name}" if parent is not None else name
                handle = SolidHandle(handle_id=handle_id, solid=self.solid(graph, name), parent=parent)
                found[handle_id] = handle
                definition = graph.node_dict[name].definition
                if definition.node_type == "graph":
                    pending.append((definition, handle))
        return found

    def handle(self, root: Any, handle_id: str) -> SolidHandle | None:
        """One node of `root` by handle id, walking only the graphs on its path."""
        graph: Any = root
        parent: SolidHandle | None = None
        for name in handle_id.split("."):
            if graph is None or name not in graph.node_dict:
                return None
            made_id = f"{parent.handle_id}.{name}" if parent is not None else name
            parent = SolidHandle(handle_id=made_id, solid=self.solid(graph, name), parent=parent)
            definition = graph.node_dict[name].definition
            graph = definition if definition.node_type == "graph" else None
        return parent


def upstream_outputs(dep: Any) -> list[tuple[str, str]]:
    """The (node, output) pairs a dependency reads."""
    node = getattr(dep, "node", None) or getattr(dep, "node_name", None)
    output = getattr(dep, "output", None) or getattr(dep, "output_name", None)
    if isinstance(node, str) and isinstance(output, str):
        return [(node, output)]
    items = getattr(dep, "get_node_dependencies", None)
    if callable(items):
        return [pair for item in items() for pair in upstream_outputs(item)]
    return []


def select_handles(handles: dict[str, SolidHandle], parent_handle_id: str | None) -> list[SolidHandle]:
    """Dagster's `solidHandles(parentHandleID)`: all (None), the top level (""),
    or the children of one handle; sorted by handle id."""
    if parent_handle_id == "":
        chosen = {k: h for k, h in handles.items() if h.parent is None}
    elif parent_handle_id is not None:
        chosen = {k: h for k, h in handles.items() if h.parent is not None and h.parent.handle_id == parent_handle_id}
    else:
        chosen = handles
    return [chosen[k] for k in sorted(chosen)]


# ---------- types ----------


@strawberry.type(name="MetadataItemDefinition")
class MetadataItemDefinition:
    key: str
    value: str


@strawberry.type(name="ResourceRequirement")
class ResourceRequirement:
    resource_key: str


@strawberry.type(name="InputDefinition")
class InputDefinition:
    name: str
    description: str | None
    definition: strawberry.Private[Any]

    @strawberry.field
    def type(self) -> DagsterType:
        return dagster_type(self.definition.dagster_type)

    @strawberry.field
    def metadata_entries(self) -> list[MetadataEntry]:
        return metadata_entries(getattr(self.definition, "metadata", None))


@strawberry.type(name="OutputDefinition")
class OutputDefinition:
    name: str
    description: str | None
    is_dynamic: bool | None
    definition: strawberry.Private[Any]

    @strawberry.field
    def type(self) -> DagsterType:
        return dagster_type(self.definition.dagster_type)

    @strawberry.field
    def metadata_entries(self) -> list[MetadataEntry]:
        return metadata_entries(getattr(self.definition, "metadata", None))


def _input_definition(definition: Any) -> InputDefinition:
    return InputDefinition(name=definition.name, description=definition.description, definition=definition)


def _output_definition(definition: Any) -> OutputDefinition:
    return OutputDefinition(
        name=definition.name, description=definition.description,
        is_dynamic=bool(getattr(definition, "is_dynamic", False)), definition=definition,
    )


@strawberry.interface(name="ISolidDefinition")
class ISolidDefinition:
    definition: strawberry.Private[Any]
    index: strawberry.Private[GraphIndex]

    @strawberry.field
    def name(self) -> str:
        return str(self.definition.name)

    @strawberry.field
    def description(self) -> str | None:
        description: str | None = self.definition.description
        return description

    @strawberry.field
    def metadata(self) -> list[MetadataItemDefinition]:
        """The definition's tags, as Dagster shows them."""
        return [MetadataItemDefinition(key=str(k), value=str(v)) for k, v in (getattr(self.definition, "tags", None) or {}).items()]

    @strawberry.field
    def input_definitions(self) -> list[InputDefinition]:
        return [_input_definition(d) for d in self.definition.input_defs]

    @strawberry.field
    def output_definitions(self) -> list[OutputDefinition]:
        return [_output_definition(d) for d in self.definition.output_defs]

    @strawberry.field
    def pools(self) -> list[str]:
        pool = getattr(self.definition, "pool", None)
        return [pool] if pool else []


@strawberry.type(name="SolidDefinition")
class SolidDefinition(ISolidDefinition):
    @strawberry.field
    def config_field(self) -> ConfigTypeField | None:
        if getattr(self.definition, "configured_from", None) is not None and self.definition.config_schema is None:
            return None  # a configured op with its config fixed takes none
        return config_field("config", self.definition.config_schema)

    @strawberry.field
    def required_resources(self) -> list[ResourceRequirement]:
        return [ResourceRequirement(resource_key=k) for k in sorted(self.definition.required_resource_keys)]


@strawberry.type(name="InputMapping")
class InputMapping:
    mapping: strawberry.Private[Any]
    graph: strawberry.Private[Any]
    index: strawberry.Private[GraphIndex]

    @strawberry.field
    def mapped_input(self) -> Input:
        return self.index.solid(self.graph, self.mapping.mapped_node_name).input_named(self.mapping.mapped_node_input_name)

    @strawberry.field
    def definition(self) -> InputDefinition:
        return _input_definition(self.graph.input_dict[self.mapping.graph_input_name])


@strawberry.type(name="OutputMapping")
class OutputMapping:
    mapping: strawberry.Private[Any]
    graph: strawberry.Private[Any]
    index: strawberry.Private[GraphIndex]

    @strawberry.field
    def mapped_output(self) -> Output:
        return self.index.solid(self.graph, self.mapping.mapped_node_name).output_named(self.mapping.mapped_node_output_name)

    @strawberry.field
    def definition(self) -> OutputDefinition:
        return _output_definition(self.graph.output_dict[self.mapping.graph_output_name])


class Container:
    """What a `SolidContainer` shows: a graph, the index its nodes come from, its id, its job (or None)."""

    def __init__(self, graph: Any, index: GraphIndex, container_id: str, job: Any = None) -> None:
        self.graph = graph
        self.index = index
        self.container_id = container_id
        self.job = job


@strawberry.interface(name="SolidContainer")
class SolidContainer:
    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.container().container_id)

    @strawberry.field
    def name(self) -> str:
        return str(self.container().graph.name) if self.container().job is None else str(self.container().job.name)

    @strawberry.field
    def description(self) -> str | None:
        found = self.container()
        description: str | None = (found.job if found.job is not None else found.graph).description
        return description

    @strawberry.field
    def solids(self) -> list[Solid]:
        found = self.container()
        return found.index.solids(found.graph)

    @strawberry.field
    def solid_handle(self, handle_id: Annotated[str, strawberry.argument(name="handleID")]) -> SolidHandle | None:
        found = self.container()
        return found.index.handle(found.graph, handle_id)

    @strawberry.field
    def solid_handles(
        self, parent_handle_id: Annotated[str | None, strawberry.argument(name="parentHandleID")] = None
    ) -> list[SolidHandle]:
        found = self.container()
        return select_handles(found.index.handles(found.graph), parent_handle_id)

    @strawberry.field
    def modes(self) -> list[Mode]:
        found = self.container()
        return modes_of(found.job, found.container_id) if found.job is not None else []

    def container(self) -> Container:
        raise NotImplementedError


@strawberry.type(name="CompositeSolidDefinition")
class CompositeSolidDefinition(ISolidDefinition, SolidContainer):
    def container(self) -> Container:
        return Container(self.definition, self.index, f"{self.index.job.name}:graph:{self.definition.name}")

    @strawberry.field
    def input_mappings(self) -> list[InputMapping]:
        return [InputMapping(mapping=m, graph=self.definition, index=self.index) for m in self.definition.input_mappings]

    @strawberry.field
    def output_mappings(self) -> list[OutputMapping]:
        return [OutputMapping(mapping=m, graph=self.definition, index=self.index) for m in self.definition.output_mappings]


@strawberry.type(name="Solid")
class Solid:
    name: str
    graph: strawberry.Private[Any]
    node: strawberry.Private[Any]
    index: strawberry.Private[GraphIndex]

    @strawberry.field
    def definition(self) -> ISolidDefinition:
        return self.index.definition(self.node.definition)

    @strawberry.field
    def inputs(self) -> list[Input]:
        return [Input(solid=self, input_def=d) for d in self.node.definition.input_defs]

    @strawberry.field
    def outputs(self) -> list[Output]:
        return [Output(solid=self, output_def=d) for d in self.node.definition.output_defs]

    @strawberry.field
    def is_dynamic_mapped(self) -> bool:
        return bool(getattr(self.graph, "mapped_over", {}).get(self.name))

    def input_named(self, name: str) -> Input:
        return Input(solid=self, input_def=self.node.definition.input_dict[name])

    def output_named(self, name: str) -> Output:
        return Output(solid=self, output_def=self.node.definition.output_def_named(name))


@strawberry.type(name="Input")
class Input:
    solid: Solid
    input_def: strawberry.Private[Any]

    @strawberry.field
    def definition(self) -> InputDefinition:
        return _input_definition(self.input_def)

    def _dep(self) -> Any:
        return self.solid.graph.dependencies.get(self.solid.name, {}).get(self.input_def.name)

    @strawberry.field
    def depends_on(self) -> list[Output]:
        index, graph = self.solid.index, self.solid.graph
        return [index.solid(graph, node).output_named(output) for node, output in upstream_outputs(self._dep())]

    @strawberry.field
    def is_dynamic_collect(self) -> bool:
        return type(self._dep()).__name__ == "DynamicCollectDependencyDefinition"


@strawberry.type(name="Output")
class Output:
    solid: Solid
    output_def: strawberry.Private[Any]

    @strawberry.field
    def definition(self) -> OutputDefinition:
        return _output_definition(self.output_def)

    @strawberry.field
    def depended_by(self) -> list[Input]:
        index, graph = self.solid.index, self.solid.graph
        readers = index.downstream(graph).get((self.solid.name, self.output_def.name), [])
        return [index.solid(graph, node).input_named(name) for node, name in readers]


@strawberry.type(name="SolidStepStatsConnection")
class SolidStepStatsConnection:
    nodes: list[RunStepStats]


@strawberry.type(name="SolidStepStatusUnavailableError")
class SolidStepStatusUnavailableError:
    message: str


SolidStepStatsOrError = Annotated[
    SolidStepStatsConnection | SolidStepStatusUnavailableError, strawberry.union("SolidStepStatsOrError")
]
# How many of the job's latest runs `stepStats` looks at, at most.
MAX_STEP_STATS_RUNS = 50


@strawberry.type(name="SolidHandle")
class SolidHandle:
    handle_id: str = strawberry.field(name="handleID")
    solid: Solid
    parent: SolidHandle | None

    @strawberry.field
    def step_stats(self, info: Info, limit: int | None = None) -> SolidStepStatsOrError | None:
        """This node's step in the job's latest runs (`limit` runs, 5 unless given), newest first."""
        from oprun.runs import RunsFilter
        from oprun.web.graphql.run_stats import read_stats

        instance = info.context.instance
        runs = instance.get_runs(RunsFilter(job_name=self.solid.index.job.name), limit=max(0, min(5 if limit is None else limit, MAX_STEP_STATS_RUNS)))
        nodes = [step for run in runs for step in read_stats(instance, run.run_id)[1] if step.step_key == self.handle_id]
        return SolidStepStatsConnection(nodes=nodes)


@strawberry.type(name="Mode")
class Mode:
    id: str
    name: str
    description: str | None
    job: strawberry.Private[Any]

    @strawberry.field
    def resources(self) -> list[Resource]:
        return [
            Resource(name=key, description=getattr(d, "description", None), config_field=config_field("config", d.config_schema))
            for key, d in sorted(self.job.resource_defs.items())
        ]

    @strawberry.field
    def loggers(self) -> list[Logger]:
        return [
            Logger(name=name, description=getattr(d, "description", None), config_field=config_field("config", d.config_schema))
            for name, d in sorted(self.job.loggers.items())
        ]


@strawberry.type(name="Resource")
class Resource:
    name: str
    description: str | None
    config_field: ConfigTypeField | None


@strawberry.type(name="Logger")
class Logger:
    name: str
    description: str | None
    config_field: ConfigTypeField | None


def modes_of(job: Any, container_id: str) -> list[Mode]:
    """The job's one mode, "default" (oprun jobs have no modes; Dagster's still lists one)."""
    return [Mode(id=f"{container_id}-default", name="default", description=None, job=job)]
