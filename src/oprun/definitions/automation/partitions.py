"""Partitions: the keys a partitioned job runs for, and `PartitionedConfig`, which
maps a key to run config and tags.

Static keys, time windows (hourly, daily, weekly, monthly, with offsets and a
timezone, computed in local wall time so DST days are whole days), dynamic
keys (from a function or from the instance), and two of these combined
(`MultiPartitionsDefinition`, keys such as `"a|x"`). An unknown key is an error naming it
and the nearest valid keys.
"""

from __future__ import annotations

import calendar
import difflib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from oprun.errors import (
    DagsterInvalidDefinitionError,
    DagsterInvalidInvocationError,
    DagsterInvariantViolationError,
    DagsterUnknownPartitionError,
)


class TimeWindow(NamedTuple):
    start: datetime
    end: datetime


class PartitionKeyRange(NamedTuple):
    start: str
    end: str


class PartitionsDefinition:
    """The set of partition keys of a job."""

    def get_partition_keys(self, current_time: datetime | None = None, dynamic_partitions_store: Any = None) -> list[str]:
        raise DagsterInvalidDefinitionError(f"{type(self).__name__} does not define its partition keys")

    def has_partition_key(self, partition_key: str, current_time: datetime | None = None, dynamic_partitions_store: Any = None) -> bool:
        return partition_key in self.get_partition_keys(current_time, dynamic_partitions_store)

    def validate_partition_key(
        self,
        partition_key: str,
        owner_name: str | None = None,
        current_time: datetime | None = None,
        dynamic_partitions_store: Any = None,
    ) -> None:
        keys = self.get_partition_keys(current_time, dynamic_partitions_store)
        if partition_key in keys:
            return
        owner = f" of {owner_name}" if owner_name else ""
        close = difflib.get_close_matches(str(partition_key), keys, n=3, cutoff=0.5)
        shown = keys if len(keys) <= 8 else [*keys[:3], "...", *keys[-3:]]
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise DagsterUnknownPartitionError(
            f"Partition key '{partition_key}' is not one of the {len(keys)} partitions{owner}: expected one of {shown}.{hint}"
        )

    def get_first_partition_key(self, current_time: datetime | None = None, dynamic_partitions_store: Any = None) -> str | None:
        keys = self.get_partition_keys(current_time, dynamic_partitions_store)
        return keys[0] if keys else None

    def get_last_partition_key(self, current_time: datetime | None = None, dynamic_partitions_store: Any = None) -> str | None:
        keys = self.get_partition_keys(current_time, dynamic_partitions_store)
        return keys[-1] if keys else None

    def get_partition_keys_in_range(self, partition_key_range: PartitionKeyRange, dynamic_partitions_store: Any = None) -> list[str]:
        keys = self.get_partition_keys(dynamic_partitions_store=dynamic_partitions_store)
        for key in partition_key_range:
            self.validate_partition_key(key)
        return keys[keys.index(partition_key_range.start): keys.index(partition_key_range.end) + 1]


class StaticPartitionsDefinition(PartitionsDefinition):
    def __init__(self, partition_keys: Sequence[str]) -> None:
        keys = list(partition_keys)
        bad = [k for k in keys if not isinstance(k, str)]
        if bad:
            raise DagsterInvalidDefinitionError(f"Partition keys must be strings, got {bad[:3]}")
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise DagsterInvalidDefinitionError(f"Duplicate partition keys: {dupes}")
        self._keys = keys

    def get_partition_keys(self, current_time: datetime | None = None, dynamic_partitions_store: Any = None) -> list[str]:
        return list(self._keys)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StaticPartitionsDefinition) and other._keys == self._keys

    def __hash__(self) -> int:
        return hash(tuple(self._keys))


_CRON_FOR = {"HOURLY": "{m} * * * *", "DAILY": "{m} {h} * * *", "WEEKLY": "{m} {h} * * {d}", "MONTHLY": "{m} {h} {d} * *"}


