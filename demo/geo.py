"""Geography of the demo city 新余市: counties, townships and generated village names."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["CITY_CODE", "CITY_NAME", "COUNTIES", "Geography", "build_geography"]

CITY_CODE = "3605"
CITY_NAME = "新余市"
# fmt: off
COUNTIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("360502", "渝水区", ("罗坊镇", "姚圩镇", "珠珊镇", "良山镇", "下村镇", "欧里镇", "水西镇",
                       "新溪乡", "人和乡", "南安乡")),
    ("360521", "分宜县", ("分宜镇", "杨桥镇", "湖泽镇", "双林镇", "钤山镇", "洞村乡", "高岚乡",
                       "凤阳乡", "操场乡", "大岗山")),
)
# fmt: on
# 渝水区 is the larger, more populous county.
_COUNTY_SHARE = (0.6, 0.4)

# Village names: a first and a second syllable common in Jiangxi place names, plus 村.
_V1 = "塘上下东西南北新大小高石洪黄竹枫桃杨柏龙凤马云泉沙清白田罗胡李刘谢彭江湖山溪"
_V2 = "下头口坑岭田坪溪桥湖山源洲江冈背坊圳陂港里边家湾垅塘丰前后"


@dataclass(frozen=True)
class Geography:
    """Townships and villages as parallel arrays (index = township / village number)."""

    tw_county_code: np.ndarray  # per township
    tw_county_name: np.ndarray
    tw_name: np.ndarray
    tw_weight: np.ndarray  # share of households
    vil_township: np.ndarray  # per village: township index
    vil_name: np.ndarray
    tw_first_village: np.ndarray  # villages of township t: first..first+count
    tw_village_count: np.ndarray


def build_geography(households: int, rng: np.random.Generator) -> Geography:
    """Lay out 20 townships and a few to a few dozen villages each (more for bigger cities)."""
    codes, cnames, tnames, weights = [], [], [], []
    for (code, cname, towns), share in zip(COUNTIES, _COUNTY_SHARE, strict=True):
        w = rng.uniform(0.6, 1.4, len(towns))
        for t, wt in zip(towns, w / w.sum() * share, strict=True):
            codes.append(code)
            cnames.append(cname)
            tnames.append(t)
            weights.append(wt)
    n_tw = len(tnames)
    # About 300 households per village; at least a handful of villages per township.
    base = int(np.clip(round(households / n_tw / 300), 4, 40))
    counts = base + rng.integers(0, 3, n_tw)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    vil_tw, vil_name = [], []
    for t in range(n_tw):
        picks = rng.choice(len(_V1) * len(_V2), size=int(counts[t]), replace=False)
        for p in sorted(picks.tolist()):
            a, b = _V1[p // len(_V2)], _V2[p % len(_V2)]
            vil_tw.append(t)
            vil_name.append(a + b + "村")
    return Geography(
        tw_county_code=np.array(codes, dtype=object),
        tw_county_name=np.array(cnames, dtype=object),
        tw_name=np.array(tnames, dtype=object),
        tw_weight=np.array(weights),
        vil_township=np.array(vil_tw, dtype=np.int64),
        vil_name=np.array(vil_name, dtype=object),
        tw_first_village=first.astype(np.int64),
        tw_village_count=counts.astype(np.int64),
    )
