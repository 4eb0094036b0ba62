"""What users write: ops, graphs, jobs, resources, hooks, partitions, schedules.

Plain definitions checked when built; no I/O and nothing from execution, the
instance or any surface is imported here (`execute_in_process` imports execution
when it is called).
"""