class TimeWindowPartitionsDefinition(PartitionsDefinition):
    """Partitions that are time windows of a fixed cadence, keyed by their start."""

    def __init__(
        self,
        start: datetime | str,
        fmt: str,
        end: datetime | str | None = None,
        schedule_type: str | None = None,
        timezone: str | None = None,
        end_offset: int = 0,
        minute_offset: int = 0,
        hour_offset: int = 0,
        day_offset: int | None = None,
        cron_schedule: str | None = None,
    ) -> None:
        self.timezone = timezone or "UTC"
        try:
            self._tz = ZoneInfo(self.timezone)
        except Exception as exc:  # zoneinfo raises several kinds
            raise DagsterInvalidDefinitionError(f"Unknown timezone '{self.timezone}': use an IANA name such as 'Europe/Paris'.") from exc
        self.fmt = fmt
        self.schedule_type = (schedule_type or "DAILY").upper()
        if self.schedule_type not in _CRON_FOR:
            raise DagsterInvalidDefinitionError(f"schedule_type must be one of {sorted(_CRON_FOR)}, got {schedule_type!r}")
        self.minute_offset = minute_offset
        self.hour_offset = hour_offset
        self.day_offset = day_offset if day_offset is not None else (1 if self.schedule_type == "MONTHLY" else 0)
        self.end_offset = end_offset
        self.start = self._parse_bound(start, "start")
        self.end = self._parse_bound(end, "end") if end is not None else None
        self._cron = cron_schedule

    def _parse_bound(self, value: datetime | str, what: str) -> datetime:
        if isinstance(value, str):
            try:
                value = datetime.strptime(value, self.fmt)
            except ValueError as exc:
                raise DagsterInvalidDefinitionError(f"Partition {what} '{value}' does not match the format '{self.fmt}'.") from exc
        if value.tzinfo is None:
            value = value.replace(tzinfo=self._tz)
        return value.astimezone(self._tz)

    @property
    def cron_schedule(self) -> str:
        if self._cron:
            return self._cron
        return _CRON_FOR[self.schedule_type].format(m=self.minute_offset, h=self.hour_offset, d=self.day_offset)

    # -- cadence, in local wall time --

    def _align(self, moment: datetime) -> datetime:
        """The start of the window containing `moment`."""
        local = moment.astimezone(self._tz).replace(tzinfo=None)
        if self.schedule_type == "HOURLY":
            aligned = local.replace(minute=self.minute_offset, second=0, microsecond=0)
            if aligned > local:
                aligned -= timedelta(hours=1)
        else:
            aligned = local.replace(hour=self.hour_offset, minute=self.minute_offset, second=0, microsecond=0)
            if self.schedule_type == "DAILY":
                if aligned > local:
                    aligned -= timedelta(days=1)
            elif self.schedule_type == "WEEKLY":
                # day_offset: 0 = Sunday, as in cron.
                back = (aligned.weekday() + 1 - self.day_offset) % 7
                aligned -= timedelta(days=back)
                if aligned > local:
                    aligned -= timedelta(days=7)
            else:
                day = min(self.day_offset, calendar.monthrange(aligned.year, aligned.month)[1])
                aligned = aligned.replace(day=day)
                if aligned > local:
                    aligned = self._shift(aligned, -1)
        return aligned.replace(tzinfo=self._tz)

    def _shift(self, local: datetime, steps: int) -> datetime:
        naive = local.replace(tzinfo=None)
        if self.schedule_type == "HOURLY":
            moved = naive + timedelta(hours=steps)
        elif self.schedule_type == "DAILY":
            moved = naive + timedelta(days=steps)
        elif self.schedule_type == "WEEKLY":
            moved = naive + timedelta(weeks=steps)
        else:
            month = naive.month - 1 + steps
            year = naive.year + month // 12
            month = month % 12 + 1
            day = min(self.day_offset, calendar.monthrange(year, month)[1])
            moved = naive.replace(year=year, month=month, day=day)
        return moved.replace(tzinfo=self._tz) if local.tzinfo is not None else moved

    def _windows(self, current_time: datetime | None) -> list[TimeWindow]:
        now = (current_time or datetime.now(UTC))
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        first = self._align(self.start)
        if first < self.start:
            first = self._shift(first, 1)
        windows = []
        start = first
        limit_end = self.end
        while True:
            end = self._shift(start, 1)
            if limit_end is not None and end > limit_end:
                break
            if limit_end is None and end > now:
                break
            windows.append(TimeWindow(start, end))
            start = end
            if len(windows) > 1_000_000:
                raise DagsterInvalidDefinitionError("More than a million partitions: check the start date and cadence.")
        for _ in range(max(0, self.end_offset)):
            windows.append(TimeWindow(start, self._shift(start, 1)))
            start = self._shift(start, 1)
        if self.end_offset < 0:
            windows = windows[: self.end_offset]
        return windows

    def get_partition_keys(self, current_time: datetime | None = None, dynamic_partitions_store: Any = None) -> list[str]:
        return [w.start.strftime(self.fmt) for w in self._windows(current_time)]

    def time_window_for_partition_key(self, partition_key: str) -> TimeWindow:
        try:
            start = datetime.strptime(partition_key, self.fmt).replace(tzinfo=self._tz)
        except ValueError:
            example = self.start.strftime(self.fmt)
            raise DagsterUnknownPartitionError(
                f"Partition key '{partition_key}' does not match the format '{self.fmt}' (for example '{example}')."
            ) from None
        return TimeWindow(start, self._shift(start, 1))

    def validate_partition_key(
        self,
        partition_key: str,
        owner_name: str | None = None,
        current_time: datetime | None = None,
        dynamic_partitions_store: Any = None,
    ) -> None:
        self.time_window_for_partition_key(partition_key)  # a clear message for a bad format
        super().validate_partition_key(partition_key, owner_name, current_time, dynamic_partitions_store)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TimeWindowPartitionsDefinition) and self._eq_key() == other._eq_key()

    def _eq_key(self) -> tuple[Any, ...]:
        return (self.start, self.end, self.fmt, self.schedule_type, self.timezone, self.minute_offset, self.hour_offset, self.day_offset, self.end_offset)

    def __hash__(self) -> int:
        return hash((self.start, self.fmt, self.schedule_type, self.timezone))


