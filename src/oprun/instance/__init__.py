"""The instance: runs, events and step outputs (`DagsterInstance`).

This package's modules import SQLAlchemy only where a SQL storage is opened; an
ephemeral instance never does. Knows events and runs; never execution or a surface.
"""

from oprun.instance.instance import DagsterInstance, Instance, instance_for_test

__all__ = ["DagsterInstance", "Instance", "instance_for_test"]
