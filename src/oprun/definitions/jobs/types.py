"""Dagster types: runtime type checks for op inputs and outputs.

`resolve_dagster_type` maps a Python annotation (`int`, `list[str]`,
`Optional[float]`, a class, ...) or an explicit `DagsterType` to the DagsterType
whose `type_check` the engine runs on every input (STEP_INPUT) and output
(STEP_OUTPUT). Built-in types also say how an unconnected input is read from run
config (`loader_schema`).

Dagster's names for types are here too: `List`, `Optional`, `Dict`, `Set` and
`Tuple` (subscripted, `List[Int]`, or bare where Dagster allows it), the config
scalars `Int`, `String`, `Float`, `Bool`, `Any` accepted as Dagster types,
`PythonObjectDagsterType`, and `usable_as_dagster_type` /
`make_python_type_usable_as_dagster_type` to map a class to its type.

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

    `fn(context, config_value)` gets a `DagsterTypeLoaderContext` (the resources
    named in `required_resource_keys`, the log, the op and the job). `schema_fn`
    builds the schema on first use instead, so that defining the built-in types
    does not import the config system.

    A subclass written for Dagster's interface (a `schema_type` property and
    `construct_from_config_value(context, value)`) works too."""

    _config_schema: Any = None
    _schema_fn: Callable[[], Any] | None = None
    fn: Callable[[Any, Any], Any] | None = None
    required_resource_keys: frozenset[str] = frozenset()

    def __init__(
        self,
        config_schema: Any = None,
        fn: Callable[[Any, Any], Any] | None = None,
        schema_fn: Callable[[], Any] | None = None,
        required_resource_keys: Any = None,
    ) -> None:
        self._config_schema = config_schema
        self._schema_fn = schema_fn
        self.fn = fn
        self.required_resource_keys = frozenset(required_resource_keys or ())

    @property
    def config_schema(self) -> Any:
        if self._schema_fn is not None:
            self._config_schema, self._schema_fn = self._schema_fn(), None
        if self._config_schema is None and type(self).schema_type is not DagsterTypeLoader.schema_type:
            return self.schema_type
        return self._config_schema

    @property
    def schema_type(self) -> Any:
        return self.config_schema

    def construct_from_config_value(self, context: Any, config_value: Any) -> Any:
        if self.fn is None:
            raise DagsterInvalidDefinitionError(
                f"{type(self).__name__} reads no config: give it a function, or define construct_from_config_value."
            )
        return self.fn(context, config_value)

    def load(self, context: Any, config_value: Any) -> Any:
        return self.construct_from_config_value(context, config_value)


def dagster_type_loader(config_schema: Any, required_resource_keys: Any = None) -> Callable[..., DagsterTypeLoader]:
    """Decorator: `@dagster_type_loader(config_schema=...)` on `fn(context, config)`.

    The schema is resolved here, so a bad one fails where it is written."""
    from oprun.config.types import resolve_config_type

    schema = resolve_config_type(config_schema)

    def wrap(fn: Callable[[Any, Any], Any]) -> DagsterTypeLoader:
        _check_loader_params(fn)
        return DagsterTypeLoader(schema, fn, required_resource_keys=required_resource_keys)

    return wrap


_CONTEXT_NAMES = frozenset({"context", "_context", "context_", "_"})