class DailyPartitionsDefinition(TimeWindowPartitionsDefinition):
    def __init__(
        self,
        start_date: datetime | str,
        end_date: datetime | str | None = None,
        minute_offset: int = 0,
        hour_offset: int = 0,
        timezone: str | None = None,
        fmt: str | None = None,
        end_offset: int = 0,
    ) -> None:
        super().__init__(start_date, fmt or "%Y-%m-%d", end_date, "DAILY", timezone, end_offset, minute_offset, hour_offset)


class HourlyPartitionsDefinition(TimeWindowPartitionsDefinition):
    def __init__(
        self,
        start_date: datetime | str,
        end_date: datetime | str | None = None,
        minute_offset: int = 0,
        timezone: str | None = None,
        fmt: str | None = None,
        end_offset: int = 0,
    ) -> None:
        super().__init__(start_date, fmt or "%Y-%m-%d-%H:%M", end_date, "HOURLY", timezone, end_offset, minute_offset)


class WeeklyPartitionsDefinition(TimeWindowPartitionsDefinition):
    def __init__(
        self,
        start_date: datetime | str,
        end_date: datetime | str | None = None,
        minute_offset: int = 0,
        hour_offset: int = 0,
        day_offset: int = 0,
        timezone: str | None = None,
        fmt: str | None = None,
        end_offset: int = 0,
    ) -> None:
        super().__init__(start_date, fmt or "%Y-%m-%d", end_date, "WEEKLY", timezone, end_offset, minute_offset, hour_offset, day_offset)


class MonthlyPartitionsDefinition(TimeWindowPartitionsDefinition):
    def __init__(
        self,
        start_date: datetime | str,
        end_date: datetime | str | None = None,
        minute_offset: int = 0,
        hour_offset: int = 0,
        day_offset: int = 1,
        timezone: str | None = None,
        fmt: str | None = None,
        end_offset: int = 0,
    ) -> None:
        super().__init__(start_date, fmt or "%Y-%m-%d", end_date, "MONTHLY", timezone, end_offset, minute_offset, hour_offset, day_offset)


class AddDynamicPartitionsRequest(NamedTuple):
    partitions_def_name: str
    partition_keys: list[str]


class DeleteDynamicPartitionsRequest(NamedTuple):
    partitions_def_name: str
    partition_keys: list[str]


