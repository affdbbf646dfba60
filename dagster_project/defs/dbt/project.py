"""The dbt project of revops, described once for Dagster (no assets here).

The manifest (``dbt/target/manifest.json``) is prepared at set-up by ``make dbt-prepare``
(``dbt parse``), not on import or per step: loading the definitions reads it, and fails with
a sentence saying how to produce it when it is missing.
"""

from __future__ import annotations

import shutil
import sys
from functools import cache, cached_property
from importlib.metadata import version
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from packaging.version import Version

REPO_ROOT = Path(__file__).resolve().parents[3]
DBT_PROJECT_DIR = REPO_ROOT / "dbt"


def dbt_executable() -> str:
    """The dbt of this environment (beside its Python), else the one on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.is_file() else (shutil.which("dbt") or "dbt")


class RevopsDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt resource, told dbt's version instead of asking ``dbt --version``.

    dagster-dbt learns the version by running ``dbt --version`` in every step that calls dbt
    (2.4 s here); the dbt it runs is the dbt-core of this environment, whose version the
    package metadata gives at once.
    """

    @cached_property
    def _cli_version(self) -> Version:  # dagster-dbt's name (DbtCliResource._cli_version)
        return Version(version("dbt-core"))


class DbtManifestMissing(FileNotFoundError):
    """The dbt manifest has not been prepared; ``make dbt-prepare`` writes it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"dbt manifest not found at {path}: run `make dbt-prepare` (or `.venv/bin/dbt parse "
            "--project-dir dbt --profiles-dir dbt` from the repository root) and load the "
            "definitions again"
        )


@cache
def dbt_project() -> DbtProject:
    """The one ``DbtProject`` of the code location (project and profiles in ``dbt/``)."""
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def require_manifest(path: Path) -> Path:
    """``path`` if the manifest is there; raises :class:`DbtManifestMissing` otherwise."""
    if not path.is_file():
        raise DbtManifestMissing(path)
    return path


def manifest_path() -> Path:
    """The prepared manifest of the project (``dbt/target/manifest.json``)."""
    return require_manifest(dbt_project().manifest_path)
