"""Errors raised by the connectors package.

Every error derives from :class:`ConnectorError`, carries its context as attributes
and says in its message what is wrong and what to do about it.
"""

from __future__ import annotations

from pathlib import Path


class ConnectorError(Exception):
    """Root of every error raised by ``connectors``."""


class SourceDropError(ConnectorError):
    """A source drop directory breaks its contract (docs/architecture.md, "Source drop layout").

    Attributes:
        path: The file or directory at fault.
    """

    def __init__(self, path: Path | str, message: str) -> None:
        self.path = Path(path)
        super().__init__(message)

    @property
    def message(self) -> str:
        """The human-readable sentence: what is wrong and what to do."""
        return str(self.args[0])
