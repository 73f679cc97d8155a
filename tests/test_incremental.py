"""Cost grows with what changed: a rerun with nothing new reads no landed file again and
recomputes nothing, and anything that changes the result makes the next run recompute."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil

from sqlalchemy import select, update

from connectors.landing import scan_source
from connectors.spec import load_specs
from crosscheck.steps import cross_check_due, open_warehouse, run, up_to_date
from tests.conftest import AS_OF
from tests.warehouse_tables import differences, warehouse_tables
from warehouse.models import LinkState, MatchReview, RecordLink, RunLog
from warehouse.rules import load_rule_set

RUN_DATE = dt.date.fromisoformat(AS_OF)
KEY = b"test-only-pii-key"
SPEC = load_specs()["minzheng_assistance"]


def _finished(url: str):
    engine = open_warehouse(url)
    try:
        with engine.connect() as conn:
            return conn.execute(select(RunLog.finished_at)).scalar_one()
    finally:
        engine.dispose()


def test_a_rerun_with_nothing_new_recomputes_nothing(small_landing, new_warehouse, tmp_path):
    url, reports = new_warehouse(), tmp_path / "reports"
    first = run(small_landing, url, RUN_DATE, reports, KEY)
    assert first.ok and not first.unchanged
    tables, finished = warehouse_tables(url), _finished(url)
    listing = reports / f"monitoring_list_{RUN_DATE:%Y%m%d}.csv"
    written = listing.stat().st_mtime_ns

    again = run(small_landing, url, RUN_DATE, reports, KEY)
    assert again.ok and again.unchanged
    # It reports what stands, read back from the warehouse.
    assert (again.grades, again.households_flagged, again.links, again.counties) == (
        first.grades,
        first.households_flagged,
        first.links,
        first.counties,
    )
    assert again.cases == first.cases and again.overdue == first.overdue
    assert [r.status for r in again.loads] == ["already_loaded"] * len(first.loads)
    # Nothing was rewritten: not the run's record, not a table, not the exports.
    assert _finished(url) == finished
    assert differences(warehouse_tables(url), tables) == {}
    assert listing.stat().st_mtime_ns == written

    # --full redoes the cross-check, and gives the same warehouse.
    forced = run(small_landing, url, RUN_DATE, reports, KEY, full=True)
    assert forced.ok and not forced.unchanged
    assert _finished(url) != finished
    assert differences(warehouse_tables(url), tables) == {}


def test_whatever_changes_the_result_makes_the_next_run_recompute(
    small_landing, new_warehouse, tmp_path
):
    url, reports = new_warehouse(), tmp_path / "reports"
    assert run(small_landing, url, RUN_DATE, reports, KEY).ok
    engine = open_warehouse(url)
    try:
        rules = load_rule_set()
        assert up_to_date(engine, RUN_DATE, rules, reports)
        # Another run date: its time windows moved.
        assert cross_check_due(engine, RUN_DATE + dt.timedelta(days=1), rules)
        # Exports asked for elsewhere.
        assert not up_to_date(engine, RUN_DATE, rules, tmp_path / "elsewhere")
        # Another rule set.
        other = tmp_path / "rules.yaml"
        other.write_text(
            rules.source_path.read_text(encoding="utf-8") + "\n# a changed file\n",
            encoding="utf-8",
        )
        assert cross_check_due(engine, RUN_DATE, load_rule_set(other))
        # A match reviewer's decision (the console writes it; no file lands).
        with engine.begin() as conn:
            record = conn.execute(
                select(RecordLink.source_id, RecordLink.record_key).limit(1)
            ).first()
            conn.execute(
                MatchReview.__table__.insert().values(
                    source_id=record.source_id,
                    record_key=record.record_key,
                    person_key="p",
                    match_probability=0.5,
                    status="pending",
                )
            )
        assert not cross_check_due(engine, RUN_DATE, rules)  # pending: nothing decided
        with engine.begin() as conn:
            conn.execute(update(MatchReview).values(status="rejected"))
        assert cross_check_due(engine, RUN_DATE, rules)
    finally:
        engine.dispose()

    # A new file: it is loaded and the cross-check runs again.
    landing = tmp_path / "landing"
    shutil.copytree(small_landing, landing)
    newest = sorted((landing / SPEC.source_id).iterdir())[-1]
    lines = newest.read_text(encoding="utf-8").splitlines(keepends=True)
    (newest.parent / "shehui_jiuzhu_20261115.csv").write_text("".join(lines[:2]), encoding="utf-8")
    rerun = run(landing, url, RUN_DATE, reports, KEY)
    assert not rerun.unchanged
    assert [r.file_name for r in rerun.loads if r.status != "already_loaded"] == [
        "shehui_jiuzhu_20261115.csv"
    ]


def test_a_scan_reads_only_files_it_does_not_know(tmp_path):
    folder = tmp_path / SPEC.source_id
    folder.mkdir()
    old, new = folder / "a_202610.csv", folder / "b_202611.csv"
    old.write_bytes(b"old")
    new.write_bytes(b"new")
    st = old.stat()
    pretend = "f" * 64  # not the file's digest: proof that the file was not read
    known = {(old.name, st.st_size, st.st_mtime_ns): pretend}

    files, skipped = scan_source(tmp_path, SPEC, None, known=known)
    assert skipped == []
    digests = {f.name: f.sha256 for f in files}
    assert digests == {old.name: pretend, new.name: hashlib.sha256(b"new").hexdigest()}

    # Rewritten in place (a new mtime): read again, whatever the scan knew.
    old.write_bytes(b"OLD")
    os.utime(old, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    files, _ = scan_source(tmp_path, SPEC, None, known=known)
    assert {f.name: f.sha256 for f in files}[old.name] == hashlib.sha256(b"OLD").hexdigest()


def _rewrite(path, edit, new_name: str) -> None:
    """A department's next file: ``path``'s lines edited, in its own encoding."""
    raw = path.read_bytes()
    encoding = "utf-8-sig" if raw.startswith(b"\xef\xbb\xbf") else "utf-8"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError:
        encoding, text = "gb18030", raw.decode("gb18030")
    lines = edit(text.splitlines(keepends=True))
    (path.parent / new_name).write_bytes("".join(lines).encode(encoding))


def test_unchanged_sources_keep_links_that_equal_a_full_relink(
    small_landing, new_warehouse, tmp_path
):
    """Monthly drops into two warehouses: one linking only what changed, one linking
    everything (``--full``). After every drop both hold the same tables, row for row."""
    kept, full = new_warehouse(), new_warehouse()
    landing = tmp_path / "landing"
    shutil.copytree(small_landing, landing)
    sources = len(load_specs())
    said: list[str] = []

    def drop() -> str:
        said.clear()
        first = run(landing, kept, RUN_DATE, tmp_path / "kept", KEY, lambda _s, m: said.append(m))
        again = run(landing, full, RUN_DATE, tmp_path / "full", KEY, full=True)
        assert first.ok and again.ok
        assert differences(warehouse_tables(kept), warehouse_tables(full)) == {}
        (linking,) = [m for m in said if m.startswith("linking: ")]
        return linking.removeprefix("linking: ")

    assert drop() == f"{sources} sources linked, 0 unchanged kept their links"

    # A department's next file changes a record (another monthly amount): only its source
    # is linked again.
    newest = sorted((landing / SPEC.source_id).iterdir())[-1]

    def raise_amount(lines: list[str]) -> list[str]:
        fields = lines[1].split(",")
        fields[4] = str(int(fields[4]) + 1)  # 月保障金额
        return [lines[0], ",".join(fields)]

    _rewrite(newest, raise_amount, "shehui_jiuzhu_20261115.csv")
    assert drop() == f"1 sources linked, {sources - 1} unchanged kept their links"

    # A reviewer rejects a probabilistic link (the console's decision, no file): its source.
    engine = open_warehouse(kept)
    try:
        with engine.connect() as conn:
            record = conn.execute(
                select(RecordLink.source_id, RecordLink.record_key, RecordLink.person_key)
                .where(RecordLink.method == "probabilistic")
                .order_by(RecordLink.source_id, RecordLink.record_key)
            ).first()
    finally:
        engine.dispose()
    assert record is not None
    for url in (kept, full):
        engine = open_warehouse(url)
        with engine.begin() as conn:
            conn.execute(
                MatchReview.__table__.insert().values(
                    source_id=record.source_id,
                    record_key=record.record_key,
                    person_key=record.person_key,
                    match_probability=0.95,
                    status="rejected",
                    decided_by="reviewer",
                    decided_at=dt.datetime(2026, 12, 1, 9, 0),
                )
            )
        engine.dispose()
    assert drop() == f"1 sources linked, {sources - 1} unchanged kept their links"
    engine = open_warehouse(kept)
    try:
        with engine.connect() as conn:
            relinked = conn.execute(
                select(RecordLink.person_key).where(
                    RecordLink.source_id == record.source_id,
                    RecordLink.record_key == record.record_key,
                )
            ).scalar_one()
            assert conn.execute(select(LinkState.source_id)).scalars().all()
    finally:
        engine.dispose()
    assert relinked != record.person_key  # the rejected person is never linked again

    # The register changes (公安's next snapshot renames one person): every source.
    hukou = sorted((landing / "gongan_hukou").iterdir())[-1]

    def rename(lines: list[str]) -> list[str]:
        fields = lines[1].split(",")
        fields[1] = fields[1][:1] + "某" + fields[1][2:]  # 姓名, the second column
        return [lines[0], ",".join(fields), *lines[2:]]

    _rewrite(hukou, rename, "户籍人口_20261130.csv")
    assert drop() == f"{sources} sources linked, 0 unchanged kept their links"
