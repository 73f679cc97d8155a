"""Identity: one person, one pseudonymous key, whatever form the department wrote the ID in."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from connectors.spec import load_specs
from matching.identity import resolve_identity
from privacy import keyed_hash, redact_ids

AS_OF = dt.date(2026, 11, 30)

KEY = b"k"
ID18 = "36050219850307123X"  # 15-digit form: 360502850307123


def test_every_form_of_one_id_gets_the_same_person_key():
    spec = load_specs()["gongan_vehicle"]
    forms = [
        ID18,
        ID18.lower(),
        "３６０５０２１９８５０３０７１２３Ｘ",
        "360502 19850307 123X",
        "360502-19850307-123x",
        "360502850307123",
    ]
    ident = resolve_identity(
        spec, pd.DataFrame({"id_number": forms, "name": "张伟"}), KEY, as_of=AS_OF
    )
    assert ident["id_status"].tolist() == ["valid"] * 5 + ["repaired_15"]
    assert ident["person_key"].nunique() == 1
    assert set(ident["id_masked"]) == {"360502********123X"}
    assert set(ident["id_number"]) == {ID18}


def test_untrusted_ids_never_share_a_key_with_the_real_person():
    spec = load_specs()["gongan_vehicle"]
    typo = ID18[:10] + "4" + ID18[11:]  # one digit wrong: check character fails
    ident = resolve_identity(
        spec, pd.DataFrame({"id_number": [ID18, typo, "3.60502E+17", None]}), KEY, as_of=AS_OF
    )
    assert ident["id_status"].tolist() == ["valid", "invalid_check", "mangled", "blank"]
    real, wrong, mangled, blank = ident["person_key"].tolist()
    assert wrong != real and mangled != real
    assert pd.isna(blank)


def test_student_record_prefers_the_most_trustworthy_id_column():
    spec = load_specs()["jiaoyu_students"]
    values = pd.DataFrame(
        {
            "student_no": ["G" + ID18, "G" + ID18[:-1] + "0", None],
            "id_number_given": [None, ID18, None],
        }
    )
    ident = resolve_identity(spec, values, KEY, as_of=AS_OF)
    assert ident["id_status"].tolist() == ["valid", "valid", "blank"]
    assert ident["person_key"].iloc[0] == ident["person_key"].iloc[1]


def test_disability_card_number_carries_the_id():
    spec = load_specs()["canlian_disability"]
    ident = resolve_identity(spec, pd.DataFrame({"card_no": [ID18 + "12"]}), KEY, as_of=AS_OF)
    assert ident["id_number"].tolist() == [ID18]


def test_keyed_hash_depends_on_the_secret():
    values = pd.Series([ID18], dtype="string")
    assert keyed_hash(values, b"a").iloc[0] != keyed_hash(values, b"b").iloc[0]
    assert len(keyed_hash(values, b"a").iloc[0]) == 32


def test_redact_ids_in_free_text():
    text = f"value {ID18} or 360502850307123, count 12345"
    assert redact_ids(text) == "value 360502********123X or 360502********7123, count 12345"
