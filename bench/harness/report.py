"""Turning results into a markdown table (for issue notes) and a JSON file.

One row per metric of each scenario: the oprun and Dagster medians, the ratio
Dagster/oprun (above 1 means oprun is faster or smaller), the target and
whether it is met. Notes under the table say why a cell is n/a or an error.
"""

import json

from .targets import verdict

COLUMNS = ("scenario", "measure", "oprun", "dagster", "dagster/oprun", "target", "met")


def format_time(seconds):
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def format_value(metric, medians):
    value = medians.get(metric.key)
    if value is None:
        return "n/a"
    if metric.unit == "list":
        return ", ".join(value) if value else "none"
    if metric.unit == "bytes":
        return f"{value / 1e6:.1f} MB"
    if metric.unit == "rate":
        return f"{value:,.0f}/s"
    if metric.unit == "percent":
        return f"{value:.1f} %"
    if metric.unit == "count":
        return f"{value:,.0f}"
    text = format_time(value)
    ops = medians.get("ops")
    if metric.per_op and ops:
        text += f" ({format_time(value / ops)}/op)"
    return text


def _cell(metric, side_name, result):
    if side_name not in metric.sides:
        return "–"
    if result.status == "error":
        return "error"
    if result.status == "n/a" or metric.key in result.unavailable:
        return "n/a"
    return format_value(metric, result.medians())


def _ratio(metric, oprun, dagster):
    if metric.unit == "list" or len(metric.sides) < 2:
        return "–"
    mine, theirs = oprun.get(metric.key), dagster.get(metric.key)
    if not isinstance(mine, (int, float)) or not isinstance(theirs, (int, float)) or mine <= 0 or theirs <= 0:
        return "n/a"
    # A rate or a count is better when larger, a time or a size when smaller: the ratio
    # always reads "how many times better oprun is".
    ratio = mine / theirs if metric.unit in ("rate", "count") else theirs / mine
    return f"{ratio:.0f}×" if ratio >= 10 else f"{ratio:.2f}×"


def _met(metric, oprun, dagster):
    if not metric.targets:
        return "–"
    result = verdict(metric.targets, metric.key, oprun, dagster)
    return {True: "yes", False: "**no**", None: "n/a"}[result]


def rows(results):
    """Table rows for ``results``: a list of (scenario, {side: SideResult})."""
    table = []
    for scenario, sides in results:
        oprun, dagster = sides["oprun"], sides["dagster"]
        oprun_medians, dagster_medians = oprun.medians(), dagster.medians()
        for metric in scenario.metrics:
            table.append((
                scenario.name,
                metric.label,
                _cell(metric, "oprun", oprun),
                _cell(metric, "dagster", dagster),
                _ratio(metric, oprun_medians, dagster_medians),
                " and ".join(t.describe() for t in metric.targets) or "–",
                _met(metric, oprun_medians, dagster_medians),
            ))
    return table


def notes(results):
    """Lines explaining n/a and error cells, and capped repeats.

    Scenarios that share a reason on a side share a line, so a missing name
    that blocks many scenarios is said once.
    """
    grouped = {}  # (side, what) -> scenario names, in order
    for scenario, sides in results:
        for name, result in sides.items():
            found = []
            if result.status != "ok":
                found.append(f"{result.status}: {result.reason}")
            found += [f"{key} n/a: {why}" for key, why in sorted(result.unavailable.items())]
            if result.status == "ok" and name == "dagster" and scenario.dagster_repeat_cap:
                found.append(f"median of {len(result.samples)} run(s), capped as one is slow")
            for what in found:
                grouped.setdefault((name, what), []).append(scenario.name)
    return [f"{', '.join(names)} on {side}: {what}" for (side, what), names in grouped.items()]


def markdown(header, results):
    table = rows(results)
    out = [header, "", "| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    out += ["| " + " | ".join(row) + " |" for row in table]
    extra = notes(results)
    if extra:
        out += [""] + [f"- {line}" for line in extra]
    return "\n".join(out)


def write_json(path, machine, results):
    document = {
        "machine": machine,
        "scenarios": [
            {
                "name": scenario.name,
                "description": scenario.description,
                "sides": {name: result.to_json() for name, result in sides.items()},
            }
            for scenario, sides in results
        ],
        "table": [dict(zip(COLUMNS, row)) for row in rows(results)],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