class DynamicPartitionsDefinition(PartitionsDefinition):
    """Keys from `partition_fn(current_time)`, or, with a name, from the instance's
    store of dynamic partitions."""

    def __init__(self, partition_fn: Callable[[datetime | None], Sequence[str]] | None = None, name: str | None = None) -> None:
        if (partition_fn is None) == (name is None):
            raise DagsterInvalidDefinitionError("DynamicPartitionsDefinition takes exactly one of partition_fn or name.")
        self.partition_fn = partition_fn
        self.name = name

    def get_partition_keys(self, current_time: datetime | None = None, dynamic_partitions_store: Any = None) -> list[str]:
        if self.partition_fn is not None:
            return list(self.partition_fn(current_time))
        if dynamic_partitions_store is None:
            return []
        return list(dynamic_partitions_store.get_dynamic_partitions(self.name))

    def build_add_request(self, partition_keys: Sequence[str]) -> AddDynamicPartitionsRequest:
        return AddDynamicPartitionsRequest(str(self.name), list(partition_keys))

    def build_delete_request(self, partition_keys: Sequence[str]) -> DeleteDynamicPartitionsRequest:
        return DeleteDynamicPartitionsRequest(str(self.name), list(partition_keys))


_MULTI_KEY_FORBIDDEN = ("|", "[", "]", ",")


class PartitionDimensionKey(NamedTuple):
    dimension_name: str
    partition_key: str


class PartitionDimensionDefinition(NamedTuple):
    name: str
    partitions_def: PartitionsDefinition


class MultiPartitionKey(str):
    """A key of a `MultiPartitionsDefinition`: a plain string (the dimensions' keys
    joined by `|`, in the order of the sorted dimension names, e.g. `"a|x"`) that also
    knows its parts (`keys_by_dimension`)."""

    _keys_by_dimension: dict[str, str]

    def __new__(cls, keys_by_dimension: Mapping[str, str]) -> MultiPartitionKey:
        if not isinstance(keys_by_dimension, Mapping) or not keys_by_dimension:
            raise DagsterInvalidDefinitionError(
                f"MultiPartitionKey takes a dict of dimension name to partition key, got {keys_by_dimension!r}"
            )
        ordered = {name: keys_by_dimension[name] for name in sorted(keys_by_dimension)}
        bad = [k for k in ordered.values() if not isinstance(k, str)]
        if bad:
            raise DagsterInvalidDefinitionError(f"MultiPartitionKey: partition keys must be strings, got {bad[0]!r}")
        made = super().__new__(cls, "|".join(ordered.values()))
        made._keys_by_dimension = ordered
        return made

    @property
    def keys_by_dimension(self) -> dict[str, str]:
        return dict(self._keys_by_dimension)

    @property
    def dimension_keys(self) -> list[PartitionDimensionKey]:
        return [PartitionDimensionKey(name, key) for name, key in self._keys_by_dimension.items()]

    def __getnewargs__(self) -> tuple[Any, ...]:  # pickles by its parts, not its text
        return (self._keys_by_dimension,)