def _check_loader_params(fn: Callable[..., Any]) -> None:
    import inspect

    name = getattr(fn, "__name__", repr(fn))
    positional = [
        p for p in inspect.signature(fn).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    missing = "context" if not positional or positional[0].name not in _CONTEXT_NAMES else "*" if len(positional) < 2 else None
    if missing is not None:
        raise DagsterInvalidDefinitionError(
            f"@dagster_type_loader '{name}' decorated function does not have required positional parameter "
            f"'{missing}'. @dagster_type_loader decorated functions should take a first positional parameter "
            "named 'context' and a second one that receives the config value: def load(context, value): ..."
        )


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
        if loader is not None and not isinstance(loader, DagsterTypeLoader):
            raise DagsterInvalidDefinitionError(
                f"DagsterType {name or key!r}: loader must be a DagsterTypeLoader (made with "
                f"@dagster_type_loader(config_schema)), got {loader!r}"
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

    def _config_alternative(self) -> str:
        """What to write in a config schema instead (the config system calls this
        to explain why a Dagster type is not a config type)."""
        hint = _CONFIG_ALTERNATIVES.get(self.kind) or _CONFIG_ALTERNATIVES.get(self.typing_type)
        return hint or "Use a config type instead: int, str, [int], {'name': str}, Field, Shape, Permissive, ..."


_LIST_HINT = "Use a Python list ([int]) or Array(int) instead."
_CONFIG_ALTERNATIVES: dict[Any, str] = {
    "LIST": _LIST_HINT,
    "NULLABLE": "Use Noneable(int), or Field(int, is_required=False), instead.",
    "NOTHING": "Nothing only orders ops and has no config: leave it out of the schema.",
    dict: "Use Permissive(), a dict of fields ({'name': str}) or Map(str, int) instead.",
    set: _LIST_HINT,
    tuple: _LIST_HINT,
}


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
# Types made usable with `make_python_type_usable_as_dagster_type` / `@usable_as_dagster_type`,
# and those inferred from a class used as an annotation.
_REGISTERED: dict[type, DagsterType] = {}
_INFERRED: dict[type, DagsterType] = {}
_COMPOSITES: dict[tuple[Any, ...], DagsterType] = {}


def _fail(value: Any, word: str) -> TypeCheck:
    return TypeCheck(False, f'Value "{_short(value)}" of python type "{type(value).__name__}" must be a {word}.')


def _list_type(inner: DagsterType) -> DagsterType:
    """`List[T]`: a list whose every item passes T's check."""
    cached = _COMPOSITES.get(("list", inner.key))
    if cached is not None:
        return cached

    def check(context: Any, value: Any) -> bool | TypeCheck:
        if not isinstance(value, list):
            return _fail(value, "list")
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
            inner_loader.required_resource_keys,
        )
    made = DagsterType(check, key=f"List[{inner.key}]", is_builtin=True, kind="LIST", typing_type=list, loader=loader, inner_type=inner)
    _COMPOSITES["list", inner.key] = made
    return made


def _optional_type(inner: DagsterType) -> DagsterType:
    """`Optional[T]`: None, or a value that passes T's check."""
    cached = _COMPOSITES.get(("optional", inner.key))
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
            None, lambda context, value: None if value is None else inner_loader.load(context, value), schema,
            inner_loader.required_resource_keys,
        )
    made = DagsterType(check, key=f"Optional[{inner.key}]", is_builtin=True, kind="NULLABLE", loader=loader, inner_type=inner)
    _COMPOSITES["optional", inner.key] = made
    return made


def _scalar_part(schema: Any) -> Any:
    """A dict key is given bare in config: the scalar of a scalar loader's union."""
    return getattr(schema, "scalar_type", schema)


def _dict_type(key_type: DagsterType, value_type: DagsterType) -> DagsterType:
    """`Dict[K, V]`: a dict whose keys pass K's check and values V's."""
    cached = _COMPOSITES.get(("dict", key_type.key, value_type.key))
    if cached is not None:
        return cached

    def check(context: Any, value: Any) -> bool | TypeCheck:
        if not isinstance(value, dict):
            return _fail(value, "dict")
        for k, v in value.items():
            for part, item in ((key_type, k), (value_type, v)):
                result = part.type_check(context, item)
                if not result.success:
                    return result
        return True

    loader = None
    key_loader, value_loader = key_type.loader, value_type.loader
    if key_loader is not None and value_loader is not None:

        def schema() -> Any:
            from oprun.config.types import Map, resolve_config_type

            return Map(_scalar_part(resolve_config_type(key_loader.config_schema)), value_loader.config_schema)

        loader = DagsterTypeLoader(
            None, lambda context, value: {k: value_loader.load(context, v) for k, v in value.items()}, schema,
            value_loader.required_resource_keys,
        )
    key = f"Dict[{key_type.key},{value_type.key}]"
    made = DagsterType(check, key=key, is_builtin=True, typing_type=dict, loader=loader)
    _COMPOSITES["dict", key_type.key, value_type.key] = made
    return made


