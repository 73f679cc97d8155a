"""The fixed catalogue of reason codes: why a row or a file was rejected.

Departments read the Chinese text (in quarantine, feedback files); engineers read the
English. Codes are stable: BI and feedback reports group by them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["REASONS", "Reason", "reason_text"]


@dataclass(frozen=True)
class Reason:
    code: str
    zh: str  # may hold {column} and {value}
    en: str
    fix_zh: str  # what the department should do


_CATALOGUE = [
    # row level
    Reason(
        "IDENTITY_MISSING",
        "身份信息缺失：身份证号和姓名均为空",
        "no ID number and no name",
        "请补充身份证号码或姓名",
    ),
    Reason(
        "REQUIRED_MISSING", "必填项「{column}」为空", "required field is blank", "请填写该必填项"
    ),
    Reason(
        "DATE_INVALID",
        "「{column}」日期无法识别：{value}",
        "date cannot be parsed",
        "日期请写成 2026-03-07 格式",
    ),
    Reason(
        "AMOUNT_INVALID",
        "「{column}」金额/数值无法识别：{value}",
        "amount or number cannot be parsed",
        "金额请填写数字，如 12345.60",
    ),
    Reason(
        "DATE_OUT_OF_RANGE",
        "「{column}」日期不合理：{value}",
        "date outside 1900-2100",
        "请核对年份是否录入错误",
    ),
    Reason(
        "AMOUNT_OUT_OF_RANGE",
        "「{column}」数值超出合理范围：{value}",
        "number outside its plausible range",
        "请核对金额单位（元/万元）和数值",
    ),
    Reason(
        "CODE_INVALID",
        "「{column}」取值不在允许范围：{value}",
        "value outside the allowed codes",
        "请使用规定的代码取值",
    ),
    Reason(
        "ROW_MALFORMED",
        "该行格式错误，无法拆分为字段",
        "row cannot be parsed",
        "请检查该行的分隔符或引号",
    ),
    # accepted with a warning (loaded; linked by name and place instead of the ID)
    Reason(
        "ID_INVALID_CHECK",
        "身份证号校验位错误（已入库，请核对号码）",
        "ID check character fails (loaded)",
        "请核对身份证号码，常见为一位录错或相邻两位颠倒",
    ),
    Reason(
        "ID_MANGLED",
        "身份证号疑似被 Excel 转成科学计数法或末三位变为 000（已入库）",
        "ID mangled by Excel (loaded)",
        "导出前把身份证号列设为文本格式",
    ),
    Reason(
        "ID_MALFORMED",
        "身份证号格式不正确（已入库，请核对号码）",
        "ID malformed (loaded)",
        "身份证号应为 18 位（或旧 15 位）",
    ),
    Reason(
        "ID_BIRTH_MISMATCH",
        "出生日期与身份证号中的出生日期不一致（已入库）",
        "birth date differs from the ID's (loaded)",
        "请核对出生日期或身份证号",
    ),
    Reason(
        "ID_AGE_MISMATCH",
        "年龄与身份证号推算的年龄不一致（已入库）",
        "age differs from the ID's (loaded)",
        "请核对年龄或证件号码",
    ),
    # file level
    Reason(
        "FILE_COLUMNS_MISSING",
        "文件缺少必需列：{value}",
        "required columns missing",
        "请按约定的表头提供数据，不要删除或改名列",
    ),
    Reason(
        "FILE_ENCODING",
        "文件编码无法识别",
        "file encoding cannot be detected",
        "请使用 UTF-8 或 GB18030 编码保存 CSV",
    ),
    Reason(
        "FILE_MALFORMED",
        "文件已损坏或格式不符",
        "file is corrupt or not in the expected format",
        "请重新导出并上传完整文件",
    ),
    Reason(
        "FILE_WRONG_FORMAT",
        "文件格式不符：{value}",
        "file is not in the source's format",
        "请按约定格式导出（CSV/XLSX/JSON Lines），不要只改文件扩展名",
    ),
    Reason(
        "FILE_OTHER_SOURCE",
        "文件疑似属于其他来源：{value}",
        "file belongs to another source",
        "请放入对应来源的目录",
    ),
    Reason("FILE_EMPTY", "文件没有数据行", "file has no data rows", "请确认导出条件后重新上传"),
    Reason(
        "FILE_DUPLICATE",
        "与已处理文件内容完全相同（重复上传）",
        "identical to a file already processed",
        "无需重复上传",
    ),
    Reason("ROW_DUPLICATE", "与已入库记录完全相同", "identical to a row already loaded", ""),
]
REASONS: dict[str, Reason] = {r.code: r for r in _CATALOGUE}


def reason_text(code: str, column: str = "", value: object = "") -> str:
    """The Chinese reason for a code, filled in with the department's column and value."""
    text = "" if value is None else str(value)
    if len(text) > 40:
        text = text[:40] + "…"
    return REASONS[code].zh.format(column=column, value=text or "（空）")


def catalogue_markdown() -> str:
    """The catalogue as a Markdown table (docs/reasons.md is generated from this)."""
    lines = [
        "# Reason codes",
        "",
        "Why a row or a file was rejected (or accepted with a warning). Generated from",
        "`validation/reasons.py` by `make docs`; do not edit by hand. `{column}` is the",
        "department's column header and `{value}` the value as sent (ID numbers masked).",
        "",
        "| code | 中文说明 | English | 如何修改 |",
        "|---|---|---|---|",
    ]
    lines += [f"| `{r.code}` | {r.zh} | {r.en} | {r.fix_zh} |" for r in _CATALOGUE]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(catalogue_markdown(), end="")
