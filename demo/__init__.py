"""Deterministic demo city 新余市: department extracts with realistic quirks, plus ground truth.

`generate_demo(out)` writes one folder per source (departments.md) into `out` and the
truth (people, households, planted hardship, per-row corruptions) next to it. Modules:
geo/city (people), plan/facts (what happened), oracle (the expected rule hits),
quirks/sources/writers (how departments write it down), generate (the orchestration).
"""

from .generate import generate_demo

__all__ = ["generate_demo"]
