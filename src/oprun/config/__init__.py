"""The config system: schema types, validation with every error at once, run
config documents, config mappings, scaffolds, and (in `pythonic`, which imports
pydantic) `Config` classes.

A leaf below definitions: knows nothing of ops, jobs or execution. Code imports
from the submodules; the public names come from `oprun`. Nothing is imported
here, so that importing one submodule (the schema types, which every op
definition needs) does not import the others.
"""
