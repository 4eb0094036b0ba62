"""Cold import: the time of ``import PACKAGE`` in a fresh interpreter.

Every command, test run and subprocess-per-run executor pays this before doing
any work, so it is the floor under every other figure. The script also lists
which heavy third-party modules the import dragged in: ``import oprun`` must
leave the storage, CLI, web and cluster stacks unloaded until they are used.
"""

import sys

from _common import clock, load_package, run

HEAVY = (
    "sqlalchemy",
    "click",
    "rich",
    "starlette",
    "strawberry",
    "dask",
    "distributed",
    "uvicorn",
    "alembic",
    "psycopg",
    "pandas",
    "yaml",
    "pydantic",
    "asyncio",
)


def scenario(name):
    start = clock()
    load_package(name)
    import_s = clock() - start
    return {
        "import_s": import_s,
        "heavy_modules": [module for module in HEAVY if module in sys.modules],
    }


if __name__ == "__main__":
    run(scenario, import_first=False)
