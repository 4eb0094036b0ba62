"""Config mappings: a job's or graph's config exposed through a narrower schema
(`ConfigMapping`, `@config_mapping`), mapped to the full config when a run starts."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from oprun.errors import DagsterConfigMappingFunctionError, DagsterError, DagsterInvalidDefinitionError


def _config_class_param(fn: Callable[..., Any]) -> type | None:
    """The Config class a mapping function's single parameter is annotated with."""
    try:
        import typing

        hints = typing.get_type_hints(fn)
    except Exception:  # noqa: BLE001 - unresolvable annotations: treat as untyped
        hints = getattr(fn, "__annotations__", {})
    params = list(inspect.signature(fn).parameters.values())
    if len(params) != 1:
        return None
    annotation = hints.get(params[0].name)
    if isinstance(annotation, type) and hasattr(annotation, "to_config_schema") and hasattr(annotation, "from_config_value"):
        return annotation
    return None


class ConfigMapping:
    """`config_fn(outer_config) -> inner run config`, with the outer schema."""

    def __init__(
        self,
        config_fn: Callable[[Any], Any],
        config_schema: Any = None,
        receive_processed_config_values: bool | None = True,
    ) -> None:
        if not callable(config_fn):
            raise DagsterInvalidDefinitionError(f"ConfigMapping config_fn must be callable, got {config_fn!r}")
        self.config_fn = config_fn
        self._config_class = _config_class_param(config_fn)
        if self._config_class is not None and config_schema is not None:
            raise DagsterInvalidDefinitionError(
                "A config mapping whose function takes a Config class cannot also give config_schema."
            )
        if self._config_class is not None:
            config_schema = self._config_class
        self.config_schema = config_schema if config_schema is not None else {}
        self.receive_processed_config_values = True if receive_processed_config_values is None else receive_processed_config_values

    def resolve_from_validated(self, value: Any, descriptor: str | None = None) -> dict[str, Any]:
        """Call the function on the (validated) outer value; returns a plain dict.

        An exception from the function becomes a DagsterConfigMappingFunctionError
        naming `descriptor` (e.g. "job my_job"), as in Dagster; oprun's own errors
        pass through."""
        try:
            argument = self._config_class.from_config_value(value or {}) if self._config_class is not None else value  # type: ignore[attr-defined]  # a Config class, checked by duck typing
            result = self.config_fn(argument)
        except DagsterError:
            raise
        except Exception as exc:
            where = descriptor or f"function {getattr(self.config_fn, '__name__', repr(self.config_fn))}"
            raise DagsterConfigMappingFunctionError(
                f"The config mapping function on {where} has thrown an unexpected error during its execution: "
                f"{type(exc).__name__}: {exc}",
                exc,
            ) from exc
        to_dict = getattr(result, "to_config_dict", None)
        if callable(to_dict):
            plain: dict[str, Any] = to_dict()  # a Config object
            return plain
        if result is None:
            return {}
        if not isinstance(result, dict):
            raise DagsterInvalidDefinitionError(
                f"Config mapping function {getattr(self.config_fn, '__name__', self.config_fn)} returned "
                f"{result!r}; it must return a dict or a RunConfig."
            )
        from oprun.config.run_config import coerce_run_config

        return coerce_run_config(result)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.config_fn(*args, **kwargs)


def config_mapping(
    config_fn: Callable[[Any], Any] | None = None,
    *,
    config_schema: Any = None,
    receive_processed_config_values: bool | None = None,
) -> Any:
    """Decorator: `@config_mapping` or `@config_mapping(config_schema=...)`."""
    if config_fn is not None:
        return ConfigMapping(config_fn)

    def wrap(fn: Callable[[Any], Any]) -> ConfigMapping:
        return ConfigMapping(fn, config_schema, receive_processed_config_values)

    return wrap