class MultiPartitionsDefinition(PartitionsDefinition):
    """Partitions that are pairs of keys of two dimensions, each its own partitions
    definition (`{"date": DailyPartitionsDefinition(...), "region": StaticPartitionsDefinition([...])}`).
    Keys are `MultiPartitionKey`s such as `"2024-01-01|eu"`: the dimensions ordered by name."""

    def __init__(self, partitions_defs: Mapping[str, PartitionsDefinition]) -> None:
        if not isinstance(partitions_defs, Mapping):
            raise DagsterInvalidDefinitionError(
                f"MultiPartitionsDefinition takes a dict of dimension name to partitions definition, got {partitions_defs!r}"
            )
        if len(partitions_defs) != 2:
            raise DagsterInvalidInvocationError(
                "Dagster currently only supports multi-partitions definitions with 2 partitions definitions. "
                f"Your multi-partitions definition has {len(partitions_defs)} partitions definitions."
            )
        for name, definition in partitions_defs.items():
            if not isinstance(definition, PartitionsDefinition) or isinstance(definition, MultiPartitionsDefinition):
                raise DagsterInvalidDefinitionError(
                    f"MultiPartitionsDefinition: dimension '{name}' must be a (single-dimension) partitions definition, "
                    f"got {definition!r}"
                )
            if isinstance(definition, StaticPartitionsDefinition):
                bad = [k for k in definition.get_partition_keys() if any(c in k for c in _MULTI_KEY_FORBIDDEN)]
                if bad:
                    raise DagsterInvalidDefinitionError(
                        f"Invalid character in partition key {bad[0]!r} for dimension {name}. A multi-partitions "
                        f"definition cannot contain partition keys with the following characters: {', '.join(_MULTI_KEY_FORBIDDEN)}"
                    )
        self._dimensions = [PartitionDimensionDefinition(name, partitions_defs[name]) for name in sorted(partitions_defs)]

    @property
    def partitions_defs(self) -> list[PartitionDimensionDefinition]:
        return list(self._dimensions)

    @property
    def partition_dimension_names(self) -> list[str]:
        return [d.name for d in self._dimensions]

    def get_partitions_def_for_dimension(self, dimension_name: str) -> PartitionsDefinition:
        for dimension in self._dimensions:
            if dimension.name == dimension_name:
                return dimension.partitions_def
        raise DagsterInvalidInvocationError(
            f"No dimension '{dimension_name}': the dimensions are {self.partition_dimension_names}."
        )

    def _time_dimensions(self) -> list[PartitionDimensionDefinition]:
        return [d for d in self._dimensions if isinstance(d.partitions_def, TimeWindowPartitionsDefinition)]

    @property
    def has_time_window_dimension(self) -> bool:
        return bool(self._time_dimensions())

    @property
    def time_window_dimension(self) -> PartitionDimensionDefinition:
        found = self._time_dimensions()
        if len(found) != 1:
            raise DagsterInvariantViolationError(
                f"Expected exactly one time window partitioned dimension, found {len(found)}: {self.partition_dimension_names}."
            )
        return found[0]

    @property
    def primary_dimension(self) -> PartitionDimensionDefinition:
        """The time dimension if there is exactly one, else the first by name."""
        found = self._time_dimensions()
        return found[0] if len(found) == 1 else self._dimensions[0]

    @property
    def secondary_dimension(self) -> PartitionDimensionDefinition:
        primary = self.primary_dimension
        return next(d for d in self._dimensions if d.name != primary.name)

    def get_partition_keys(self, current_time: datetime | None = None, dynamic_partitions_store: Any = None) -> list[str]:
        first, second = (d.partitions_def.get_partition_keys(current_time, dynamic_partitions_store) for d in self._dimensions)
        (a, _), (b, _) = self._dimensions
        return [MultiPartitionKey({a: x, b: y}) for x in first for y in second]

    def get_num_partitions(self, current_time: datetime | None = None, dynamic_partitions_store: Any = None) -> int:
        return len(self.get_partition_keys(current_time, dynamic_partitions_store))

    def get_partition_key_from_str(self, partition_key_str: str) -> MultiPartitionKey:
        """The MultiPartitionKey that `"a|x"` names (one part per dimension)."""
        if isinstance(partition_key_str, MultiPartitionKey):
            return partition_key_str
        parts = str(partition_key_str).split("|")
        if len(parts) != len(self._dimensions):
            raise DagsterUnknownPartitionError(
                f"Partition key '{partition_key_str}' has {len(parts)} part(s); a key of this multi-partitions "
                f"definition has one per dimension {self.partition_dimension_names}, joined by '|' (e.g. "
                f"'{self._example_key()}')."
            )
        return MultiPartitionKey({d.name: part for d, part in zip(self._dimensions, parts, strict=True)})

    def _example_key(self) -> str:
        keys = self.get_partition_keys()
        return str(keys[0]) if keys else "|".join(f"<{name}>" for name in self.partition_dimension_names)

    def has_partition_key(self, partition_key: str, current_time: datetime | None = None, dynamic_partitions_store: Any = None) -> bool:
        parts = str(partition_key).split("|")
        return len(parts) == len(self._dimensions) and all(
            d.partitions_def.has_partition_key(part, current_time, dynamic_partitions_store)
            for d, part in zip(self._dimensions, parts, strict=True)
        )

    def validate_partition_key(
        self,
        partition_key: str,
        owner_name: str | None = None,
        current_time: datetime | None = None,
        dynamic_partitions_store: Any = None,
    ) -> None:
        """An unknown key names the dimension whose part is not one of its keys."""
        key = self.get_partition_key_from_str(partition_key)
        owner = f" of {owner_name}" if owner_name else ""
        for dimension, part in zip(self._dimensions, key.keys_by_dimension.values(), strict=True):
            try:
                dimension.partitions_def.validate_partition_key(part, None, current_time, dynamic_partitions_store)
            except DagsterUnknownPartitionError as exc:
                raise DagsterUnknownPartitionError(
                    f"Partition key '{partition_key}'{owner} is not valid: in dimension '{dimension.name}', {exc}"
                ) from None

    def get_partition_keys_in_range(self, partition_key_range: PartitionKeyRange, dynamic_partitions_store: Any = None) -> list[str]:
        """Every key whose part in each dimension lies between the range's parts."""
        start = self.get_partition_key_from_str(partition_key_range.start).keys_by_dimension
        end = self.get_partition_key_from_str(partition_key_range.end).keys_by_dimension
        first, second = (
            d.partitions_def.get_partition_keys_in_range(PartitionKeyRange(start[d.name], end[d.name]), dynamic_partitions_store)
            for d in self._dimensions
        )
        (a, _), (b, _) = self._dimensions
        return [MultiPartitionKey({a: x, b: y}) for x in first for y in second]

    def get_multipartition_keys_with_dimension_value(
        self, dimension_name: str, dimension_partition_key: str, dynamic_partitions_store: Any = None, current_time: datetime | None = None,
    ) -> list[MultiPartitionKey]:
        self.get_partitions_def_for_dimension(dimension_name)  # an unknown dimension is an error
        keys = self.get_partition_keys(current_time, dynamic_partitions_store)
        return [k for k in keys if isinstance(k, MultiPartitionKey) and k.keys_by_dimension[dimension_name] == dimension_partition_key]

    def time_window_for_partition_key(self, partition_key: str) -> TimeWindow:
        """The time window of the key's time dimension (there must be exactly one)."""
        found = self._time_dimensions()
        if len(found) != 1:
            raise DagsterInvariantViolationError(
                "Expected a TimeWindowPartitionsDefinition or MultiPartitionsDefinition with a single time dimension, "
                f"but this MultiPartitionsDefinition has dimensions {self.partition_dimension_names} "
                f"({len(found)} of them time windows)."
            )
        dimension = found[0]
        part = self.get_partition_key_from_str(partition_key).keys_by_dimension[dimension.name]
        window_fn = dimension.partitions_def.time_window_for_partition_key  # type: ignore[attr-defined]  # a time window definition
        window: TimeWindow = window_fn(part)
        return window

    def get_tags_for_partition_key(self, partition_key: str) -> dict[str, str]:
        """`dagster/partition/<dimension>` for each dimension, as Dagster tags a run."""
        key = self.get_partition_key_from_str(partition_key)
        return {f"dagster/partition/{name}": part for name, part in key.keys_by_dimension.items()}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MultiPartitionsDefinition) and other._dimensions == self._dimensions

    def __hash__(self) -> int:
        return hash(tuple(d.name for d in self._dimensions))

    def __repr__(self) -> str:
        return f"MultiPartitionsDefinition({ {d.name: d.partitions_def for d in self._dimensions} !r})"


