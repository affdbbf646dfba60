"""The code location: everything under ``dagster_project/defs/``, loaded by folder.

``load_from_defs_folder`` finds the project root (``pyproject.toml`` with ``[tool.dg]``)
from a path inside it (its ``project_root=`` parameter is deprecated, removed in 2.0).
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

REFRESH_JOB = "refresh"


@dg.definitions
def defs() -> dg.Definitions:
    """All assets, checks, jobs, schedules, sensors and resources of revops."""
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)


def refresh_job() -> dg.JobDefinition:
    """The resolved ``refresh`` job; module-scoped so ``dg.reconstructable`` can rebuild it."""
    return defs().resolve_job_def(REFRESH_JOB)
