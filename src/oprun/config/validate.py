"""Validating a config value against a schema.

`validate_config(schema, value)` never stops at the first error: it returns every
error, each with its path (`root:ops:load:config:path`), Dagster's reason code,
a message showing what was expected and what was found, and a "did you mean" for
a misspelt key. On success it returns the processed value: defaults filled in,
environment sources read, enum names turned into their Python values. Paths whose
value came from an environment variable are reported so they can be masked.

Errors are data (`EvaluationError`): the CLI, GraphQL and the UI show them.
"""

from __future__ import annotations

import copy
import functools
import os
from collections.abc import Mapping
from typing import Any, NamedTuple

from oprun.config.types import (
    Array,
    ConfigType,
    Enum,
    Field,
    Map,
    Noneable,
    Permissive,
    Scalar,
    ScalarUnion,
    Selector,
    Shape,
    Source,
    as_field,
)
from oprun.errors import DagsterInvalidConfigError, did_you_mean

Path = tuple[str | int, ...]


class EvaluationError(NamedTuple):
    path: Path
    reason: str
    message: str
    expected: str | None = None
    found: str | None = None
    suggestion: str | None = None

    @property
    def path_str(self) -> str:
        return path_to_str(self.path)

    @property
    def stack(self) -> Path:
        return self.path

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": [str(p) for p in self.path],
            "path_str": self.path_str,
            "reason": self.reason,
            "message": self.message,
            "expected": self.expected,
            "found": self.found,
            "suggestion": self.suggestion,
        }


def path_to_str(path: Path) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += (":" if text else "") + part
    return text


class ConfigResult(NamedTuple):
    success: bool
    value: Any
    errors: list[EvaluationError]
    secret_paths: frozenset[Path]


# How deep a config value may nest dicts and lists, counted from the root of its
# document (`{"a": 1}` nests one level). Deeper values are refused with an error
# naming the path and this limit: a document nested ~1,000 levels deep (valid JSON)
# would otherwise break whatever walks it next (json, deepcopy, repr).
MAX_CONFIG_DEPTH = 100

# Ints with more digits than Python will turn into text by default
# (`sys.get_int_max_str_digits()`, 4,300) can be neither shown nor stored as JSON.
_INT_LIMIT = 10**4300


def _short(value: Any, limit: int = 60) -> str:
    """The repr of a value for a message, cut to `limit` characters. Built only as
    far as the limit (a value may be huge or nested very deep), and never failing
    (an object's repr may raise)."""
    text = _shown(value, limit + 1)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _shown(value: Any, budget: int) -> str:
    """repr(value), or any text longer than `budget` once it would be longer."""
    kind = type(value)
    if kind is str:
        if len(value) <= budget:
            return repr(value)
        # Cut, with the quotes the whole string has: repr picks " when it holds
        # a ' and no ", and the cut part may not show which it holds.
        quotes = ("'" if "'" in value else "") + ('"' if '"' in value else "")
        return repr(value[:budget] + quotes)
    if kind is int:
        if value.bit_length() > 14_000:  # too many digits to print (see _INT_LIMIT)
            return f"<int of about {int(value.bit_length() * 0.30103) + 1} digits>"
        return repr(value)
    if kind is dict or kind is list or kind is tuple:
        if budget <= 0:
            return "..."
        brackets = "{}" if kind is dict else "[]" if kind is list else "()"
        parts = [brackets[0]]
        used = 1
        items = value.items() if kind is dict else value
        for i, item in enumerate(items):
            if used > budget:
                break
            if i:
                parts.append(", ")
                used += 2
            if kind is dict:
                key = _shown(item[0], budget - used)
                used += len(key) + 2
                parts.append(key + ": ")
                item = item[1]
            text = _shown(item, budget - used)
            used += len(text)
            parts.append(text)
        if kind is tuple and len(value) == 1:
            parts.append(",")
        parts.append(brackets[1])
        return "".join(parts)
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - only a message: any repr may fail
        return f"<{kind.__name__} object (its repr failed)>"
    return text if isinstance(text, str) else f"<{kind.__name__} object>"


def _key_part(key: Any) -> str | int:
    """A dict key as a part of a path (str or int), whatever its type."""
    return key if isinstance(key, str) or (type(key) is int and -_INT_LIMIT < key < _INT_LIMIT) else _short(key)


