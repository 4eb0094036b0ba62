"""`EnvVar`: a config value read from an environment variable when a run starts,
and never shown (it is stored and displayed as `{"env": NAME}`)."""

from __future__ import annotations

import os
from typing import Any


class EnvVar(str):
    """The *name* of an environment variable, usable as a value in `Config` and
    resource classes: `MyResource(token=EnvVar("TOKEN"))`."""

    _as_int: bool = False  # EnvVar.int(...)

    @classmethod
    def int(cls, name: str) -> EnvVar:
        made = cls(name)
        made._as_int = True
        return made

    @property
    def env_var_name(self) -> str:
        return str.__str__(self)

    def get_value(self, default: str | None = None) -> str | None:
        return os.environ.get(self.env_var_name, default)

    def to_config(self) -> dict[str, Any]:
        return {"env": self.env_var_name}

    def __repr__(self) -> str:
        return f"EnvVar({self.env_var_name!r})"
