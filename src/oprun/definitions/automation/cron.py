"""Cron expressions for schedules: parse and check the five standard fields, and
step through the times a schedule fires in its time zone.

Pure functions over `datetime` and `zoneinfo`; nothing here knows about jobs,
runs or the daemon. Daylight saving time follows Dagster's documented rules:

- a time that does not exist on the day clocks go forward runs at the first time
  that does (a daily 2:30 runs at 3:00), unless the schedule fires every hour,
  which then simply has one hour fewer that day;
- a time that exists twice on the day clocks go back runs once, at the second
  occurrence, unless the schedule fires every hour, which then runs in both hours.
"""

from __future__ import annotations

import bisect
import calendar
import heapq
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

_MONTHS = {n: i for i, n in enumerate(("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1)}
_WEEKDAYS = {n: i for i, n in enumerate(("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"))}

# (name, lowest, highest, names). Day of week accepts 7 as a second Sunday.
_FIELDS: tuple[tuple[str, int, int, dict[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _WEEKDAYS),
)

# Longest run of days without a match for any satisfiable expression: Feb 29
# skips 2100, so eight years; the bound only guards against a bug looping forever.
_MAX_STEPS = 40_000


class CronError(ValueError):
    """A cron expression is malformed; the message says which field and why."""


@dataclass(frozen=True)
class Cron:
    """One parsed cron expression. Weekdays count from Sunday = 0."""

    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    last_day_of_month: bool
    months: tuple[int, ...]
    weekdays: frozenset[int]
    nth_weekdays: frozenset[tuple[int, int]]  # (weekday, n): the n-th such weekday of the month
    last_weekdays: frozenset[int]  # the last such weekday of the month
    day_restricted: bool
    weekday_restricted: bool

    @property
    def every_hour(self) -> bool:
        """Fires in every hour of the day: DST then shifts it hour by hour."""
        return len(self.hours) == 24

    def matches_day(self, day: date) -> bool:
        weekday = (day.weekday() + 1) % 7
        last = calendar.monthrange(day.year, day.month)[1]
        by_day = day.day in self.days or (self.last_day_of_month and day.day == last)
        by_weekday = (
            weekday in self.weekdays
            or (weekday, (day.day - 1) // 7 + 1) in self.nth_weekdays
            or (weekday in self.last_weekdays and day.day + 7 > last)
        )
        # Standard cron: when both day fields are restricted, either may match.
        if self.day_restricted and self.weekday_restricted:
            return by_day or by_weekday
        if self.day_restricted:
            return by_day
        if self.weekday_restricted:
            return by_weekday
        return True

    def next_after(self, moment: datetime) -> datetime:
        """The first wall-clock minute strictly after `moment` (naive) that matches."""
        t = moment.replace(second=0, microsecond=0, tzinfo=None) + timedelta(minutes=1)
        for _ in range(_MAX_STEPS):
            if t.month not in self.months:
                i = bisect.bisect_right(self.months, t.month)
                year, month = (t.year, self.months[i]) if i < len(self.months) else (t.year + 1, self.months[0])
                t = datetime(year, month, 1)
                continue
            if not self.matches_day(t.date()):
                t = datetime(t.year, t.month, t.day) + timedelta(days=1)
                continue
            if t.hour not in self.hours:
                i = bisect.bisect_right(self.hours, t.hour)
                if i == len(self.hours):
                    t = datetime(t.year, t.month, t.day) + timedelta(days=1)
                else:
                    t = t.replace(hour=self.hours[i], minute=0)
                continue
            if t.minute not in self.minutes:
                i = bisect.bisect_right(self.minutes, t.minute)
                if i == len(self.minutes):
                    t = t.replace(minute=0) + timedelta(hours=1)
                else:
                    t = t.replace(minute=self.minutes[i])
                continue
            return t
        raise CronError(f"cron expression '{self.expression}' never fires")


def parse_cron(expression: str) -> Cron:
    """Parse a five-field cron expression (or an alias such as `@daily`)."""
    if not isinstance(expression, str):
        raise CronError(f"expected a string, got {type(expression).__name__}")
    text = expression.strip()
    text = ALIASES.get(text.lower(), text)
    parts = text.split()
    if len(parts) != 5:
        raise CronError(f"expected 5 fields (minute hour day-of-month month day-of-week), found {len(parts)}")
    minutes, _ = _parse_field(parts[0], 0)
    hours, _ = _parse_field(parts[1], 1)
    days, day_special = _parse_field(parts[2], 2)
    months, _ = _parse_field(parts[3], 3)
    weekdays, weekday_special = _parse_field(parts[4], 4)
    weekdays = {0 if d == 7 else d for d in weekdays}
    nth = frozenset(s for s in weekday_special if isinstance(s, tuple))
    last_weekdays = frozenset(s for s in weekday_special if isinstance(s, int))
    cron = Cron(
        expression=expression,
        minutes=tuple(sorted(minutes)),
        hours=tuple(sorted(hours)),
        days=frozenset(days),
        last_day_of_month="L" in day_special,
        months=tuple(sorted(months)),
        weekdays=frozenset(weekdays),
        nth_weekdays=nth,
        last_weekdays=last_weekdays,
        day_restricted=len(days) != 31 or bool(day_special),
        weekday_restricted=len(weekdays) != 7 or bool(weekday_special),
    )
    _check_satisfiable(cron)
    return cron


def cron_problem(expression: str) -> str | None:
    """Why `expression` is not a valid cron expression, or None when it is."""
    try:
        parse_cron(expression)
    except CronError as error:
        return str(error)
    return None


def is_valid_cron_string(expression: str) -> bool:
    return cron_problem(expression) is None


def _parse_field(text: str, index: int) -> tuple[set[int], set[object]]:
    name, low, high, names = _FIELDS[index]
    values: set[int] = set()
    special: set[object] = set()
    for item in text.split(","):
        if not item:
            raise CronError(f"{name} field '{text}' has an empty list item")
        upper = item.upper()
        if index == 2 and upper == "L":
            special.add("L")
            continue
        if index == 4 and "#" in upper:
            day_text, _, n_text = upper.partition("#")
            if not n_text.isdigit() or not 1 <= int(n_text) <= 5:
                raise CronError(f"{name} item '{item}': the number after '#' must be 1 to 5")
            special.add((_value(day_text, name, low, high, names) % 7, int(n_text)))
            continue
        if index == 4 and upper.endswith("L") and len(upper) > 1:
            special.add(_value(upper[:-1], name, low, high, names) % 7)
            continue
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{name} item '{item}': the step after '/' must be a positive whole number")
            step = int(step_text)
        if base == "*" or (base == "?" and index in (2, 4)):
            start, stop = low, high
        elif "-" in base:
            first, _, last = base.partition("-")
            start, stop = _value(first, name, low, high, names), _value(last, name, low, high, names)
            if start > stop:
                raise CronError(f"{name} range '{base}' runs backwards: write the smaller value first")
        else:
            start = _value(base, name, low, high, names)
            stop = high if slash else start  # 'a/n' means every n-th value from a
        values.update(range(start, stop + 1, step))
    return values, special


def _value(text: str, field: str, low: int, high: int, names: dict[str, int]) -> int:
    if text.isdigit():
        value = int(text)
    elif text.upper() in names:
        return names[text.upper()]
    else:
        raise CronError(f"{field} value '{text}' is not a number" + (" or a name such as " + next(iter(names)) if names else ""))
    if not low <= value <= high:
        raise CronError(f"{field} value {value} is out of range {low}-{high}")
    return value


def _check_satisfiable(cron: Cron) -> None:
    if cron.weekday_restricted or cron.last_day_of_month:
        return
    longest = max(calendar.monthrange(2024, m)[1] for m in cron.months)  # 2024: a leap year
    if min(cron.days) > longest:
        raise CronError(f"day {min(cron.days)} never occurs in the months given, so the schedule would never fire")


# --- stepping through fire times ------------------------------------------------------------


def fire_times(crons: Sequence[Cron], tz: tzinfo, start: datetime) -> Iterator[datetime]:
    """Every time any of `crons` fires strictly after `start`, in order, as aware
    datetimes in `tz`. A naive `start` is read as wall-clock time in `tz`."""
    if start.tzinfo is None:
        start = start.replace(tzinfo=tz)
    # Ordered by timestamp: datetimes sharing a tzinfo compare by wall time and
    # ignore `fold`, which would put the two passes through a repeated hour together.
    streams = [_instants(cron, tz, start.timestamp()) for cron in crons]
    merged = streams[0] if len(streams) == 1 else heapq.merge(*streams)
    last = start.timestamp()
    for stamp, moment in merged:
        if stamp > last:
            last = stamp
            yield moment


def _instants(cron: Cron, tz: tzinfo, start: float) -> Iterator[tuple[float, datetime]]:
    local = datetime.fromtimestamp(start, tz)
    cursor = local.replace(tzinfo=None)
    if local.fold == 0 and _kind(cursor, tz) == "ambiguous":
        # Start lies in the first pass through a repeated hour: the second pass is
        # still ahead, so step through the repeated wall-clock times again.
        cursor -= _offset(cursor, tz, 0) - _offset(cursor, tz, 1)
    pending: datetime | None = None
    while True:
        candidate = pending if pending is not None else cron.next_after(cursor)
        pending = None
        kind = _kind(candidate, tz)
        if kind == "unique":
            moments = [candidate.replace(tzinfo=tz)]
        elif kind == "gap":
            moments = [] if cron.every_hour else [_gap_end(candidate, tz)]
        elif cron.every_hour:
            repeated = [candidate]
            following = cron.next_after(candidate)
            while _kind(following, tz) == "ambiguous":
                repeated.append(following)
                following = cron.next_after(following)
            pending = following
            moments = [t.replace(tzinfo=tz, fold=0) for t in repeated] + [t.replace(tzinfo=tz, fold=1) for t in repeated]
            candidate = repeated[-1]
        else:
            moments = [candidate.replace(tzinfo=tz, fold=1)]
        for moment in moments:
            stamp = moment.timestamp()
            if stamp > start:
                yield stamp, moment
        cursor = candidate


def _offset(naive: datetime, tz: tzinfo, fold: int) -> timedelta:
    offset = naive.replace(tzinfo=tz, fold=fold).utcoffset()
    return offset if offset is not None else timedelta(0)


def _kind(naive: datetime, tz: tzinfo) -> str:
    """'unique', 'ambiguous' (the wall time occurs twice) or 'gap' (it never occurs)."""
    if _offset(naive, tz, 0) == _offset(naive, tz, 1):
        return "unique"
    round_trip = naive.replace(tzinfo=tz, fold=0).astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    return "ambiguous" if round_trip == naive else "gap"


def _gap_end(naive: datetime, tz: tzinfo) -> datetime:
    """The instant clocks jumped over `naive`, i.e. the first wall time after the gap."""
    a = int(naive.replace(tzinfo=tz, fold=0).timestamp())
    b = int(naive.replace(tzinfo=tz, fold=1).timestamp())
    low, high = min(a, b), max(a, b)
    after = datetime.fromtimestamp(high, tz).utcoffset()
    # Binary search, to the second, for the first instant with the new offset.
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, tz).utcoffset() == after:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, tz)