def _key_text(key: Any) -> str:
    """A dict key as text for a message, whatever its type."""
    return key if isinstance(key, str) else _short(key)


def _at(path: Path) -> str:
    return "at the root" if len(path) == 1 else f"at path {path_to_str(path)}"


class _Run:
    __slots__ = ("errors", "secrets")

    def __init__(self) -> None:
        self.errors: list[EvaluationError] = []
        self.secrets: set[Path] = set()

    def error(self, path: Path, reason: str, message: str, expected: ConfigType | None, found: Any, suggestion: str | None = None) -> None:
        self.errors.append(EvaluationError(
            path, reason, message, expected.display_name if expected is not None else None,
            None if found is _MISSING else _short(found), suggestion,
        ))


_MISSING = object()


def validate_config(schema: Any, value: Any, root: Path = ("root",)) -> ConfigResult:
    """Validate `value` against `schema` (a ConfigType, a Field or shorthand).

    `root` is the path of `value` in its document, for errors in a part of a
    larger one (the config a `configured` op maps to sits at `root:ops:x:config`)."""
    run = _Run()
    field = as_field(schema)
    if value is None and (field.default_provided or not field.is_required or isinstance(field.config_type, Shape)):
        processed = _absent(field, root, run)
        if processed is _MISSING and isinstance(field.config_type, Shape):
            processed = _check(field.config_type, {}, root, run)
    else:
        processed = _check(field.config_type, value, root, run)
    if processed is _MISSING:
        processed = None
    ok = not run.errors
    return ConfigResult(ok, processed if ok else None, run.errors, frozenset(run.secrets))


def _absent(field: Field, path: Path, run: _Run) -> Any:
    """The processed value of a field left out: its default, or the implicit one."""
    if field.default_provided:
        default = field.default_value
        if isinstance(default, (dict, list)):
            default = copy.deepcopy(default)
        return _check(field.config_type, default, path, run)
    config_type = field.config_type
    if isinstance(config_type, Noneable):
        # Field(Noneable(T), is_required=False) left out stays out, as in Dagster (an
        # op input with a default then takes its default, not None).
        return None if field.has_implicit_default else _MISSING
    if isinstance(config_type, Shape) and not isinstance(config_type, Selector):
        if not field.is_required and any(f.is_required for f in config_type.fields.values()):
            # An optional section with required parts (config of ops left out of a
            # selection, of resources no op uses): absent means absent.
            return _MISSING
        if _absent_is_empty(config_type):
            return {}  # every op of a large job without config takes this path
        return _check(config_type, {}, path, run)
    return _MISSING


# Shapes are never changed once built: whether one left out is {} is asked again
# for every op of a large job on every run, so remember it.
@functools.lru_cache(maxsize=4096)
def _absent_is_empty(shape: Shape) -> bool:
    """Whether every field of `shape` stays out when it is left out, so that the
    shape left out is {}."""
    return not shape.field_aliases and all(_stays_out(f) for f in shape.fields.values())


def _stays_out(field: Field) -> bool:
    """Whether `_absent` leaves this field out of its shape's value."""
    if field.default_provided:
        return False
    config_type = field.config_type
    if isinstance(config_type, Noneable):
        return not field.has_implicit_default
    if isinstance(config_type, Shape) and not isinstance(config_type, Selector):
        return not field.is_required and any(f.is_required for f in config_type.fields.values())
    return True


