"""Goals a measured figure is checked against.

A target looks at the medians of one metric on both sides and answers True
(met), False (missed) or None (cannot tell: a side has no figure). Targets
speak of oprun: Dagster is the reference it is compared with.
"""

from dataclasses import dataclass


def _number(medians, key):
    value = medians.get(key) if medians else None
    return value if isinstance(value, (int, float)) else None


@dataclass(frozen=True)
class Faster:
    """oprun is at least ``times`` faster (or smaller) than Dagster."""

    times: float

    def describe(self):
        return f"≥ {self.times:g}× Dagster"

    def check(self, key, oprun, dagster):
        mine, theirs = _number(oprun, key), _number(dagster, key)
        if mine is None or theirs is None:
            return None
        return theirs >= self.times * mine


@dataclass(frozen=True)
class AtMost:
    """oprun's figure is at most ``limit`` (divided by ``ops`` when ``per_op``).

    ``label`` is the limit in the unit people use, e.g. "≤ 30 ms".
    """

    limit: float
    label: str
    per_op: bool = False

    def describe(self):
        return self.label

    def check(self, key, oprun, dagster):
        value = _number(oprun, key)
        if value is None:
            return None
        if self.per_op:
            ops = _number(oprun, "ops")
            if not ops:
                return None
            value /= ops
        return value <= self.limit


@dataclass(frozen=True)
class AtLeast:
    """oprun's figure (a rate: more is better) is at least ``limit``."""

    limit: float
    label: str

    def describe(self):
        return self.label

    def check(self, key, oprun, dagster):
        value = _number(oprun, key)
        return None if value is None else value >= self.limit


@dataclass(frozen=True)
class NoneOf:
    """oprun's list of loaded modules contains none of ``modules``."""

    modules: tuple

    def describe(self):
        return "none of " + ", ".join(self.modules)

    def check(self, key, oprun, dagster):
        loaded = oprun.get(key) if oprun else None
        if not isinstance(loaded, list):
            return None
        return not set(loaded) & set(self.modules)


def verdict(targets, key, oprun, dagster):
    """Combine several targets: all must be met; unknown if any is unknown."""
    results = [target.check(key, oprun, dagster) for target in targets]
    if not results:
        return None
    if any(result is False for result in results):
        return False
    if any(result is None for result in results):
        return None
    return True
