"""Visit and declaration leads: the household is the unit, a misheard name with namesakes
reaches the right household or review, never a wrong household and never unlinked."""

from __future__ import annotations

import functools

import pandas as pd
import pytest

from demo.scale import (
    generate_leads,
    lead_outcomes,
    normalised_records,
    register_persons_frame,
)
from matching.linker import link_records
from matching.settings import load_settings

SETTINGS = load_settings("department")

# One village; household, name, relation. Enough other households that the surname block
# has company and the model is trained on more than the pairs under test.
PEOPLE = [
    ("H1", "宋军", "户主"),
    ("H1", "李芳", "配偶"),
    ("H2", "宋君", "户主"),
    ("H3", "张民", "户主"),
    ("H4", "刘强", "户主"),
    ("H4", "张敏", "子"),
    ("H5", "黄兵", "户主"),
    ("H6", "黄海涛", "户主"),
    ("H7", "黄丽娟", "户主"),
    ("H8", "王伟", "户主"),
    ("H9", "黄平", "户主"),
    ("H10", "黄英", "户主"),
    ("H11", "黄军", "户主"),
]


@functools.cache
def _filler() -> pd.DataFrame:
    """A generated register of other villages, so value frequencies are a city's."""
    return register_persons_frame(generate_leads(3_000, 1, 1, seed=5)[0])


def _persons() -> pd.DataFrame:
    n = len(PEOPLE)
    village = pd.DataFrame(
        {
            "person_key": [f"P{i}" for i in range(n)],
            "household_no": [p[0] for p in PEOPLE],
            "name_norm": [p[1] for p in PEOPLE],
            "township": "城北镇",
            "village": "东村",
            "birth_date": None,
            "sex": None,
            "status": "正常",
            "relation": [p[2] for p in PEOPLE],
            "id_number": [f"36050219800101{i:03d}0" for i in range(n)],
        }
    )
    return pd.concat([village, _filler()], ignore_index=True)


def _visits(names: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "record_key": [f"V{i}" for i in range(len(names))],
            "person_key": pd.Series([None] * len(names), dtype="string"),
            "id_status": "blank",
            "name_norm": names,
            "township": "城北镇",
            "village": "东村",
            "id_number": pd.Series([None] * len(names), dtype="string"),
        }
    )


def _link(names: list[str], source_id: str = "cadre_visits"):
    return link_records(
        _visits(names),
        _persons(),
        source_id=source_id,
        links_by="name_place",
        settings=SETTINGS,
    )


def test_a_name_two_heads_of_the_village_sound_like_goes_to_review():
    # 宋君 is spelt like H2's head and sounds like H1's: a heard name cannot tell them apart.
    result = _link(["宋君"])
    assert result.links["method"].tolist() == ["review"]
    assert result.links["household_no"].isna().all()
    assert result.review["household_no"].tolist() == ["H2"]


def test_a_member_namesake_does_not_take_a_lead_that_sounds_like_a_head():
    # The village's only 张敏 is a son in H4; its head 张民 (H3) sounds the same. The visit
    # names a head: H3, never H4.
    result = _link(["张敏"])
    method = result.links["method"].iloc[0]
    assert method in ("probabilistic", "review")
    household = (
        result.links["household_no"].iloc[0]
        if method == "probabilistic"
        else result.review["household_no"].iloc[0]
    )
    assert household == "H3"


def test_a_misheard_given_name_that_sounds_different_is_never_left_unlinked():
    # 黄斌 for 黄兵: another sound; one character from four heads' names alike (黄兵, 黄平,
    # 黄英, 黄军), each under a quarter: below the review threshold of other sources.
    leads = _link(["黄斌"])
    assert leads.links["method"].tolist() == ["review"]
    assert leads.review["household_no"].isin(["H5", "H9", "H10", "H11"]).tolist() == [True]
    # The same record from a source that is not a lead source keeps the threshold.
    other = _link(["黄斌"], source_id="nync_income")
    assert other.links["method"].tolist() == ["unlinked"]


def test_a_unique_spelling_and_sound_links_at_once():
    result = _link(["王伟", "黄海涛"])
    assert result.links["method"].tolist() == ["exact_name_place", "exact_name_place"]
    assert result.links["household_no"].tolist() == ["H8", "H6"]


@pytest.fixture(scope="module")
def city():
    register, visits, declarations = generate_leads(5_000, 400, 400, seed=7)
    return register_persons_frame(register), visits, declarations


@pytest.mark.parametrize(
    ("source_id", "links_by", "expected"),
    [
        ("cadre_visits", "name_place", {"right": 400, "review": 0}),
        ("declarations", "head", {"right": 400, "review": 0}),
    ],
)
def test_generated_leads_right_or_in_review_none_wrong(city, source_id, links_by, expected):
    persons, visits, declarations = city
    raw = visits if source_id == "cadre_visits" else declarations
    records = normalised_records(raw).drop(columns=["birth_date", "sex"])
    result = link_records(
        records, persons, source_id=source_id, links_by=links_by, settings=SETTINGS
    )
    got = lead_outcomes(result.links, raw)
    assert {k: got[k] for k in ("right", "review", "wrong", "unlinked")} == expected | {
        "wrong": 0,
        "unlinked": 0,
    }
