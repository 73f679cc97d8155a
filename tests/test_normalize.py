"""Unit tests for matching.normalize on tiny inline Series."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from connectors import values as cv
from matching import normalize as nz
from privacy import mask_id

AS_OF = dt.date(2026, 11, 29)
WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]


def ref_check(body17: str) -> str:
    """Reference GB 11643 check character, written independently of the module."""
    return "10X98765432"[sum(int(c) * w for c, w in zip(body17, WEIGHTS, strict=True)) % 11]


def ids(values, **kw) -> pd.DataFrame:
    return nz.normalize_id_numbers(pd.Series(values, dtype=object), as_of=AS_OF, **kw)


def one(value) -> dict:
    row = ids([value]).iloc[0]
    return {k: (None if pd.isna(v) else v) for k, v in row.items()}


GB_FEMALE = "11010519491231002X"  # example ID of GB 11643-1999
GB_MALE = "440524188001010014"  # the other example, born 1880-01-01
ID_000_VALID = "360502198503015000"  # ends in 000 and still passes the check
ID15 = "360502850307123"
ID15_REPAIRED = "36050219850307123X"


# --------------------------------------------------------------------------- ID numbers


def test_reference_examples_are_consistent():
    for value in (GB_FEMALE, GB_MALE, ID_000_VALID, ID15_REPAIRED):
        assert ref_check(value[:17]) == value[17]


@pytest.mark.parametrize("value", [GB_FEMALE, GB_MALE, ID_000_VALID])
def test_valid_ids(value):
    assert one(value) == {"id18": value, "id_status": "valid", "id_prefix": value}


@pytest.mark.parametrize(
    "raw",
    [
        "11010519491231002x",  # lowercase x
        " 11010519491231002X\t",  # surrounding whitespace
        "110105 19491231 002X",  # spaces inside
        "110105-19491231-002X",  # hyphens
        "110105\u300019491231\u3000002X",  # ideographic spaces
        "１１０１０５１９４９１２３１００２Ｘ",  # full-width digits and X
        "１１０１０５１９４９１２３１００２ｘ",  # full-width lowercase x
        "110105－19491231－002X",  # full-width hyphen
        '="11010519491231002X"',  # Excel text guard
        "'11010519491231002X",  # leading apostrophe
    ],
)
def test_id_cosmetic_quirks_normalise_to_valid(raw):
    assert one(raw) == {"id18": GB_FEMALE, "id_status": "valid", "id_prefix": GB_FEMALE}


def test_15_digit_repaired_to_18():
    got = one(ID15)
    assert got["id_status"] == "repaired_15"
    assert (
        got["id18"]
        == ID15_REPAIRED
        == ID15[:6] + "19" + ID15[6:] + ref_check(ID15[:6] + "19" + ID15[6:])
    )
    assert got["id_prefix"] == got["id18"]
    # the repaired ID is itself valid: a round trip is stable
    assert one(got["id18"])["id_status"] == "valid"


def test_15_digit_from_numbers_and_float_text():
    out = ids([int(ID15), float(ID15), ID15 + ".0", "3.60502850307123E+14"])
    assert out["id_status"].tolist() == ["repaired_15"] * 4
    assert out["id18"].tolist() == [ID15_REPAIRED] * 4


def test_15_digit_with_impossible_date_is_malformed():
    assert one("360502851307123")["id_status"] == "malformed"  # month 13
    assert one("360502850230123")["id_status"] == "malformed"  # 30 February


def test_15_digit_leap_day():
    assert one("360502840229123")["id_status"] == "repaired_15"  # 1984 is a leap year
    assert one("360502850229123")["id_status"] == "malformed"


def test_wrong_check_char_is_invalid_check():
    typo = GB_FEMALE[:17] + "1"
    assert one(typo) == {"id18": None, "id_status": "invalid_check", "id_prefix": typo}


@pytest.mark.parametrize("pos", range(17))
def test_single_digit_typos_are_caught(pos):
    digit = str((int(GB_MALE[pos]) + 3) % 10)
    typo = GB_MALE[:pos] + digit + GB_MALE[pos + 1 :]
    status = one(typo)["id_status"]
    # a typo can land on the "000" ending only through position 15/16, never here
    assert status == "invalid_check"


def test_adjacent_transpositions_are_caught():
    value = "36050219850307123X"
    for pos in range(16):
        if value[pos] == value[pos + 1]:
            continue
        swapped = value[:pos] + value[pos + 1] + value[pos] + value[pos + 2 :]
        got = one(swapped)
        assert got["id_status"] == "invalid_check", swapped
        assert got["id_prefix"] == swapped


def test_invalid_check_keeps_status_even_with_broken_date():
    # A typo in the date breaks the check too: still a lead for fuzzy matching.
    value = "360502198513071230"
    assert ref_check(value[:17]) != value[17]
    assert one(value)["id_status"] == "invalid_check"


def test_correct_check_with_impossible_or_future_birth_date_is_malformed():
    future = "36050220300101123"
    feb30 = "36050219850230123"
    too_old = "36050218790101123"
    for body in (future, feb30, too_old):
        assert one(body + ref_check(body)) == {
            "id18": None,
            "id_status": "malformed",
            "id_prefix": None,
        }


def test_future_is_relative_to_as_of():
    body = "36050220260301123"
    value = body + ref_check(body)
    unbounded = nz.normalize_id_numbers(pd.Series([value]), as_of=None)  # never the clock
    assert unbounded["id_status"].iloc[0] == "valid"
    with pytest.raises(TypeError):
        nz.normalize_id_numbers(pd.Series([value]))  # the run date must be given
    early = nz.normalize_id_numbers(pd.Series([value]), as_of="2026-02-28")
    late = nz.normalize_id_numbers(pd.Series([value]), as_of=dt.date(2026, 3, 1))
    assert early["id_status"].iloc[0] == "malformed"
    assert late["id_status"].iloc[0] == "valid"


@pytest.mark.parametrize(
    ("raw", "prefix"),
    [
        ("3.60502E+17", "360502"),  # Excel's General display
        ("3.60502e+17", "360502"),
        ("3.60502E17", "360502"),
        ("3.60502198503071E+17", "360502198503071"),
        ("3.605021985030712e+17", "360502198503071"),  # Python repr: 16th digit is noise
        (3.605021985030712e17, "360502198503071"),  # a float from an xlsx numeric cell
        (np.float64(3.605021985030712e17), "360502198503071"),
        ("360502198503071000.0", "360502198503071"),
        ("360502198503071232.0", "360502198503071"),
        ("360502198503071000", "360502198503071"),  # last 3 zeroed, check fails
        (360502198503071000, "360502198503071"),  # same as an int
        ("3.60502E+14", "360502"),  # a 15-digit ID shown by Excel
        ("3.605028503E+14", "360502198503"),  # prefix in the 18-digit layout
    ],
)
def test_mangled(raw, prefix):
    assert one(raw) == {"id18": None, "id_status": "mangled", "id_prefix": prefix}


def test_000_ending_that_passes_check_is_valid():
    assert one(ID_000_VALID)["id_status"] == "valid"
    assert one(int(ID_000_VALID))["id_status"] == "valid"


def test_exact_scientific_notation_is_read_as_digits():
    assert one("4.40524188001010014E+17")["id18"] == GB_MALE


@pytest.mark.parametrize(
    "raw",
    [
        "abc",
        "12345",
        "1101051949123100",
        "1101051949123100211",
        "11010519491231002Y",
        "X10105194912310021",
        "3.6E+16",
        "1.5",
        True,
        "36050285030712X",
        "无",
    ],
)
def test_malformed(raw):
    assert one(raw) == {"id18": None, "id_status": "malformed", "id_prefix": None}


@pytest.mark.parametrize("raw", [None, np.nan, pd.NA, "", "   ", "\u3000", "-"])
def test_blank(raw):
    assert one(raw) == {"id18": None, "id_status": "blank", "id_prefix": None}


def test_id_frame_shape_dtypes_and_index():
    s = pd.Series([GB_FEMALE, None, "3.60502E+17", GB_FEMALE.lower()], index=[10, 20, 30, 40])
    out = nz.normalize_id_numbers(s, as_of=AS_OF)
    assert list(out.columns) == ["id18", "id_status", "id_prefix"]
    assert out.index.tolist() == [10, 20, 30, 40]
    assert all(str(t) == "string" for t in out.dtypes)
    assert out["id18"].isna().tolist() == [False, True, True, False]
    assert set(out["id_status"]) <= set(nz.ID_STATUS)


def test_id_input_dtypes():
    for s in (
        pd.Series([GB_FEMALE, None]),  # pandas "str" dtype, NaN
        pd.Series([GB_FEMALE, None], dtype="string"),  # <NA>
        pd.Series([GB_FEMALE, None], dtype="category"),
    ):
        out = nz.normalize_id_numbers(s, as_of=AS_OF)
        assert out["id_status"].tolist() == ["valid", "blank"]
    ints = nz.normalize_id_numbers(pd.Series([int(GB_MALE), int(ID15)]), as_of=AS_OF)
    assert ints["id_status"].tolist() == ["valid", "repaired_15"]
    floats = nz.normalize_id_numbers(pd.Series([3.605021985030712e17, np.nan]), as_of=AS_OF)
    assert floats["id_status"].tolist() == ["mangled", "blank"]
    assert len(nz.normalize_id_numbers(pd.Series([], dtype=object), as_of=AS_OF)) == 0


def test_id_normalisation_is_idempotent():
    raw = [GB_FEMALE.lower(), ID15, "3.60502E+17", GB_FEMALE[:17] + "1", None]
    first = ids(raw)
    again = ids(first["id18"].fillna(first["id_prefix"]).tolist())
    assert again["id18"].tolist()[:2] == first["id18"].tolist()[:2]


def test_id_from_disability_card():
    s = pd.Series(
        [
            "36050219850307123X11",
            "36050219850307123x42",
            " 360502-19850307123X 11",
            "36050285030712311",  # old 15-digit ID + 2
            GB_FEMALE,  # already a bare ID
            "3.60502E+19",  # Excel display of the 20-digit number
            "36050219850307100000.0",
            None,
            "",
        ]
    )
    got = nz.id_from_disability_card(s)
    assert got.tolist()[:5] == [ID15_REPAIRED, ID15_REPAIRED, ID15_REPAIRED, ID15, GB_FEMALE]
    statuses = nz.normalize_id_numbers(got, as_of=AS_OF)["id_status"].tolist()
    assert statuses == [
        "valid",
        "valid",
        "valid",
        "repaired_15",
        "valid",
        "mangled",
        "mangled",
        "blank",
        "blank",
    ]


def test_id_from_student_no():
    s = pd.Series(
        [
            "G11010519491231002X",
            "g11010519491231002x",
            "Ｇ" + GB_FEMALE,
            GB_FEMALE,
            "L2019360502001",
            None,
            "",
        ]
    )
    got = nz.id_from_student_no(s)
    assert got.tolist()[:4] == [GB_FEMALE] * 4
    assert got.iloc[4:].isna().all()


def test_mask_id():
    got = mask_id(pd.Series(["36050219850307123X", None, "360502198503071", "123"]))
    assert got.tolist()[0] == "360502********123X"
    assert pd.isna(got.iloc[1])
    assert got.iloc[2] == "360502********3071"
    assert got.iloc[3] == "********"  # too short to show anything


def test_birth_date_and_sex_from_id():
    s = pd.Series([GB_FEMALE, GB_MALE, ID15_REPAIRED, None, "abc"], index=list("abcde"))
    born = nz.birth_date_from_id(s)
    assert str(born.dtype) == "datetime64[ns]"
    assert born.index.tolist() == list("abcde")
    assert born.tolist()[:3] == [
        pd.Timestamp("1949-12-31"),
        pd.Timestamp("1880-01-01"),
        pd.Timestamp("1985-03-07"),
    ]
    assert born.iloc[3:].isna().all()
    sex = nz.sex_from_id(s)
    assert sex.tolist()[:3] == ["女", "男", "男"]
    assert sex.iloc[3:].isna().all()


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("張偉", "张伟"),
        ("陳小明", "陈小明"),
        ("劉德華", "刘德华"),
        (" 李 娜 ", "李娜"),
        ("李\u3000娜", "李娜"),
        ("李\t娜", "李娜"),
        ("ＭＡＲＹ", "MARY"),
        ("阿依古丽·买买提", "阿依古丽·买买提"),
        ("阿依古丽•买买提", "阿依古丽·买买提"),
        ("阿依古丽・买买提", "阿依古丽·买买提"),
        ("阿依古丽‧买买提", "阿依古丽·买买提"),
        ("阿依古丽･买买提", "阿依古丽·买买提"),
        ("阿依古丽.买买提", "阿依古丽·买买提"),
        ("阿依古丽．买买提", "阿依古丽·买买提"),
        ("阿依古丽 · 买买提", "阿依古丽·买买提"),
        ("张伟", "张伟"),  # simplified stays simplified (t2s, never s2t)
        ("范后", "范后"),
    ],
)
def test_normalize_names(raw, expected):
    assert nz.normalize_names(pd.Series([raw])).iloc[0] == expected


def test_normalize_names_blank_and_index():
    got = nz.normalize_names(
        pd.Series([None, "", "  ", "\u3000", np.nan, "張偉"], index=list("abcdef"))
    )
    assert got.index.tolist() == list("abcdef")
    assert got.iloc[:5].isna().all()
    assert got.iloc[5] == "张伟"
    assert str(got.dtype) == "string"


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["张伟", "章伟"], "zhangwei"),
        (["李娜", "李纳"], "lina"),
        (["張偉", " 张 伟 "], "zhangwei"),
        (["吕布"], "lvbu"),
        (["阿依古丽·买买提"], "ayigulimaimaiti"),
    ],
)
def test_name_pinyin_homophones(names, expected):
    assert nz.name_pinyin(pd.Series(names)).tolist() == [expected] * len(names)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("单伟", "shanwei"),
        ("單伟", "shanwei"),
        ("曾伟", "zengwei"),
        ("解伟", "xiewei"),
        ("仇伟", "qiuwei"),
        ("区伟", "ouwei"),
        ("區伟", "ouwei"),
        ("朴伟", "piaowei"),
        ("覃伟", "qinwei"),
        ("查伟", "zhawei"),
        ("盖伟", "gewei"),
        ("缪伟", "miaowei"),
        ("尉迟伟", "yuchiwei"),
        ("万俟伟", "moqiwei"),
    ],
)
def test_name_pinyin_surname_overrides(name, expected):
    assert nz.name_pinyin(pd.Series([name])).iloc[0] == expected


def test_name_pinyin_override_only_on_the_surname():
    got = nz.name_pinyin(pd.Series(["李单", "王曾", "曾曾"]))
    assert got.tolist() == ["lidan", "wangceng", "zengceng"]


def test_name_pinyin_blank():
    got = nz.name_pinyin(pd.Series([None, " ", "·"]))
    assert got.isna().all()


# --------------------------------------------------------------------------- dates


def parsed(values, fn=cv.parse_dates, **kw) -> list:
    out = fn(pd.Series(values, dtype=object), **kw)
    assert str(out["value"].dtype) == "datetime64[ns]"
    assert out["invalid"].dtype == bool
    return [None if pd.isna(v) else v for v in out["value"]], out["invalid"].tolist()


@pytest.mark.parametrize(
    "raw",
    [
        "1985-03-07",
        "1985/3/7",
        "1985/03/07",
        "1985-3-7",
        "19850307",
        "1985年3月7日",
        "1985年03月07日",
        "1985 年 3 月 7 日",
        "1985.03.07",
        "1985.3.7",
        " 1985-03-07 ",
        "1985-03-07 10:22:05",
        "1985-03-07T10:22:05",
        "1985-03-07 00:00:00",
        "１９８５－０３－０７",
        "１９８５年３月７日",
        19850307,
        19850307.0,
        "19850307.0",
        dt.date(1985, 3, 7),
        dt.datetime(1985, 3, 7, 10, 22),
        pd.Timestamp("1985-03-07 23:59:59"),
        pd.Timestamp("1985-03-07 10:00", tz="Asia/Shanghai"),
        np.datetime64("1985-03-07T10:00"),
        31113,  # Excel serial
        31113.75,
        "31113",
    ],
)
def test_parse_dates_forms(raw):
    values, invalid = parsed([raw])
    assert values == [pd.Timestamp("1985-03-07")]
    assert invalid == [False]


def test_excel_serials():
    values, invalid = parsed([45000, 45000.0, "45000", 1, 80000, 60, 61])
    assert values[:3] == [pd.Timestamp("2023-03-15")] * 3
    assert values[3] == pd.Timestamp("1899-12-31")
    assert values[4] == pd.Timestamp("2119-01-11")
    assert values[6] == pd.Timestamp("1900-03-01")
    assert not any(invalid)


def test_excel_serial_out_of_range_or_disabled():
    values, invalid = parsed([0, 80001, -5, 45000.5])
    assert values[:3] == [None] * 3 and invalid[:3] == [True] * 3
    values, invalid = parsed([45000, "45000", "1985-03-07"], excel_serial=False)
    assert values == [None, None, pd.Timestamp("1985-03-07")]
    assert invalid == [True, True, False]


def test_eight_digit_number_is_a_date_not_a_serial():
    values, invalid = parsed([20260314, "20260314"])
    assert values == [pd.Timestamp("2026-03-14")] * 2
    values, invalid = parsed([20261345])
    assert values == [None] and invalid == [True]


@pytest.mark.parametrize(
    "raw",
    [
        "2026-13-45",
        "2026-02-29",
        "1985-00-07",
        "1985-03-00",
        "19851307",
        "未知",
        "abc",
        "1985-03-07 25:00:00",
        "0985-03-07",
        "85-3-7",
        "1985年3月",
        True,
        object(),
    ],
)
def test_parse_dates_invalid(raw):
    values, invalid = parsed([raw])
    assert values == [None] and invalid == [True]


def test_parse_dates_objects_out_of_range_are_invalid():
    values, invalid = parsed([dt.date(1, 1, 1), dt.date(2500, 1, 1), pd.Timestamp("1700-01-01")])
    assert values == [None] * 3 and invalid == [True] * 3


def test_parse_dates_blank_is_not_invalid():
    values, invalid = parsed([None, np.nan, pd.NaT, "", "  ", "\u3000"])
    assert values == [None] * 6 and invalid == [False] * 6


def test_parse_dates_keeps_index_and_handles_datetime_dtype():
    s = pd.Series(pd.to_datetime(["2026-03-14 10:22:05", None]), index=[5, 7])
    out = cv.parse_dates(s)
    assert out.index.tolist() == [5, 7]
    assert out["value"].iloc[0] == pd.Timestamp("2026-03-14")
    assert out["invalid"].tolist() == [False, False]


def test_parse_datetimes_keeps_time():
    values, invalid = parsed(
        [
            "2026-03-14 10:22:05",
            "2026-03-14T10:22",
            "2026/3/14 9:05:07.5",
            "20260314102205",
            "2026-03-14",
            45000.5,
            dt.datetime(2026, 3, 14, 10, 22, 5),
            "2026-03-14 24:00:00",
        ],
        fn=cv.parse_datetimes,
    )
    assert values[:7] == [
        pd.Timestamp("2026-03-14 10:22:05"),
        pd.Timestamp("2026-03-14 10:22:00"),
        pd.Timestamp("2026-03-14 09:05:07.5"),
        pd.Timestamp("2026-03-14 10:22:05"),
        pd.Timestamp("2026-03-14"),
        pd.Timestamp("2023-03-15 12:00"),
        pd.Timestamp("2026-03-14 10:22:05"),
    ]
    assert invalid == [False] * 7 + [True]


def test_parse_datetimes_serial_fraction_rounds_to_second():
    values, _ = parsed([45000 + (10 * 3600 + 14 * 60 + 57) / 86400], fn=cv.parse_datetimes)
    assert values == [pd.Timestamp("2023-03-15 10:14:57")]


@pytest.mark.parametrize(
    "raw",
    [
        "2026-03",
        "202603",
        "2026/3",
        "2026/03",
        "2026年3月",
        "2026年03月",
        "2026.3",
        "2026-03-14",
        "2026年3月14日",
        202603,
        "２０２６－０３",
        dt.date(2026, 3, 31),
        "2026-03-31 23:00:00",
    ],
)
def test_parse_months(raw):
    values, invalid = parsed([raw], fn=cv.parse_months)
    assert values == [pd.Timestamp("2026-03-01")] and invalid == [False]


@pytest.mark.parametrize("raw", ["2026-13", "202613", "2026-00", "三月", "2026-3-45"])
def test_parse_months_invalid(raw):
    values, invalid = parsed([raw], fn=cv.parse_months)
    assert values == [None] and invalid == [True]


# --------------------------------------------------------------------------- amounts


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12345.6", 12345.6),
        ("12,345.60", 12345.6),
        ("1,234,567", 1234567.0),
        ("1.2万", 12000.0),
        ("1.2万元", 12000.0),
        ("3亿", 3e8),
        ("１２３", 123.0),
        ("１２，３４５．６", 12345.6),
        ("  12 ", 12.0),
        ("12 345", 12345.0),
        ("￥12.5", 12.5),
        ("¥12.5", 12.5),
        ("12元", 12.0),
        ("-5", -5.0),
        ("-1.5万", -15000.0),
        ("−5", -5.0),
        ("+5", 5.0),
        (".5", 0.5),
        ("1e3", 1000.0),
        (12, 12.0),
        (3.5, 3.5),
        (np.int64(7), 7.0),
        (Decimal("2.25"), 2.25),
        ("0", 0.0),
    ],
)
def test_parse_amounts(raw, expected):
    out = cv.parse_amounts(pd.Series([raw], dtype=object))
    assert out["value"].iloc[0] == pytest.approx(expected)
    assert not out["invalid"].iloc[0]


@pytest.mark.parametrize(
    "raw", ["abc", "--", "-", "12,5", "1,2345", "1.2.3", "万", "12$", True, np.inf, "1万万"]
)
def test_parse_amounts_invalid(raw):
    out = cv.parse_amounts(pd.Series([raw], dtype=object))
    assert np.isnan(out["value"].iloc[0]) and out["invalid"].iloc[0]


def test_parse_amounts_blank_multiplier_and_dtypes():
    s = pd.Series(["1.5", None, "", "2万", 3], index=[3, 1, 2, 0, 9], dtype=object)
    out = cv.parse_amounts(s, multiplier=10000)
    assert out.index.tolist() == [3, 1, 2, 0, 9]
    assert out["value"].dtype == np.float64 and out["invalid"].dtype == bool
    assert out["value"].tolist()[0] == 15000.0
    assert np.isnan(out["value"].iloc[1]) and np.isnan(out["value"].iloc[2])
    assert out["value"].tolist()[3:] == [2e8, 30000.0]
    assert out["invalid"].tolist() == [False] * 5
    floats = cv.parse_amounts(pd.Series([1.5, np.nan]))
    assert floats["value"].iloc[0] == 1.5 and floats["invalid"].tolist() == [False, False]


# --------------------------------------------------------------------------- text and codes


def test_normalize_text():
    s = pd.Series([" a  b ", "Ｃ级", None, 3.0, 2.5, 7, "\u3000x\u3000y\u3000", "", "  "])
    assert cv.normalize_text(s).tolist() == [
        "a b",
        "C级",
        pd.NA,
        "3",
        "2.5",
        "7",
        "x y",
        pd.NA,
        pd.NA,
    ]


def test_normalize_codes():
    s = pd.Series(["C", "C级", "Ｄ", "d", " b 级 ", "Ｃ级", "E", "危房", None, " ", "CC"])
    out = cv.normalize_codes(s, ["A", "B", "C", "D"], {"危房": "D"})
    assert out["value"].tolist() == ["C", "C", "D", "D", "B", "C", pd.NA, "D", pd.NA, pd.NA, pd.NA]
    assert out["invalid"].tolist() == [False] * 6 + [True, False, False, False, True]
    assert out["invalid"].dtype == bool


def test_normalize_codes_canonical_spelling_and_numbers():
    out = cv.normalize_codes(pd.Series(["是", "否", 1, 1.0, "1"]), ["是", "否", "1"])
    assert out["value"].tolist() == ["是", "否", "1", "1", "1"]
    out = cv.normalize_codes(pd.Series(["城乡低保", "城乡低保 "]), ["城乡低保", "特困供养"])
    assert out["value"].tolist() == ["城乡低保"] * 2


def test_normalize_codes_alias_to_unknown_code_is_an_error():
    with pytest.raises(ValueError, match="not an allowed code"):
        cv.normalize_codes(pd.Series(["x"]), ["A"], {"x": "Z"})
