"""The benchmark runner's machinery, used by ``bench/run.py``.

- ``sides``: the two interpreters compared (oprun's and Dagster's) and how
  each is prepared.
- ``targets``: the goals a figure is checked against.
- ``scenarios``: the kinds of scenario (a script timed from inside, a command
  timed from outside) and how their repeated samples become medians.
- ``report``: the markdown table and the JSON results file.

The machinery knows no scenario by name; ``run.py`` holds the table of
scenarios and their targets.
"""
