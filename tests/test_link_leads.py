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


# --------------------------------------------------------------------------- lead evidence

VISIT_DAY = "2026-11-10"


def _labelled_city(with_event: int, labels: int = 30):
    """``labels`` trusted 因病 leads of filler households, ``with_event`` of whose households
    have a serious-illness case a month before: m of that kind (with_event + 0.5) / (labels
    + 1); the same households are the only ones with the kind, so u = (with_event + 0.5) /
    (households + 1)."""
    filler = _filler()["household_no"].drop_duplicates().sort_values().head(labels).tolist()
    labelled = pd.DataFrame(
        {"reason": "因病", "date": pd.Timestamp(VISIT_DAY), "household_no": filler}
    )
    events = pd.DataFrame(
        {
            "household_no": filler[:with_event],
            "kind": "weijian_illness",
            "reason": "因病",
            "date": pd.Timestamp("2026-10-10"),
        }
    )
    return events, labelled


def _visit(name: str, reason: str = "因病", phone: str | None = None) -> pd.DataFrame:
    return _visits([name]).assign(reason=reason, visited_on=pd.Timestamp(VISIT_DAY), phone=phone)


def _with_evidence(records, events=None, labelled=None, phones=None):
    from matching.evidence import LeadEvidence

    return link_records(
        records,
        _persons(),
        source_id="cadre_visits",
        links_by="name_place",
        settings=SETTINGS,
        evidence=LeadEvidence(events=events, phones=phones, labelled=labelled),
    )


def _event(household: str, day: str, kind: str = "weijian_illness", reason: str = "因病"):
    return pd.DataFrame(
        {"household_no": [household], "kind": kind, "reason": reason, "date": pd.Timestamp(day)}
    )


def test_an_illness_case_near_the_visit_tells_sound_alike_heads_apart():
    # 宋君 sounds like both heads (H1 宋军, H2 宋君): review on the name alone. H1's member
    # has a serious-illness case a month before the 因病 visit; H2 has none. u of the kind
    # (21 + 0.5) / (3011 + 1), m (20 + u) / (30 + 1): log2(m/u) = 6.50 bits for H1; H2 is
    # at 'none': -1.49 bits. Equal name odds: H1 takes 2**6.50 / (2**6.50 + 2**-1.49) of
    # one unit (less the sliver of 'nobody of the register'), above 0.95.
    events, labelled = _labelled_city(with_event=20)
    events = pd.concat([events, _event("H1", "2026-10-10")], ignore_index=True)
    result = _with_evidence(_visit("宋君"), events, labelled)
    assert result.links["method"].tolist() == ["probabilistic"]
    assert result.links["household_no"].tolist() == ["H1"]
    assert result.links["person_key"].tolist() == ["P0"]  # H1's head
    assert result.links["match_probability"].iloc[0] == pytest.approx(0.9959, abs=1e-4)
    assert result.review.empty
    assert result.stats["evidence"]["accepted"] == 1


def test_evidence_outside_the_window_or_of_another_reason_weighs_nothing():
    events, labelled = _labelled_city(with_event=20)
    # Two years before the visit: outside the window (a year before, a month after).
    old = pd.concat([events, _event("H1", "2024-10-10")], ignore_index=True)
    result = _with_evidence(_visit("宋君"), old, labelled)
    assert result.links["method"].tolist() == ["review"]
    assert result.review["household_no"].tolist() == ["H2"]  # the name's favourite
    # A disaster record speaks for 因灾, not for a 因病 visit.
    disaster = pd.concat(
        [events, _event("H1", "2026-10-10", "yingji_disaster", "因灾")], ignore_index=True
    )
    result = _with_evidence(_visit("宋君"), disaster, labelled)
    assert result.links["method"].tolist() == ["review"]


