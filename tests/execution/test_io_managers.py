"""IO managers: custom ones by key, input managers, the filesystem one, the
pythonic ones, and the test context builders."""

import os
import pickle

from oprun import (
    ConfigurableIOManager,
    FilesystemIOManager,
    In,
    InputContext,
    IOManager,
    Out,
    OutputContext,
    build_input_context,
    build_output_context,
    input_manager,
    io_manager,
    job,
    op,
)


class DictIOManager(IOManager):
    def __init__(self):
        self.stored = {}
        self.seen = []

    def handle_output(self, context: OutputContext, obj):
        self.seen.append(("out", context.step_key, context.name, tuple(context.get_identifier())))
        self.stored[(context.step_key, context.name)] = obj

    def load_input(self, context: InputContext):
        upstream = context.upstream_output
        self.seen.append(("in", context.name, upstream.step_key))
        return self.stored[(upstream.step_key, upstream.name)]


def test_custom_io_manager_by_key_sees_contexts_and_emits_events():
    manager = DictIOManager()

    @io_manager
    def dict_manager(_init):
        return manager

    @op(out=Out(io_manager_key="dicts"))
    def make() -> int:
        return 41

    @op
    def use(x: int) -> int:
        return x + 1

    @job(resource_defs={"dicts": dict_manager})
    def j():
        use(make())

    result = j.execute_in_process()
    assert result.output_for_node("use") == 42
    assert ("in", "x", "make") in manager.seen
    out = [s for s in manager.seen if s[0] == "out"][0]
    assert out[1:3] == ("make", "result") and out[3][1:] == ("make", "result")
    handled = [e for e in result.all_events if e.event_type_value == "HANDLED_OUTPUT" and e.step_key == "make"]
    assert handled[0].event_specific_data.manager_key == "dicts"


def test_input_manager_loads_an_unconnected_input():
    @input_manager
    def from_table(context):
        return f"rows of {context.name}"

    @op(ins={"table": In(input_manager_key="tables")})
    def read(table):
        return table

    @job(resource_defs={"tables": from_table})
    def j():
        read()

    assert j.execute_in_process().output_for_node("read") == "rows of table"


def test_filesystem_io_manager_round_trip(tmp_path):
    manager = FilesystemIOManager(base_dir=str(tmp_path))
    out_context = build_output_context(step_key="a", name="result", run_id="r1")
    manager.handle_output(out_context, {"k": 1})
    path = tmp_path / "r1" / "a" / "result"
    with open(path, "rb") as f:
        assert pickle.load(f) == {"k": 1}
    assert [p for p in os.listdir(tmp_path / "r1" / "a") if p.startswith(".tmp")] == []
    assert manager.load_input(build_input_context(upstream_output=out_context)) == {"k": 1}


def test_pythonic_io_manager_with_config(tmp_path):
    class JsonLines(ConfigurableIOManager):
        folder: str

        def handle_output(self, context, obj):
            with open(os.path.join(self.folder, context.step_key), "w") as f:
                f.write(repr(obj))

        def load_input(self, context):
            with open(os.path.join(self.folder, context.upstream_output.step_key)) as f:
                return eval(f.read())  # noqa: S307 - the test wrote this file itself

    @op
    def make() -> list:
        return [1, 2]

    @op
    def total(xs: list) -> int:
        return sum(xs)

    @job(resource_defs={"io_manager": JsonLines(folder=str(tmp_path))})
    def j():
        total(make())

    assert j.execute_in_process().output_for_node("total") == 3
    assert (tmp_path / "make").read_text() == "[1, 2]"
