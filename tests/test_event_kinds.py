"""Every place that records an event names its kind through `DagsterEventType`,
so a misspelt kind fails where it is written instead of being stored silently."""

import ast
import re
from pathlib import Path

from oprun import DagsterEventType

SRC = Path(__file__).resolve().parent.parent / "src" / "oprun"
KINDS = {kind.value for kind in DagsterEventType}
# What a kind looks like, so a misspelt one is caught too.
LOOKS_LIKE_A_KIND = re.compile("^(" + "|".join(sorted({k.split("_")[0] for k in KINDS})) + r")_[A-Z_]+$")


def kind_literals_passed_to_calls(root: Path) -> list[str]:
    """`file:line` of each call that is given an event kind as a bare string."""
    found = []
    for path in sorted(root.rglob("*.py")):
        if path.name == "events.py" and path.parent == root:
            continue  # the enum itself
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            args = [*node.args, *(k.value for k in node.keywords)]
            if any(isinstance(a, ast.Constant) and isinstance(a.value, str) and LOOKS_LIKE_A_KIND.match(a.value) for a in args):
                found.append(f"{path.relative_to(root.parent)}:{node.lineno}")
    return found


def test_no_event_is_emitted_with_its_kind_as_a_bare_string():
    assert kind_literals_passed_to_calls(SRC) == []


def test_the_check_finds_a_bare_kind(tmp_path):
    pkg = tmp_path / "oprun"
    pkg.mkdir()
    (pkg / "emitter.py").write_text(
        "def go(emit, E):\n    emit(E.STEP_START, 'ok')\n    emit('STEP_STRAT')\n    emit(kind='STEP_START')\n"
    )
    assert kind_literals_passed_to_calls(pkg) == ["oprun/emitter.py:3", "oprun/emitter.py:4"]
