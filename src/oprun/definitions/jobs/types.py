"""Dagster types: runtime type checks for op inputs and outputs.

`resolve_dagster_type` maps a Python annotation (`int`, `list[str]`,
`Optional[float]`, a class, ...) or an explicit `DagsterType` to the DagsterType
whose `type_check` the engine runs on every input (STEP_INPUT) and output
(STEP_OUTPUT). Built-in types also say how an unconnected input is read from run
config (`loader_schema`).

Knows nothing of ops, graphs or execution.
"""

from __future__ import annotations

import types as pytypes
import typing
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from oprun.errors import DagsterInvalidConfigError, DagsterInvalidDefinitionError


class TypeCheck(NamedTuple):
    """The outcome of a type check function that wants to say more than True/False."""

    success: bool
    description: str | None = None
    metadata: Mapping[str, Any] = {}


class DagsterTypeLoader:
    """Reads an unconnected input's value from its run config (`ops.<op>.inputs.<name>`).

    `schema_fn` builds the schema on first use instead, so that defining the
    built-in types does not import the config system."""

    def __init__(self, config_schema: Any, fn: Callable[[Any, Any], Any], schema_fn: Callable[[], Any] | None = None) -> None:
        self._config_schema = config_schema
        self._schema_fn = schema_fn
        self.fn = fn

    @property
    def config_schema(self) -> Any:
        if self._schema_fn is not None:
            self._config_schema, self._schema_fn = self._schema_fn(), None
        return self._config_schema

    def load(self, context: Any, config_value: Any) -> Any:
        return self.fn(context, config_value)


def dagster_type_loader(config_schema: Any, required_resource_keys: Any = None) -> Callable[..., DagsterTypeLoader]:
    """Decorator: `@dagster_type_loader(config_schema=...)` on `fn(context, config)`."""

    def wrap(fn: Callable[[Any, Any], Any]) -> DagsterTypeLoader:
        return DagsterTypeLoader(config_schema, fn)

    return wrap


def _identity_loader(schema: Any) -> DagsterTypeLoader:
    return DagsterTypeLoader(schema, lambda _context, value: value)


# The built-in types read an input as Dagster does: `{value: v}`, `{json: {path: p}}`
# (a file holding `{"value": v}`) or `{pickle: {path: p}}`; a scalar type also takes
# the bare value.


def _selector_schema(value_schema: Any) -> Any:
    from oprun.config.types import Field, Selector

    return Selector({"value": Field(value_schema), "json": {"path": str}, "pickle": {"path": str}})


def _load_selected(value: dict[str, Any]) -> Any:
    (kind, options), = value.items()
    if kind == "value":
        return options
    import json
    import pickle

    path = options["path"]
    try:
        if kind == "pickle":
            with open(path, "rb") as f:
                return pickle.load(f)
        with open(path, encoding="utf8") as f:
            document = json.load(f)
        if not isinstance(document, dict) or "value" not in document:
            raise ValueError('expected a JSON object with a "value" key')
        return document["value"]
    except (OSError, ValueError, pickle.UnpicklingError) as exc:
        raise DagsterInvalidConfigError(f"Could not read the {kind} input file '{path}' named in run config: {exc}", []) from exc


def _scalar_loader(scalar: type) -> DagsterTypeLoader:
    def schema() -> Any:
        from oprun.config.types import ScalarUnion

        return ScalarUnion(scalar, _selector_schema(scalar))

    return DagsterTypeLoader(None, lambda _context, value: _load_selected(value) if isinstance(value, dict) else value, schema)


def _any_loader() -> DagsterTypeLoader:
    return DagsterTypeLoader(None, lambda _context, value: _load_selected(value), lambda: _selector_schema(typing.Any))


