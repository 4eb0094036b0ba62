"""Selectors naming jobs by where they live (`JobSelector`, `RepositorySelector`,
`CodeLocationSelector`), as run status sensors' `monitored_jobs` accept them.

oprun's run records do not say which code location a run came from, so a run
status sensor matches a `JobSelector` by job name alone, and treats a
`RepositorySelector` or `CodeLocationSelector` as watching every run of the
instance (as `monitor_all_code_locations=True` does).
"""

from __future__ import annotations

from dataclasses import dataclass

from oprun.errors import DagsterInvariantViolationError

SINGLETON_REPOSITORY_NAME = "__repository__"


@dataclass(frozen=True)
class RepositorySelector:
    location_name: str
    repository_name: str


@dataclass(frozen=True)
class CodeLocationSelector:
    location_name: str

    def to_repository_selector(self) -> RepositorySelector:
        return RepositorySelector(location_name=self.location_name, repository_name=SINGLETON_REPOSITORY_NAME)


@dataclass(frozen=True, init=False)
class JobSelector:
    location_name: str
    repository_name: str
    job_name: str

    def __init__(self, location_name: str, repository_name: str | None = None, job_name: str | None = None) -> None:
        if job_name is None:
            raise DagsterInvariantViolationError(
                "JobSelector needs job_name (repository_name, before it, is the optional one): "
                "JobSelector(location_name=..., job_name=...)."
            )
        object.__setattr__(self, "location_name", location_name)
        object.__setattr__(self, "repository_name", repository_name or SINGLETON_REPOSITORY_NAME)
        object.__setattr__(self, "job_name", job_name)

    @property
    def repository_selector(self) -> RepositorySelector:
        return RepositorySelector(location_name=self.location_name, repository_name=self.repository_name)