def _set_type(inner: DagsterType) -> DagsterType:
    """`Set[T]`: a set whose every item passes T's check; config gives a list."""
    cached = _COMPOSITES.get(("set", inner.key))
    if cached is not None:
        return cached

    def check(context: Any, value: Any) -> bool | TypeCheck:
        if not isinstance(value, set):
            return _fail(value, "set")
        for item in value:
            result = inner.type_check(context, item)
            if not result.success:
                return result
        return True

    loader = None
    inner_loader = inner.loader
    if inner_loader is not None:
        loader = DagsterTypeLoader(
            None, lambda context, value: {inner_loader.load(context, item) for item in value},
            lambda: [inner_loader.config_schema], inner_loader.required_resource_keys,
        )
    made = DagsterType(check, key=f"Set[{inner.key}]", is_builtin=True, typing_type=set, loader=loader)
    _COMPOSITES["set", inner.key] = made
    return made


def _tuple_type(items: tuple[DagsterType, ...]) -> DagsterType:
    """`Tuple[A, B, ...]`: a tuple of exactly these items; config gives a list."""
    keys = tuple(t.key for t in items)
    cached = _COMPOSITES.get(("tuple", *keys))
    if cached is not None:
        return cached
    key = f"Tuple[{','.join(keys)}]"

    def check(context: Any, value: Any) -> bool | TypeCheck:
        if not isinstance(value, tuple):
            return _fail(value, "tuple")
        if len(value) != len(items):
            return TypeCheck(False, f"Tuple with key {key} requires {len(items)} entries, received {len(value)} values")
        for item_type, item in zip(items, value, strict=True):
            result = item_type.type_check(context, item)
            if not result.success:
                return result
        return True

    loader = None
    loaders = [t.loader for t in items]
    if all(item_loader is not None for item_loader in loaders):

        def load(context: Any, value: Any) -> Any:
            # Items past the declared ones are kept as given: the type check then names the count.
            return tuple(
                loaders[i].load(context, item) if i < len(loaders) else item  # type: ignore[union-attr]  # all checked above
                for i, item in enumerate(value)
            )

        needs = frozenset().union(*(item_loader.required_resource_keys for item_loader in loaders if item_loader is not None))
        loader = DagsterTypeLoader(None, load, lambda: [typing.Any], needs)
    made = DagsterType(check, key=key, is_builtin=True, typing_type=tuple, loader=loader)
    _COMPOSITES["tuple", *keys] = made
    return made


class _TypeFactory:
    """Dagster's `List`, `Optional`, `Dict`, `Set` and `Tuple`: `List[Int]` is a
    DagsterType, and so is the bare name where Dagster allows it (`List` is
    `List[Any]`, `Dict` a dict, `Set` a set, `Tuple` a tuple)."""

    def __init__(self, name: str, arity: int | None, make: Callable[..., DagsterType], bare: Callable[[], DagsterType] | None) -> None:
        self._name = name
        self._arity = arity
        self._make = make
        self._bare = bare

    def __getitem__(self, params: Any) -> DagsterType:
        items = params if isinstance(params, tuple) else (params,)
        if self._arity is not None and len(items) != self._arity:
            example = {"List": "List[Int]", "Optional": "Optional[String]", "Dict": "Dict[str, int]"}.get(self._name, self._name)
            raise DagsterInvalidDefinitionError(
                f"{self._name}[...] takes {self._arity} type{'s' if self._arity > 1 else ''}, got {len(items)}: "
                f"{params!r}. For example: {example}."
            )
        resolved = [resolve_dagster_type(item) for item in items]
        return self._make(*resolved) if self._arity is not None else self._make(tuple(resolved))

    def __call__(self, *params: Any) -> DagsterType:
        # `List(Int)`: the call form some older code uses.
        return self[params if len(params) != 1 else params[0]]

    def as_dagster_type(self) -> DagsterType:
        if self._bare is None:
            raise DagsterInvalidDefinitionError(
                f"{self._name} needs an inner type, e.g. {self._name}[Int]: it is not a Dagster type on its own."
            )
        return self._bare()

    def _config_alternative(self) -> str:
        return _CONFIG_ALTERNATIVES[{"Optional": "NULLABLE", "Dict": dict}.get(self._name, "LIST")]

    def __repr__(self) -> str:
        return self._name


