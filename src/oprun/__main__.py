"""`python -m oprun` and the `oprun` command."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from oprun.cli import run_cli

    return run_cli(argv)


if __name__ == "__main__":
    sys.exit(main())
