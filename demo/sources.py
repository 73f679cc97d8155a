"""One builder per department source: facts -> files with that department's habits.

Each builder returns the files of its source (`OutFile`), columns exactly as in
departments.md, quirks applied at the department's usual rate. `SOURCES` lists them in
the order they are written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd

from .city import age_on
from .facts import EMP_STATUS, MED_TYPES, UNEMPLOYED
from .periods import Periods
from .quirks import (
    Garbage,
    IdQuirks,
    NameQuirks,
    add_garbage,
    corrupt_ids,
    corrupt_names,
    excel_cells,
    fmt_amounts,
    fmt_dates,
    header_quirks,
    join_codes,
    pick_styles,
)
from .render import Ctx, OutFile, make_frame

__all__ = ["SOURCES"]

GB, U8, BOM = "gb18030", "utf-8", "utf-8-sig"
CRLF = "\r\n"  # exports from Windows desktops


def _ym(periods: Periods) -> list[str]:
    return [f"{y:04d}{m:02d}" for y, m in periods.months]


def _csv(
    source: str,
    name: str,
    frame: pd.DataFrame,
    header: list[str],
    rng: np.random.Generator,
    encoding: str,
    period: str,
    quirky_header: bool = True,
    newline: str = "\n",
) -> OutFile:
    """A CSV OutFile, usually with the department's header habits."""
    hq: list[str] = []
    if quirky_header:
        header, hq = header_quirks(header, rng)
    return OutFile(source, name, "csv", frame, header, encoding, newline, hq, period)


def _cells_or_text(values: np.ndarray, rng: np.random.Generator, text_share: float) -> np.ndarray:
    """XLSX amounts: numbers mostly, some typed as text with thousand separators."""
    cents = np.round(np.asarray(values, dtype=np.float64) * 100).astype(np.int64)
    out = (cents / 100).astype(object)
    whole = cents % 100 == 0
    out[whole] = (cents[whole] // 100).tolist()
    text = np.flatnonzero(rng.random(len(cents)) < text_share)
    out[text] = fmt_amounts(cents[text], 1)
    return out


def _label(mask: np.ndarray, yes: str, no: str) -> np.ndarray:
    """Two labels as an object array sharing two string objects (cheap for big files)."""
    return np.array([no, yes], dtype=object)[np.asarray(mask).astype(np.int64)]


def _none_if_empty(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=object).copy()
    a[a == ""] = None
    return a


# --------------------------------------------------------------------------- 公安 户籍


def gongan_hukou(ctx: Ctx) -> Iterator[OutFile]:
    """The clean master: only a lowercase x and a stray space now and then."""
    rng = ctx.rng("gongan_hukou")
    p = ctx.city.persons
    n = len(p)
    pidx = np.arange(n)
    hh = ctx.hh_of
    ids, names, corr = ctx.quirky_people(
        rng,
        pidx,
        idq=IdQuirks(
            lower_x=0.2, fullwidth=0, space=0.003, stray_only=True, old15=0, check=0, mangled=0
        ),
        nq=NameQuirks(trad=0, typo=0, space=0.003),
    )
    n_hh = len(ctx.hh_no)
    group = rng.integers(1, 13, n_hh).astype(str).astype(object)
    door = rng.integers(1, 121, n_hh).astype(str).astype(object)
    address = "江西省新余市" + ctx.county + ctx.township + ctx.village + group + "组" + door + "号"
    data = {
        "户号": ctx.hh_no[hh],
        "姓名": names,
        "公民身份号码": ids,
        "性别": _label(ctx.male, "男", "女"),
        "民族": ctx.col("ethnic"),
        "出生日期": fmt_dates(p["birth"].to_numpy()),
        "与户主关系": ctx.col("relation"),
        "户籍地址": address[hh],
        "乡镇(街道)": ctx.township[hh],
        "村(社区)": ctx.village[hh],
        "户口状态": ctx.col("status"),
        "注销日期": fmt_dates(p["cancel_date"].to_numpy()),
        "注销原因": ctx.col("cancel_reason"),
    }
    frame = make_frame(data, pidx, hh, corr)
    ym = _ym(ctx.periods)[-1]
    yield _csv(
        "gongan_hukou",
        f"户籍人口_{ym}.csv",
        frame,
        list(data),
        rng,
        GB,
        ym,
        quirky_header=False,
        newline=CRLF,
    )


# --------------------------------------------------------------------------- 乡村振兴


def xczx_registry(ctx: Ctx) -> Iterator[OutFile]:
    """Registry of 脱贫户 and monitored households; some IDs were typed as numbers."""
    rng = ctx.rng("xczx_registry")
    reg = ctx.facts.registry
    inc = ctx.facts.income
    hh = np.flatnonzero(reg["in_registry"].to_numpy())
    head = ctx.head[hh]
    ids, names, corr = ctx.quirky_people(rng, head, idq=IdQuirks(mangled=0.03))
    ids = ids.astype(object)
    # Excel kept only 15 significant digits of IDs typed as numbers: store them as floats.
    true = ctx.ids[head]
    num = np.flatnonzero((corr == "id_mangled") & np.array([t[-1] != "X" for t in true]))
    ids[num] = [float(int(t[:15]) * 1000) for t in true[num]]
    year = reg["tuopin_year"].to_numpy()[hh]
    data = {
        "户编号": reg["reg_no"].to_numpy(dtype=object)[hh],
        "县(市、区)": ctx.county[hh],
        "乡镇": ctx.township[hh],
        "村": ctx.village[hh],
        "户主姓名": names,
        "户主证件号码": ids,
        "家庭人口数": inc["n_cur"].to_numpy()[hh].tolist(),
        "户类型": reg["reg_type"].to_numpy(dtype=object)[hh],
        "脱贫年度": np.where(year > 0, year, None),
        "监测对象类型": _none_if_empty(reg["mon_type"].to_numpy(dtype=object)[hh]),
        "风险消除状态": _none_if_empty(reg["elim"].to_numpy(dtype=object)[hh]),
        "上年度家庭人均纯收入(元)": _cells_or_text(inc["pc_prev"].to_numpy()[hh] / 100, rng, 0.05),
        "本年度家庭人均纯收入(元)": _cells_or_text(inc["pc_cur"].to_numpy()[hh] / 100, rng, 0.05),
    }
    frame = make_frame(data, head, hh, corr, ctx.planted_hh[hh])
    y, q = ctx.periods.quarter
    header, hq = header_quirks(list(data), rng, p_trailing=0)
    yield OutFile(
        "xczx_registry",
        f"监测系统户表_{y}Q{q}.xlsx",
        "xlsx",
        frame,
        header,
        header_quirks=hq,
        period=f"{y}Q{q}",
    )


# --------------------------------------------------------------------------- 农业农村


def nync_income(ctx: Ctx) -> Iterator[OutFile]:
    """Income of every rural household: last year, and this year's mid-year update."""
    rng = ctx.rng("nync_income")
    inc = ctx.facts.income
    n = len(ctx.hh_no)
    hh = np.arange(n)
    head = ctx.head
    per = ctx.periods
    for tag, year, name in (
        ("prev", per.prev_year, f"农户收入核算_{per.prev_year}年度.csv"),
        ("cur", per.year, f"农户收入核算_{per.year}年中更新.csv"),
    ):
        ids, names, corr = ctx.quirky_people(rng, head, idq=IdQuirks(blank=0.02))
        tw, vil, addr = ctx.short_places(hh, rng)
        style = rng.choice(3, size=n, p=[0.75, 0.15, 0.10])
        data = {
            "年度": np.full(n, str(year), dtype=object),
            "户主姓名": names,
            "户主身份证号": ids,
            "所在乡镇": tw,
            "所在村": vil,
            "家庭人口": inc[f"n_{tag}"].to_numpy().astype(str).astype(object),
        }
        for col, key in (
            ("工资性收入", "wage"),
            ("经营净收入", "business"),
            ("财产净收入", "property"),
            ("转移净收入", "transfer"),
            ("生产经营性支出", "expense"),
            ("家庭纯收入", "total"),
            ("人均纯收入", "pc"),
        ):
            data[col] = fmt_amounts(inc[f"{key}_{tag}"].to_numpy(), style)
        frame = make_frame(data, head, hh, join_codes(corr, addr), ctx.planted_hh)
        frame = add_garbage(
            frame,
            Garbage(
                id_cols=("户主身份证号",),
                name_cols=("户主姓名",),
                amount_cols=("家庭纯收入", "人均纯收入"),
            ),
            rng,
        )
        yield (_csv("nync_income", name, frame, list(data), rng, BOM, str(year)))


# --------------------------------------------------------------------------- 民政

_ASSIST_CODES = {"救助类别": ("五保户", "低保边缘", "医疗救助")}


def _assist_rows(
    ctx: Ctx, rng: np.random.Generator, light: bool
) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray]:
    a = ctx.facts.assistance
    hh = a["hh"].to_numpy()
    head = ctx.head[hh]
    idq = IdQuirks(fullwidth=0, space=0, old15=0, check=0.002, mangled=0) if light else IdQuirks()
    nq = NameQuirks(trad=0.003, typo=0.003, space=0) if light else NameQuirks()
    ids, names, corr = ctx.quirky_people(rng, head, idq=idq, nq=nq)
    return (
        {
            "cat": a["category"].to_numpy(dtype=object),
            "name": names,
            "id": ids,
            "persons": a["persons"].to_numpy(),
            "monthly_c": a["monthly_c"].to_numpy(),
            "approved": a["approved"].to_numpy(),
            "ended": a["ended"].to_numpy(),
        },
        hh,
        head,
        corr,
    )