class DagsterType:
    """A named runtime type check.

    `type_check_fn(context, value)` returns a bool or a `TypeCheck`.
    """

    def __init__(
        self,
        type_check_fn: Callable[[Any, Any], bool | TypeCheck],
        key: str | None = None,
        name: str | None = None,
        is_builtin: bool = False,
        description: str | None = None,
        loader: DagsterTypeLoader | None = None,
        required_resource_keys: set[str] | None = None,
        kind: str = "REGULAR",
        typing_type: Any = typing.Any,
        metadata: dict[str, Any] | None = None,
        inner_type: DagsterType | None = None,
    ) -> None:
        if not callable(type_check_fn):
            raise DagsterInvalidDefinitionError(
                f"DagsterType {name or key!r}: type_check_fn must be callable, got {type_check_fn!r}"
            )
        self.type_check_fn = type_check_fn
        fn_name: str = getattr(type_check_fn, "__name__", "DagsterType")
        self.key = key or name or fn_name
        self.name = name or self.key
        self.unique_name = self.key
        self.is_builtin = is_builtin
        self.description = description
        self.loader = loader
        self.required_resource_keys = frozenset(required_resource_keys or ())
        self.kind = kind
        self.typing_type = typing_type
        self.metadata = dict(metadata or {})
        self.inner_type = inner_type

    @property
    def display_name(self) -> str:
        return self.name

    @property
    def is_nothing(self) -> bool:
        return self.kind == "NOTHING"

    @property
    def is_any(self) -> bool:
        return self.kind == "ANY"

    @property
    def supports_fan_in(self) -> bool:
        return self.kind in ("ANY", "LIST", "NOTHING")

    @property
    def loader_schema(self) -> Any:
        return self.loader.config_schema if self.loader is not None else None

    def type_check(self, context: Any, value: Any) -> TypeCheck:
        result = self.type_check_fn(context, value)
        if isinstance(result, TypeCheck):
            return result
        if result is True:
            return _PASSED
        if result is False:
            return TypeCheck(False, f'Value "{_short(value)}" of python type "{type(value).__name__}" did not pass the type check for "{self.display_name}".')
        raise DagsterInvalidDefinitionError(
            f'Type check function of DagsterType "{self.display_name}" returned {result!r}; '
            "it must return a bool or a TypeCheck."
        )

    def __repr__(self) -> str:
        return f"DagsterType({self.display_name})"


_PASSED = TypeCheck(True)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value) if not isinstance(value, str) else value
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _scalar_check(py: type, word: str, exclude_bool: bool = True) -> Callable[[Any, Any], bool | TypeCheck]:
    def check(_context: Any, value: Any) -> bool | TypeCheck:
        if isinstance(value, py) and not (exclude_bool and isinstance(value, bool)):
            return True
        return TypeCheck(False, f'Value "{_short(value)}" of python type "{type(value).__name__}" must be a {word}.')

    return check


def _float_check(_context: Any, value: Any) -> bool | TypeCheck:
    # An int is a valid float, as in Python's numeric tower.
    if isinstance(value, (float, int)) and not isinstance(value, bool):
        return True
    return TypeCheck(False, f'Value "{_short(value)}" of python type "{type(value).__name__}" must be a float.')


Any_ = DagsterType(lambda _c, _v: True, key="Any", is_builtin=True, kind="ANY", loader=_any_loader())
Int = DagsterType(_scalar_check(int, "int"), key="Int", is_builtin=True, kind="SCALAR", typing_type=int, loader=_scalar_loader(int))
String = DagsterType(_scalar_check(str, "string", False), key="String", is_builtin=True, kind="SCALAR", typing_type=str, loader=_scalar_loader(str))
Float = DagsterType(_float_check, key="Float", is_builtin=True, kind="SCALAR", typing_type=float, loader=_scalar_loader(float))
Bool = DagsterType(_scalar_check(bool, "bool", False), key="Bool", is_builtin=True, kind="SCALAR", typing_type=bool, loader=_scalar_loader(bool))
Nothing = DagsterType(lambda _c, v: v is None, key="Nothing", is_builtin=True, kind="NOTHING", typing_type=type(None))
Dict_ = DagsterType(
    _scalar_check(dict, "dict", False), key="Dict", is_builtin=True, kind="SCALAR", typing_type=dict,
    loader=_identity_loader(typing.Any),
)

_BY_PYTHON_TYPE: dict[Any, DagsterType] = {int: Int, str: String, float: Float, bool: Bool, dict: Dict_, typing.Any: Any_, type(None): Nothing}
_LISTS: dict[str, DagsterType] = {}
_OPTIONALS: dict[str, DagsterType] = {}
_CLASSES: dict[type, DagsterType] = {}


