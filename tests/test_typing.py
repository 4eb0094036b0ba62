"""Type checkers see oprun's public API: the generated `__init__.pyi` matches the
export table, and a Dagster-style user module type-checks with mypy."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_the_init_stub_matches_the_export_table():
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "init_stub.py"), "--check"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (ROOT / "src" / "oprun" / "py.typed").exists()


def test_a_user_module_type_checks(tmp_path):
    pytest.importorskip("mypy", reason="mypy is in the dev extra: pip install -e '.[dev]'")
    done = subprocess.run(
        [
            sys.executable, "-m", "mypy", "--follow-imports=silent", "--cache-dir", str(tmp_path / "cache"),
            str(ROOT / "tests" / "fixtures" / "typed_user_code.py"),
        ],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success" in done.stdout
