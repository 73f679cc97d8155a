"""A hostile landing zone, built in each test: nothing outside it is read, nothing in it is
written, incomplete files wait, limits hold, and malformed rows are quarantined one by one.

The corpus is made here with ``tmp_path`` (tiny files; the decompression bombs are built
in memory, small on disk): links into and out of the zone, a hard link, a partial upload,
lock and hidden files, a future modification time, a file still growing, special files,
unreadable entries, an XLSX part that inflates past the limits, NUL bytes, a quote left
open, an over-long field, a wrong field count, a SQLite source in WAL mode.

Skipped entries are checked through the connectors' API (``scan_source``), which the
orchestrator does not call yet; row outcomes are also checked end to end through
``crosscheck.steps.run`` on a temporary SQLite warehouse.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import inspect
import io
import json
import os
import sqlite3
import stat
import struct
import time
import types
import zipfile
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import MetaData, select

from connectors.filecheck import sniff_format
from connectors.landing import (
    SKIP_REASONS,
    LandingRefused,
    landed_files,
    open_landed,
    scan_source,
)
from connectors.limits import GiB, Limits
from connectors.readers import FILE_CODES, ROW_CODES, FileRejected, read_file
from connectors.spec import load_specs
from tests.conftest import PII_KEY
from validation.reasons import REASONS

SPECS = load_specs()
HUKOU = SPECS["gongan_hukou"]
# The scan's `now`, a day after the files the tests write (they carry the real clock's
# time); tests about modification times set them with os.utime around their own `now`.
NOW = time.time() + 86400
AS_OF = dt.date(2026, 11, 30)

HUKOU_HEADER = (
    "户号,姓名,公民身份号码,性别,民族,出生日期,与户主关系,户籍地址,乡镇(街道),村(社区),"
    "户口状态,注销日期,注销原因"
)
HOUSING = [
    "县(市、区)",
    "乡镇",
    "行政村",
    "户主姓名",
    "户主身份证号",
    "房屋结构",
    "建造年代",
    "鉴定等级",
    "鉴定日期",
    "是否纳入改造",
]


def gb11643(seventeen: str) -> str:
    """A valid 18-digit ID from its first 17 digits (check character per GB 11643)."""
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(d) * w for d, w in zip(seventeen, weights, strict=True))
    return seventeen + "10X98765432"[total % 11]


def person_id(seq: int) -> str:
    return gb11643(f"36050219850307{seq:03d}")


ID_OUTSIDE = gb11643("36052119700101999")  # only ever written outside the landing zone


def hukou_row(seq: int, name: str, address: str = "江西省新余市渝水区罗坊镇塘下村") -> str:
    return (
        f"H{seq:03d},{name},{person_id(seq)},男,汉族,1985-03-07,户主,{address},罗坊镇,塘下村,正常,,"
    )


def hukou_csv(*rows: str, encoding: str = "utf-8") -> bytes:
    return (HUKOU_HEADER + "\n" + "\n".join(rows) + "\n").encode(encoding)


def put(landing: Path, source: str, name: str, data: bytes) -> Path:
    folder = landing / source
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def xlsx_bytes(rows) -> bytes:
    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def housing_xlsx(seq: int, name: str) -> bytes:
    row = ["渝水区", "罗坊镇", "塘下村", name, person_id(seq), "砖木", "1990年代", "D"]
    return xlsx_bytes([HOUSING, [*row, "2026-05-01", "是"]])


def claim_size(data: bytes, member: str, size: int) -> bytes:
    """The archive with ``member``'s uncompressed size in the central directory set to
    ``size``: a few KB on disk that claims to inflate to ``size``."""
    buf = bytearray(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        offset = archive.start_dir
    found = False
    while buf[offset : offset + 4] == b"PK\x01\x02":
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", buf, offset + 28)
        if bytes(buf[offset + 46 : offset + 46 + name_len]).decode() == member:
            struct.pack_into("<I", buf, offset + 24, size)
            found = True
        offset += 46 + name_len + extra_len + comment_len
    assert found, member
    return bytes(buf)


def ratio_bomb(data: bytes, member: str, inflated: int) -> bytes:
    """The archive with ``member`` (added, or replaced) made of ``inflated`` bytes that
    deflate ~1000:1, streamed so that the test never holds them."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as src,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            if info.filename != member:
                dst.writestr(info, src.read(info))
        with dst.open(member, "w", force_zip64=True) as part:
            block = b"<si><t>A</t></si>" * (1 << 16)
            for _ in range(inflated // len(block)):
                part.write(block)
    return out.getvalue()


def wal_sqlite(path: Path, rows: list[tuple]) -> None:
    """A SQLite source in WAL mode (readers used to leave -wal/-shm files beside it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute(
        "CREATE TABLE v_jiuzhu (jzlb TEXT, hzxm TEXT, sfzhm TEXT, bzrs INTEGER, ybzje REAL,"
        " sprq TEXT, zzrq TEXT, ssxz TEXT, sscj TEXT)"
    )
    con.executemany("INSERT INTO v_jiuzhu VALUES (?,?,?,?,?,?,?,?,?)", rows)
    con.commit()
    con.close()


def by_name(skipped) -> dict[str, str]:
    return {s.name: s.reason_code for s in skipped}


def names(files) -> list[str]:
    return [f.name for f in files]


# --------------------------------------------------------------------------- links


def test_links_into_and_out_of_the_zone_are_refused_for_files_and_folders(tmp_path):
    landing, outside = tmp_path / "landing", tmp_path / "outside"
    secret = put(tmp_path, "outside", "secret.csv", hukou_csv(hukou_row(1, "外人")))
    good = put(landing, "gongan_hukou", "good.csv", hukou_csv(hukou_row(2, "张伟")))
    folder = good.parent
    (folder / "out.csv").symlink_to(secret)  # a file outside the zone
    (folder / "in.csv").symlink_to(good)  # a file inside the zone: a link all the same
    (folder / "dangling.csv").symlink_to(tmp_path / "nowhere.csv")
    (folder / "dir_link").symlink_to(outside, target_is_directory=True)
    (landing / "shuili_water").symlink_to(outside, target_is_directory=True)  # a source folder

    files, skipped = scan_source(landing, HUKOU, NOW, settle_seconds=0)
    assert names(files) == ["good.csv"]
    assert by_name(skipped) == {
        "dangling.csv": "LANDING_LINK",
        "dir_link": "LANDING_LINK",
        "in.csv": "LANDING_LINK",
        "out.csv": "LANDING_LINK",
    }
    reasons = {s.name: s.reason for s in skipped}
    assert "指向落地区以外" in reasons["out.csv"] and "指向落地区内" in reasons["in.csv"]
    assert all(s.reason_en and s.source_id == "gongan_hukou" for s in skipped)

    files, [folder_link] = scan_source(landing, SPECS["shuili_water"], NOW, settle_seconds=0)
    assert files == []
    assert (folder_link.name, folder_link.reason_code) == ("", "LANDING_LINK")
    assert "shuili_water/" in str(folder_link) and "以外" in folder_link.reason
    # Today's API gives the same files (the safety checks hold without `now`).
    assert names(landed_files(landing, HUKOU)) == ["good.csv"]
    assert landed_files(landing, SPECS["shuili_water"]) == []


def test_a_hard_link_to_a_file_outside_the_zone_is_refused(tmp_path):
    secret = put(tmp_path, "outside", "secret.csv", hukou_csv(hukou_row(1, "外人")))
    landing = tmp_path / "landing"
    (landing / "gongan_hukou").mkdir(parents=True)
    os.link(secret, landing / "gongan_hukou" / "hard.csv")
    files, [entry] = scan_source(landing, HUKOU, NOW, settle_seconds=0)
    assert files == [] and (entry.name, entry.reason_code) == ("hard.csv", "LANDING_LINK")
    assert "硬链接" in entry.reason
    files, skipped = scan_source(landing, HUKOU, NOW, settle_seconds=0, allow_hard_links=True)
    assert names(files) == ["hard.csv"] and skipped == []


def test_a_folder_resolving_outside_the_zone_is_refused(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    put(tmp_path, "elsewhere", "a.csv", hukou_csv(hukou_row(1, "外人")))
    spec = types.SimpleNamespace(source_id="../elsewhere")  # a path, not a source id
    files, [entry] = scan_source(landing, spec, NOW, settle_seconds=0)
    assert files == [] and entry.reason_code == "LANDING_OUTSIDE"


def test_a_path_swapped_for_a_link_after_listing_is_not_followed(tmp_path):
    landing = tmp_path / "landing"
    secret = put(tmp_path, "outside", "good.csv", hukou_csv(hukou_row(1, "外人")))
    path = put(landing, "gongan_hukou", "good.csv", hukou_csv(hukou_row(2, "张伟")))
    [landed], _ = scan_source(landing, HUKOU, NOW, settle_seconds=0)

    # The file itself becomes a link to the outside file.
    link = path.with_name("tmp-link")
    link.symlink_to(secret)
    os.replace(link, path)
    for read in (
        lambda: read_file(path, "csv"),
        lambda: read_file(path, "csv", landed=landed),
        lambda: sniff_format(path),
    ):
        with pytest.raises(LandingRefused) as refused:
            read()
        assert refused.value.code == "LANDING_LINK"

    # The source folder becomes a link to an outside folder holding a file of that name.
    os.unlink(path)
    os.rename(landing / "gongan_hukou", tmp_path / "moved")
    (landing / "gongan_hukou").symlink_to(secret.parent, target_is_directory=True)
    with pytest.raises(LandingRefused) as refused:
        read_file(path, "csv")
    assert refused.value.code == "LANDING_LINK"


def test_a_file_replaced_or_changed_after_it_was_claimed_is_refused(tmp_path):
    landing = tmp_path / "landing"
    path = put(landing, "gongan_hukou", "a.csv", hukou_csv(hukou_row(1, "张伟")))
    [landed], _ = scan_source(landing, HUKOU, NOW, settle_seconds=0)
    assert read_file(path, "csv", landed=landed).frame["姓名"].tolist() == ["张伟"]

    replacement = path.with_name("new")
    replacement.write_bytes(hukou_csv(hukou_row(1, "张伟")))  # same bytes, another file
    os.replace(replacement, path)
    with pytest.raises(LandingRefused) as refused:
        read_file(path, "csv", landed=landed)
    assert refused.value.code == "LANDING_UNSTABLE"
    assert read_file(path, "csv").frame["姓名"].tolist() == ["张伟"]  # unclaimed: readable

    with pytest.raises(LandingRefused) as refused, open_landed(path) as fh:  # written to
        fh.read(10)  # while being read
        with path.open("ab") as writer:
            writer.write(b"more\n")
    assert refused.value.code == "LANDING_UNSTABLE"


# --------------------------------------------------------------------------- complete files


def test_partial_uploads_lock_and_hidden_files_are_not_claimed(tmp_path):
    landing = tmp_path / "landing"
    data = hukou_csv(hukou_row(1, "张伟"))
    put(landing, "gongan_hukou", "good.csv", data)
    partial = [
        "a.csv.part",
        "b.csv.PARTIAL",
        "c.csv.tmp",
        "d.csv.crdownload",
        "e.csv.filepart",
        "~$book.xlsx",
        ".hidden.csv",
        ".good.csv.x8Yz2",  # rsync's temporary name
        "db.sqlite-journal",
    ]
    for name in partial:
        put(landing, "gongan_hukou", name, data)
    files, skipped = scan_source(landing, HUKOU, NOW, settle_seconds=0)
    assert names(files) == ["good.csv"]
    assert by_name(skipped) == dict.fromkeys(partial, "LANDING_TEMPORARY")


def test_a_file_modified_in_the_future_is_not_claimed_until_now_passes_it(tmp_path):
    landing = tmp_path / "landing"
    path = put(landing, "gongan_hukou", "copying.csv", hukou_csv(hukou_row(1, "张伟")))
    put(landing, "gongan_hukou", "old.csv", hukou_csv(hukou_row(2, "李娜")))
    now = time.time()
    os.utime(path, (now + 3600, now + 3600))
    files, skipped = scan_source(landing, HUKOU, now, settle_seconds=0)
    assert names(files) == ["old.csv"]
    assert by_name(skipped) == {"copying.csv": "LANDING_FUTURE_MTIME"}
    later = dt.datetime.fromtimestamp(now + 7200, dt.UTC)  # an aware datetime works too
    files, skipped = scan_source(landing, HUKOU, later, settle_seconds=0)
    assert names(files) == ["copying.csv", "old.csv"] and skipped == []


def test_a_file_still_being_written_is_not_claimed(tmp_path):
    landing = tmp_path / "landing"
    now = time.time()
    growing = put(landing, "gongan_hukou", "growing.csv", hukou_csv(hukou_row(1, "张伟")))
    quiet = put(landing, "gongan_hukou", "quiet.csv", hukou_csv(hukou_row(2, "李娜")))
    settled = put(landing, "gongan_hukou", "settled.csv", hukou_csv(hukou_row(3, "王芳")))
    for path in (growing, quiet):
        os.utime(path, (now - 0.5, now - 0.5))  # written half a second ago
    os.utime(settled, (now - 60, now - 60))
    waits = []

    def writer_keeps_writing(seconds):  # stands in for time.sleep: the upload goes on
        waits.append(seconds)
        with growing.open("ab") as fh:
            fh.write(hukou_row(4, "赵六").encode() + b"\n")

    files, skipped = scan_source(landing, HUKOU, now, settle_seconds=2, sleep=writer_keeps_writing)
    assert waits == [2]  # one wait for the folder, because two files were that recent
    assert names(files) == ["quiet.csv", "settled.csv"]
    assert by_name(skipped) == {"growing.csv": "LANDING_UNSTABLE"}

    os.utime(growing, (now - 60, now - 60))
    os.utime(quiet, (now - 60, now - 60))
    files, skipped = scan_source(landing, HUKOU, now, settle_seconds=2, sleep=waits.append)
    assert waits == [2] and len(files) == 3  # nothing recent: no wait at all


# --------------------------------------------------------------------------- unreadable


def test_special_entries_are_skipped_by_name_and_never_block(tmp_path):
    """Under root, chmod 000 does not stop reads, so the unreadable-by-type cases are a FIFO,
    a folder named like a file, and a source "folder" that is a plain file."""
    landing = tmp_path / "landing"
    put(landing, "gongan_hukou", "good.csv", hukou_csv(hukou_row(1, "张伟")))
    os.mkfifo(landing / "gongan_hukou" / "pipe.csv")  # opening it for reading would block
    (landing / "gongan_hukou" / "folder.csv").mkdir()
    (landing / "shuili_water").write_bytes(b"not a folder")
    files, skipped = scan_source(landing, HUKOU, NOW, settle_seconds=0)
    assert names(files) == ["good.csv"]
    assert by_name(skipped) == {"folder.csv": "LANDING_NOT_FILE", "pipe.csv": "LANDING_NOT_FILE"}
    files, [entry] = scan_source(landing, SPECS["shuili_water"], NOW, settle_seconds=0)
    assert files == [] and entry.reason_code == "LANDING_NOT_FILE"

    # A listed file swapped for a FIFO: the reader refuses it at once (O_NONBLOCK).
    path = landing / "gongan_hukou" / "good.csv"
    path.unlink()
    os.mkfifo(path)
    with pytest.raises(LandingRefused) as refused:
        read_file(path, "csv")
    assert refused.value.code == "LANDING_NOT_FILE"


def _deny(monkeypatch, *denied: str) -> None:
    """Make os.open fail with EACCES for the given names (root reads through chmod 000)."""
    real_open = os.open

    def fake_open(path, flags, mode=0o777, *, dir_fd=None):
        if os.fspath(path).endswith(denied):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_open(path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr(os, "open", fake_open)


def test_an_unreadable_file_or_folder_is_reported_by_name_and_the_others_go_on(
    tmp_path, monkeypatch
):
    landing = tmp_path / "landing"
    put(landing, "gongan_hukou", "good.csv", hukou_csv(hukou_row(1, "张伟")))
    locked = put(landing, "gongan_hukou", "locked.csv", hukou_csv(hukou_row(2, "李娜")))
    put(landing, "shuili_water", "w.csv", b"x")
    if os.geteuid() != 0:  # a real permission error where permissions apply
        locked.chmod(0)
        (landing / "shuili_water").chmod(0)
    else:  # root reads through chmod 000: the same error, injected at os.open
        _deny(monkeypatch, "locked.csv", "shuili_water")
    try:
        files, skipped = scan_source(landing, HUKOU, NOW, settle_seconds=0)
        assert names(files) == ["good.csv"]
        assert by_name(skipped) == {"locked.csv": "LANDING_UNREADABLE"}
        assert "Permission denied" in skipped[0].reason
        files, [entry] = scan_source(landing, SPECS["shuili_water"], NOW, settle_seconds=0)
        assert files == [] and (entry.name, entry.reason_code) == ("", "LANDING_UNREADABLE")
        assert names(landed_files(landing, HUKOU)) == ["good.csv"]  # never raises
    finally:
        locked.chmod(0o644)
        (landing / "shuili_water").chmod(0o755)


# --------------------------------------------------------------------------- limits


def test_limits_have_safe_defaults_and_refuse_nonsense():
    limits = Limits()
    assert limits.max_file_bytes == 2 * GiB and limits.max_rows == 5_000_000
    assert (limits.max_field_chars, limits.max_columns) == (10_000, 500)
    with pytest.raises(ValueError, match="max_rows"):
        Limits(max_rows=0)


def test_an_xlsx_claiming_a_huge_part_is_rejected_before_openpyxl_sees_it(tmp_path, monkeypatch):
    import openpyxl

    opened = []
    monkeypatch.setattr(openpyxl, "load_workbook", lambda *a, **k: opened.append(a))
    good = housing_xlsx(1, "张伟")
    bomb = claim_size(good, "xl/worksheets/sheet1.xml", GiB)  # a sheet of ~1 GB, claimed
    path = put(tmp_path / "landing", "zhujian_housing", "bomb.xlsx", bomb)
    assert path.stat().st_size < 10_000
    with pytest.raises(FileRejected) as rejected:
        read_file(path, "xlsx")
    assert rejected.value.code == "FILE_ZIP_BOMB" and "sheet1.xml" in rejected.value.message
    assert opened == []


def test_an_xlsx_part_compressed_a_thousand_to_one_is_rejected_unopened(tmp_path, monkeypatch):
    import openpyxl

    opened = []
    monkeypatch.setattr(openpyxl, "load_workbook", lambda *a, **k: opened.append(a))
    bomb = ratio_bomb(housing_xlsx(1, "张伟"), "xl/sharedStrings.xml", 24 << 20)
    path = put(tmp_path / "landing", "zhujian_housing", "ratio.xlsx", bomb)
    assert path.stat().st_size < 200_000  # 24 MiB inside
    with pytest.raises(FileRejected) as rejected:
        read_file(path, "xlsx")
    assert rejected.value.code == "FILE_ZIP_BOMB" and "压缩比" in rejected.value.message
    assert opened == []


TWO_ROW_XLSX = xlsx_bytes(
    [HOUSING, ["渝水区", "罗坊镇", "塘下村", "张伟"], ["渝水区", "罗坊镇", "塘下村", "李娜"]]
)


@pytest.mark.parametrize(
    "fmt,data,limits,code",
    [
        ("csv", hukou_csv(hukou_row(1, "张伟")), Limits(max_file_bytes=100), "FILE_TOO_LARGE"),
        (
            "csv",
            hukou_csv(*(hukou_row(i, "张伟") for i in range(3))),
            Limits(max_rows=2),
            "FILE_TOO_MANY_ROWS",
        ),
        ("csv", hukou_csv(hukou_row(1, "张伟")), Limits(max_columns=12), "FILE_TOO_MANY_COLUMNS"),
        ("xlsx", TWO_ROW_XLSX, Limits(max_rows=1), "FILE_TOO_MANY_ROWS"),
        ("xlsx", housing_xlsx(1, "张伟"), Limits(max_columns=9), "FILE_TOO_MANY_COLUMNS"),
        ("xlsx", housing_xlsx(1, "张伟"), Limits(max_part_bytes=1000), "FILE_ZIP_BOMB"),
        (
            "jsonl",
            b'{"a": 1}\n{"b": 2}\n{"c": 3}\n',
            Limits(max_columns=2),
            "FILE_TOO_MANY_COLUMNS",
        ),
        ("jsonl", b'{"a": 1}\n{"a": 2}\n{"a": 3}\n', Limits(max_rows=2), "FILE_TOO_MANY_ROWS"),
    ],
)
def test_whole_file_limits_reject_the_file_with_their_code(tmp_path, fmt, data, limits, code):
    path = put(tmp_path / "landing", "any", f"f.{fmt}", data)
    with pytest.raises(FileRejected) as rejected:
        read_file(path, fmt, limits=limits)
    assert rejected.value.code == code and rejected.value.message


# --------------------------------------------------------------------------- malformed rows

LONG = "长" * 20_000  # over the 10,000-character default
ROW_CASES = {
    # name: (rows of the file, {row: reason code}, names of the rows that load)
    "nul": (
        [hukou_row(1, "张伟"), hukou_row(2, "王\x00五"), hukou_row(3, "李娜")],
        {2: "ROW_NUL_BYTES"},
        ["张伟", "李娜"],
    ),
    "open_quote": (
        [hukou_row(1, "张伟"), hukou_row(2, '"王五'), hukou_row(3, "李娜"), hukou_row(4, "赵六")],
        {2: "ROW_QUOTE_UNCLOSED"},
        ["张伟", "李娜", "赵六"],
    ),
    "open_quote_closed_by_a_later_stray_quote": (
        [
            hukou_row(1, "张伟"),
            hukou_row(2, '"王五'),
            hukou_row(3, "李娜"),
            hukou_row(4, '赵"六'),
            hukou_row(5, "钱七"),
        ],
        {2: "ROW_QUOTE_UNCLOSED"},
        ["张伟", "李娜", '赵"六', "钱七"],
    ),
    "open_quote_in_the_last_row": (
        [hukou_row(1, "张伟"), hukou_row(2, "李娜"), 'H003,"王五,3605'],
        {3: "ROW_QUOTE_UNCLOSED"},
        ["张伟", "李娜"],
    ),
    "quoted_value_with_a_line_break_loads": (
        [hukou_row(1, "张伟", '"江西省新余市\n渝水区罗坊镇"'), hukou_row(2, "李娜")],
        {},
        ["张伟", "李娜"],
    ),
    "long_field": (
        [hukou_row(1, "张伟"), hukou_row(2, "王五", LONG), hukou_row(3, "李娜")],
        {2: "ROW_FIELD_TOO_LONG"},
        ["张伟", "李娜"],
    ),
    "five_megabyte_field": (
        [hukou_row(1, "张伟"), hukou_row(2, "王五", "x" * 5_000_000), hukou_row(3, "李娜")],
        {2: "ROW_FIELD_TOO_LONG"},
        ["张伟", "李娜"],
    ),
    "wrong_field_count": (
        [hukou_row(1, "张伟") + ",多余", hukou_row(2, "李娜"), hukou_row(3, "王五")[:20]],
        {1: "ROW_MALFORMED", 3: "ROW_MALFORMED"},
        ["李娜"],
    ),
}


@pytest.mark.parametrize("case", list(ROW_CASES))
def test_a_malformed_row_is_broken_with_its_code_and_the_rest_reads(tmp_path, case):
    rows, broken, loaded = ROW_CASES[case]
    path = put(tmp_path / "landing", "gongan_hukou", f"{case}.csv", hukou_csv(*rows))
    table = read_file(path, "csv")
    assert table.broken_rows == broken
    assert set(table.broken_details) == set(broken)
    assert list(table.frame.index) == list(range(1, len(rows) + 1))  # numbers kept
    kept = table.frame.drop(index=list(broken))
    assert kept["姓名"].tolist() == loaded
    assert table.frame.loc[list(broken)].isna().all().all()  # never the bad cells
    assert {code: list(rows) for code, rows in table.broken_by_code().items()} == {
        code: sorted(r for r, c in broken.items() if c == code) for code in set(broken.values())
    }


def test_gb18030_row_quarantine_and_a_nul_in_json_lines(tmp_path):
    rows = [hukou_row(1, "张伟"), hukou_row(2, '"王五'), hukou_row(3, "李娜")]
    path = put(tmp_path / "landing", "gongan_hukou", "gb.csv", hukou_csv(*rows, encoding="gb18030"))
    table = read_file(path, "csv")
    assert table.encoding == "gb18030" and table.broken_rows == {2: "ROW_QUOTE_UNCLOSED"}
    lines = [
        json.dumps({"psn_name": "张伟", "certno": person_id(1)}, ensure_ascii=False),
        json.dumps({"psn_name": "王\u0000五", "certno": person_id(2)}, ensure_ascii=False),
        json.dumps({"psn_name": "长" * 20_000}, ensure_ascii=False),
        "{not json",
    ]
    path = put(tmp_path / "landing", "yibao_settlement", "s.jsonl", "\n".join(lines).encode())
    table = read_file(path, "jsonl")
    assert table.broken_rows == {2: "ROW_NUL_BYTES", 3: "ROW_FIELD_TOO_LONG", 4: "ROW_MALFORMED"}
    assert table.frame.loc[1, "psn_name"] == "张伟"


def test_every_code_the_connectors_give_is_in_the_reason_catalogue():
    for code in [*SKIP_REASONS, *ROW_CODES, *FILE_CODES]:
        assert code in REASONS, code
    for code, (zh, en) in SKIP_REASONS.items():
        assert (REASONS[code].zh, REASONS[code].en) == (zh, en), code


# --------------------------------------------------------------------------- end to end


def _steps_quarantines_each_row_under_its_code() -> bool:
    """crosscheck.steps files every broken row as ROW_MALFORMED until it takes each row's
    own code from RawTable.broken_by_code(); the end-to-end checks follow whichever it does."""
    import crosscheck.steps

    return "broken_by_code" in inspect.getsource(crosscheck.steps)


def _snapshot(root: Path) -> dict[str, tuple]:
    """Every entry under root (links not followed): kind, content hash, size, mtime, mode."""
    seen: dict[str, tuple] = {}
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            path = Path(folder) / name
            st = os.lstat(path)
            key = str(path.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                seen[key] = ("link", os.readlink(path))
            elif stat.S_ISREG(st.st_mode):
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                seen[key] = ("file", digest, st.st_size, st.st_mtime_ns, st.st_mode)
            else:
                seen[key] = ("other", stat.S_IFMT(st.st_mode), st.st_mtime_ns, st.st_mode)
    return seen


E2E_FILES = {  # gongan_hukou file -> (rows, {row: code}, names that load)
    "h1_good.csv": ([hukou_row(10, "张伟"), hukou_row(11, "李娜")], {}, ["张伟", "李娜"]),
    "h2_nul.csv": (
        [hukou_row(20, "王芳"), hukou_row(21, "王\x00五"), hukou_row(22, "刘洋")],
        {2: "ROW_NUL_BYTES"},
        ["王芳", "刘洋"],
    ),
    "h3_open_quote.csv": (
        [
            hukou_row(30, "陈静"),
            hukou_row(31, '"杨帆'),
            hukou_row(32, "黄磊"),
            hukou_row(33, "周杰"),
        ],
        {2: "ROW_QUOTE_UNCLOSED"},
        ["陈静", "黄磊", "周杰"],
    ),
    "h4_long_field.csv": (
        [hukou_row(40, "吴敏"), hukou_row(41, "徐亮", "x" * 5_000_000), hukou_row(42, "孙丽")],
        {2: "ROW_FIELD_TOO_LONG"},
        ["吴敏", "孙丽"],
    ),
    "h5_field_count.csv": (
        [hukou_row(50, "马超") + ",多余", hukou_row(51, "朱琳"), hukou_row(52, "胡军")[:20]],
        {1: "ROW_MALFORMED", 3: "ROW_MALFORMED"},
        ["朱琳"],
    ),
}


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """One run over a landing zone holding every kind of hostile entry, on SQLite."""
    from crosscheck.steps import open_warehouse, run

    base = tmp_path_factory.mktemp("hostile")
    landing, outside = base / "landing", base / "outside"
    secret = put(outside, "gongan_hukou", "secret.csv", hukou_csv(hukou_row(1, "外人")))
    secret.write_bytes(secret.read_bytes().replace(person_id(1).encode(), ID_OUTSIDE.encode()))
    for name, (rows, _, _) in E2E_FILES.items():
        put(landing, "gongan_hukou", name, hukou_csv(*rows))
    hukou = landing / "gongan_hukou"
    (hukou / "link_out.csv").symlink_to(secret)
    os.link(secret, hukou / "hard_out.csv")
    put(landing, "gongan_hukou", "late.csv.part", secret.read_bytes())
    (landing / "shuili_water").symlink_to(secret.parent, target_is_directory=True)
    put(landing, "zhujian_housing", "good.xlsx", housing_xlsx(60, "郭强"))
    bomb = claim_size(housing_xlsx(61, "何平"), "xl/worksheets/sheet1.xml", GiB)
    put(landing, "zhujian_housing", "bomb.xlsx", bomb)
    wal_sqlite(
        landing / "minzheng_db" / "jiuzhu_202611.sqlite",
        [("城乡低保", "郭强", person_id(60), 3, 600.0, "2026-01-05", None, "罗坊镇", "塘下村")],
    )
    before = {"landing": _snapshot(landing), "outside": _snapshot(outside)}
    url = f"sqlite:///{base / 'warehouse.db'}"
    summary = run(landing, url, AS_OF, base / "reports", PII_KEY)
    after = {"landing": _snapshot(landing), "outside": _snapshot(outside)}
    engine = open_warehouse(url)
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        tables = {name: conn.execute(select(t)).all() for name, t in meta.tables.items()}
    engine.dispose()
    return types.SimpleNamespace(summary=summary, before=before, after=after, tables=tables)


def test_run_quarantines_each_malformed_row_and_loads_the_rest(hostile_run):
    assert hostile_run.summary.ok, hostile_run.summary.failures
    audits = {a.file_name: a for a in hostile_run.tables["load_audit"]}
    quarantine = hostile_run.tables["quarantine"]
    staged = hostile_run.tables["stg_gongan_hukou"]
    own_codes = _steps_quarantines_each_row_under_its_code()
    for name, (rows, broken, loaded) in E2E_FILES.items():
        audit = audits[name]
        assert audit.rows_in == len(rows), name
        assert (audit.rows_loaded, audit.rows_quarantined) == (len(loaded), len(broken)), name
        got = {q.row_number: q.reason_code for q in quarantine if q.file_name == name}
        expected = {row: code if own_codes else "ROW_MALFORMED" for row, code in broken.items()}
        assert got == expected, name
        names_loaded = [s.name for s in staged if s.load_id == audit.load_id]
        assert sorted(names_loaded) == sorted(loaded), name
    for q in quarantine:  # the reasons are Chinese and the raw values hold no ID or NUL
        assert q.reason and "\x00" not in q.raw_values and len(q.raw_values) < 10_000


def test_run_reads_nothing_from_outside_the_zone(hostile_run):
    audited = {(a.source_id, a.file_name) for a in hostile_run.tables["load_audit"]}
    assert not {n for _, n in audited} & {"link_out.csv", "hard_out.csv", "late.csv.part"}
    assert not any(source == "shuili_water" for source, _ in audited)
    for name, rows in hostile_run.tables.items():
        for row in rows:
            text = repr(tuple(row))
            assert ID_OUTSIDE not in text and ID_OUTSIDE[:-4] not in text, name
            assert "外人" not in text, name


def test_run_rejects_the_bomb_and_loads_the_other_workbook_and_the_wal_database(hostile_run):
    audits = {a.file_name: a for a in hostile_run.tables["load_audit"]}
    assert (audits["bomb.xlsx"].status, audits["bomb.xlsx"].reason_code) == (
        "rejected",
        "FILE_ZIP_BOMB",
    )
    assert audits["good.xlsx"].rows_loaded == 1
    assert audits["jiuzhu_202611.sqlite"].rows_loaded == 1


def test_a_run_never_modifies_the_landing_zone(hostile_run):
    """Item 7: every entry's hash, size, mtime and mode, and every link, as they were; no
    file added (SQLite's -wal/-shm beside a WAL database used to appear) or removed."""
    assert hostile_run.after["landing"] == hostile_run.before["landing"]
    assert hostile_run.after["outside"] == hostile_run.before["outside"]
