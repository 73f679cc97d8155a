"""The rule set: one province's thresholds for a year, from a YAML file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

__all__ = ["DEFAULT_RULES", "RuleSet", "load_rule_set"]

DEFAULT_RULES = Path(__file__).with_name("default.yaml")


@dataclass(frozen=True)
class RuleSet:
    """Thresholds of one province and year (see default.yaml for meanings)."""

    raw: dict

    def line(self, year: int) -> float:
        lines = {int(k): float(v) for k, v in self.raw["monitoring_line"].items()}
        # A year without its own line uses the latest line set before it.
        known = [y for y in lines if y <= year] or [min(lines)]
        return lines[max(known)]

    def label(self, rule_id: str) -> str:
        return self.raw["labels"].get(rule_id, rule_id)

    def __getitem__(self, key):
        return self.raw[key]


def load_rule_set(path: str | Path | None = None) -> RuleSet:
    with Path(path or DEFAULT_RULES).open(encoding="utf-8") as fh:
        return RuleSet(yaml.safe_load(fh))
