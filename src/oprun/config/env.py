"""`EnvVar`: a config value read from an environment variable when a run starts,
and never shown (it is stored and displayed as `{"env": NAME}`)."""

from __future__ import annotations

import os
from typing import Any


class EnvVar(str):
    """The *name* of an environment variable, usable as a value in `Config` and
    resource classes: `MyResource(token=EnvVar("TOKEN"))`."""

    @classmethod
    def int(cls, name: str) -> IntEnvVar:
        """An environment variable read as an int: usable for `int` fields (an
        `int` subclass, as in Dagster)."""
        return IntEnvVar.create(name)

    @property
    def env_var_name(self) -> str:
        return str.__str__(self)

    def get_value(self, default: str | None = None) -> str | None:
        return os.environ.get(self.env_var_name, default)

    def to_config(self) -> dict[str, Any]:
        return {"env": self.env_var_name}

    def __repr__(self) -> str:
        return f"EnvVar({self.env_var_name!r})"


class IntEnvVar(int):
    """`EnvVar.int(NAME)`: the name of an environment variable holding an int.

    An `int` (whose value, 0, means nothing) so that pydantic accepts it for an
    `int` field of a `Config` or resource class; the field's run config keeps
    `{"env": NAME}` and the run reads the variable, converted to an int, when it
    starts. As in Dagster, it is not an `EnvVar` (a `str`).
    """

    name: str

    @classmethod
    def create(cls, name: str) -> IntEnvVar:
        made = cls(0)
        made.name = name
        return made

    @property
    def env_var_name(self) -> str:
        return self.name

    def get_value(self, default: int | None = None) -> int | None:
        raw = os.environ.get(self.name)
        return default if raw is None or raw == "" else int(raw)

    def to_config(self) -> dict[str, Any]:
        return {"env": self.name}

    def __repr__(self) -> str:
        return f"EnvVar.int({self.name!r})"

    def __str__(self) -> str:
        return repr(self)
