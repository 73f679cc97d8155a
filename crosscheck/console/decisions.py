"""A county officer's decision as a ``county_decisions`` file in the landing zone.

The decision is written exactly as a county would drop it (the spec's headers, one row,
UTF-8 with BOM) after passing the same reading, typing and GX row checks the pipeline
applies (``connectors.readers``, ``connectors.canonical``, ``validation.suites``), so a
row the pipeline would quarantine is refused here with the same Chinese reasons and
nothing is written. The next run ingests the file: same lifecycle as a dropped file.
"""

from __future__ import annotations

import datetime as dt
import io
import secrets
import tempfile
import threading
from pathlib import Path

import pandas as pd

from connectors.canonical import to_canonical
from connectors.limits import DEFAULT_LIMITS
from connectors.readers import FileRejected, read_file
from connectors.spec import SourceSpec, load_specs
from crosscheck.console.auth import ConsoleError
from crosscheck.console.landing import write_landed
from validation.quarantine import quarantine_frame
from validation.suites import validate_batch

__all__ = ["DECISIONS", "SOURCE_ID", "decision_csv", "submit_decision"]

SOURCE_ID = "county_decisions"
# One check at a time: the GX context behind validate_batch is shared by the process.
_CHECK_LOCK = threading.Lock()


def spec() -> SourceSpec:
    return load_specs()[SOURCE_ID]


DECISIONS = ["开始核实", "认定纳入", "不予纳入", "落实帮扶", "风险消除"]
OBJECT_TYPES = ["脱贫不稳定户", "边缘易致贫户", "突发严重困难户"]


def decision_csv(fields: dict[str, str]) -> bytes:
    """One decision row under the department's headers (canonical field -> value)."""
    s = spec()
    row = {c.header: fields.get(c.field, "") or "" for c in s.columns}
    buffer = io.StringIO()
    pd.DataFrame([row], columns=[c.header for c in s.columns]).to_csv(buffer, index=False)
    return buffer.getvalue().encode("utf-8-sig")


def check_like_pipeline(content: bytes) -> list[str]:
    """The Chinese reasons the pipeline would quarantine this file's rows for (none: ok)."""
    s = spec()
    with tempfile.TemporaryDirectory(prefix="console-decision-") as folder:
        path = Path(folder) / "decision.csv"
        path.write_bytes(content)
        try:
            table = read_file(path, s.format, encoding=s.encoding, limits=DEFAULT_LIMITS)
        except FileRejected as exc:
            return [exc.message]
        batch = to_canonical(s, table)
        if batch.missing_columns:
            return ["缺少列：" + "、".join(c.header for c in batch.missing_columns)]
        with _CHECK_LOCK:
            failures, _ = validate_batch(s, batch)
        rejected = quarantine_frame(s, batch, failures)
    return sorted({r for reasons in rejected["reason"] for r in str(reasons).split("；") if r})


def submit_decision(
    landing: Path,
    house,
    form: dict[str, str],
    officer: str,
    today: dt.date,
    now: dt.datetime,
) -> tuple[str, Path]:
    """Validate the form and write the decision file; returns (decision id, path).

    Raises ``ConsoleError`` with every reason (Chinese) when the decision is refused."""
    problems = []
    decision = (form.get("decision") or "").strip()
    if decision not in DECISIONS:
        problems.append(f"未知的决定「{decision}」：可选 {'、'.join(DECISIONS)}")
    decided_on = None
    try:
        decided_on = dt.date.fromisoformat((form.get("decided_on") or "").strip())
    except ValueError:
        problems.append("决定日期须为 YYYY-MM-DD 格式的日期")
    if decided_on is not None and decided_on > today:
        problems.append(f"决定日期 {decided_on} 晚于今天（{today}），不能预先登记")
    object_type = (form.get("object_type") or "").strip()
    if decision == "认定纳入" and not object_type:
        problems.append("认定纳入须选择监测对象类型")
    decision_id = f"WEB-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3).upper()}"  # no long digit runs
    content = decision_csv(
        {
            "decision_id": decision_id,
            "hukou_no": house.household_no,
            "county": house.county or "",
            "township": house.township or "",
            "village": house.village or "",
            "name": house.head_name or "",
            "decision": decision,
            "decided_on": form.get("decided_on", "").strip(),
            "object_type": object_type,
            "risk_types": (form.get("risk_types") or "").strip(),
            "measures": (form.get("measures") or "").strip(),
            "officer": officer,
            "note": (form.get("note") or "").strip()[:200],
        }
    )
    problems += [p for p in check_like_pipeline(content) if p not in problems]
    if problems:
        raise ConsoleError("决定未登记：" + "；".join(problems))
    path = write_landed(landing, SOURCE_ID, f"console_{decision_id}.csv", [content])
    return decision_id, path