def minzheng_assistance(ctx: Ctx) -> Iterator[OutFile]:
    rng = ctx.rng("minzheng_assistance")
    r, hh, head, corr = _assist_rows(ctx, rng, light=False)
    n = len(hh)
    ds = pick_styles(n, rng, primary=int(rng.integers(0, 6)), mix=0.15)
    data = {
        "救助类别": r["cat"],
        "户主姓名": r["name"],
        "身份证号码": r["id"],
        "保障人数": r["persons"].astype(str).astype(object),
        "月保障金额": fmt_amounts(r["monthly_c"], np.where(rng.random(n) < 0.15, 1, 0)),
        "审批日期": fmt_dates(r["approved"], ds),
        "终止日期": fmt_dates(r["ended"], ds),
        "所属乡镇": ctx.township[hh],
        "所属村居": ctx.village[hh],
    }
    frame = make_frame(data, head, hh, corr, ctx.planted_hh[hh])
    frame = add_garbage(
        frame,
        Garbage(
            id_cols=("身份证号码",),
            name_cols=("户主姓名",),
            date_cols=("审批日期",),
            amount_cols=("月保障金额",),
            codes=_ASSIST_CODES,
        ),
        rng,
        minimum=2,
    )
    ym = _ym(ctx.periods)[-1]
    yield _csv("minzheng_assistance", f"shehui_jiuzhu_{ym}.csv", frame, list(data), rng, U8, ym)


def minzheng_db(ctx: Ctx) -> Iterator[OutFile]:
    """The same cases, as the 救助 system's database view (typed columns, ISO dates)."""
    rng = ctx.rng("minzheng_db")
    r, hh, head, corr = _assist_rows(ctx, rng, light=True)
    ended = fmt_dates(r["ended"]).astype(object)
    ended[ended == ""] = None
    data = {
        "jzlb": r["cat"],
        "hzxm": r["name"],
        "sfzhm": r["id"],
        "bzrs": r["persons"].tolist(),
        "ybzje": (r["monthly_c"] / 100).tolist(),
        "sprq": fmt_dates(r["approved"]),
        "zzrq": ended,
        "ssxz": ctx.township[hh],
        "sscj": ctx.village[hh],
    }
    frame = make_frame(data, head, hh, corr, ctx.planted_hh[hh])
    ym = _ym(ctx.periods)[-1]
    yield OutFile("minzheng_db", f"jiuzhu_{ym}.sqlite", "sqlite", frame, list(data), period=ym)


# --------------------------------------------------------------------------- 医保