def _check(config_type: ConfigType, value: Any, path: Path, run: _Run) -> Any:
    if isinstance(config_type, Shape):
        if isinstance(config_type, Selector):
            return _check_selector(config_type, value, path, run)
        return _check_shape(config_type, value, path, run)
    if isinstance(config_type, Scalar):
        if config_type.accepts(value):
            word = config_type.word
            if word == "float":
                try:
                    return float(value)
                except OverflowError:  # an int past a float's range (about 1.8e308)
                    return _too_large(config_type, value, path, run)
            if word == "int" and not -_INT_LIMIT < value < _INT_LIMIT:
                return _too_large(config_type, value, path, run)
            return value
        explain = getattr(config_type, "explain_rejection", None)  # a scalar with its own rule
        detail = explain(value) if explain is not None else None
        if detail is not None:
            message, suggestion = detail
            run.error(path, "RUNTIME_TYPE_MISMATCH", f"Invalid value {_at(path)}: {message}{suggestion}", config_type, value, suggestion.strip() or None)
            return _MISSING
        run.error(
            path, "RUNTIME_TYPE_MISMATCH",
            f'Invalid scalar {_at(path)}. Value "{_short(value)}" of type "{type(value).__name__}" is not valid '
            f'for expected type "{config_type.display_name}".',
            config_type, value,
        )
        return _MISSING
    if isinstance(config_type, Source):
        return _check_source(config_type, value, path, run)
    if isinstance(config_type, Noneable):
        return None if value is None else _check(config_type.inner_type, value, path, run)
    if isinstance(config_type, Array):
        if not isinstance(value, list):
            run.error(
                path,
                "RUNTIME_TYPE_MISMATCH",
                f'Value {_at(path)} must be list. Expected: "{config_type.display_name}". Found: {_short(value)}.',
                config_type,
                value,
            )
            return _MISSING
        return [_check(config_type.inner_type, item, (*path, i), run) for i, item in enumerate(value)]
    if isinstance(config_type, Map):
        return _check_map(config_type, value, path, run)
    if isinstance(config_type, Enum):
        if config_type.has(value):
            return config_type.python_value(value)
        suggestion = did_you_mean(value, config_type.config_values) if isinstance(value, str) else ""
        run.error(
            path, "RUNTIME_TYPE_MISMATCH",
            f"Value {_at(path)} not in enum type {config_type.name} got {_short(value)}. Expected one of "
            f"{config_type.config_values}.{suggestion}",
            config_type, value, suggestion.strip() or None,
        )
        return _MISSING
    if isinstance(config_type, ScalarUnion):
        if isinstance(value, (dict, list)):
            return _check(config_type.non_scalar_type, value, path, run)
        return _check(config_type.scalar_type, value, path, run)
    return value if _storable(value, path, run) else _MISSING  # Any


def _too_large(config_type: Scalar, value: Any, path: Path, run: _Run) -> Any:
    limit = "about 1.8e308" if config_type.word == "float" else "4300 digits"
    run.error(
        path, "RUNTIME_TYPE_MISMATCH",
        f'Invalid scalar {_at(path)}. Value "{_short(value)}" of type "{type(value).__name__}" is too large for '
        f'expected type "{config_type.display_name}" (at most {limit}).',
        config_type, value,
    )
    return _MISSING


def _storable(value: Any, path: Path, run: _Run) -> bool:
    """Whether a value no schema walks (an `Any` value, an extra entry of a
    `Permissive` shape) nests within MAX_CONFIG_DEPTH and holds no int too large
    to print; if not, an error at `path` says where. Scalars cost one type check;
    containers are walked without copying."""
    kind = type(value)
    if kind is str or kind is float or kind is bool or value is None:
        return True
    room = MAX_CONFIG_DEPTH - (len(path) - 1)
    stack = [(value, room)]
    while stack:
        item, left = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            if type(item) is int and not -_INT_LIMIT < item < _INT_LIMIT:
                break
            continue
        if left <= 0:
            break
        for child in children:
            if type(child) is not str:
                stack.append((child, left - 1))
    else:
        return True
    where, too_deep = _first_unstorable(value, path, room)
    if too_deep:
        message = (
            f"Value {_at(path)} is nested too deep: config values may nest dicts and lists at most "
            f"{MAX_CONFIG_DEPTH} levels deep (the document itself is level 1), and this one has a dict or list at "
            f"level {len(where)}: {_path_shown(where)}."
        )
    else:
        message = f"Value {_at(path)} holds an int too large (more than 4300 digits) at {_path_shown(where)}."
    run.error(path, "RUNTIME_TYPE_MISMATCH", message, None, value)
    return False


def _first_unstorable(value: Any, path: Path, room: int) -> tuple[Path, bool]:
    """The path of the first container past the depth limit (True), or of an int
    too large (False), in a value `_storable` refused."""
    stack: list[tuple[Any, int, Path]] = [(value, room, path)]
    while stack:
        item, left, where = stack.pop()
        if isinstance(item, Mapping):
            children: list[tuple[Any, Path]] = [(v, (*where, _key_part(k))) for k, v in item.items()]
        elif isinstance(item, (list, tuple)):
            children = [(v, (*where, i)) for i, v in enumerate(item)]
        else:
            if type(item) is int and not -_INT_LIMIT < item < _INT_LIMIT:
                return where, False
            continue
        if left <= 0:
            return where, True
        stack.extend((child, left - 1, child_path) for child, child_path in reversed(children))
    return path, True  # not reached: `_storable` found one


