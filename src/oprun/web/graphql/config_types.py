"""Run config validation as GraphQL: Dagster's `PipelineConfigValidationResult`
shapes. Each error is a concrete type per `EvaluationErrorReason` implementing the
legacy `PipelineConfigValidationError` interface the client's fragments name, with
its path, its `EvaluationStack`, and what the launchpad needs to fix it: the
missing field(s) with their types, the unknown field name(s), the value found,
the fields given to a selector.

Every error of a document is returned. As in Dagster, a missing or unknown
field's error sits at the path of the dict that lacks or holds it, the field
named in `field`/`fieldName`; unknown fields of one dict are one
`FieldsNotDefinedConfigError` when there are several.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, NewType

import strawberry

from oprun.config import types as ct
from oprun.config.validate import path_to_str
from oprun.errors import DagsterInvalidConfigError
from oprun.web.graphql import common as c
from oprun.web.graphql.config_schema import ConfigTypeField, ConfigTypeRegistry


@strawberry.enum(name="EvaluationErrorReason")
class EvaluationErrorReason(enum.Enum):
    RUNTIME_TYPE_MISMATCH = "RUNTIME_TYPE_MISMATCH"
    MISSING_REQUIRED_FIELD = "MISSING_REQUIRED_FIELD"
    MISSING_REQUIRED_FIELDS = "MISSING_REQUIRED_FIELDS"
    FIELD_NOT_DEFINED = "FIELD_NOT_DEFINED"
    FIELDS_NOT_DEFINED = "FIELDS_NOT_DEFINED"
    SELECTOR_FIELD_ERROR = "SELECTOR_FIELD_ERROR"


GenericScalar = NewType("GenericScalar", object)
# Dagster's scalar for a map key (any JSON value), added to the schema's scalars.
c.SCALAR_MAP[GenericScalar] = strawberry.scalar(
    name="GenericScalar", description="Any JSON value.", serialize=lambda value: value, parse_value=lambda value: value
)


@strawberry.type(name="EvaluationStackPathEntry")
class EvaluationStackPathEntry:
    field_name: str


@strawberry.type(name="EvaluationStackListItemEntry")
class EvaluationStackListItemEntry:
    list_index: int


@strawberry.type(name="EvaluationStackMapKeyEntry")
class EvaluationStackMapKeyEntry:
    map_key: GenericScalar


@strawberry.type(name="EvaluationStackMapValueEntry")
class EvaluationStackMapValueEntry:
    map_key: GenericScalar


EvaluationStackEntry = Annotated[
    EvaluationStackListItemEntry | EvaluationStackPathEntry | EvaluationStackMapKeyEntry | EvaluationStackMapValueEntry,
    strawberry.union("EvaluationStackEntry"),
]


@strawberry.type(name="EvaluationStack")
class EvaluationStack:
    entries: list[EvaluationStackEntry]


@strawberry.interface(name="PipelineConfigValidationError")
class PipelineConfigValidationError:
    message: str
    path: list[str]
    stack: EvaluationStack
    reason: EvaluationErrorReason


@strawberry.interface(name="PipelineConfigValidationInvalid")
class PipelineConfigValidationInvalid:
    pipeline_name: str
    errors: list[PipelineConfigValidationError]


@strawberry.type(name="RunConfigValidationInvalid")
class RunConfigValidationInvalid(PipelineConfigValidationInvalid):
    pass


@strawberry.type(name="PipelineConfigValidationValid")
class PipelineConfigValidationValid:
    pipeline_name: str


@strawberry.type(name="FieldNotDefinedConfigError")
class FieldNotDefinedConfigError(PipelineConfigValidationError):
    field_name: str


@strawberry.type(name="FieldsNotDefinedConfigError")
class FieldsNotDefinedConfigError(PipelineConfigValidationError):
    field_names: list[str]


@strawberry.type(name="MissingFieldConfigError")
class MissingFieldConfigError(PipelineConfigValidationError):
    field: ConfigTypeField


@strawberry.type(name="MissingFieldsConfigError")
class MissingFieldsConfigError(PipelineConfigValidationError):
    fields: list[ConfigTypeField]


@strawberry.type(name="RuntimeMismatchConfigError")
class RuntimeMismatchConfigError(PipelineConfigValidationError):
    value_rep: str | None


@strawberry.type(name="SelectorTypeConfigError")
class SelectorTypeConfigError(PipelineConfigValidationError):
    incoming_fields: list[str]


# Dagster's concrete config error type for each reason.
CONFIG_ERROR_TYPES: dict[EvaluationErrorReason, type[PipelineConfigValidationError]] = {
    EvaluationErrorReason.RUNTIME_TYPE_MISMATCH: RuntimeMismatchConfigError,
    EvaluationErrorReason.MISSING_REQUIRED_FIELD: MissingFieldConfigError,
    EvaluationErrorReason.MISSING_REQUIRED_FIELDS: MissingFieldsConfigError,
    EvaluationErrorReason.FIELD_NOT_DEFINED: FieldNotDefinedConfigError,
    EvaluationErrorReason.FIELDS_NOT_DEFINED: FieldsNotDefinedConfigError,
    EvaluationErrorReason.SELECTOR_FIELD_ERROR: SelectorTypeConfigError,
}

_MISMATCH = EvaluationErrorReason.RUNTIME_TYPE_MISMATCH
_JOB_IN_PREAMBLE = re.compile(r"^Error in config (?:mapping )?for job '?([A-Za-z0-9_]+)'?")


def config_invalid(error: DagsterInvalidConfigError, job: Any = None) -> RunConfigValidationInvalid:
    """Every error of `error` as Dagster's shapes. With `job` (its definition),
    missing fields carry their types from the job's schema."""
    name = job.name if job is not None else _job_name(error)
    if not error.errors:  # not a mapping, or not YAML: one error about the whole config
        return RunConfigValidationInvalid(pipeline_name=name, errors=[_mismatch([], str(error), None)])
    lookup = _SchemaLookup(job, error.config_value)
    errors: list[PipelineConfigValidationError] = []
    unknown: dict[tuple[str, ...], list[Any]] = {}
    for item in error.errors:
        if item.reason == "FIELD_NOT_DEFINED" and len(item.path) > 1:
            unknown.setdefault(tuple(map(str, item.path[:-1])), []).append(item)
            continue
        errors.append(config_error(item, lookup))
    for grouped in unknown.values():
        errors.append(_not_defined(grouped, lookup))
    return RunConfigValidationInvalid(pipeline_name=name, errors=errors)