def yibao_settlement(ctx: Ctx) -> Iterator[OutFile]:
    """Monthly settlement files; corrections re-sent in the next month's file."""
    rng = ctx.rng("yibao_settlement")
    s = ctx.facts.settlements
    c = ctx.facts.corrections
    hosp_in = np.array(
        [
            "新余市人民医院",
            "新余市中医院",
            "渝水区人民医院",
            "分宜县人民医院",
            "江西省人民医院",
            "南昌大学第一附属医院",
        ],
        dtype=object,
    )
    hosp_sp = np.array(["新余市人民医院", "新余市第四医院", "分宜县人民医院"], dtype=object)
    for i, ym in enumerate(_ym(ctx.periods)):
        rows = pd.concat(
            [s[s["month"] == i].sort_values("time", kind="stable"), c[c["month"] == i]],
            ignore_index=True,
        )
        k = len(rows)
        pidx = rows["pidx"].to_numpy()
        ids, names, corr = ctx.quirky_people(
            rng,
            pidx,
            idq=IdQuirks(lower_x=0.1, fullwidth=0, space=0, old15=0, check=0.003, mangled=0),
            nq=NameQuirks(trad=0.003, typo=0.003, space=0),
        )
        mt = rows["med_type"].to_numpy()
        hh = ctx.hh_of[pidx]
        hosp = np.where(
            mt == 0,
            ctx.township[hh] + "卫生院",
            np.where(
                mt == 1, hosp_sp[rng.integers(0, 3, k)], hosp_in[rng.integers(0, len(hosp_in), k)]
            ),
        )
        t = rows["time"].to_numpy().astype("datetime64[s]")
        data = {
            "setl_id": rows["setl_id"].to_numpy(dtype=object),
            "psn_name": names,
            "certno": ids,
            "setl_time": pd.Series(t).dt.strftime("%Y-%m-%d %H:%M:%S").to_numpy(dtype=object),
            "medfee_sumamt": rows["total_c"].to_numpy() / 100,
            "hifp_pay": rows["hifp_c"].to_numpy() / 100,
            "hifmi_pay": rows["hifmi_c"].to_numpy() / 100,
            "maf_pay": rows["maf_c"].to_numpy() / 100,
            "psn_selfpay": rows["self_c"].to_numpy() / 100,
            "med_type": np.array(MED_TYPES, dtype=object)[mt],
            "fixmedins_name": hosp,
        }
        frame = make_frame(data, pidx, hh, corr, ctx.planted_hh[hh])
        if i % 3 == 2:  # some months carry a few broken rows
            frame = add_garbage(
                frame,
                Garbage(
                    id_cols=("certno",),
                    name_cols=("psn_name",),
                    date_cols=("setl_time",),
                    amount_cols=("psn_selfpay",),
                    codes={"med_type": ("急诊", "购药")},
                ),
                rng,
            )
            bad = np.flatnonzero(frame["__reject"].to_numpy() != "")
            # broken rows get their own IDs so they never look like corrections
            frame.loc[bad, "setl_id"] = [f"JSE{ym}{j:05d}" for j in range(len(bad))]
        yield (
            OutFile(
                "yibao_settlement",
                f"yibao_settlement_{ym}.jsonl",
                "jsonl",
                frame,
                list(data),
                period=ym,
            )
        )


def yibao_enrollment(ctx: Ctx) -> Iterator[OutFile]:
    rng = ctx.rng("yibao_enrollment")
    e = ctx.facts.enrollment
    pidx = e["pidx"].to_numpy()
    hh = ctx.hh_of[pidx]
    ids, names, corr = ctx.quirky_people(rng, pidx)
    n = len(pidx)
    data = {
        "姓名": names,
        "身份证号": ids,
        "参保年度": np.full(n, str(ctx.periods.year), dtype=object),
        "参保状态": e["status"].to_numpy(dtype=object),
        "资助参保类别": e["subsidy"].to_numpy(dtype=object),
    }
    frame = make_frame(data, pidx, hh, corr, ctx.planted_hh[hh])
    frame = add_garbage(
        frame,
        Garbage(id_cols=("身份证号",), name_cols=("姓名",), codes={"参保状态": ("待核实", "中断")}),
        rng,
    )
    yield _csv(
        "yibao_enrollment",
        f"参保登记_{ctx.periods.year}.csv",
        frame,
        list(data),
        rng,
        GB,
        str(ctx.periods.year),
        newline=CRLF,
    )


# --------------------------------------------------------------------------- 卫健


def weijian_illness(ctx: Ctx) -> Iterator[OutFile]:
    """Serious-illness cases reported this month; many old patients keep a 15-digit ID."""
    rng = ctx.rng("weijian_illness")
    ill = ctx.facts.illness
    pidx, oidx = ill["pidx"].to_numpy(), ill["oidx"].to_numpy()
    hh = ctx.person_hh(pidx)
    ids, names, corr = ctx.quirky_people(rng, pidx, oidx, idq=IdQuirks(old15=0.5))
    male = ctx.people(pidx, oidx)[3]
    birth = np.where(
        pidx >= 0,
        ctx.city.persons["birth"].to_numpy().astype("datetime64[D]")[np.maximum(pidx, 0)],
        ctx.o_birth[np.maximum(oidx, 0)],
    )
    ym = _ym(ctx.periods)[-1]
    month = ym if rng.random() < 0.5 else f"{ym[:4]}-{ym[4:]}"
    k = len(pidx)
    data = {
        "患者姓名": names,
        "证件号码": ids,
        "性别": np.where(male, "男", "女"),
        "年龄": age_on(birth, ctx.periods.day).astype(str).astype(object),
        "病种名称": ill["disease"].to_numpy(dtype=object),
        "确诊日期": fmt_dates(
            ill["diagnosed"].to_numpy(), pick_styles(k, rng, int(rng.integers(0, 6)), 0.2)
        ),
        "救治医院": ill["hospital"].to_numpy(dtype=object),
        "报送月份": np.full(k, month, dtype=object),
    }
    frame = make_frame(data, pidx, hh, corr, pidx >= 0)
    yield _csv(
        "weijian_illness", f"大病专项救治_{ym}.csv", frame, list(data), rng, GB, ym, newline=CRLF
    )


# --------------------------------------------------------------------------- 住建, 水利


def zhujian_housing(ctx: Ctx) -> Iterator[OutFile]:
    rng = ctx.rng("zhujian_housing")
    hs = ctx.facts.housing
    hh = hs["hh"].to_numpy()
    head = ctx.head[hh]
    ids, names, corr = ctx.quirky_people(rng, head)
    k = len(hh)
    grade = hs["grade"].to_numpy(dtype=object).copy()
    v = rng.random(k)
    grade = np.where(v < 0.2, grade + "级", grade).astype(object)
    fw = v > 0.9  # typed in a Chinese input method: full-width letter
    grade[fw] = [chr(ord(g[0]) + 0xFEE0) for g in grade[fw]]
    built = hs["built"].to_numpy()
    w = rng.random(k)
    built_cell = np.empty(k, dtype=object)  # a number, "1987年", or only the decade
    built_cell[w < 0.6] = built[w < 0.6].tolist()
    mid = (w >= 0.6) & (w < 0.85)
    built_cell[mid] = [f"{x}年" for x in built[mid]]
    built_cell[w >= 0.85] = [f"{x // 10 * 10}年代" for x in built[w >= 0.85]]
    styles = pick_styles(k, rng, primary=6, mix=0.5, choices=(0, 1, 3, 6, 7))
    data = {
        "县(市、区)": ctx.county[hh],
        "乡镇": ctx.township[hh],
        "行政村": ctx.village[hh],
        "户主姓名": names,
        "户主身份证号": ids,
        "房屋结构": hs["structure"].to_numpy(dtype=object),
        "建造年代": built_cell,
        "鉴定等级": grade,
        "鉴定日期": excel_cells(hs["date"].to_numpy(), styles),
        "是否纳入改造": hs["renovate"].to_numpy(dtype=object),
    }
    frame = make_frame(data, head, hh, corr, ctx.planted_hh[hh])
    frame = add_garbage(
        frame,
        Garbage(
            id_cols=("户主身份证号",),
            name_cols=("户主姓名",),
            date_cols=("鉴定日期",),
            codes={"鉴定等级": ("E", "待定")},
        ),
        rng,
    )
    header, hq = header_quirks(list(data), rng, p_trailing=0)
    yield OutFile(
        "zhujian_housing",
        f"农村危房鉴定_{ctx.periods.year}.xlsx",
        "xlsx",
        frame,
        header,
        header_quirks=hq,
        period=str(ctx.periods.year),
    )


