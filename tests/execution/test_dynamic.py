"""Dynamic outputs: map, chained maps, collect, nested graphs, and results keyed
by mapping key."""

from oprun import DynamicOut, DynamicOutput, job, op


@op(out=DynamicOut())
def numbers():
    for i in range(4):
        yield DynamicOutput(i, mapping_key=f"n{i}")


@op
def double(x: int) -> int:
    return x * 2


@op
def plus_one(x: int) -> int:
    return x + 1


@op
def total(values: list) -> int:
    return sum(values)


def test_map_then_collect():
    @job
    def j():
        total(numbers().map(double).collect())

    result = j.execute_in_process()
    assert result.success
    assert result.output_for_node("total") == 12
    assert result.output_for_node("double") == {"n0": 0, "n1": 2, "n2": 4, "n3": 6}
    assert result.output_for_node("numbers") == {"n0": 0, "n1": 1, "n2": 2, "n3": 3}
    keys = [e.step_key for e in result.get_step_success_events()]
    assert keys[0] == "numbers" and keys[-1] == "total"
    assert sorted(keys[1:-1]) == ["double[n0]", "double[n1]", "double[n2]", "double[n3]"]


def test_chained_maps_and_lambda():
    @job
    def j():
        mapped = numbers().map(double).map(lambda d: plus_one(d))
        total(mapped.collect())

    assert j.execute_in_process().output_for_node("total") == 16


def test_collect_of_the_dynamic_output_itself():
    @job
    def j():
        total(numbers().collect())

    assert j.execute_in_process().output_for_node("total") == 6


def test_context_mapping_key_and_returned_list():
    seen = []

    @op(out=DynamicOut(int))
    def listed():
        return [DynamicOutput(5, "a"), DynamicOutput(6, "b")]

    @op
    def look(context, x: int):
        seen.append((context.get_mapping_key(), x))
        return x

    @job
    def j():
        listed().map(look)

    assert j.execute_in_process().success
    assert sorted(seen) == [("a", 5), ("b", 6)]


def test_no_items_skips_the_mapped_steps_and_the_collect():
    @op(out=DynamicOut())
    def nothing():
        return []

    @job
    def j():
        total(nothing().map(double).collect())

    result = j.execute_in_process()
    assert result.success
    assert [e.step_key for e in result.get_step_skipped_events()] == ["total"]


def test_a_failing_mapped_step_fails_the_run_but_not_its_siblings():
    @op
    def fragile(x: int) -> int:
        if x == 2:
            raise RuntimeError("two")
        return x

    @job
    def j():
        total(numbers().map(fragile).collect())

    result = j.execute_in_process(raise_on_error=False)
    assert not result.success
    assert result.get_failed_step_keys() == {"fragile[n2]"}
    assert result.output_for_node("fragile") == {"n0": 0, "n1": 1, "n3": 3}
    assert result.is_node_untouched("total")


def test_duplicate_mapping_key_is_an_error():
    @op(out=DynamicOut())
    def dup():
        yield DynamicOutput(1, "a")
        yield DynamicOutput(2, "a")

    @job
    def j():
        dup()

    result = j.execute_in_process(raise_on_error=False)
    assert 'mapping_key "a" multiple times' in result.failure_data_for_node("dup").error.message


def test_ten_thousand_items():
    @op(out=DynamicOut())
    def many():
        for i in range(10_000):
            yield DynamicOutput(i, mapping_key=str(i))

    @job
    def j():
        total(many().map(double).collect())

    assert j.execute_in_process().output_for_node("total") == 2 * sum(range(10_000))