List = _TypeFactory("List", 1, _list_type, lambda: _list_type(Any_))
Optional = _TypeFactory("Optional", 1, _optional_type, None)
Dict = _TypeFactory("Dict", 2, _dict_type, lambda: Dict_)
Set = _TypeFactory("Set", 1, _set_type, lambda: _python_object_type(set))
Tuple = _TypeFactory("Tuple", None, _tuple_type, lambda: _python_object_type(tuple))


class PythonObjectDagsterType(DagsterType):
    """A DagsterType whose check is `isinstance(value, python_type)`; a tuple of
    types is their union. The name defaults to the type's name, the key to the name."""

    def __init__(self, python_type: type | tuple[type, ...], key: str | None = None, name: str | None = None, **kwargs: Any) -> None:
        members = python_type if isinstance(python_type, tuple) else (python_type,)
        if not members or not all(isinstance(t, type) for t in members):
            raise DagsterInvalidDefinitionError(
                f"PythonObjectDagsterType needs a Python class or a tuple of classes, got {python_type!r}"
            )
        type_str = members[0].__name__ if len(members) == 1 else f"Union[{', '.join(t.__name__ for t in members)}]"
        type_name = name or type_str

        def check(_context: Any, value: Any) -> bool | TypeCheck:
            return True if isinstance(value, python_type) else _fail(value, type_str)

        kwargs.setdefault("typing_type", python_type if len(members) == 1 else typing.Union[members])  # noqa: UP007 - a runtime union of classes
        super().__init__(check, key=key or type_name, name=type_name, **kwargs)
        self.python_type = python_type
        self.type_str = type_str


def _python_object_type(python_type: type) -> DagsterType:
    found = _INFERRED.get(python_type)
    if found is None:
        found = _INFERRED[python_type] = PythonObjectDagsterType(python_type)
    return found


def make_python_type_usable_as_dagster_type(python_type: type, dagster_type: DagsterType) -> None:
    """Map a Python class to a DagsterType: annotations and `In(python_type)` then
    use it. One class maps to one type; registering a different one is an error."""
    if not isinstance(python_type, type):
        raise DagsterInvalidDefinitionError(f"make_python_type_usable_as_dagster_type needs a Python class, got {python_type!r}")
    if not isinstance(dagster_type, DagsterType):
        raise DagsterInvalidDefinitionError(
            f"make_python_type_usable_as_dagster_type needs a DagsterType for {python_type.__name__}, got {dagster_type!r}"
        )
    registered = _REGISTERED.get(python_type)
    if registered is not None and registered is not dagster_type:
        raise DagsterInvalidDefinitionError(
            f"A Dagster type has already been registered for the Python type {python_type}. "
            "make_python_type_usable_as_dagster_type can only be called once on a python type as it is "
            "registering a 1:1 mapping between that python type and a dagster type."
        )
    _REGISTERED[python_type] = dagster_type


_T = typing.TypeVar("_T", bound=type)


@typing.overload
def usable_as_dagster_type(name: _T) -> _T: ...


@typing.overload
def usable_as_dagster_type(
    name: str | None = None, description: str | None = None, loader: DagsterTypeLoader | None = None
) -> Callable[[_T], _T]: ...