def shuili_water(ctx: Ctx) -> Iterator[OutFile]:
    """Only the previous quarter's survey: the latest one is overdue (a landing event)."""
    rng = ctx.rng("shuili_water")
    w = ctx.facts.water
    hh = w["hh"].to_numpy()
    head = ctx.head[hh]
    ids, names, corr = ctx.quirky_people(rng, head)
    k = len(hh)
    data = {
        "乡镇": ctx.township[hh],
        "村": ctx.village[hh],
        "户主姓名": names,
        "身份证号": ids,
        "供水方式": w["mode"].to_numpy(dtype=object),
        "人均日用水量(升)": w["litres"].to_numpy().astype(str).astype(object),
        "取水往返时间(分钟)": w["minutes"].to_numpy().astype(str).astype(object),
        "水质是否达标": w["quality"].to_numpy(dtype=object),
        "排查日期": fmt_dates(w["date"].to_numpy(), pick_styles(k, rng, 2, 0.1)),
    }
    frame = make_frame(data, head, hh, corr, ctx.planted_hh[hh])
    frame = add_garbage(
        frame,
        Garbage(
            id_cols=("身份证号",),
            name_cols=("户主姓名",),
            date_cols=("排查日期",),
            amount_cols=("人均日用水量(升)",),
            codes={"水质是否达标": ("不详", "待检")},
        ),
        rng,
    )
    y, q = ctx.periods.prev_quarter
    yield _csv(
        "shuili_water",
        f"water_survey_{y}Q{q}.csv",
        frame,
        list(data),
        rng,
        GB,
        f"{y}Q{q}",
        newline=CRLF,
    )


# --------------------------------------------------------------------------- 人社


def renshe_employment(ctx: Ctx) -> Iterator[OutFile]:
    """Twelve monthly files, one person per row per month."""
    rng = ctx.rng("renshe_employment")
    e = ctx.facts.employment
    pidx = e.pidx
    hh = ctx.hh_of[pidx]
    planted = ctx.planted_hh[hh]
    k = len(pidx)
    labels = np.array(EMP_STATUS, dtype=object)
    st_all = e.status
    for i, ym in enumerate(_ym(ctx.periods)):
        ids, names, corr = ctx.quirky_people(rng, pidx)
        region = e.region.copy()
        region[st_all[:, i] == UNEMPLOYED] = ""
        month = ym if rng.random() < 0.5 else f"{ym[:4]}-{ym[4:]}"
        st = e.status[:, i]
        wage = e.wage[:, i]
        paid = ~np.isnan(wage)
        cents = np.where(paid, np.round(np.nan_to_num(wage) * 100), 0).astype(np.int64)
        unemp = np.where(st == UNEMPLOYED, e.unemp_date, np.datetime64("NaT"))
        data = {
            "姓名": names,
            "身份证号": ids,
            "统计月份": np.full(k, month, dtype=object),
            "就业状态": labels[st],
            "就业地区": region,
            "月工资收入(元)": fmt_amounts(cents, np.where(rng.random(k) < 0.1, 1, 0), ~paid),
            "失业登记日期": fmt_dates(unemp, pick_styles(k, rng, 0, 0.3)),
            "是否公益性岗位": _label(st == 3, "是", "否"),
        }
        frame = make_frame(data, pidx, hh, corr, planted)
        frame = add_garbage(
            frame,
            Garbage(
                id_cols=("身份证号",),
                name_cols=("姓名",),
                date_cols=("失业登记日期",),
                amount_cols=("月工资收入(元)",),
                codes={"就业状态": ("灵活就业", "待业")},
            ),
            rng,
        )
        # One month arrived as UTF-8 from a new export tool.
        enc = U8 if i == 4 else GB
        f = _csv(
            "renshe_employment", f"就业失业_{ym}.csv", frame, list(data), rng, enc, ym, newline=CRLF
        )
        if i == 8:  # the office re-sent an old month: same bytes, new name
            f.redrop_as = f"就业失业_{ym}_重发.csv"
        yield f


# --------------------------------------------------------------------------- 教育


def jiaoyu_students(ctx: Ctx) -> Iterator[OutFile]:
    rng = ctx.rng("jiaoyu_students")
    st = ctx.facts.students
    pidx = st["pidx"].to_numpy()
    hh = st["hh"].to_numpy()
    ids, names, corr = ctx.quirky_people(
        rng, pidx, idq=IdQuirks(blank=0.08), protect=np.zeros(len(pidx), dtype=bool)
    )
    k = len(pidx)
    year, term = ctx.periods.term
    data = {
        "学年": np.full(k, year, dtype=object),
        "学期": np.full(k, term, dtype=object),
        "学生姓名": names,
        "学籍号": "G" + ctx.ids[pidx],
        "身份证件号": _none_if_empty(ids),
        "学段": st["stage"].to_numpy(dtype=object),
        "学校名称": st["school"].to_numpy(dtype=object),
        "在校状态": st["status"].to_numpy(dtype=object),
        "自付费用(元)": _cells_or_text(st["selfpay_c"].to_numpy() / 100, rng, 0.1),
        "资助金额(元)": _cells_or_text(st["subsidy_c"].to_numpy() / 100, rng, 0.1),
    }
    frame = make_frame(data, pidx, hh, corr, st["planted"].to_numpy() | ctx.planted_hh[hh])
    frame = add_garbage(
        frame,
        Garbage(
            id_cols=("学籍号", "身份证件号"),
            name_cols=("学生姓名",),
            amount_cols=("自付费用(元)",),
            codes={"在校状态": ("转学中", "在籍"), "学段": ("大专",)},
        ),
        rng,
    )
    header, hq = header_quirks(list(data), rng, p_trailing=0)
    yield OutFile(
        "jiaoyu_students",
        f"xueji_zizhu_{year}_{'1' if term == '第一学期' else '2'}.xlsx",
        "xlsx",
        frame,
        header,
        header_quirks=hq,
        period=f"{year} {term}",
    )


# --------------------------------------------------------------------------- 残联

_DIS_CAT = np.array(
    ["", "视力残疾", "听力残疾", "言语残疾", "肢体残疾", "智力残疾", "精神残疾", "多重残疾"],
    dtype=object,
)
_DIS_GRADE = np.array(["", "一级", "二级", "三级", "四级"], dtype=object)