def _path_shown(path: Path) -> str:
    """A path for a message, its middle elided when long."""
    if len(path) <= 12:
        return path_to_str(path)
    return f"{path_to_str(path[:6])}:...:{path_to_str(path[-4:])}"


def _check_source(config_type: Source, value: Any, path: Path, run: _Run) -> Any:
    if isinstance(value, Mapping) and set(value) == {"env"}:
        name = value["env"]
        if not isinstance(name, str):
            run.error(
                path, "RUNTIME_TYPE_MISMATCH",
                f'Invalid environment variable name {_at(path)}: {{"env": ...}} takes the name as a string, got '
                f'"{_short(name)}" of type "{type(name).__name__}".',
                config_type, value,
            )
            return _MISSING
        raw = os.environ.get(name)
        if raw is None:
            run.error(
                path, "FAILED_POST_PROCESSING",
                f'You have attempted to fetch the environment variable "{name}" which is not set. In order '
                f"for this execution to succeed it must be set in this environment ({_at(path)}).",
                config_type, value,
            )
            return _MISSING
        run.secrets.add(path)
        return _from_env(config_type, raw, name, path, run)
    if type(value).__name__ in ("EnvVar", "IntEnvVar"):  # EnvVar(...), EnvVar.int(...)
        name = getattr(value, "env_var_name", value)
        run.error(
            path, "RUNTIME_TYPE_MISMATCH",
            f'Invalid use of environment variable wrapper {_at(path)}: {_short(value, 200)} only works in '
            f"Config and resource classes. In a raw config dict, replace it with {{'env': '{_key_text(name)}'}}.",
            config_type, value,
        )
        return _MISSING
    return _check(config_type.scalar, value, path, run)


def _from_env(config_type: Source, raw: str, name: str, path: Path, run: _Run) -> Any:
    word = config_type.scalar.word
    if word == "string":
        return raw
    if word == "int":
        try:
            return int(raw)
        except ValueError:
            pass
    elif word == "bool":
        lowered = raw.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no", ""):
            return False
    run.error(
        path, "FAILED_POST_PROCESSING",
        f'The environment variable "{name}" {_at(path)} is not a valid {config_type.display_name}.',
        config_type, _MISSING,
    )
    return _MISSING


def _check_map(config_type: Map, value: Any, path: Path, run: _Run) -> Any:
    if not isinstance(value, Mapping):
        run.error(
            path,
            "RUNTIME_TYPE_MISMATCH",
            f'Value {_at(path)} must be dict. Expected: "{config_type.display_name}". Found: {_short(value)}.',
            config_type,
            value,
        )
        return _MISSING
    out = {}
    for key, item in value.items():
        where = (*path, _key_text(key))
        checked_key = _check(config_type.key_type, key, where, run)
        out[checked_key] = _check(config_type.inner_type, item, where, run)
    return out


def _unexpected(config_type: Shape, keys: list[Any], path: Path, run: _Run, value: Any) -> None:
    for key in keys:
        text = _key_text(key)
        suggestion = did_you_mean(text, config_type.fields)
        run.error(
            (*path, _key_part(key)), "FIELD_NOT_DEFINED",
            f'Received unexpected config entry "{text}" {_at(path)}. Expected: "{config_type.display_name}".{suggestion}',
            config_type, value.get(key), suggestion.strip() or None,
        )


