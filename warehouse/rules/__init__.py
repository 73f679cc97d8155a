"""Risk rules: per-household signals with evidence, object types and grades, as of a date.

Every rule is set-based (vectorised pandas over linked staging rows) and reads its
thresholds from a rule set (YAML, ``default.yaml`` beside this file). The run date comes
in as ``as_of``: nothing here reads the clock, so a rerun for the same date gives the
same signals. Domain: shared/domain.md "Default rules".

Modules, in the order a run uses them:

- ``config``: the rule set (typed from YAML; unknown keys refused), ``load_rule_set``.
- ``inputs``: ``RuleInputs`` (linked staging rows, register persons) and shared helpers.
- ``evidence``: the signal rows every rule returns.
- ``rolling``: income over the rolling 12 months where 人社 monthly wages exist (the
  income rules, the income position and the low-income tags read it).
- one module per risk family: ``income`` (R-INCOME, W-NEAR-LINE, R-DROP, R-RIGID),
  ``health`` (R-MEDICAL, R-DISABILITY, R-MEDINS), ``home`` (R-DISASTER, R-HOUSING,
  R-WATER), ``education`` (R-SCHOOL), ``work`` (R-WORK, R-LABOUR), ``assistance``
  (R-ASSIST: a tag, not a risk), ``leads`` (L-DECLARATION, L-VISIT), ``assets`` (A-*,
  each gated source only under a signed authorisation covering it; A-PENDING names the
  checks waiting for one), ``accident`` (R-ACCIDENT, road and work-safety accidents),
  ``industry`` (R-INDUSTRY, 因产业项目失败).
- ``grading``: the rule registry, ``compute_signals`` and ``flag_households``.
- ``storage``: ``run_rules`` computes and stores one run date.
"""

from warehouse.rules.config import DEFAULT_RULES, RULE_IDS, RuleSet, RuleSetError, load_rule_set
from warehouse.rules.evidence import SIGNAL_COLUMNS
from warehouse.rules.grading import RULES, compute_signals, flag_households
from warehouse.rules.inputs import RuleInputs
from warehouse.rules.storage import run_rules

__all__ = [
    "DEFAULT_RULES",
    "RULES",
    "RULE_IDS",
    "SIGNAL_COLUMNS",
    "RuleInputs",
    "RuleSet",
    "RuleSetError",
    "compute_signals",
    "flag_households",
    "load_rule_set",
    "run_rules",
]