def _job_name(error: DagsterInvalidConfigError) -> str:
    match = _JOB_IN_PREAMBLE.match(getattr(error, "preamble", "") or "")
    return match.group(1) if match else ""


def config_error(error: Any, lookup: _SchemaLookup | None = None) -> PipelineConfigValidationError:
    """One oprun `EvaluationError` as its Dagster type."""
    lookup = lookup or _SchemaLookup(None, None)
    parts = _below_root(error.path)
    reason = error.reason
    if reason == "MISSING_REQUIRED_FIELD" and parts:
        where, name = parts[:-1], str(parts[-1])
        return MissingFieldConfigError(
            message=error.message, path=_path(where), stack=lookup.stack(where),
            reason=EvaluationErrorReason.MISSING_REQUIRED_FIELD, field=lookup.field(where, name),
        )
    if reason == "MISSING_REQUIRED_FIELDS":
        names = lookup.missing_names(parts, error.message)
        return MissingFieldsConfigError(
            message=error.message, path=_path(parts), stack=lookup.stack(parts),
            reason=EvaluationErrorReason.MISSING_REQUIRED_FIELDS, fields=[lookup.field(parts, n) for n in names],
        )
    if reason == "FIELD_NOT_DEFINED":
        return _not_defined([error], lookup)
    if reason == "SELECTOR_FIELD_ERROR":
        given = lookup.value_at(parts)
        incoming = [str(k) for k in given] if isinstance(given, Mapping) else []
        return SelectorTypeConfigError(
            message=error.message, path=_path(parts), stack=lookup.stack(parts),
            reason=EvaluationErrorReason.SELECTOR_FIELD_ERROR, incoming_fields=incoming,
        )
    # RUNTIME_TYPE_MISMATCH, and oprun's reasons Dagster's enum lacks (an
    # environment variable unset or not valid, a field given with its alias too):
    # a value that cannot stand where it is.
    return _mismatch(parts, error.message, error.found, lookup)


def _not_defined(errors: Sequence[Any], lookup: _SchemaLookup) -> PipelineConfigValidationError:
    parts = _below_root(errors[0].path)[:-1]
    names = [str(e.path[-1]) for e in errors]
    if len(names) == 1:
        return FieldNotDefinedConfigError(
            message=errors[0].message, path=_path(parts), stack=lookup.stack(parts),
            reason=EvaluationErrorReason.FIELD_NOT_DEFINED, field_name=names[0],
        )
    where = "at the root" if not parts else f"at path {path_to_str(('root', *parts))}"
    listed = ", ".join(f'"{n}"' for n in names)
    hints = "".join(e.message.rsplit('".', 1)[1] for e in errors if '".' in e.message)  # each key's "did you mean"
    message = f"Received unexpected config entries [{listed}] {where}.{hints}"
    return FieldsNotDefinedConfigError(
        message=message, path=_path(parts), stack=lookup.stack(parts),
        reason=EvaluationErrorReason.FIELDS_NOT_DEFINED, field_names=names,
    )


