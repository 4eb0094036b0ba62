"""Execution: the plan, the step loop, executors, and the execution API.

Knows definitions, config, events and the instance; never a surface (CLI, web).
"""
