"""Typed configuration: source specs, linkage settings and CROSSCHECK_* settings.

A typo in a configuration file or variable is refused with one message that names the
file (or variable), the key and what is allowed, instead of being silently ignored.
"""

from __future__ import annotations

import dataclasses

import pytest

from connectors.spec import SPEC_DIR, SpecError, load_spec_file, load_specs
from crosscheck.settings import (
    DEFAULT_WAREHOUSE_URL,
    DEMO_MARKER,
    DEV_PII_KEY,
    SettingsError,
    load_settings,
)
from matching.settings import SETTINGS_DIR, LinkSettings, LinkSettingsError
from matching.settings import load_settings as link

# ------------------------------------------------------------------------- source specs


def _spec_copy(tmp_path, edit):
    """minzheng_db.yaml, edited, in a folder of its own (load_specs is cached per folder)."""
    text = (SPEC_DIR / "minzheng_db.yaml").read_text(encoding="utf-8")
    changed = edit(text)
    assert changed != text, "the edit must change the spec"
    folder = tmp_path / "sources"
    folder.mkdir()
    path = folder / "minzheng_db.yaml"
    path.write_text(changed, encoding="utf-8")
    return folder, path


def test_every_shipped_spec_loads():
    specs = load_specs()
    assert set(specs) == {p.stem for p in SPEC_DIR.glob("*.yaml")}
    for path in SPEC_DIR.glob("*.yaml"):
        assert load_spec_file(path) == specs[path.stem]
    hukou = specs["gongan_hukou"]
    assert hukou.id_field == "id_number" and hukou.column("name").type == "name"
    assert hukou.has("household_no") and not hukou.has("no_such_field")
    assert specs["minzheng_db"].sql_table == "v_jiuzhu"
    # Money is never negative unless the spec says so.
    assert specs["minzheng_db"].column("monthly_amount").minimum == 0.0


def test_unknown_column_key_names_file_column_and_allowed_keys(tmp_path):
    folder, path = _spec_copy(
        tmp_path,
        lambda t: t.replace(
            "covered_persons: {header: bzrs,", "covered_persons: {header: bzrs, requird: true,"
        ),
    )
    with pytest.raises(SpecError) as err:
        load_specs(folder)
    message = str(err.value)
    assert len(message.splitlines()) == 1
    assert message.startswith(
        f"{path}: unknown key 'requird' in columns[3] (covered_persons: bzrs)"
    )
    assert "did you mean 'required'?" in message
    assert (
        "allowed keys: header, type, required, id_form, multiplier, values, aliases, min, max"
        in message
    )
    assert isinstance(err.value, ValueError)


def test_unknown_top_level_key_is_one_message_not_also_a_missing_key(tmp_path):
    _, path = _spec_copy(tmp_path, lambda t: t.replace("cadence: on_demand", "cadense: on_demand"))
    with pytest.raises(SpecError) as err:
        load_spec_file(path)
    message = str(err.value)
    assert message == (
        f"{path}: unknown key 'cadense' at the top level (did you mean 'cadence'?); allowed keys: "
        "source_id, department, title, grain, links_by, format, cadence, columns, encoding, "
        "due_day, due_month, row_key, period_field, file_period, sql, description"
    )


