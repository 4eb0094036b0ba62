"""The daemon: one process with a loop each for schedules, sensors, the run
queue, the run monitor and backfills (`oprun daemon run`). See
docs/automation.md. Nothing here is imported by `import oprun`."""