def canlian_disability(ctx: Ctx) -> Iterator[OutFile]:
    """Card number = ID + category digit + grade digit."""
    rng = ctx.rng("canlian_disability")
    d = ctx.facts.disability
    pidx = d["pidx"].to_numpy()
    hh = ctx.hh_of[pidx]
    ids, names, corr = ctx.quirky_people(
        rng, pidx, idq=IdQuirks(fullwidth=0, space=0.003, old15=0, check=0.005, mangled=0)
    )
    cat, grade = d["category"].to_numpy(), d["grade"].to_numpy()
    k = len(pidx)
    data = {
        "姓名": names,
        "残疾人证号": ids + cat.astype(str).astype(object) + grade.astype(str).astype(object),
        "残疾类别": _DIS_CAT[cat],
        "残疾等级": _DIS_GRADE[grade],
        "发证日期": fmt_dates(d["issued"].to_numpy(), pick_styles(k, rng, 0, 0.25)),
        "证件状态": d["status"].to_numpy(dtype=object),
    }
    frame = make_frame(data, pidx, hh, corr, d["planted"].to_numpy() | ctx.planted_hh[hh])
    frame = add_garbage(
        frame,
        Garbage(
            id_cols=("残疾人证号",),
            name_cols=("姓名",),
            date_cols=("发证日期",),
            codes={"残疾等级": ("五级", "特级")},
        ),
        rng,
    )
    ym = _ym(ctx.periods)[-1]
    yield _csv("canlian_disability", f"canjirenzheng_{ym}.csv", frame, list(data), rng, U8, ym)


# --------------------------------------------------------------------------- 应急


def yingji_disaster(ctx: Ctx) -> Iterator[OutFile]:
    """One file per event; the last event reported no household (header-only file)."""
    rng = ctx.rng("yingji_disaster")
    ev = ctx.facts.events
    dz = ctx.facts.disasters
    for e, etype, date in zip(ev["event"], ev["type"], ev["date"], strict=True):
        rows = dz[dz["event"] == e]
        hh = rows["hh"].to_numpy()
        head = ctx.head[hh]
        ids, names, corr = ctx.quirky_people(rng, head)
        k = len(hh)
        loss = rows["loss_c"].to_numpy()
        wan = fmt_amounts(loss, 2)
        wan = np.array([w[:-1] for w in wan], dtype=object)  # header already says 万元
        data = {
            "灾害类型": np.full(k, etype, dtype=object),
            "发生日期": fmt_dates(
                np.full(k, np.datetime64(date, "D")),
                pick_styles(k, rng, int(rng.integers(0, 6)), 0.1),
            ),
            "乡镇": ctx.township[hh],
            "村": ctx.village[hh],
            "户主姓名": names,
            "身份证号": ids,
            "受灾人口": rows["people"].to_numpy().astype(str).astype(object),
            "房屋倒塌间数": rows["collapsed"].to_numpy().astype(str).astype(object),
            "直接经济损失(万元)": wan,
        }
        frame = make_frame(data, head, hh, corr, ctx.planted_hh[hh])
        if e == 2:
            frame = add_garbage(
                frame,
                Garbage(
                    id_cols=("身份证号",),
                    name_cols=("户主姓名",),
                    amount_cols=("直接经济损失(万元)",),
                ),
                rng,
            )
        ymd = str(np.datetime64(date, "D")).replace("-", "")
        enc = GB if e == 1 else U8  # one county office saved it from Excel as GBK
        yield (
            _csv("yingji_disaster", f"灾情核查_{ymd}_{etype}.csv", frame, list(data), rng, enc, ymd)
        )


# --------------------------------------------------------------------------- assets


def gongan_vehicle(ctx: Ctx) -> Iterator[OutFile]:
    rng = ctx.rng("gongan_vehicle")
    v = ctx.facts.vehicles
    pidx, oidx = v["pidx"].to_numpy(), v["oidx"].to_numpy()
    hh = ctx.person_hh(pidx)
    ids, names, corr = ctx.quirky_people(rng, pidx, oidx, protect=v["planted"].to_numpy())
    k = len(pidx)
    data = {
        "所有人": names,
        "身份证明号码": ids,
        "号牌号码": v["plate"].to_numpy(dtype=object),
        "车辆类型": v["type"].to_numpy(dtype=object),
        "初次登记日期": fmt_dates(v["registered"].to_numpy(), pick_styles(k, rng, 0, 0.1)),
        "机动车状态": v["status"].to_numpy(dtype=object),
    }
    frame = make_frame(data, pidx, hh, corr, v["planted"].to_numpy())
    ym = _ym(ctx.periods)[-1]
    yield _csv(
        "gongan_vehicle", f"机动车登记_{ym}.csv", frame, list(data), rng, GB, ym, newline=CRLF
    )


_SHOPS = ("农资", "百货", "五金", "小吃", "理发", "建材", "摩托车修理", "粮油")
_CROPS = ("蜜橘", "水稻", "油茶", "生猪", "蔬菜", "夏布", "麻鸭")
_WORDS = ("鑫盛", "恒达", "赣新", "仙女湖", "钤阳", "渝州", "瑞丰", "华兴")
_TRADES = ("农业开发", "建材", "物流", "商贸", "光伏科技", "食品")


def scjg_business(ctx: Ctx) -> Iterator[OutFile]:
    rng = ctx.rng("scjg_business")
    b = ctx.facts.business
    pidx, oidx = b["pidx"].to_numpy(), b["oidx"].to_numpy()
    hh = ctx.person_hh(pidx)
    ids, names, corr = ctx.quirky_people(rng, pidx, oidx, protect=b["planted"].to_numpy())
    true_names = ctx.people(pidx, oidx)[1]
    k = len(pidx)
    btype = b["type"].to_numpy(dtype=object)
    hhc = np.maximum(hh, 0)
    county = np.where(hh >= 0, ctx.county[hhc], "渝水区")
    r = rng.integers(0, 1000, (k, 3))
    sole = np.array(
        [
            f"{c}{n[0]}记{_SHOPS[x % len(_SHOPS)]}店"
            for c, n, x in zip(county, true_names, r[:, 0], strict=True)
        ],
        dtype=object,
    )
    coop = np.array(
        [
            f"新余市{c}{v[:-1]}{_CROPS[x % len(_CROPS)]}专业合作社"
            for c, v, x in zip(
                county, np.where(hh >= 0, ctx.village[hhc], "城北村"), r[:, 1], strict=True
            )
        ],
        dtype=object,
    )
    comp = np.array(
        [
            f"新余市{_WORDS[x % len(_WORDS)]}{_TRADES[y % len(_TRADES)]}"
            for x, y in zip(r[:, 0], r[:, 2], strict=True)
        ],
        dtype=object,
    )
    name = np.select(
        [btype == "个体工商户", btype == "农民专业合作社", btype == "有限责任公司"],
        [sole, coop, comp + "有限公司"],
        comp + "股份有限公司",
    )
    prefix = np.select([btype == "个体工商户", btype == "农民专业合作社"], ["92", "93"], "91")
    alnum = np.array(list("0123456789ABCDEFGHJKLMNPQRTUWXY"), dtype=object)
    code = prefix + "3605" + np.where(county == "分宜县", "21", "02")
    for _ in range(10):
        code = code + alnum[rng.integers(0, len(alnum), k)]
    data = {
        "统一社会信用代码": code,
        "企业名称": name,
        "市场主体类型": btype,
        "法定代表人": names,
        "法定代表人证件号码": ids,
        "成立日期": fmt_dates(b["founded"].to_numpy(), pick_styles(k, rng, 3, 0.2)),
        "注册资本(万元)": b["capital"].to_numpy().astype(str).astype(object),
        "登记状态": b["status"].to_numpy(dtype=object),
    }
    frame = make_frame(data, pidx, hh, corr, b["planted"].to_numpy())
    ym = _ym(ctx.periods)[-1]
    yield _csv("scjg_business", f"scjg_shichangzhuti_{ym}.csv", frame, list(data), rng, U8, ym)


