"""Editing a drop in a test the way an exporter would have written it."""

from __future__ import annotations

import json
from pathlib import Path

from connectors.drop import MANIFEST_NAME, count_lines


def sync_manifest(drop: Path) -> None:
    """Recount every file the manifest lists, as the exporter of an edited drop would have
    (a test that adds, removes or cuts records states the counts that go with them)."""
    path = drop / MANIFEST_NAME
    manifest = json.loads(path.read_text(encoding="utf-8"))
    files = manifest.get("files")
    if not isinstance(files, dict):
        return
    for key in list(files):
        if (drop / key).is_file():
            files[key] = count_lines(drop / key)
        else:
            del files[key]
    path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
