"""The explicit dependency API: `DependencyDefinition`, `MultiDependencyDefinition`,
`DynamicCollectDependencyDefinition`, `NodeInvocation`, `InputMapping`,
`OutputMapping`, and `Node` (one use of a definition inside a graph).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from oprun.definitions.jobs.io import DEFAULT_OUTPUT

if TYPE_CHECKING:
    from oprun.definitions.jobs.graph import GraphDefinition
    from oprun.definitions.jobs.op import OpDefinition


class DependencyDefinition(NamedTuple):
    """An input fed by output `output` of node `node`."""

    node: str | None = None
    output: str = DEFAULT_OUTPUT
    description: str | None = None

    def is_fan_in(self) -> bool:
        return False


class DynamicCollectDependencyDefinition(NamedTuple):
    """An input fed by every item of a dynamic output, collected into a list."""

    node_name: str
    output_name: str = DEFAULT_OUTPUT

    def is_fan_in(self) -> bool:
        return False


class MultiDependencyDefinition:
    """A fan-in input: fed by several outputs, received as a list in order."""

    def __init__(self, dependencies: Sequence[DependencyDefinition | DynamicCollectDependencyDefinition | Any]) -> None:
        self.dependencies = list(dependencies)

    def is_fan_in(self) -> bool:
        return True

    def get_node_dependencies(self) -> list[Any]:
        return [d for d in self.dependencies if isinstance(d, (DependencyDefinition, DynamicCollectDependencyDefinition))]

    def __repr__(self) -> str:
        return f"MultiDependencyDefinition({self.dependencies!r})"


class NodeInvocation:
    """A use of definition `name` in a graph, under `alias`, with tags, hooks and a
    retry policy of its own. A dependency-dict key: equal when name and alias are."""

    __slots__ = ("name", "alias", "tags", "hook_defs", "retry_policy")

    def __init__(self, name: str, alias: str | None = None, tags: Mapping[str, Any] | None = None, hook_defs: Any = None, retry_policy: Any = None) -> None:
        self.name = name
        self.alias = alias
        self.tags = tags
        self.hook_defs = hook_defs
        self.retry_policy = retry_policy

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NodeInvocation) and (self.name, self.alias) == (other.name, other.alias)

    def __hash__(self) -> int:
        return hash((self.name, self.alias))

    def __repr__(self) -> str:
        return f"NodeInvocation({self.name!r}, alias={self.alias!r})"


class InputMapping(NamedTuple):
    """Graph input `graph_input_name` feeds input `mapped_node_input_name` of node
    `mapped_node_name`."""

    graph_input_name: str
    mapped_node_name: str
    mapped_node_input_name: str
    fan_in_index: int | None = None
    graph_input_description: str | None = None
    dagster_type: Any = None


class OutputMapping(NamedTuple):
    """Graph output `graph_output_name` is output `mapped_node_output_name` of node
    `mapped_node_name`."""

    graph_output_name: str
    mapped_node_name: str
    mapped_node_output_name: str
    graph_output_description: str | None = None
    dagster_type: Any = None
    from_dynamic_mapping: bool = False


_NO_HOOKS: frozenset[Any] = frozenset()


class Node:
    """One use of an op or graph definition inside a graph."""

    __slots__ = ("name", "definition", "tags", "hook_defs", "retry_policy")

    def __init__(
        self,
        name: str,
        definition: OpDefinition | GraphDefinition,
        tags: Mapping[str, Any] | None = None,
        hook_defs: Any = None,
        retry_policy: Any = None,
    ) -> None:
        self.name = name
        self.definition = definition
        self.tags = dict(tags or {})
        # Most nodes have no hook: they share one empty set rather than each hold one.
        self.hook_defs = frozenset(hook_defs or ()) or _NO_HOOKS
        self.retry_policy = retry_policy

    @property
    def is_graph(self) -> bool:
        return self.definition.node_type == "graph"

    def __repr__(self) -> str:
        return f"<Node {self.name} ({self.definition.name})>"
