"""The graph core: ops, graphs and jobs, their inputs and outputs, types, dependencies,
hooks, retry policies, op selection, `configured`, and the run config schema a job derives."""
