"""Source drops arriving in a watched directory (what the drop sensor looks at).

A drop is a sub-directory holding ``manifest.json``; it is identified by its path and the
sha256 of its manifest, so a drop is picked up once, and a re-exported drop in the same place
(new manifest) counts as new.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from connectors.drop import MANIFEST_NAME


@dataclass(frozen=True)
class ArrivedDrop:
    path: Path
    manifest_sha256: str

    @property
    def key(self) -> str:
        """Stable identity of this drop: path and manifest content."""
        return f"{self.path}:{self.manifest_sha256[:16]}"


def find_drops(inbox: Path) -> list[ArrivedDrop]:
    """Every drop directly under ``inbox`` (or ``inbox`` itself), oldest manifest first."""
    inbox = Path(inbox)
    if not inbox.is_dir():
        return []
    manifests = [inbox / MANIFEST_NAME] if (inbox / MANIFEST_NAME).is_file() else []
    manifests += sorted(inbox.glob(f"*/{MANIFEST_NAME}"))
    manifests.sort(key=lambda m: (m.stat().st_mtime, str(m)))
    return [
        ArrivedDrop(m.parent.resolve(), hashlib.sha256(m.read_bytes()).hexdigest())
        for m in manifests
    ]