def test_unknown_key_in_a_nested_block(tmp_path):
    _, path = _spec_copy(tmp_path, lambda t: t.replace("table: v_jiuzhu", "tabel: v_jiuzhu"))
    with pytest.raises(SpecError, match=r"unknown key 'tabel' in sql .*allowed keys: table, url"):
        load_spec_file(path)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (
            ("type: integer, min: 1", "type: integr, min: 1"),
            "columns[3] (covered_persons: bzrs).type: unknown type 'integr'; one of text, name,",
        ),
        (
            ("required: true, values", "required: maybe, values"),
            "columns[0] (category: jzlb).required: Input should be a valid boolean",
        ),
        (("cadence: on_demand", "cadence: sometimes"), "cadence: unknown cadence 'sometimes'"),
        (("format: sql", "format: parquet"), "format: unknown format 'parquet'"),
        (
            ("cadence: on_demand", "cadence: on_demand\ndue_day: 40"),
            "due_day: Input should be less",
        ),
        (("row_key: [category", "row_key: [categry"), "row_key names unknown fields ['categry']"),
        (
            ("values: [城乡低保, 特困供养, 临时救助]", "description: x"),
            "columns[0] (category: jzlb): a code column needs values",
        ),
        (
            ("{header: sfzhm, type: id_number}", "{header: sfzhm, type: id_number, id_form: x}"),
            "id_form: unknown id_form 'x'",
        ),
        (("min: 1, max: 50", "min: 100, max: 50"), "min 100 is above max 50"),
        (("source_id: minzheng_db", "source_id: minzheng"), "must match the file name"),
        (("  township:", "  village: {header: x}\n  township:"), "key 'village' is written twice"),
        (("columns:", "columns: ["), "not valid YAML"),
    ],
)
def test_wrong_values_are_refused_clearly(tmp_path, edit, expected):
    _, path = _spec_copy(tmp_path, lambda t: t.replace(*edit, 1))
    with pytest.raises(SpecError) as err:
        load_spec_file(path)
    assert str(err.value).startswith(f"{path}: ")
    assert expected in str(err.value)


# -------------------------------------------------------------------- linkage settings


@pytest.mark.parametrize("name", ["department", "febrl4"])
def test_linkage_settings_load_and_round_trip_through_yaml(tmp_path, name):
    settings = link(name)
    assert settings.comparisons and settings.blocking_rules
    path = tmp_path / f"{name}.yaml"
    settings.to_yaml(path)
    again = link(path)
    assert again == settings
    assert again.to_yaml() == settings.to_yaml()
    assert LinkSettings.from_dict(settings.to_dict()) == settings
    # Still dataclasses: replace() validates the changed copy.
    assert dataclasses.replace(settings, seed=7).seed == 7
    with pytest.raises(ValueError, match="link_type"):
        dataclasses.replace(settings, link_type="link_all")