def _as_dict(value: Any) -> dict[str, Any]:
    to_dict = getattr(value, "to_config_dict", None)
    if callable(to_dict):
        plain: dict[str, Any] = to_dict()  # a Config object
        return plain
    return dict(value or {})


class PartitionedConfig:
    """A partitions definition plus the run config (and tags) for each key."""

    def __init__(
        self,
        partitions_def: PartitionsDefinition,
        run_config_for_partition_key_fn: Callable[[str], Any] | None = None,
        tags_for_partition_key_fn: Callable[[str], Mapping[str, str]] | None = None,
        decorated_fn: Callable[..., Any] | None = None,
    ) -> None:
        self._partitions_def = partitions_def
        self.run_config_for_partition_key_fn = run_config_for_partition_key_fn or (lambda _key: {})
        self.tags_for_partition_key_fn = tags_for_partition_key_fn
        self.decorated_fn = decorated_fn

    @property
    def partitions_def(self) -> PartitionsDefinition:
        return self._partitions_def

    def get_partition_keys(self, current_time: datetime | None = None) -> list[str]:
        """The keys this config can be applied to: its partitions definition's."""
        return self._partitions_def.get_partition_keys(current_time)

    def get_run_config_for_partition_key(self, partition_key: str) -> dict[str, Any]:
        self._partitions_def.validate_partition_key(partition_key)
        if isinstance(self._partitions_def, MultiPartitionsDefinition):
            partition_key = self._partitions_def.get_partition_key_from_str(partition_key)  # keys_by_dimension for the function
        return _as_dict(self.run_config_for_partition_key_fn(partition_key))

    def get_tags_for_partition_key(self, partition_key: str, job_name: str | None = None) -> dict[str, str]:
        tags = {"dagster/partition": str(partition_key)}
        if isinstance(self._partitions_def, MultiPartitionsDefinition):
            tags.update(self._partitions_def.get_tags_for_partition_key(partition_key))
        if job_name:
            tags["dagster/partition_set"] = f"{job_name}_partition_set"
        if self.tags_for_partition_key_fn is not None:
            tags.update({k: str(v) for k, v in self.tags_for_partition_key_fn(partition_key).items()})
        return tags

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.decorated_fn is None:
            raise DagsterInvalidDefinitionError("This PartitionedConfig was not made by a decorator, so it cannot be called.")
        return self.decorated_fn(*args, **kwargs)

    @staticmethod
    def from_flexible_config(config: Any, partitions_def: PartitionsDefinition) -> PartitionedConfig:
        if isinstance(config, PartitionedConfig):
            return config
        if callable(config) and not isinstance(config, Mapping):
            return PartitionedConfig(partitions_def, config)
        fixed = _as_dict(config)
        return PartitionedConfig(partitions_def, lambda _key: fixed)