def usable_as_dagster_type(
    name: Any = None, description: str | None = None, loader: DagsterTypeLoader | None = None
) -> Any:
    """Class decorator: the class becomes a Dagster type (an isinstance check),
    named `name` or the class's name, loaded from run config by `loader`.
    `@usable_as_dagster_type` and `@usable_as_dagster_type(name=...)` both work."""
    if isinstance(name, type):
        bare = name
        make_python_type_usable_as_dagster_type(bare, PythonObjectDagsterType(bare, name=bare.__name__))
        return bare

    def wrap(cls: _T) -> _T:
        if not isinstance(cls, type):
            raise DagsterInvalidDefinitionError(f"@usable_as_dagster_type decorates a class, got {cls!r}")
        made = PythonObjectDagsterType(cls, name=name or cls.__name__, description=description, loader=loader)
        make_python_type_usable_as_dagster_type(cls, made)
        return cls

    return wrap


_UNION_TYPES: tuple[Any, ...] = (typing.Union, pytypes.UnionType)
_WRAPPER_NAMES = frozenset({"Output", "DynamicOutput"})


def _from_config_type(annotation: Any) -> DagsterType | None:
    """Dagster's config scalars (`Int`, `String`, `Float`, `Bool`, `Any`, exported
    from oprun's config types) are also Dagster types; other config types are not."""
    from oprun.config import types as config_types

    if not isinstance(annotation, config_types.ConfigType):
        return None
    same = {config_types.Int: Int, config_types.String: String, config_types.Float: Float, config_types.Bool: Bool, config_types.Any: Any_}
    found = same.get(annotation)
    if found is not None:
        return found
    raise DagsterInvalidDefinitionError(
        f"Cannot use the config type {annotation.display_name} as a Dagster type: config types describe "
        "config_schema. For an input or output use a Python type (int, list[str], ...), Int, String, "
        "Float, Bool, Any, List[...], Optional[...], Dict, Set, Tuple or a DagsterType."
    )


def resolve_dagster_type(annotation: Any) -> DagsterType:
    """The DagsterType for an annotation or an explicit type (None means Any)."""
    if annotation is None or annotation is _EMPTY:
        return Any_
    if isinstance(annotation, DagsterType):
        return annotation
    found = _BY_PYTHON_TYPE.get(annotation) if _hashable(annotation) else None
    if found is not None:
        return found
    if isinstance(annotation, str):
        # A postponed annotation we could not evaluate: check nothing rather than guess.
        return Any_
    if isinstance(annotation, _TypeFactory):
        return annotation.as_dagster_type()
    from_config = _from_config_type(annotation)
    if from_config is not None:
        return from_config
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is list:
        return _list_type(resolve_dagster_type(args[0]) if args else Any_)
    if origin is dict:
        return _dict_type(resolve_dagster_type(args[0]), resolve_dagster_type(args[1])) if len(args) == 2 else Dict_
    if origin is set and len(args) == 1:
        return _set_type(resolve_dagster_type(args[0]))
    if origin is tuple and args and Ellipsis not in args:
        return _tuple_type(tuple(resolve_dagster_type(a) for a in args))
    if origin in _UNION_TYPES:
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) == 1 and len(args) == 2:
            return _optional_type(resolve_dagster_type(non_none[0]))
        return Any_
    if origin is not None and getattr(origin, "__name__", "") in _WRAPPER_NAMES:
        return resolve_dagster_type(args[0]) if args else Any_
    if origin is not None:
        # Other generics (tuple[int, ...], Iterator[...], ...) check only the container.
        return _python_object_type(origin) if isinstance(origin, type) else Any_
    if annotation is list:
        return _list_type(Any_)
    if isinstance(annotation, type):
        registered = _REGISTERED.get(annotation)
        if registered is not None:
            return registered
        if getattr(annotation, "__name__", "") in _WRAPPER_NAMES and annotation.__module__.startswith("oprun"):
            return Any_
        return _python_object_type(annotation)
    raise DagsterInvalidDefinitionError(
        f"Cannot use {annotation!r} as a Dagster type: expected a Python type, a typing "
        "annotation such as list[int] or Optional[str], or a DagsterType."
    )


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


class _Empty:
    pass


_EMPTY = _Empty()