def _check_shape(config_type: Shape, value: Any, path: Path, run: _Run) -> Any:
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        run.error(
            path,
            "RUNTIME_TYPE_MISMATCH",
            f'Value {_at(path)} must be dict. Expected: "{config_type.display_name}". Found: {_short(value)}.',
            config_type,
            value,
        )
        return _MISSING
    fields = config_type.fields
    value = _apply_aliases(config_type, value, path, run)
    unknown = [k for k in value if k not in fields]
    if unknown and not isinstance(config_type, Permissive):
        _unexpected(config_type, unknown, path, run, value)
    out: dict[str, Any] = {}
    missing: list[str] = []
    for name, field in fields.items():
        if name in value:
            checked = _check(field.config_type, value[name], (*path, name), run)
        elif field.is_required:
            missing.append(name)
            continue
        else:
            checked = _absent(field, (*path, name), run)
        if checked is not _MISSING:
            out[name] = checked
    if missing:
        _missing(config_type, missing, path, run)
    if isinstance(config_type, Permissive):
        for key in unknown:
            item = value[key]
            if _storable(item, (*path, _key_part(key)), run):
                out[key] = item
    return out


def _apply_aliases(config_type: Shape, value: Mapping[str, Any], path: Path, run: _Run) -> Mapping[str, Any]:
    if not config_type.field_aliases:
        return value
    value = dict(value)
    for canonical, alias in config_type.field_aliases.items():
        if alias in value:
            if canonical in value:
                run.error(
                    path, "FIELD_ALIAS_COLLISION",
                    f"Received both field '{canonical}' and field '{alias}' in config {_at(path)}. Please use one or the other.",
                    config_type, _MISSING,
                )
                del value[alias]  # reported once, as the collision
            else:
                value[canonical] = value.pop(alias)
    return value


def _sample(field: Field) -> Any:
    from oprun.config.scaffold import sample_value

    return sample_value(field.config_type)


def _missing(config_type: Shape, names: list[str], path: Path, run: _Run) -> None:
    samples = {n: _sample(config_type.fields[n]) for n in names}
    if len(names) == 1:
        name = names[0]
        run.error(
            (*path, name), "MISSING_REQUIRED_FIELD",
            f'Missing required config entry "{name}" {_at(path)}. Sample config for missing entry: {samples}',
            config_type.fields[name].config_type, _MISSING,
        )
        return
    run.error(
        path, "MISSING_REQUIRED_FIELDS",
        f"Missing required config entries {names} {_at(path)}. Sample config for missing entries: {samples}",
        config_type, _MISSING,
    )


def _check_selector(config_type: Selector, value: Any, path: Path, run: _Run) -> Any:
    fields = config_type.fields
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        run.error(
            path,
            "RUNTIME_TYPE_MISMATCH",
            f'Value {_at(path)} must be dict. Expected: "{config_type.display_name}". Found: {_short(value)}.',
            config_type,
            value,
        )
        return _MISSING
    unknown = [k for k in value if k not in fields]
    if unknown:
        _unexpected(config_type, unknown, path, run, value)
        return _MISSING
    if len(value) > 1:
        run.error(
            path, "SELECTOR_FIELD_ERROR",
            f"You can only specify a single field {_at(path)}. You specified {sorted(value)}. The available "
            f"fields are {sorted(fields)}",
            config_type, value,
        )
        return _MISSING
    if not value:
        if len(fields) == 1:
            (name, field), = fields.items()
            checked = _absent(field, (*path, name), run)
            if checked is not _MISSING:
                return {name: checked}
        run.error(
            path, "SELECTOR_FIELD_ERROR",
            f"Must specify a field {_at(path)} if more than one field is defined. Defined fields: {sorted(fields)}",
            config_type, value,
        )
        return _MISSING
    (name, item), = value.items()
    field = fields[name]
    if item is None and isinstance(field.config_type, Shape):
        item = {}
    checked = _check(field.config_type, item, (*path, name), run)
    return _MISSING if checked is _MISSING else {name: checked}


def mask_secrets(value: Any, secret_paths: frozenset[Path] | set[Path], mask: str = "******") -> Any:
    """A copy of a processed config value with the values read from environment
    variables replaced by `mask`."""
    if not secret_paths:
        return value
    result = copy.deepcopy(value)
    for path in secret_paths:
        parts = list(path[1:]) if path and path[0] == "root" else list(path)
        if not parts:
            return mask
        target = result
        try:
            for part in parts[:-1]:
                target = target[part]
            target[parts[-1]] = mask
        except (KeyError, IndexError, TypeError):
            continue
    return result


def raise_for_errors(result: ConfigResult, preamble: str, config_value: Any) -> Any:
    if not result.success:
        raise DagsterInvalidConfigError(preamble, result.errors, config_value)
    return result.value
