"""What launches runs without a person: schedules (with cron), sensors, run status sensors,
the run requests they return, and partitions."""