def _settings_copy(tmp_path, old, new):
    text = (SETTINGS_DIR / "department.yaml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "department.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_linkage_settings_unknown_key_names_file_place_and_allowed_keys(tmp_path):
    path = _settings_copy(tmp_path, "{kind: osa, threshold: 1,", "{kind: osa, thresold: 1,")
    with pytest.raises(LinkSettingsError) as err:
        link(path)
    assert str(err.value) == (
        f"{path}: unknown key 'thresold' in comparisons[0] (id_number).levels[2] "
        "(one_typo_or_swap) (did you mean 'threshold'?); allowed keys: kind, threshold, "
        "columns, tf, m, label"
    )
    path = _settings_copy(tmp_path, "em_min_pairs: 2000", "em_min_pair: 2000")
    with pytest.raises(LinkSettingsError, match=r"'em_min_pair' at the top level.*em_min_pairs"):
        link(path)


def test_linkage_settings_wrong_values_are_refused_clearly(tmp_path):
    path = _settings_copy(tmp_path, "em_min_pairs: 2000", "em_min_pairs: many")
    with pytest.raises(LinkSettingsError, match="em_min_pairs: Input should be a valid integer"):
        link(path)
    path = _settings_copy(tmp_path, "{kind: osa, threshold: 1,", "{kind: osaa, threshold: 1,")
    with pytest.raises(LinkSettingsError, match=r"levels\[2\] .*kind: unknown level kind 'osaa'"):
        link(path)
    path = _settings_copy(
        tmp_path, "[exact, one_typo_or_swap, id_15_18", "[exact, one_typo, id_15_18"
    )
    with pytest.raises(LinkSettingsError, match=r"unknown levels of 'id_number': \['one_typo'\]"):
        link(path)


# ------------------------------------------------------------------ CROSSCHECK_* settings


@pytest.fixture
def env(monkeypatch, tmp_path):
    """No CROSSCHECK_* variable but the test suite's, and a working directory of our own."""
    import os

    for name in list(os.environ):
        if name.upper().startswith("CROSSCHECK_") and not name.upper().startswith(
            "CROSSCHECK_TEST_"
        ):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CROSSCHECK_PII_KEY", "a-real-secret")
    return monkeypatch


def test_defaults_then_environment_then_arguments(env, tmp_path):
    settings = load_settings()
    assert settings.warehouse_url == DEFAULT_WAREHOUSE_URL
    assert settings.timezone == "Asia/Shanghai" and settings.rules_file is None
    assert settings.pii_key == b"a-real-secret" and not settings.demo
    assert "a-real-secret" not in repr(settings)

    rules = tmp_path / "rules.yaml"
    rules.write_text("{}\n", encoding="utf-8")
    env.setenv("CROSSCHECK_WAREHOUSE_URL", "sqlite:///from-env.db")
    env.setenv("CROSSCHECK_LANDING_DIR", str(tmp_path / "landing"))
    env.setenv("CROSSCHECK_TIMEZONE", "Asia/Urumqi")
    env.setenv("CROSSCHECK_RULES", str(rules))
    settings = load_settings()
    assert settings.warehouse_url == "sqlite:///from-env.db"
    assert settings.landing_dir == tmp_path / "landing"
    assert settings.timezone == "Asia/Urumqi" and settings.rules_file == rules

    settings = load_settings(warehouse_url="sqlite:///from-arg.db", landing_dir=tmp_path / "l2")
    assert settings.warehouse_url == "sqlite:///from-arg.db"
    assert settings.landing_dir == tmp_path / "l2"


def test_unknown_crosscheck_variable_is_refused(env):
    env.setenv("CROSSCHECK_WAREHOUSE_ULR", "sqlite:///typo.db")
    with pytest.raises(SettingsError) as err:
        load_settings()
    message = str(err.value)
    assert message.startswith(
        "unknown environment variable CROSSCHECK_WAREHOUSE_ULR "
        "(did you mean CROSSCHECK_WAREHOUSE_URL?); known: "
    )
    for known in ("CROSSCHECK_LANDING_DIR", "CROSSCHECK_PII_KEY", "CROSSCHECK_RULES"):
        assert known in message
    env.delenv("CROSSCHECK_WAREHOUSE_ULR")
    env.setenv("CROSSCHECK_TEST_SOMETHING", "x")  # the test suite's own
    assert load_settings().warehouse_url == DEFAULT_WAREHOUSE_URL


def test_empty_warehouse_url_is_an_error_not_the_default(env):
    with pytest.raises(
        SettingsError, match=r"^warehouse URL is empty \(the warehouse_url argument"
    ):
        load_settings(warehouse_url="")
    env.setenv("CROSSCHECK_WAREHOUSE_URL", "")
    with pytest.raises(SettingsError, match=r"^warehouse URL is empty \(CROSSCHECK_WAREHOUSE_URL"):
        load_settings()


def test_bad_timezone_and_missing_rule_file(env, tmp_path):
    env.setenv("CROSSCHECK_TIMEZONE", "Asia/Shangai")
    with pytest.raises(
        SettingsError, match=r"unknown time zone 'Asia/Shangai' \(CROSSCHECK_TIMEZONE"
    ):
        load_settings()
    env.delenv("CROSSCHECK_TIMEZONE")
    with pytest.raises(SettingsError, match=r"rule file not found \(the rules_file argument\)"):
        load_settings(rules_file=tmp_path / "nope.yaml")


def test_pii_key_rules(env, tmp_path):
    demo = tmp_path / "demo"
    demo.mkdir()
    (demo / DEMO_MARKER).write_text("demo\n", encoding="utf-8")
    other = tmp_path / "landing"
    other.mkdir()

    env.setenv("CROSSCHECK_PII_KEY", DEV_PII_KEY)
    with pytest.raises(SettingsError) as err:
        load_settings(landing_dir=other)
    assert str(err.value) == (
        "CROSSCHECK_PII_KEY is the public development key: refused outside the demo city"
    )
    assert load_settings(landing_dir=demo).pii_key == DEV_PII_KEY.encode()

    env.delenv("CROSSCHECK_PII_KEY")
    with pytest.raises(SettingsError) as err:
        load_settings(landing_dir=other)
    assert str(err.value) == (
        "CROSSCHECK_PII_KEY is not set: export a secret key (the development key is only "
        "accepted for the demo city)"
    )
    settings = load_settings(landing_dir=demo)
    assert settings.demo and settings.pii_key == DEV_PII_KEY.encode()
    # Commands that never key a person (crosscheck db) need no key.
    assert load_settings(landing_dir=other, require_pii_key=False).pii_key is None