def List(inner: DagsterType) -> DagsterType:  # noqa: N802 - Dagster's name
    """`list[T]`: a list whose every item passes T's check."""
    cached = _LISTS.get(inner.key)
    if cached is not None:
        return cached

    def check(context: Any, value: Any) -> bool | TypeCheck:
        if not isinstance(value, list):
            return TypeCheck(False, f'Value "{_short(value)}" of python type "{type(value).__name__}" must be a list.')
        if inner.is_any:
            return True
        for i, item in enumerate(value):
            result = inner.type_check(context, item)
            if not result.success:
                return TypeCheck(False, f"Item {i} of the list: {result.description}")
        return True

    loader = None
    inner_loader = inner.loader
    if inner_loader is not None:
        loader = DagsterTypeLoader(
            None,
            lambda context, value: [inner_loader.load(context, item) for item in value],
            lambda: [inner_loader.config_schema],
        )
    made = DagsterType(check, key=f"List[{inner.key}]", is_builtin=True, kind="LIST", typing_type=list, loader=loader, inner_type=inner)
    _LISTS[inner.key] = made
    return made


def Optional(inner: DagsterType) -> DagsterType:  # noqa: N802 - Dagster's name
    """`Optional[T]`: None, or a value that passes T's check."""
    cached = _OPTIONALS.get(inner.key)
    if cached is not None:
        return cached

    def check(context: Any, value: Any) -> bool | TypeCheck:
        return True if value is None else inner.type_check(context, value)

    loader = None
    inner_loader = inner.loader
    if inner_loader is not None:

        def schema() -> Any:
            from oprun.config.types import Noneable, resolve_config_type

            return Noneable(resolve_config_type(inner_loader.config_schema))

        loader = DagsterTypeLoader(
            None, lambda context, value: None if value is None else inner_loader.load(context, value), schema
        )
    made = DagsterType(check, key=f"Optional[{inner.key}]", is_builtin=True, kind="NULLABLE", loader=loader, inner_type=inner)
    _OPTIONALS[inner.key] = made
    return made


def PythonObjectDagsterType(python_type: type, name: str | None = None, description: str | None = None) -> DagsterType:  # noqa: N802
    """A DagsterType checking `isinstance(value, python_type)`."""
    if name is None:
        cached = _CLASSES.get(python_type)
        if cached is not None:
            return cached
    type_name = name or python_type.__name__

    def check(_context: Any, value: Any) -> bool | TypeCheck:
        if isinstance(value, python_type):
            return True
        return TypeCheck(False, f'Value "{_short(value)}" of python type "{type(value).__name__}" must be a {type_name}.')

    made = DagsterType(check, key=type_name, name=type_name, description=description, typing_type=python_type)
    if name is None:
        _CLASSES[python_type] = made
    return made


def make_python_type_usable_as_dagster_type(python_type: type, dagster_type: DagsterType) -> None:
    _BY_PYTHON_TYPE[python_type] = dagster_type


_UNION_TYPES: tuple[Any, ...] = (typing.Union, pytypes.UnionType)
_WRAPPER_NAMES = frozenset({"Output", "DynamicOutput"})


def resolve_dagster_type(annotation: Any) -> DagsterType:
    """The DagsterType for an annotation or an explicit type (None means Any)."""
    if annotation is None or annotation is _EMPTY:
        return Any_
    if isinstance(annotation, DagsterType):
        return annotation
    found = _BY_PYTHON_TYPE.get(annotation)
    if found is not None:
        return found
    if isinstance(annotation, str):
        # A postponed annotation we could not evaluate: check nothing rather than guess.
        return Any_
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is list or origin is typing.List:  # noqa: UP006
        return List(resolve_dagster_type(args[0]) if args else Any_)
    if origin is dict:
        return Dict_
    if origin in _UNION_TYPES:
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) == 1 and len(args) == 2:
            return Optional(resolve_dagster_type(non_none[0]))
        return Any_
    if origin is not None and getattr(origin, "__name__", "") in _WRAPPER_NAMES:
        return resolve_dagster_type(args[0]) if args else Any_
    if origin is not None:
        # Other generics (tuple[int, str], Iterator[...], ...) check only the container.
        return PythonObjectDagsterType(origin) if isinstance(origin, type) else Any_
    if annotation is list:
        return List(Any_)
    if isinstance(annotation, type):
        if getattr(annotation, "__name__", "") in _WRAPPER_NAMES and annotation.__module__.startswith("oprun"):
            return Any_
        return PythonObjectDagsterType(annotation)
    raise DagsterInvalidDefinitionError(
        f"Cannot use {annotation!r} as a Dagster type: expected a Python type, a typing "
        "annotation such as list[int] or Optional[str], or a DagsterType."
    )


class _Empty:
    pass


_EMPTY = _Empty()