def test_both_candidates_with_the_evidence_stay_in_review():
    events, labelled = _labelled_city(with_event=20)
    both = pd.concat(
        [events, _event("H1", "2026-10-10"), _event("H2", "2026-11-01")], ignore_index=True
    )
    result = _with_evidence(_visit("宋君"), both, labelled)
    assert result.links["method"].tolist() == ["review"]
    assert result.links["household_no"].isna().all()
    assert len(result.review) == 1


def test_a_reason_with_too_few_trusted_leads_to_learn_from_weighs_nothing():
    # 19 labels, below min_labelled (20): the illness case of H1 cannot be weighed.
    events, labelled = _labelled_city(with_event=15, labels=19)
    events = pd.concat([events, _event("H1", "2026-10-10")], ignore_index=True)
    result = _with_evidence(_visit("宋君"), events, labelled)
    assert result.links["method"].tolist() == ["review"]
    assert result.stats["evidence"]["reasons"]["因病"] == {"labelled": 19, "weighs": False}


def test_a_kind_every_labelled_household_lacks_weighs_against():
    # None of the 30 labelled households had the kind: m(kind) = u/31 < u. A kind true
    # households show less often than others is no reason to prefer H2, the namesake
    # without it (it would take 2**4.95 to 1): the kind weighs nothing either way.
    events, labelled = _labelled_city(with_event=0)
    events = _event("H1", "2026-10-10")
    result = _with_evidence(_visit("宋君"), events, labelled)
    assert result.links["method"].tolist() == ["review"]
    assert result.review["household_no"].tolist() == ["H2"]


def test_a_phone_on_one_households_trusted_record_names_it():
    phones = pd.DataFrame({"phone": ["13800001111"], "household_no": ["H1"]})
    result = _with_evidence(_visit("宋君", phone="138-0000-1111"), phones=phones)
    assert result.links["method"].tolist() == ["probabilistic"]
    assert result.links["household_no"].tolist() == ["H1"]
    # The same phone on records of two households names neither.
    shared = pd.concat([phones, pd.DataFrame({"phone": ["13800001111"], "household_no": ["H2"]})])
    result = _with_evidence(_visit("宋君", phone="13800001111"), phones=shared)
    assert result.links["method"].tolist() == ["review"]


def test_a_phone_of_the_sources_own_exact_link_names_the_household_of_a_typod_lead():
    # Two declarations from one phone: the first with the head's ID (exact), the second
    # without an ID and with a name both H1's and H2's heads sound like.
    records = pd.concat(
        [
            _visits(["宋军"]).assign(
                record_key="D0", person_key="P0", id_status="valid", phone="13900002222"
            ),
            _visits(["宋君"]).assign(record_key="D1", phone="13900002222"),
        ],
        ignore_index=True,
    ).assign(reason="因病", applied_at="2026-11-12 09:30:00")
    result = link_records(
        records,
        _persons(),
        source_id="declarations",
        links_by="head",
        settings=SETTINGS,
    )
    by_key = result.links.set_index("record_key")
    assert by_key.loc["D0", "method"] == "exact_id"
    assert by_key.loc["D1", "method"] == "probabilistic"
    assert by_key.loc["D1", "household_no"] == "H1"


def test_evidence_rows_keep_linked_records_that_pass_the_kinds_filters():
    from matching.evidence import EvidenceKind, evidence_rows

    kind = EvidenceKind(
        "renshe_employment",
        "务工就业不稳",
        date="unemployed_since",
        where={"employment_status": ("登记失业",)},
    )
    records = pd.DataFrame(
        {
            "record_key": ["a", "b", "c", "d"],
            "employment_status": ["登记失业", "本地就业", "登记失业", "登记失业"],
            "unemployed_since": ["2026-09-01", None, "2026-10-01", "2026-10-05"],
        }
    )
    links = pd.DataFrame(
        {
            "record_key": ["a", "b", "c", "d"],
            "household_no": ["H1", "H2", None, "H4"],
            "method": ["exact_id", "exact_id", "unlinked", "review"],
        }
    )
    got = evidence_rows(kind, records, links)
    assert got.to_dict("records") == [
        {
            "household_no": "H1",
            "kind": "renshe_employment",
            "reason": "务工就业不稳",
            "date": pd.Timestamp("2026-09-01"),
        }
    ]


