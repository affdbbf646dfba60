"""The sandbox company: three systems generated from one truth, and their fake APIs."""

from __future__ import annotations

from connectors.sandbox.generate import DEFAULT_AS_OF, generate

__all__ = ["DEFAULT_AS_OF", "generate"]
