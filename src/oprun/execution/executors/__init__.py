"""Executors: how a run's steps are run (in this process, in worker processes, on
a cluster). Each consumes an `ActiveExecution` and reports outcomes back."""
