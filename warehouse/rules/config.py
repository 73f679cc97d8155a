"""The rule set: one province's thresholds for a year, typed (pydantic) from a YAML file.

Every key of ``default.yaml`` is a field here; every section refuses keys it does not
know, so a misspelt threshold is an error naming the file, the key path and the allowed
keys (``RuleSetError``), not ignored (an extra key) or a failure mid-run (a missing one).
Rule ids listed in the file (``gap_rules``, ``labels``, the measures and the elimination
check) must be rules the code has. Values read as attributes
(``rules.medical.registered_threshold``) or as items
(``rules["medical"]["registered_threshold"]``, as the rule modules do).
"""

from __future__ import annotations

import hashlib
from difflib import get_close_matches
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

__all__ = ["DEFAULT_RULES", "RULE_IDS", "RuleSet", "RuleSetError", "load_rule_set"]

DEFAULT_RULES = Path(__file__).with_name("default.yaml")

# Every signal a rule can raise, in the order of default.yaml's labels: risks (R-),
# the watch signal (W-), leads (L-) and asset checks (A-).
RULE_IDS = (
    "R-INCOME",
    "R-DROP",
    "R-RIGID",
    "R-MEDICAL",
    "R-DISASTER",
    "R-HOUSING",
    "R-SCHOOL",
    "R-DISABILITY",
    "R-WORK",
    "R-LABOUR",
    "R-WATER",
    "R-MEDINS",
    "R-ASSIST",
    "W-NEAR-LINE",
    "L-DECLARATION",
    "L-VISIT",
    "A-VEHICLE",
    "A-COMPANY",
    "A-PAYROLL",
    "A-PROPERTY",
    "R-ACCIDENT",
    "R-INDUSTRY",
    "A-PENDING",
)


class RuleSetError(ValueError):
    """A rule file that cannot be used: one message naming the file and each problem."""

    def __init__(self, path: str | Path, problems: list[str]):
        self.path = str(path)
        self.problems = problems
        if len(problems) == 1:
            message = f"rules file {self.path}: {problems[0]}"
        else:
            lines = "\n".join(f"  - {p}" for p in problems)
            message = f"rules file {self.path}: {len(problems)} problems:\n{lines}"
        super().__init__(message)


def _known_rules(ids):
    """``ids`` (a list, or a mapping by rule id) unchanged if every id is a known rule."""
    unknown = [rule_id for rule_id in ids if rule_id not in RULE_IDS]
    if unknown:
        names = ", ".join(repr(u) for u in unknown)
        raise ValueError(f"unknown rule id {names}; known: {', '.join(RULE_IDS)}")
    return ids


RuleIds = Annotated[list[str], AfterValidator(_known_rules)]


