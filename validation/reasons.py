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
        "该行格式错误：字段个数与表头不符，或无法拆分为字段",
        "row cannot be split into the header's fields (wrong field count, bad JSON)",
        "请检查该行的分隔符（逗号）或引号，每行的字段数应与表头一致",
    ),
    Reason(
        "ROW_QUOTE_UNCLOSED",
        "该行引号未闭合（其后的行已单独读取）",
        "a quote opened in this row is never closed (the rows after it were read on their own)",
        "字段中的英文双引号要成对出现；值里的双引号请写成两个双引号",
    ),
    Reason(
        "ROW_NUL_BYTES",
        "该行含有空字符（NUL，0x00）",
        "row holds NUL bytes",
        "请检查导出程序，去除不可见的控制字符后重新导出",
    ),
    Reason(
        "ROW_FIELD_TOO_LONG",
        "该行有字段超过长度上限",
        "a field of this row is longer than the limit (Limits.max_field_chars)",
        "请检查是否有大段文字或多行内容粘贴进了一个单元格，或导出时列发生错位",
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
    Reason(
        "FILE_TOO_LARGE",
        "文件超过大小上限",
        "file larger than the limit (Limits.max_file_bytes)",
        "请按月份或地区拆分后分别上传",
    ),
    Reason(
        "FILE_TOO_MANY_ROWS",
        "文件数据行数超过上限",
        "more data rows than the limit (Limits.max_rows)",
        "请按月份或地区拆分后分别上传",
    ),
    Reason(
        "FILE_TOO_MANY_COLUMNS",
        "文件列数超过上限",
        "more columns than the limit (Limits.max_columns)",
        "请只导出约定的列",
    ),
    Reason(
        "FILE_ZIP_BOMB",
        "Excel 文件解压后过大或压缩比异常（疑似压缩炸弹），未打开",
        "an XLSX part inflates past the size or ratio limits (decompression bomb); never opened",
        "请用 Excel 另存为标准 .xlsx 后重新上传；文件确实很大时请拆分",
    ),
    Reason("ROW_DUPLICATE", "与已入库记录完全相同", "identical to a row already loaded", ""),
    # landing zone: the entry is not claimed, left as it is, and looked at again next run
    Reason(
        "LANDING_LINK",
        "链接文件（符号链接或硬链接），不读取",
        "a symbolic or hard link (file or source folder), never read",
        "请上传文件本身，不要放置快捷方式或链接",
    ),
    Reason(
        "LANDING_OUTSIDE",
        "路径指向落地区以外，不读取",
        "the path resolves outside the landing zone, never read",
        "请把文件直接放入本来源的目录",
    ),
    Reason(
        "LANDING_NOT_FILE",
        "不是普通文件（子目录、管道或设备文件），不处理",
        "not a plain file (folder, pipe, device), not processed",
        "请把文件直接放入本来源的目录，不要建子目录",
    ),
    Reason(
        "LANDING_TEMPORARY",
        "临时文件、未完成的上传、锁定文件或隐藏文件，不处理",
        "temporary, partial upload (.part, .tmp, .crdownload...), lock (~$) or hidden file",
        "请等上传完成后再处理；上传完成后文件名不应带 .part、.tmp 等后缀",
    ),
    Reason(
        "LANDING_FUTURE_MTIME",
        "文件修改时间晚于当前时间，可能仍在写入，暂不处理",
        "modification time after the scan's time (still being written?), not claimed yet",
        "请确认上传已完成、上传服务器时钟正确；下次运行会再次检查",
    ),
    Reason(
        "LANDING_UNSTABLE",
        "文件仍在写入或在读取时被替换，暂不处理",
        "size or modification time changing (still being written, or replaced), not claimed",
        "请等上传完成；下次运行会再次检查",
    ),
    Reason(
        "LANDING_UNREADABLE",
        "文件或目录无法读取（权限或系统错误）",
        "file or folder cannot be read (permissions, I/O error)",
        "请检查文件权限，使处理程序可以读取",
    ),
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