def test_places_written_with_less_detail_take_the_registers_spelling():
    from matching.linker import register_places

    persons = pd.DataFrame(
        {
            "township": ["杨桥镇", "杨桥镇", "城北镇", "东乡", "东镇"],
            "village": ["柏下村", "上里村", "东村", "东村", "东村"],
        }
    )
    records = pd.DataFrame(
        {
            "record_key": ["a", "b", "c", "d", "e"],
            "township": ["杨桥", "杨桥镇", "城北", "东", None],
            "village": ["柏下", "上里村", "东", "东村", "东村"],
        }
    )
    got = register_places(records, persons)
    assert got["township"].iloc[:4].tolist() == ["杨桥镇", "杨桥镇", "城北镇", "东"]
    assert pd.isna(got["township"].iloc[4])
    # 东/东村 is a short form of two register places (东乡 and 东镇): left as written.
    assert got["village"].tolist() == ["柏下村", "上里村", "东村", "东村", "东村"]


def test_a_declaration_without_id_and_with_a_short_address_links_by_its_unique_name():
    # 城北/东 for 城北镇/东村: the name 王伟 is unique in the village once the place is the
    # register's.
    records = _visits(["王伟"]).assign(township="城北", village="东")
    result = link_records(
        records, _persons(), source_id="declarations", links_by="head", settings=SETTINGS
    )
    assert result.links["method"].tolist() == ["exact_name_place"]
    assert result.links["household_no"].tolist() == ["H8"]


def test_weighed_leads_do_not_depend_on_row_order():
    events, labelled = _labelled_city(with_event=20)
    events = pd.concat([events, _event("H1", "2026-10-10")], ignore_index=True)
    phones = pd.DataFrame({"phone": ["13800001111"], "household_no": ["H2"]})
    records = pd.concat(
        [
            _visit("宋君").assign(record_key="A"),
            _visit("宋军", reason="其他", phone="13800001111").assign(record_key="B"),
            _visit("黄斌", reason="因学").assign(record_key="C"),
        ],
        ignore_index=True,
    )
    forward = _with_evidence(records, events, labelled, phones).links
    backward = _with_evidence(records.iloc[::-1], events, labelled, phones).links
    key = ["record_key", "method", "household_no"]
    got = forward.sort_values("record_key")[key].reset_index(drop=True)
    assert got.equals(backward.sort_values("record_key")[key].reset_index(drop=True))
    # A: the illness case names H1; B: the phone names H2 against the spelling of H1's
    # head; C: no record speaks for 因学 among 黄斌's candidates, it waits in review.
    assert got.fillna({"household_no": "-"}).to_dict("list") == {
        "record_key": ["A", "B", "C"],
        "method": ["probabilistic", "probabilistic", "review"],
        "household_no": ["H1", "H2", "-"],
    }


def test_a_leads_day_is_read_from_dates_datetimes_and_text():
    import datetime as dt

    from matching.evidence import LeadEvidenceSettings, lead_dates

    records = pd.DataFrame(
        {
            "applied_at": [
                "2026-11-12 09:30:00",
                dt.datetime(2026, 11, 13, 23, 5, tzinfo=dt.UTC),
                dt.date(2026, 11, 14),
                None,
            ]
        },
        dtype=object,
    )
    got = lead_dates(records, LeadEvidenceSettings())
    assert got.iloc[:3].tolist() == [
        pd.Timestamp("2026-11-12"),
        pd.Timestamp("2026-11-13"),
        pd.Timestamp("2026-11-14"),
    ]
    assert pd.isna(got.iloc[3])