_ROADS = ("仙来大道", "劳动路", "北湖路", "胜利路", "抱石大道", "长青路", "渝东大道")


def bdc_property(ctx: Ctx) -> Iterator[OutFile]:
    rng = ctx.rng("bdc_property")
    pr = ctx.facts.property
    pidx, oidx = pr["pidx"].to_numpy(), pr["oidx"].to_numpy()
    hh = ctx.person_hh(pidx)
    hhc = np.maximum(hh, 0)
    ids, names, corr = ctx.quirky_people(rng, pidx, oidx, protect=pr["planted"].to_numpy())
    k = len(pidx)
    urban = pr["urban"].to_numpy()
    r = rng.integers(1, 200, (k, 4))
    rural_loc = (
        ctx.county[hhc]
        + ctx.township[hhc]
        + ctx.village[hhc]
        + r[:, 0].astype(str).astype(object)
        + "号"
    )
    roads = np.array(_ROADS, dtype=object)[r[:, 1] % len(_ROADS)]
    urban_loc = (
        "渝水区"
        + roads
        + r[:, 0].astype(str).astype(object)
        + "号"
        + (r[:, 2] % 30 + 1).astype(str).astype(object)
        + "栋"
        + (r[:, 3] % 3 + 1).astype(str).astype(object)
        + "单元"
        + (r[:, 3] % 25 + 1).astype(str).astype(object)
        + "0"
        + (r[:, 2] % 4 + 1).astype(str).astype(object)
        + "室"
    )
    county_code = np.where(
        urban | (hh < 0), "360502", ctx.city.hh["county_code"].to_numpy(dtype=object)[hhc]
    )
    unit = (
        county_code
        + pd.Series(rng.integers(0, 10**6, k)).astype(str).str.zfill(6).to_numpy(dtype=object)
        + np.where(urban, "GB", "JC")
        + pd.Series(rng.integers(0, 10**5, k)).astype(str).str.zfill(5).to_numpy(dtype=object)
        + "F"
        + pd.Series(rng.integers(0, 10**8, k)).astype(str).str.zfill(8).to_numpy(dtype=object)
    )
    data = {
        "权利人": names,
        "权利人证件号": ids,
        "不动产单元号": unit,
        "坐落": np.where(urban, urban_loc, rural_loc).astype(object),
        "建筑面积(平方米)": fmt_amounts(np.round(pr["area"].to_numpy() * 100).astype(np.int64)),
        "登记时间": fmt_dates(pr["registered"].to_numpy(), pick_styles(k, rng, 0, 0.2)),
        "权利状态": pr["status"].to_numpy(dtype=object),
    }
    frame = make_frame(data, pidx, hh, corr, pr["planted"].to_numpy())
    frame = add_garbage(
        frame,
        Garbage(
            id_cols=("权利人证件号",),
            name_cols=("权利人",),
            date_cols=("登记时间",),
            codes={"权利状态": ("查封", "抵押")},
        ),
        rng,
    )
    ym = _ym(ctx.periods)[-1]
    # This month's extract came out of a GBK desktop tool, not the usual UTF-8 export.
    yield _csv("bdc_property", f"bdc_quanli_{ym}.csv", frame, list(data), rng, GB, ym)


def caizheng_payroll(ctx: Ctx) -> Iterator[OutFile]:
    rng = ctx.rng("caizheng_payroll")
    pay = ctx.facts.payroll
    pidx, oidx = pay["pidx"].to_numpy(), pay["oidx"].to_numpy()
    hh = ctx.person_hh(pidx)
    hhc = np.maximum(hh, 0)
    ids, names, corr = ctx.quirky_people(rng, pidx, oidx, protect=pidx >= 0)
    k = len(pidx)
    cat = pay["category"].to_numpy(dtype=object)
    tw = np.where(hh >= 0, ctx.township[hhc], "水西镇")
    r = rng.integers(0, 3, k)
    admin = np.array([t + "人民政府" for t in tw], dtype=object)
    admin[r == 1] = np.where(
        ctx.county[hhc][r == 1] == "分宜县", "分宜县农业农村局", "渝水区农业农村局"
    )
    inst = np.where(r == 0, tw + "中心小学", np.where(r == 1, tw + "卫生院", "新余市人民医院"))
    unit = np.where(cat == "行政", admin, inst).astype(object)
    data = {"姓名": names, "身份证号": ids, "工作单位": unit, "人员类别": cat}
    frame = make_frame(data, pidx, hh, corr, pidx >= 0)
    y, q = ctx.periods.quarter
    yield OutFile(
        "caizheng_payroll",
        f"财政供养人员_{y}Q{q}.xlsx",
        "xlsx",
        frame,
        list(data),
        period=f"{y}Q{q}",
    )


# --------------------------------------------------------------------------- leads


def declarations(ctx: Ctx) -> Iterator[OutFile]:
    """Daily app/12345 files; the ID is left out now and then."""
    rng = ctx.rng("declarations")
    d = ctx.facts.declarations
    for day in np.unique(d["file_day"].to_numpy().astype("datetime64[D]")):
        rows = d[d["file_day"].to_numpy().astype("datetime64[D]") == day]
        hh = rows["hh"].to_numpy()
        head = ctx.head[hh]
        true_ids, true_names, born, _ = ctx.people(head)
        ids, id_code = corrupt_ids(
            true_ids,
            born,
            IdQuirks(fullwidth=0.02, space=0.02, old15=0, check=0.02, mangled=0),
            rng,
        )
        names, name_code = corrupt_names(true_names, NameQuirks(trad=0, typo=0.03, space=0.01), rng)
        given = rows["id_given"].to_numpy()
        ids = np.where(given, ids, "").astype(object)
        id_code = np.where(given, id_code, "id_blank").astype(object)
        tw, vil, addr = ctx.short_places(hh, rng, 0.2)
        ymd = str(day).replace("-", "")
        secs = rows["secs"].to_numpy()
        hms = [f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}" for s in secs]
        k = len(hh)
        data = {
            "apply_id": np.array([f"SB{ymd}{i + 1:04d}" for i in range(k)], dtype=object),
            "applicant_name": names,
            "id_no": ids,
            "phone": rows["phone"].to_numpy(dtype=object),
            "township": tw,
            "village": vil,
            "reason": rows["reason"].to_numpy(dtype=object),
            "reason_text": rows["text"].to_numpy(dtype=object),
            "apply_time": np.array([f"{day} {t}" for t in hms], dtype=object),
        }
        frame = make_frame(
            data, head, hh, join_codes(id_code, name_code, addr), np.ones(k, dtype=bool)
        )
        yield (
            OutFile(
                "declarations", f"declarations_{ymd}.jsonl", "jsonl", frame, list(data), period=ymd
            )
        )