def static_partitioned_config(
    partition_keys: Sequence[str],
    tags_for_partition_key_fn: Callable[[str], Mapping[str, str]] | None = None,
) -> Callable[[Callable[[str], Any]], PartitionedConfig]:
    def wrap(fn: Callable[[str], Any]) -> PartitionedConfig:
        return PartitionedConfig(StaticPartitionsDefinition(partition_keys), fn, tags_for_partition_key_fn, fn)

    return wrap


def dynamic_partitioned_config(
    partition_fn: Callable[[datetime | None], Sequence[str]],
    tags_for_partition_key_fn: Callable[[str], Mapping[str, str]] | None = None,
) -> Callable[[Callable[[str], Any]], PartitionedConfig]:
    def wrap(fn: Callable[[str], Any]) -> PartitionedConfig:
        return PartitionedConfig(DynamicPartitionsDefinition(partition_fn), fn, tags_for_partition_key_fn, fn)

    return wrap


def _time_partitioned(make: Callable[..., TimeWindowPartitionsDefinition]) -> Callable[..., Callable[[Callable[[datetime, datetime], Any]], PartitionedConfig]]:
    def decorator(
        start_date: datetime | str,
        *args: Any,
        tags_for_partition_fn: Callable[[datetime, datetime], Mapping[str, str]] | None = None,
        **kwargs: Any,
    ) -> Callable[[Callable[[datetime, datetime], Any]], PartitionedConfig]:
        partitions_def = make(start_date, *args, **kwargs)

        def wrap(fn: Callable[[datetime, datetime], Any]) -> PartitionedConfig:
            def config_for_key(key: str) -> Any:
                window = partitions_def.time_window_for_partition_key(key)
                return fn(window.start, window.end)

            tags_fn = None
            if tags_for_partition_fn is not None:
                def tags_fn(key: str) -> Mapping[str, str]:
                    window = partitions_def.time_window_for_partition_key(key)
                    return tags_for_partition_fn(window.start, window.end)

            return PartitionedConfig(partitions_def, config_for_key, tags_fn, fn)

        return wrap

    return decorator


daily_partitioned_config = _time_partitioned(DailyPartitionsDefinition)
hourly_partitioned_config = _time_partitioned(HourlyPartitionsDefinition)
weekly_partitioned_config = _time_partitioned(WeeklyPartitionsDefinition)
monthly_partitioned_config = _time_partitioned(MonthlyPartitionsDefinition)
