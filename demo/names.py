"""Chinese personal names for the demo city: surnames, given names, typos, minority names.

Names are drawn as indices into small character tables and joined into strings once.
Every given-name character has a homophone or look-alike partner, so a "typo" can always
be made by swapping one character (李娜 -> 李纳), the way a clerk mishears a name.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "SURNAMES",
    "draw_given",
    "draw_minority",
    "draw_surnames",
    "typo_name",
]

# (surname, relative frequency). National order with a Jiangxi tilt (熊 邹 付 晏 敖 欧阳)
# plus the rare surnames with special readings that trip up matching (单 曾 区 解 仇 朴).
# fmt: off
SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 7.2), ("李", 7.2), ("张", 6.8), ("刘", 5.4), ("陈", 4.5), ("杨", 3.1),
    ("黄", 2.6), ("赵", 2.1), ("吴", 2.1), ("周", 1.9), ("徐", 1.3), ("孙", 1.3),
    ("马", 1.2), ("朱", 1.2), ("胡", 1.3), ("郭", 1.1), ("何", 1.1), ("林", 1.0),
    ("罗", 1.0), ("高", 1.0), ("郑", 0.9), ("梁", 0.9), ("谢", 0.9), ("宋", 0.8),
    ("唐", 0.7), ("许", 0.7), ("韩", 0.7), ("冯", 0.7), ("邓", 0.7), ("曹", 0.6),
    ("彭", 0.6), ("曾", 0.6), ("肖", 0.6), ("田", 0.5), ("董", 0.5), ("袁", 0.5),
    ("潘", 0.5), ("于", 0.4), ("蒋", 0.5), ("蔡", 0.5), ("余", 0.5), ("杜", 0.4),
    ("叶", 0.4), ("程", 0.4), ("苏", 0.4), ("魏", 0.4), ("吕", 0.4), ("丁", 0.4),
    ("任", 0.4), ("沈", 0.3), ("姚", 0.4), ("卢", 0.3), ("姜", 0.3), ("钟", 0.3),
    ("谭", 0.3), ("陆", 0.3), ("汪", 0.3), ("范", 0.3), ("金", 0.3), ("石", 0.3),
    ("廖", 0.3), ("贾", 0.3), ("夏", 0.3), ("付", 0.5), ("方", 0.3), ("邹", 0.5),
    ("熊", 0.6), ("邱", 0.3), ("江", 0.3), ("雷", 0.2), ("龙", 0.2), ("黎", 0.2),
    ("龚", 0.2), ("万", 0.2), ("钱", 0.2), ("严", 0.2), ("戴", 0.2), ("晏", 0.15),
    ("敖", 0.15), ("欧阳", 0.12), ("覃", 0.1), ("单", 0.05), ("解", 0.04),
    ("仇", 0.03), ("区", 0.02), ("朴", 0.02),
)

# Given-name characters, each with the character a clerk might write instead.
_MALE_OLD = {
    "伟": "玮", "军": "君", "勇": "永", "明": "鸣", "华": "桦", "平": "坪", "杰": "捷",
    "涛": "滔", "斌": "彬", "刚": "钢", "辉": "晖", "建": "健", "国": "帼", "文": "汶",
    "金": "锦", "林": "霖", "波": "博", "峰": "锋", "福": "富", "生": "升", "财": "才",
    "发": "法", "荣": "容", "贵": "桂", "兵": "斌", "红": "宏", "新": "欣", "清": "青",
    "成": "诚", "庆": "卿", "祥": "翔", "春": "纯", "德": "得", "忠": "中", "志": "智",
    "根": "跟", "水": "永", "长": "常", "海": "晦",
}
_MALE_YOUNG = {
    "磊": "垒", "鹏": "朋", "飞": "非", "亮": "良", "东": "冬", "俊": "骏", "龙": "隆",
    "宇": "雨", "浩": "皓", "博": "搏", "鑫": "欣", "子": "梓", "轩": "宣", "豪": "毫",
    "泽": "择", "睿": "锐", "凯": "恺", "辰": "晨", "晨": "辰", "杰": "洁", "伟": "玮",
    "涛": "滔", "文": "闻", "明": "鸣", "强": "墙", "超": "潮", "阳": "洋", "帆": "凡",
}
_FEMALE_OLD = {
    "娜": "纳", "丽": "莉", "芳": "方", "敏": "民", "静": "晶", "艳": "燕", "秀": "绣",
    "英": "瑛", "霞": "侠", "兰": "岚", "红": "虹", "玲": "铃", "梅": "玫", "萍": "苹",
    "琴": "勤", "云": "芸", "娟": "鹃", "珍": "真", "桂": "贵", "凤": "风", "芬": "纷",
    "花": "华", "香": "湘", "菊": "桔", "月": "悦", "翠": "萃", "美": "梅", "淑": "舒",
    "金": "锦", "春": "纯",
}
_FEMALE_YOUNG = {
    "婷": "亭", "慧": "惠", "洁": "杰", "雪": "雯", "丹": "单", "琳": "林", "欣": "馨",
    "怡": "仪", "佳": "嘉", "雨": "语", "涵": "晗", "思": "斯", "梓": "子", "诗": "师",
    "悦": "月", "可": "珂", "晓": "筱", "娜": "纳", "丽": "莉", "静": "晶", "敏": "民",
    "莉": "丽", "倩": "茜", "颖": "影", "璐": "路", "瑶": "遥",
}
# fmt: on
POOLS: tuple[tuple[str, ...], ...] = (
    tuple(_FEMALE_OLD),
    tuple(_FEMALE_YOUNG),
    tuple(_MALE_OLD),
    tuple(_MALE_YOUNG),
)
TYPO: dict[str, str] = {**_MALE_OLD, **_MALE_YOUNG, **_FEMALE_OLD, **_FEMALE_YOUNG}
# Transliterated names get misheard too (提/题, 力/利).
_TRANSLIT_TYPO = {
    "提": "题",
    "力": "利",
    "逊": "迅",
    "尔": "儿",
    "义": "艺",
    "班": "斑",
    "曼": "蔓",
    "都": "督",
    "买": "卖",
    "明": "鸣",
    "热": "惹",
}

# Uyghur names as written in Chinese registers: given name, middle dot, father's name.
_MINORITY_FEMALE = (
    "阿依古丽",
    "古丽娜尔",
    "热依拉",
    "帕提古丽",
    "阿依努尔",
    "迪丽拜尔",
    "米日古丽",
)
_MINORITY_MALE = ("买买提", "艾力", "吐尔逊", "阿不都", "艾合买提", "热合曼", "库尔班", "依明")
_MINORITY_FATHER = (
    "买买提",
    "艾力",
    "吐尔逊",
    "阿不都热依木",
    "艾海提",
    "司马义",
    "吾守尔",
    "托合提",
)


def draw_surnames(rng: np.random.Generator, n: int) -> np.ndarray:
    """`n` surnames (object array) following the frequency table."""
    chars = np.array([s for s, _ in SURNAMES], dtype=object)
    weights = np.array([w for _, w in SURNAMES])
    return chars[rng.choice(len(chars), size=n, p=weights / weights.sum())]


def draw_given(rng: np.random.Generator, male: np.ndarray, old: np.ndarray) -> np.ndarray:
    """Given names of one or two characters; the pool depends on sex and generation."""
    n = len(male)
    pool_id = male.astype(np.int64) * 2 + (~old).astype(np.int64)  # 0 F-old .. 3 M-young
    out = np.empty(n, dtype=object)
    two = rng.random(n) < 0.72
    first = rng.random(n)
    second = rng.random(n)
    for pid, pool in enumerate(POOLS):
        sel = np.flatnonzero(pool_id == pid)
        chars = np.array(pool, dtype=object)
        a = chars[(first[sel] * len(chars)).astype(np.int64)]
        b = chars[(second[sel] * len(chars)).astype(np.int64)]
        out[sel] = np.where(two[sel], a + b, a)
    return out


def draw_minority(rng: np.random.Generator, male: np.ndarray) -> np.ndarray:
    """Minority names with a middle dot, e.g. 阿依古丽·买买提."""
    n = len(male)
    fem = np.array(_MINORITY_FEMALE, dtype=object)
    mal = np.array(_MINORITY_MALE, dtype=object)
    fat = np.array(_MINORITY_FATHER, dtype=object)
    given = np.where(male, mal[rng.integers(0, len(mal), n)], fem[rng.integers(0, len(fem), n)])
    return given + "·" + fat[rng.integers(0, len(fat), n)]


def typo_name(name: str, pick: float) -> str:
    """Swap one given-name character for its homophone; `pick` in [0, 1) chooses which."""
    table = TYPO if "·" not in name else _TRANSLIT_TYPO
    spots = [i for i, c in enumerate(name) if i > 0 and c in table]
    if not spots:  # nothing to mishear: a dropped character is the clerk's other slip
        return name[:-1] if len(name) > 2 else name + name[-1]
    i = spots[int(pick * len(spots))]
    return name[:i] + table[name[i]] + name[i + 1 :]