def cadre_visits(ctx: Ctx) -> Iterator[OutFile]:
    """Weekly visit logs: the head's name (sometimes misheard), never an ID."""
    rng = ctx.rng("cadre_visits")
    v = ctx.facts.visits
    for monday in np.unique(v["week_monday"].to_numpy()):
        rows = v[v["week_monday"] == monday]
        hh = rows["hh"].to_numpy()
        head = ctx.head[hh]
        names, corr = corrupt_names(
            ctx.names[head], NameQuirks(trad=0.01, typo=0.08, space=0.01), rng
        )
        k = len(hh)
        styles = pick_styles(k, rng, primary=6, mix=0.4, choices=(0, 1, 3, 6, 7))
        data = {
            "走访日期": excel_cells(rows["date"].to_numpy(), styles),
            "乡镇": ctx.township[hh],
            "村": ctx.village[hh],
            "户主姓名": names,
            "联系电话": rows["phone"].to_numpy(dtype=object),
            "发现问题": rows["problem"].to_numpy(dtype=object),
            "问题类别": _none_if_empty(rows["category"].to_numpy(dtype=object)),
            "走访人": rows["visitor"].to_numpy(dtype=object),
        }
        frame = make_frame(data, head, hh, corr, rows["category"].to_numpy() != "")
        iso = pd.Timestamp(monday).isocalendar()
        yield (
            OutFile(
                "cadre_visits",
                f"走访排查_{iso.year}W{iso.week:02d}.xlsx",
                "xlsx",
                frame,
                list(data),
                period=f"{iso.year}W{iso.week:02d}",
            )
        )


# --------------------------------------------------------------------------- county answers


_DECISION_CODES = {"决定": ("暂缓", "待定")}


def county_decisions(ctx: Ctx) -> Iterator[OutFile]:
    """Monthly exports of the county's decisions (demo/cases.py tells the stories)."""
    rng = ctx.rng("county_decisions")
    d = ctx.decisions
    if d is None or d.empty:
        return
    hh = d["hh"].to_numpy()
    head = ctx.head[hh]
    true_ids, names, born, _ = ctx.people(head)
    ids, id_code = corrupt_ids(
        true_ids, born, IdQuirks(fullwidth=0, space=0.02, old15=0, check=0, mangled=0), rng
    )
    month = d["date"].to_numpy().astype("datetime64[M]")
    for m in np.unique(month):
        at = np.flatnonzero(month == m)
        ym = str(m).replace("-", "")
        data = {
            "决定编号": np.array([f"JD{ym}{i + 1:04d}" for i in range(len(at))], dtype=object),
            "户号": ctx.hh_no[hh[at]],
            "县(市、区)": ctx.county[hh[at]],
            "乡镇": ctx.township[hh[at]],
            "村": ctx.village[hh[at]],
            "户主姓名": names[at],
            "户主证件号码": ids[at],
            "决定": d["decision"].to_numpy(dtype=object)[at],
            "决定日期": fmt_dates(d["date"].to_numpy()[at]),
            "监测对象类型": d["object_type"].to_numpy(dtype=object)[at],
            "风险类型": d["risk_types"].to_numpy(dtype=object)[at],
            "帮扶措施": d["measures"].to_numpy(dtype=object)[at],
            "经办人": np.full(len(at), "县乡村振兴局", dtype=object),
            "备注": np.full(len(at), "", dtype=object),
        }
        frame = make_frame(data, head[at], hh[at], id_code[at], np.ones(len(at), dtype=bool))
        frame = add_garbage(frame, Garbage(date_cols=("决定日期",), codes=_DECISION_CODES), rng)
        yield _csv(
            "county_decisions",
            f"认定帮扶决定_{ym}.csv",
            frame,
            list(data),
            rng,
            BOM,
            ym,
            quirky_header=False,
            newline=CRLF,
        )


# ------------------------------------------------------------------------ authorisations

AUTH_SCOPES = ("家庭收入、资产及社会保障信息核查", "家庭经济状况全部信息", "仅限收入核查")


def xczx_authorisation(ctx: Ctx) -> Iterator[OutFile]:
    """承诺授权书 signed at home visits: most households with a planted signal, a few
    others. Some have expired or been withdrawn, some cover income only (no asset check)."""
    rng = ctx.rng("xczx_authorisation")
    n = len(ctx.hh_no)
    planted = ctx.planted_hh if ctx.planted_hh is not None else np.zeros(n, dtype=bool)
    signs = np.where(planted, rng.random(n) < 0.7, rng.random(n) < 0.05)
    hh = np.flatnonzero(signs)
    if not len(hh):
        return
    k = len(hh)
    day = ctx.periods.day
    signed = day - rng.integers(20, 400, size=k).astype("timedelta64[D]")
    until = signed + np.timedelta64(365, "D")
    # A few were withdrawn; the scope is mostly the standard wording, sometimes income only.
    status = np.where(rng.random(k) < 0.03, "撤回", "有效").astype(object)
    scope = np.asarray(AUTH_SCOPES, dtype=object)[rng.choice(3, size=k, p=[0.8, 0.12, 0.08])]
    head = ctx.head[hh]
    ids, names, _, _ = ctx.people(head)
    data = {
        "授权书编号": np.array([f"SQ{ctx.hh_no[h]}" for h in hh], dtype=object),
        "户号": ctx.hh_no[hh],
        "县(市、区)": ctx.county[hh],
        "乡镇": ctx.township[hh],
        "村": ctx.village[hh],
        "户主姓名": names,
        "户主证件号码": ids,
        "签署日期": fmt_dates(signed),
        "授权范围": scope,
        "有效期至": fmt_dates(until),
        "状态": status,
    }
    frame = make_frame(data, head, hh)
    yield _csv(
        "xczx_authorisation",
        f"承诺授权书登记_{str(day.astype('datetime64[M]')).replace('-', '')}.csv",
        frame,
        list(data),
        rng,
        BOM,
        str(day.astype("datetime64[M]")).replace("-", ""),
        quirky_header=False,
    )


# ----------------------------------------------------------------------------- accidents


