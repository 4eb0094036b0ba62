"""Partitions: keys of each kind at a fixed time, offsets, timezones across a DST
change, bad keys with their messages, and PartitionedConfig."""

from datetime import datetime, timezone

import pytest

from oprun import (
    DagsterUnknownPartitionError,
    DailyPartitionsDefinition,
    DynamicPartitionsDefinition,
    HourlyPartitionsDefinition,
    MonthlyPartitionsDefinition,
    PartitionedConfig,
    StaticPartitionsDefinition,
    WeeklyPartitionsDefinition,
    daily_partitioned_config,
    static_partitioned_config,
)
from oprun.errors import DagsterInvalidDefinitionError

NOW = datetime(2024, 3, 5, 10, 30, tzinfo=timezone.utc)


def test_static_keys_and_duplicates():
    assert StaticPartitionsDefinition(["a", "b"]).get_partition_keys() == ["a", "b"]
    with pytest.raises(DagsterInvalidDefinitionError, match=r"Duplicate partition keys: \['a'\]"):
        StaticPartitionsDefinition(["a", "a"])


def test_time_windows_end_at_the_last_complete_window():
    daily = DailyPartitionsDefinition(start_date="2024-03-01")
    assert daily.get_partition_keys(current_time=NOW) == ["2024-03-01", "2024-03-02", "2024-03-03", "2024-03-04"]
    offset = DailyPartitionsDefinition(start_date="2024-03-01", end_offset=1)
    assert offset.get_partition_keys(current_time=NOW)[-1] == "2024-03-05"
    hourly = HourlyPartitionsDefinition(start_date=datetime(2024, 3, 5, 7))
    assert hourly.get_partition_keys(current_time=NOW) == ["2024-03-05-07:00", "2024-03-05-08:00", "2024-03-05-09:00"]
    weekly = WeeklyPartitionsDefinition(start_date="2024-02-04")  # a Sunday
    assert weekly.get_partition_keys(current_time=NOW) == ["2024-02-04", "2024-02-11", "2024-02-18", "2024-02-25"]
    monthly = MonthlyPartitionsDefinition(start_date="2023-12-01")
    assert monthly.get_partition_keys(current_time=NOW) == ["2023-12-01", "2024-01-01", "2024-02-01"]
    assert daily.cron_schedule == "0 0 * * *"
    assert DailyPartitionsDefinition(start_date="2024-01-01", hour_offset=1, minute_offset=30).cron_schedule == "30 1 * * *"


def test_windows_follow_wall_time_across_dst():
    daily = DailyPartitionsDefinition(start_date="2024-03-09", timezone="America/New_York")
    window = daily.time_window_for_partition_key("2024-03-10")  # 23 hours long
    elapsed = window.end.astimezone(timezone.utc) - window.start.astimezone(timezone.utc)
    assert elapsed.total_seconds() == 23 * 3600
    assert (window.start.hour, window.end.hour) == (0, 0)
    keys = daily.get_partition_keys(current_time=datetime(2024, 3, 12, 12, tzinfo=timezone.utc))
    assert keys == ["2024-03-09", "2024-03-10", "2024-03-11"]


def test_bad_keys_say_what_was_expected():
    daily = DailyPartitionsDefinition(start_date="2024-03-01")
    with pytest.raises(DagsterUnknownPartitionError, match="format '%Y-%m-%d'"):
        daily.time_window_for_partition_key("March 3rd")
    with pytest.raises(DagsterUnknownPartitionError, match=r"'asia'.*\['us', 'eu'\]"):
        StaticPartitionsDefinition(["us", "eu"]).validate_partition_key("asia", owner_name="job 'by_region'")
    with pytest.raises(DagsterUnknownPartitionError, match="Did you mean 'eu'"):
        StaticPartitionsDefinition(["us", "eu"]).validate_partition_key("euu")


def test_dynamic_partitions():
    assert DynamicPartitionsDefinition(lambda _t: ["x", "y"]).get_partition_keys() == ["x", "y"]

    class Store:
        def get_dynamic_partitions(self, name):
            return {"files": ["f1"]}[name]

    named = DynamicPartitionsDefinition(name="files")
    assert named.get_partition_keys(dynamic_partitions_store=Store()) == ["f1"]
    assert named.build_add_request(["f2"]).partition_keys == ["f2"]
    with pytest.raises(DagsterInvalidDefinitionError, match="exactly one"):
        DynamicPartitionsDefinition()


def test_partitioned_config_and_decorators_stay_callable():
    @static_partitioned_config(partition_keys=["a", "b"], tags_for_partition_key_fn=lambda k: {"region": k})
    def by_key(key):
        return {"ops": {"x": {"config": key}}}

    assert by_key("a") == {"ops": {"x": {"config": "a"}}}
    assert by_key.get_run_config_for_partition_key("b") == {"ops": {"x": {"config": "b"}}}
    assert by_key.get_tags_for_partition_key("a", job_name="j") == {
        "dagster/partition": "a", "dagster/partition_set": "j_partition_set", "region": "a",
    }

    @daily_partitioned_config(start_date=datetime(2024, 1, 1))
    def daily(start, end):
        return {"start": start.strftime("%Y-%m-%d"), "end": end.strftime("%Y-%m-%d")}

    assert daily.get_run_config_for_partition_key("2024-01-02") == {"start": "2024-01-02", "end": "2024-01-03"}
    fixed = PartitionedConfig.from_flexible_config({"ops": {}}, StaticPartitionsDefinition(["k"]))
    assert fixed.get_run_config_for_partition_key("k") == {"ops": {}}
