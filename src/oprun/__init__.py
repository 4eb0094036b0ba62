"""oprun: a fast, light orchestrator for op jobs, with Dagster's op-job API.

This module only re-exports the public names. Names whose modules pull in heavy
dependencies (pydantic for `Config`, SQLAlchemy for the instance, ...) are loaded
on first use, so `import oprun` stays in the milliseconds.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name -> module that defines it. Every public name is listed here, and nowhere
# else; `__all__` is derived from it.
_EXPORTS: dict[str, str] = {}


def _export(module: str, *names: str) -> None:
    for name in names:
        _EXPORTS[name] = module


_export(
    "oprun.errors",
    "DagsterError", "DagsterInvalidDefinitionError", "DagsterInvalidConfigError",
    "DagsterInvalidConfigDefinitionError", "DagsterInvalidInvocationError",
    "DagsterInvariantViolationError", "DagsterInvalidSubsetError", "DagsterTypeCheckDidNotPass",
    "DagsterStepOutputNotFoundError", "DagsterUnmetExecutorRequirementsError",
    "DagsterUnknownResourceError", "DagsterResourceFunctionError", "DagsterRunNotFoundError",
    "DagsterExecutionStepExecutionError", "DagsterUserCodeExecutionError",
    "DagsterExecutionInterruptedError", "DagsterUnknownPartitionError", "DagsterInvalidPropertyError",
    "DagsterInvalidMetadata", "DagsterImportError", "DagsterCodeLocationLoadError",
    "DagsterStorageError", "DagsterExecutionLoadInputError", "DagsterExecutionHandleOutputError",
    "ConfigFileError", "DagsterInstanceConfigError", "Failure", "RetryRequested",
)
_export("oprun.errors", "DagsterConfigMappingFunctionError")
_export(
    "oprun.events",
    "DagsterEvent", "DagsterEventType", "EventLogEntry", "SerializableErrorInfo",
)
_export("oprun.runs", "DagsterRun", "DagsterRunStatus", "RunsFilter", "RunRecord", "RunFailureReason")
_export("oprun.definitions.jobs.op", "op", "OpDefinition", "Resource", "ResourceParam")
_export("oprun.definitions.jobs.graph", "graph", "GraphDefinition")
_export("oprun.definitions.jobs.job", "job", "JobDefinition")
_export(
    "oprun.definitions.jobs.io",
    "In", "Out", "DynamicOut", "GraphIn", "GraphOut", "InputDefinition", "OutputDefinition",
)
_export(
    "oprun.definitions.jobs.results",
    "Output", "DynamicOutput", "AssetMaterialization", "AssetObservation", "ExpectationResult", "AssetKey",
)
_export("oprun.definitions.jobs.metadata", "MetadataValue")
_export(
    "oprun.definitions.jobs.types",
    "DagsterType", "TypeCheck", "Nothing", "PythonObjectDagsterType", "dagster_type_loader",
    "DagsterTypeLoader", "make_python_type_usable_as_dagster_type",
)
_export("oprun.definitions.jobs.types", "List", "Optional", "Dict", "Set", "Tuple", "usable_as_dagster_type")
_export("oprun.execution.type_loader_context", "DagsterTypeLoaderContext")
_export("oprun.definitions.paths", "file_relative_path")
_export(
    "oprun.definitions.jobs.dependency",
    "DependencyDefinition", "MultiDependencyDefinition", "DynamicCollectDependencyDefinition",
    "NodeInvocation", "InputMapping", "OutputMapping",
)
_export("oprun.definitions.jobs.policy", "RetryPolicy", "Backoff", "Jitter")
_export("oprun.definitions.jobs.hooks", "success_hook", "failure_hook", "HookDefinition")
_export(
    "oprun.definitions.resources.resource",
    "ResourceDefinition", "resource", "make_values_resource", "IOManager", "IOManagerDefinition",
    "io_manager", "InputManager", "input_manager", "mem_io_manager", "fs_io_manager", "InMemoryIOManager",
)
_export(
    "oprun.definitions.logger",
    "logger", "LoggerDefinition", "colored_console_logger", "json_console_logger", "get_dagster_logger",
    "default_loggers", "InitLoggerContext",
)
_export("oprun.definitions.jobs.configured", "configured")
_export(
    "oprun.definitions.executor",
    "executor", "ExecutorDefinition", "ExecutorRequirement", "in_process_executor",
    "multiprocess_executor", "multi_or_in_process_executor", "multiple_process_executor_requirements",
)
_export("oprun.execution.resolve", "validate_run_config")
_export(
    "oprun.config.types",
    "Field", "Shape", "Permissive", "Selector", "Array", "Noneable", "Enum", "EnumValue", "Map",
    "ScalarUnion", "StringSource", "IntSource", "BoolSource", "Any", "Int", "String", "Float", "Bool",
)
_export("oprun.config.run_config", "RunConfig")
_export("oprun.config.mapping", "ConfigMapping", "config_mapping")
_export("oprun.config.env", "EnvVar")
_export("oprun.config.pythonic", "Config", "PermissiveConfig")
_export(
    "oprun.definitions.automation.partitions",
    "PartitionsDefinition", "StaticPartitionsDefinition", "TimeWindowPartitionsDefinition",
    "DailyPartitionsDefinition", "HourlyPartitionsDefinition", "WeeklyPartitionsDefinition",
    "MonthlyPartitionsDefinition", "DynamicPartitionsDefinition", "PartitionedConfig",
    "static_partitioned_config", "dynamic_partitioned_config", "daily_partitioned_config",
    "hourly_partitioned_config", "weekly_partitioned_config", "monthly_partitioned_config",
    "TimeWindow", "PartitionKeyRange",
)
_export("oprun.definitions.automation.partitions", "MultiPartitionsDefinition", "MultiPartitionKey")
_export(
    "oprun.execution.context",
    "OpExecutionContext", "InputContext", "OutputContext", "build_op_context",
    "build_input_context", "build_output_context",
)
_export("oprun.execution.context", "check_dagster_type")
_export("oprun.execution.hooks", "HookContext", "build_hook_context")
_export("oprun.execution.resources", "InitResourceContext", "build_init_resource_context", "build_resources")
_export("oprun.execution.result", "ExecuteInProcessResult", "ExecutionResult")
_export("oprun.execution.plan", "create_execution_plan", "ExecutionPlan")
_export("oprun.instance", "DagsterInstance", "Instance", "instance_for_test")
_export(
    "oprun.definitions.automation.schedules",
    "ScheduleDefinition", "schedule", "DefaultScheduleStatus", "ScheduleEvaluationContext",
    "build_schedule_context", "build_schedule_from_partitioned_job",
)
_export("oprun.definitions.automation.run_request", "RunRequest", "SkipReason")
_export(
    "oprun.definitions.automation.sensors",
    "SensorDefinition", "sensor", "DefaultSensorStatus", "SensorEvaluationContext", "build_sensor_context",
    "SensorResult",
)
_export(
    "oprun.definitions.automation.run_status_sensors",
    "run_status_sensor", "run_failure_sensor", "RunStatusSensorContext", "RunFailureSensorContext",
)
_export("oprun.definitions.automation.run_status_sensors", "build_run_status_sensor_context")
_export("oprun.definitions.automation.selectors", "JobSelector", "RepositorySelector", "CodeLocationSelector")
_export("oprun.definitions.automation.alerts", "make_email_on_run_failure_sensor")
_export("oprun.definitions.logger", "build_init_logger_context")
_export("oprun.definitions.definitions", "Definitions", "repository")
_export("oprun.execution.reconstruct", "reconstructable", "ReconstructableJob")
_export("oprun.definitions.dask_executor", "dask_executor")
_export("oprun.execution.execute_job", "execute_job")
_export("oprun.execution.reexecution", "ReexecutionOptions")
_export("oprun.execution.prepare", "InitExecutorContext")
_export("oprun.execution.executors.base", "Executor")
_export("oprun.definitions.resources.fs_io_manager", "FilesystemIOManager")
_export(
    "oprun.definitions.resources.configurable",
    "ConfigurableResource", "ConfigurableResourceFactory", "ConfigurableIOManager",
    "ConfigurableIOManagerFactory",
)

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        from oprun.errors import did_you_mean

        raise AttributeError(f"module 'oprun' has no attribute '{name}'.{did_you_mean(name, _EXPORTS)}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


# The light core loads now: decorating ops and jobs is what every user does first.
# These names are bound here for re-export (they are in `_EXPORTS`, hence `__all__`),
# not used in this module, so F401 is silenced along with E402.
from oprun.definitions.jobs.graph import GraphDefinition, graph  # noqa: E402, F401
from oprun.definitions.jobs.io import DynamicOut, In, Out  # noqa: E402, F401
from oprun.definitions.jobs.job import JobDefinition, job  # noqa: E402, F401
from oprun.definitions.jobs.op import OpDefinition, op  # noqa: E402, F401
from oprun.definitions.jobs.results import DynamicOutput, Output  # noqa: E402, F401