def gongan_accident(ctx: Ctx) -> Iterator[OutFile]:
    """Road accidents (公安交警): some households already planted with a risk and still
    waiting for a decision have a member killed or seriously injured this year (因意外事故,
    never on a household whose county story is planted); clean households appear only with
    minor injuries and small losses, or with an accident older than the window."""
    rng = ctx.rng("gongan_accident")
    n = len(ctx.hh_no)
    planted = ctx.planted_hh if ctx.planted_hh is not None else np.zeros(n, dtype=bool)
    decided = np.zeros(n, dtype=bool)
    if ctx.decisions is not None and len(ctx.decisions):
        decided[ctx.decisions["hh"].to_numpy()] = True
    serious = np.flatnonzero(planted & ~decided & (rng.random(n) < 0.25))
    clean = np.flatnonzero(~planted & (rng.random(n) < 0.01))
    minor, old = clean[: len(clean) // 2], clean[len(clean) // 2 :]
    hh = np.concatenate([serious, minor, old])
    if not len(hh):
        return
    k_s, k_m, k_o = len(serious), len(minor), len(old)
    day = ctx.periods.day
    days_ago = np.concatenate(
        [rng.integers(5, 300, k_s), rng.integers(5, 300, k_m), rng.integers(400, 700, k_o)]
    )
    injury = np.concatenate(
        [
            rng.choice(np.array(["死亡", "重伤"], dtype=object), k_s),
            np.full(k_m, "轻伤", dtype=object),
            np.full(k_o, "死亡", dtype=object),
        ]
    )
    loss = np.concatenate(
        [rng.integers(0, 50000, k_s), rng.integers(0, 9000, k_m), rng.integers(0, 9000, k_o)]
    )
    order = np.argsort(days_ago)[::-1]  # oldest first, as the register lists them
    hh, days_ago, injury, loss = hh[order], days_ago[order], injury[order], loss[order]
    head = ctx.head[hh]
    ids, names, _, _ = ctx.people(head)
    data = {
        "事故编号": np.array([f"JT{1000 + i}" for i in range(len(hh))], dtype=object),
        "事故发生日期": fmt_dates(day - days_ago.astype("timedelta64[D]")),
        "当事人姓名": names,
        "当事人身份证号": ids,
        "伤亡情况": injury,
        "直接财产损失(元)": loss.astype(object),
        "乡镇": ctx.township[hh],
        "村": ctx.village[hh],
    }
    ym = str(day.astype("datetime64[M]")).replace("-", "")
    yield _csv(
        "gongan_accident",
        f"交通事故当事人_{ym}.csv",
        make_frame(data, head, hh),
        list(data),
        rng,
        GB,
        ym,
        quirky_header=False,
    )


def yingji_accident(ctx: Ctx) -> Iterator[OutFile]:
    """Work-safety accidents (应急管理局 安全生产事故伤亡人员): some households planted with
    a risk and still waiting for a decision have a member killed or seriously injured at
    work this year (因意外事故); clean households appear only with minor injuries, or with
    an accident older than the window. No loss column: the loss is the workplace's."""
    rng = ctx.rng("yingji_accident")
    n = len(ctx.hh_no)
    planted = ctx.planted_hh if ctx.planted_hh is not None else np.zeros(n, dtype=bool)
    decided = np.zeros(n, dtype=bool)
    if ctx.decisions is not None and len(ctx.decisions):
        decided[ctx.decisions["hh"].to_numpy()] = True
    serious = np.flatnonzero(planted & ~decided & (rng.random(n) < 0.1))
    clean = np.flatnonzero(~planted & (rng.random(n) < 0.005))
    minor, old = clean[: len(clean) // 2], clean[len(clean) // 2 :]
    hh = np.concatenate([serious, minor, old])
    if not len(hh):
        return
    k_s, k_m, k_o = len(serious), len(minor), len(old)
    day = ctx.periods.day
    days_ago = np.concatenate(
        [rng.integers(5, 300, k_s), rng.integers(5, 300, k_m), rng.integers(400, 700, k_o)]
    )
    injury = np.concatenate(
        [
            rng.choice(np.array(["死亡", "重伤"], dtype=object), k_s),
            np.full(k_m, "轻伤", dtype=object),
            np.full(k_o, "重伤", dtype=object),
        ]
    )
    kinds = np.array(["工矿商贸", "建筑施工", "火灾", "道路运输"], dtype=object)
    places = np.array(
        ["新余钢铁有限公司", "某建筑工程有限公司", "某陶瓷厂", "某物流公司"], dtype=object
    )
    pick = rng.integers(0, len(kinds), len(hh))
    order = np.argsort(days_ago, kind="stable")[::-1]  # oldest first
    hh, days_ago, injury, pick = hh[order], days_ago[order], injury[order], pick[order]
    head = ctx.head[hh]
    ids, names, _, _ = ctx.people(head)
    ym = str(day.astype("datetime64[M]")).replace("-", "")
    data = {
        "事故编号": np.array([f"AQ{ym}{i:04d}" for i in range(len(hh))], dtype=object),
        "事故类别": kinds[pick],
        "发生日期": fmt_dates(day - days_ago.astype("timedelta64[D]")),
        "事故单位": places[pick],
        "伤亡人员姓名": names,
        "身份证号码": ids,
        "伤亡程度": injury,
        "户籍乡镇": ctx.township[hh],
        "户籍村": ctx.village[hh],
    }
    yield _csv(
        "yingji_accident",
        f"安全生产事故伤亡人员_{ym}.csv",
        make_frame(data, head, hh),
        list(data),
        rng,
        U8,
        ym,
        quirky_header=False,
    )


SOURCES: tuple[tuple[str, Callable[[Ctx], Iterator[OutFile]]], ...] = (
    ("gongan_hukou", gongan_hukou),
    ("xczx_registry", xczx_registry),
    ("nync_income", nync_income),
    ("minzheng_assistance", minzheng_assistance),
    ("yibao_settlement", yibao_settlement),
    ("yibao_enrollment", yibao_enrollment),
    ("weijian_illness", weijian_illness),
    ("zhujian_housing", zhujian_housing),
    ("shuili_water", shuili_water),
    ("renshe_employment", renshe_employment),
    ("jiaoyu_students", jiaoyu_students),
    ("canlian_disability", canlian_disability),
    ("yingji_disaster", yingji_disaster),
    ("gongan_vehicle", gongan_vehicle),
    ("scjg_business", scjg_business),
    ("bdc_property", bdc_property),
    ("caizheng_payroll", caizheng_payroll),
    ("declarations", declarations),
    ("cadre_visits", cadre_visits),
    ("minzheng_db", minzheng_db),
    ("county_decisions", county_decisions),
    ("xczx_authorisation", xczx_authorisation),
    ("gongan_accident", gongan_accident),
    ("yingji_accident", yingji_accident),
)