def _mismatch(parts: Sequence[Any], message: str, found: str | None, lookup: _SchemaLookup | None = None) -> RuntimeMismatchConfigError:
    stack = lookup.stack(parts) if lookup is not None else _plain_stack(parts)
    return RuntimeMismatchConfigError(message=message, path=_path(parts), stack=stack, reason=_MISMATCH, value_rep=found)


def _below_root(path: Sequence[Any]) -> list[Any]:
    parts = list(path)
    return parts[1:] if parts[:1] == ["root"] else parts  # Dagster's paths start below the root


def _path(parts: Sequence[Any]) -> list[str]:
    return [str(p) for p in parts]


def _plain_stack(parts: Sequence[Any]) -> EvaluationStack:
    entries: list[Any] = [
        EvaluationStackListItemEntry(list_index=p) if isinstance(p, int) else EvaluationStackPathEntry(field_name=str(p))
        for p in parts
    ]
    return EvaluationStack(entries=entries)


class _SchemaLookup:
    """The schema and the document an error's path points into: what type a path
    entry is (a field, a list item, a map value), a missing field's type."""

    def __init__(self, job: Any, value: Any) -> None:
        self._schemas: list[ct.ConfigType] = []
        if job is not None:
            from oprun.web.graphql.config_scaffold import presented_schema

            for schema in (lambda: presented_schema(job), lambda: job.run_config_schema):
                try:
                    self._schemas.append(ct.as_field(schema()).config_type)
                except Exception:  # noqa: BLE001 - only a richer error shape is lost
                    continue
        self._value = value
        self._registry: ConfigTypeRegistry | None = None

    def _walk(self, parts: Sequence[Any]) -> tuple[ct.ConfigType | None, list[Any]]:
        """The type at `parts` (None when the schemas do not reach it), and the stack entries."""
        for schema in self._schemas:
            current: ct.ConfigType | None = schema
            entries: list[Any] = []
            for part in parts:
                current, entry = _step(current, part)
                entries.append(entry)
            if current is not None:
                return current, entries
        return None, list(_plain_stack(parts).entries)

    def stack(self, parts: Sequence[Any]) -> EvaluationStack:
        return EvaluationStack(entries=self._walk(parts)[1])

    def value_at(self, parts: Sequence[Any]) -> Any:
        current = self._value
        for part in parts:
            if isinstance(current, Mapping):
                current = current.get(part)
            elif isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current):
                current = current[part]
            else:
                return None
        return current

    def field(self, parts: Sequence[Any], name: str) -> ConfigTypeField:
        shape, _ = self._walk(parts)
        while isinstance(shape, ct.Noneable):
            shape = shape.inner_type
        found = shape.fields.get(name) if isinstance(shape, ct.Shape) else None
        field = found if found is not None else ct.Field(ct.Any, is_required=True)
        if self._registry is None:
            self._registry = ConfigTypeRegistry(ct.Any)  # names the field's types as they are asked for
        return self._registry.field(name, field)

    def missing_names(self, parts: Sequence[Any], message: str) -> list[str]:
        shape, _ = self._walk(parts)
        while isinstance(shape, ct.Noneable):
            shape = shape.inner_type
        if isinstance(shape, ct.Shape):
            given = self.value_at(parts)
            given = given if isinstance(given, Mapping) else {}
            return [n for n, f in shape.fields.items() if f.is_required and n not in given]
        listed = re.search(r"entries \[(.*?)\]", message)
        return re.findall(r"'([^']*)'", listed.group(1)) if listed else []


def _step(current: ct.ConfigType | None, part: Any) -> tuple[ct.ConfigType | None, Any]:
    while isinstance(current, ct.Noneable):
        current = current.inner_type
    if isinstance(current, ct.ScalarUnion):
        current = current.non_scalar_type
    if isinstance(part, int) and isinstance(current, ct.Array):
        return current.inner_type, EvaluationStackListItemEntry(list_index=part)
    if isinstance(current, ct.Map):
        return current.inner_type, EvaluationStackMapValueEntry(map_key=part)
    if isinstance(part, int):
        return None, EvaluationStackListItemEntry(list_index=part)
    if isinstance(current, ct.Shape):
        field = current.fields.get(str(part))
        return (field.config_type if field is not None else None), EvaluationStackPathEntry(field_name=str(part))
    return None, EvaluationStackPathEntry(field_name=str(part))