class Section(BaseModel):
    """A part of the rule set: unknown keys refused, values read-only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def __getitem__(self, key: str) -> Any:
        if key not in type(self).model_fields:
            raise KeyError(key)
        return getattr(self, key)


class Medical(Section):
    registered_threshold: float  # out-of-pocket, registered or monitored households
    other_threshold: float  # out-of-pocket, other households


class Disaster(Section):
    min_loss: float
    min_rooms_collapsed: int


class Housing(Section):
    unsafe_grades: list[str]


class School(Section):
    min_self_paid: float
    year_start_month: int = Field(ge=1, le=12)
    term_order: list[str]
    dropout_status: list[str]
    compulsory_age: tuple[int, int]
    compulsory_stages: list[str]
    dropout_is_gap: bool


class Disability(Section):
    grades: list[str]
    valid_status: list[str]


class Work(Section):
    employed_status: list[str]
    unemployed_status: list[str]
    recent_months: int = Field(ge=1)
    baseline_months: int = Field(ge=1)
    wage_drop_ratio: float


class Labour(Section):
    death_reasons: list[str]


class Water(Section):
    min_litres_per_person_day: float
    max_fetch_minutes: float
    unsafe_quality: list[str]


class MedIns(Section):
    not_enrolled_status: list[str]


class Assist(Section):
    sources: list[str] = Field(min_length=1)
    categories: list[str]


class Elimination(Section):
    min_months_since_confirmed: int
    min_measures: int
    income_stable_months: int
    income_rules: RuleIds
    rigid_rules: RuleIds


class Cases(Section):
    status_by_decision: dict[str, str]
    closing: list[str]
    open: list[str]
    elimination: Elimination
    status_labels: dict[str, str]


class Measures(Section):
    by_risk: Annotated[dict[str, list[str]], AfterValidator(_known_rules)]
    with_labour: list[str]
    with_labour_edge: list[str]
    without_labour: list[str]
    everyone: list[str]


class Leads(Section):
    # An empty list would match every finding and drop every visit.
    no_finding_patterns: list[str] = Field(min_length=1)


class Assets(Section):
    vehicle_types: list[str]
    vehicle_active_status: list[str]
    company_types: list[str]
    company_active_status: list[str]
    min_active_properties: int


class RiskType(Section):
    """One national risk type (返贫致贫风险类型): its label, and other names county decisions
    may use for it (the project's old labels among them)."""

    label: str
    aliases: list[str] = Field(default_factory=list)


class Accident(Section):
    sources: list[str] = Field(min_length=1)  # accident extracts (公安交警, 应急管理 ...)
    injuries: list[str]  # 伤亡情况 that count (a member killed or seriously injured)
    min_loss: float  # or a direct property loss of at least this (yuan)


class Authorisation(Section):
    """承诺授权书: which signed authorisations let data beyond the monitoring sources (the
    asset checks) be queried and shown for a household."""

    source: str  # the source spec of the authorisations
    asset_scope: list[str] = Field(min_length=1)  # a scope naming one of these covers assets
    # Source -> the scope words that cover it (besides asset_scope): a source listed here
    # is read for a household only under a valid authorisation naming one of them.
    gated_sources: dict[str, list[str]] = Field(min_length=1)
    valid_status: list[str]
    pending_label: str  # what every output shows without a valid authorisation


class RollingIncome(Section):
    """Wage income over the last months from 人社 monthly wages (income rules)."""

    enabled: bool
    source: str  # the monthly wage extract (renshe_employment)
    months: int = Field(ge=1, le=24)  # the window: the run month and the months before it
    # A member with fewer known months than this: the household keeps the annual wage.
    min_months: int = Field(ge=1)
    # Months with these statuses and no wage figure count as known, with no wage.
    no_wage_status: list[str]

    @model_validator(mode="after")
    def _min_within_window(self) -> RollingIncome:
        if self.min_months > self.months:
            raise ValueError(f"min_months {self.min_months} exceeds months {self.months}")
        return self


class Industry(Section):
    """因产业项目失败 (R-INDUSTRY): stated by a declaration or found on a cadre visit."""

    sources: list[str] = Field(min_length=1)  # declarations, cadre_visits
    reasons: list[str] = Field(min_length=1)  # reason / 问题类别 values meaning it

    @model_validator(mode="after")
    def _known_sources(self) -> Industry:
        unknown = [s for s in self.sources if s not in ("declarations", "cadre_visits")]
        if unknown:
            raise ValueError(f"sources: {', '.join(unknown)}: only declarations, cadre_visits")
        return self


class LowIncome(Section):
    """The civil-affairs low-income population (低收入人口) the monitoring converges with."""

    # Rural 低保 standard, yuan per person per year, by year (a year without its own uses
    # the latest before it).
    dibao_standard: dict[int, float] = Field(min_length=1)
    # Counties that tie the monitoring line to the 低保 standard: line = this x standard.
    # None: the line is monitoring_line.
    line_multiple: float | None = Field(default=None, gt=0)
    # 低保边缘家庭: per-capita income below this x the standard, not on 低保 (a tag).
    edge_multiple: float = Field(gt=0)
    dibao_categories: list[str]  # assistance categories that mean "on 低保" (active case)
    edge_tag: str  # the tags shown for the two categories
    rigid_tag: str  # 刚性支出困难家庭: rigid costs above income (R-RIGID)


class ObjectTypes(Section):
    """What the object-type decision table reads (docs/policy.md)."""

    # 突发严重困难户: rigid spending is large or income fell sharply (因病、因灾、因学 costs).
    # A gap signal of these rules (a dropout) is not a sudden difficulty.
    sudden_rules: RuleIds


class RuleSet(Section):
    """Thresholds of one province and year (see default.yaml for meanings).

    ``source_path`` and ``sha256`` (of the file's bytes) say which file a run used; both
    are None for a rule set built in code.
    """

    province: str
    monitoring_line: dict[int, float] = Field(min_length=1)  # yuan per person, by year
    near_line_margin: float
    income_drop_ratio: float
    window_months: int = Field(ge=1)
    medical: Medical
    disaster: Disaster
    housing: Housing
    working_age: tuple[int, int]
    school: School
    disability: Disability
    work: Work
    labour: Labour
    water: Water
    medins: MedIns
    assist: Assist
    decision_days: int
    cases: Cases
    measures: Measures
    leads: Leads
    assets: Assets
    labels: Annotated[dict[str, str], AfterValidator(_known_rules)]
    gap_rules: RuleIds
    risk_types: dict[str, RiskType] = Field(min_length=1)  # code -> national risk type
    risk_of_rule: Annotated[dict[str, str], AfterValidator(_known_rules)]  # rule -> code
    tags: Annotated[dict[str, str], AfterValidator(_known_rules)]  # rule -> tag, not a risk
    object_types: ObjectTypes
    authorisation: Authorisation
    low_income: LowIncome
    accident: Accident
    rolling_income: RollingIncome
    industry: Industry

    @model_validator(mode="after")
    def _codes_known(self) -> RuleSet:
        unknown = sorted({c for c in self.risk_of_rule.values() if c not in self.risk_types})
        if unknown:
            raise ValueError(f"risk_of_rule: unknown risk type code {', '.join(unknown)}")
        names: dict[str, str] = {}
        for code, kind in self.risk_types.items():
            for name in (code, kind.label, *kind.aliases):
                if names.setdefault(name, code) != code:
                    raise ValueError(f"risk_types: {name!r} names both {names[name]} and {code}")
        both = sorted(set(self.tags) & set(self.risk_of_rule))
        if both:
            raise ValueError(f"a tag is not a risk: {', '.join(both)} in tags and risk_of_rule")
        return self

    _source_path: Path | None = PrivateAttr(default=None)
    _sha256: str | None = PrivateAttr(default=None)

    @property
    def source_path(self) -> Path | None:
        return self._source_path

    @property
    def sha256(self) -> str | None:
        return self._sha256

    def line(self, year: int) -> float:
        """The monitoring line of an income year: ``low_income.line_multiple`` x that year's
        低保 standard where the county ties the two, else ``monitoring_line``."""
        multiple = self.low_income.line_multiple
        if multiple is not None:
            return round(multiple * self.dibao_standard(year), 2)
        return _by_year(self.monitoring_line, year)

    def dibao_standard(self, year: int) -> float:
        return _by_year(self.low_income.dibao_standard, year)

    def label(self, rule_id: str) -> str:
        return self.labels.get(rule_id, rule_id)

    @property
    def risk_names(self) -> dict[str, str]:
        """Every name of a risk type -> its code: the code itself, the national label and
        the aliases (the project's old labels among them). For ``Series.map``."""
        return {
            name: code
            for code, kind in self.risk_types.items()
            for name in (code, kind.label, *kind.aliases)
        }

    def risk_code(self, name: str) -> str | None:
        """The risk type code a county or a declaration means by ``name``; None if unknown."""
        return self.risk_names.get(str(name).strip())

    def risk_label(self, code: str) -> str:
        kind = self.risk_types.get(code)
        return kind.label if kind else code

    def is_risk(self, rule_id: str) -> bool:
        """A risk signal (R-, not a tag such as 兜底保障)."""
        return rule_id.startswith("R-") and rule_id not in self.tags


def _by_year(values: dict[int, float], year: int) -> float:
    """The value set for the year; else the latest set before it; else the earliest."""
    known = [y for y in values if y <= year] or [min(values)]
    return values[max(known)]


def load_rule_set(path: str | Path | None = None) -> RuleSet:
    """The rule set of a YAML file (``default.yaml`` beside this module when None).

    Raises ``RuleSetError`` naming the file and each problem: YAML syntax, an unknown or
    missing key (with the allowed keys), a value of the wrong type, an unknown rule id.
    """
    source = Path(path) if path is not None else DEFAULT_RULES
    content = source.read_bytes()
    try:
        data = yaml.safe_load(content.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise RuleSetError(source, [f"not UTF-8 text ({exc.reason} at byte {exc.start})"]) from None
    except yaml.YAMLError as exc:
        raise RuleSetError(source, [_yaml_problem(exc)]) from None
    if not isinstance(data, dict):
        got = "nothing" if data is None else type(data).__name__
        raise RuleSetError(source, [f"expected a mapping of settings, got {got}"])
    try:
        rules = RuleSet.model_validate(data)
    except ValidationError as exc:
        raise RuleSetError(source, _problems(exc.errors())) from None
    rules._source_path = source.resolve()
    rules._sha256 = hashlib.sha256(content).hexdigest()
    return rules


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    if mark is None:
        return f"not valid YAML: {exc}"
    problem = getattr(exc, "problem", None) or exc
    return f"not valid YAML at line {mark.line + 1}, column {mark.column + 1}: {problem}"


def _section_at(loc: tuple) -> type[BaseModel] | None:
    """The section model at a key path (None if the path leaves the sections)."""
    model: type[BaseModel] = RuleSet
    for part in loc:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return None
        model = annotation
    return model


def _where(loc: tuple) -> str:
    return f"under '{_path(loc)}'" if loc else "at the top level"


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _meant(loc: tuple) -> str | None:
    """The allowed key closest to the unknown key at ``loc`` (None if none is close)."""
    section = _section_at(loc[:-1])
    close = get_close_matches(str(loc[-1]), list(section.model_fields), n=1) if section else []
    return close[0] if close else None


def _problems(errors: list[dict]) -> list[str]:
    """One line per problem. A misspelt key is reported once, as unknown (with the key it
    probably meant), not also as the missing key it was meant to be."""
    meant = {
        (*loc[:-1], _meant(loc))
        for loc in (tuple(e["loc"]) for e in errors if e["type"] == "extra_forbidden")
    }
    return [
        _problem(e) for e in errors if not (e["type"] == "missing" and tuple(e["loc"]) in meant)
    ]


def _problem(error: dict) -> str:
    loc, kind = tuple(error["loc"]), error["type"]
    if kind == "extra_forbidden":
        section = _section_at(loc[:-1])
        allowed = sorted(section.model_fields) if section else []
        close = _meant(loc)
        hint = f" (did you mean '{close}'?)" if close else ""
        return f"unknown key '{loc[-1]}' {_where(loc[:-1])}{hint}; allowed: {', '.join(allowed)}"
    if kind == "missing":
        return f"missing key '{loc[-1]}' {_where(loc[:-1])}"
    if kind == "model_type":
        allowed = ", ".join(sorted(_section_at(loc).model_fields))
        return f"'{_path(loc)}' must be a section with the keys {allowed} (got {error['input']!r})"
    message = error["msg"].removeprefix("Value error, ")
    if "[key]" in loc:  # a key of a mapping, e.g. a year of monitoring_line
        where = loc[: loc.index("[key]") - 1]
        return f"'{_path(where)}': key {error['input']!r}: {message}"
    if kind == "value_error":
        return f"'{_path(loc)}': {message}"
    return f"'{_path(loc)}': {message} (got {error['input']!r})"
