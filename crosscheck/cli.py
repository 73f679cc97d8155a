"""The ``crosscheck`` command: ``demo`` (generate the demo city) and ``run`` (the cross-check).

Errors the user can fix (a wrong path, an unreachable warehouse, a missing key) are one
line on stderr and exit code 2, never a traceback. On a terminal, progress is shown with
rich; elsewhere (Airflow, CI) plain log lines name the source and the stage.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from crosscheck.console.commands import COMMANDS as CONSOLE_COMMANDS
from crosscheck.console.commands import add_console_commands
from crosscheck.settings import DEMO_MARKER, SettingsError, load_settings

__all__ = ["main"]

log = logging.getLogger("crosscheck")


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


class _Parser(argparse.ArgumentParser):
    """Bad arguments are one line on stderr and exit code 2, like every other user error."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="crosscheck", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    demo = sub.add_parser("demo", help="generate the demo city's landing zone")
    demo.add_argument("--out", required=True, type=Path, help="landing folder to write")
    demo.add_argument("--households", type=int, default=3000)
    demo.add_argument("--seed", type=int, default=20261130)
    demo.add_argument("--as-of", type=_date, default=dt.date(2026, 11, 30))
    demo.add_argument("--truth", type=Path, help="ground-truth folder (default OUT/../truth)")

    link = sub.add_parser("link", help="the probabilistic linker on any CSV files")
    link.add_argument("--settings", required=True, type=Path, help="link settings (YAML)")
    link.add_argument("--left", required=True, type=Path)
    link.add_argument("--right", type=Path, help="omit to deduplicate --left")
    link.add_argument("--id-column", required=True, help="the unique id column of the files")
    link.add_argument(
        "--out", required=True, type=Path, help="pairs CSV: left_id,right_id,match_probability"
    )

    explain = sub.add_parser("explain", help="a household's signals and evidence (masked)")
    explain.add_argument("household_no")
    explain.add_argument("--warehouse", help="SQLAlchemy URL (CROSSCHECK_WAREHOUSE_URL)")
    explain.add_argument("--as-of", type=_date, default=None, help="run date (default: latest)")

    db = sub.add_parser("db", help="warehouse administration (PostgreSQL deploy steps)")
    db_sub = db.add_subparsers(dest="db_command", required=True, parser_class=_Parser)
    for name, text in (
        ("upgrade", "migrate the warehouse schema to this code's revision"),
        ("grant", "create/refresh roles pipeline, bi_reader, county_officer"),
    ):
        cmd = db_sub.add_parser(name, help=text)
        cmd.add_argument("--warehouse", help="SQLAlchemy URL (CROSSCHECK_WAREHOUSE_URL)")
    officer = db_sub.add_parser("add-officer", help="a county officer login (sees one county)")
    officer.add_argument("login_role")
    officer.add_argument("county", help="e.g. 渝水区")
    officer.add_argument("--warehouse", help="SQLAlchemy URL (CROSSCHECK_WAREHOUSE_URL)")
    officer.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the login's password from standard input",
    )

    history = sub.add_parser("history", help="correct the warehouse's history")
    history_sub = history.add_subparsers(
        dest="history_command", required=True, parser_class=_Parser
    )
    forget = history_sub.add_parser(
        "forget",
        help="remove everything the newest run date recorded (a run with a wrong date)",
    )
    forget.add_argument("--as-of", type=_date, required=True, help="the run date to remove")
    forget.add_argument("--warehouse", help="SQLAlchemy URL (CROSSCHECK_WAREHOUSE_URL)")

    run = sub.add_parser("run", help="process every new file and run the cross-check")
    run.add_argument("--landing", type=Path, help="landing zone (CROSSCHECK_LANDING_DIR)")
    run.add_argument("--warehouse", help="SQLAlchemy URL (CROSSCHECK_WAREHOUSE_URL)")
    run.add_argument("--as-of", type=_date, default=None, help="run date (default: today)")
    run.add_argument("--reports", type=Path, help="exports folder (CROSSCHECK_REPORTS_DIR)")
    run.add_argument(
        "--rules", type=Path, help="rule set YAML (CROSSCHECK_RULES; default: the shipped rules)"
    )
    run.add_argument(
        "--allow-future-date",
        action="store_true",
        help="accept a run date after today (history only moves forward: a wrong future date "
        "must then be removed with `crosscheck history forget`)",
    )
    run.add_argument(
        "--full",
        action="store_true",
        help="read and hash every landed file again and recompute the cross-check, even when "
        "nothing changed since the last run of the date",
    )
    run.add_argument(
        "--retrain-linkage",
        action="store_true",
        help="train every source's linkage model afresh instead of reusing the stored one",
    )
    add_console_commands(sub)  # serve, console add-user
    return parser


class _Progress:
    """A rich progress bar over sources and stages on a terminal; plain log lines elsewhere."""

    def __init__(self, total: int):
        self._bar = None
        self._last: tuple[str, str] | None = None
        if sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._bar = Progress(
                TextColumn("{task.description:<48}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=Console(stderr=True),
            )
            self._task = self._bar.add_task("starting", total=total)
            self._bar.start()

    def __call__(self, source: str, stage: str) -> None:
        if self._bar is None:
            log.info("%s: %s", source, stage)
            return
        # One step per source (its files) and one per cross-check stage.
        step = source if source != "crosscheck" else stage
        if self._last is not None and self._last[0] != step:
            self._bar.advance(self._task)
        self._last = (step, stage)
        self._bar.update(self._task, description=f"{source}: {stage}"[:48])

    def close(self) -> None:
        if self._bar is not None:
            self._bar.update(self._task, completed=self._bar.tasks[0].total)
            self._bar.stop()


def _cmd_demo(args) -> int:
    from connectors.spec import load_specs

    try:  # the demo generator lives beside the product (a source checkout), not in the wheel
        from demo import generate_demo
    except ImportError:
        raise SettingsError(
            "the demo generator is not installed: run `crosscheck demo` from a source checkout"
        ) from None

    progress = _Progress(total=len(load_specs()))
    try:
        summary = generate_demo(
            args.out,
            households=args.households,
            seed=args.seed,
            as_of=args.as_of,
            truth_dir=args.truth,
            progress=lambda msg: progress(msg, "written"),
        )
    finally:
        progress.close()
    (args.out / DEMO_MARKER).write_text("generated by crosscheck demo\n", encoding="utf-8")
    print(
        f"demo city: {summary['households']} households, {summary['persons']} persons, "
        f"{len(summary['files'])} files -> {args.out}"
    )
    return 0


def _print_summary(summary) -> None:
    t = summary.totals()
    linked = {
        "exact_id": 0,
        "exact_name_place": 0,
        "probabilistic": 0,
        "review_confirmed": 0,
        "review": 0,
        "unlinked": 0,
    }
    for counts in summary.links.values():
        for method, n in counts.items():
            linked[method] = linked.get(method, 0) + n
    records = sum(linked.values()) or 1
    print(f"cross-check as of {summary.as_of}")
    if summary.unchanged:
        print("  unchanged nothing new since the last cross-check of this date (--full redoes it)")
    print(
        f"  files     {t['files']} new ({t['files_rejected']} rejected, "
        f"{t['files_duplicate']} duplicate)"
    )
    print(
        f"  rows      {t['rows_in']} in: {t['loaded']} loaded, {t['quarantined']} quarantined, "
        f"{t['duplicate']} duplicate"
    )
    probabilistic = linked["probabilistic"] + linked["review_confirmed"]
    unlinked = linked["unlinked"] + linked["review"]
    print(
        f"  linked    {linked['exact_id']} by ID, {linked['exact_name_place']} by name+village, "
        f"{probabilistic} probabilistic; {linked['review']} in review, {linked['unlinked']} "
        f"unlinked ({100 * (records - unlinked) / records:.1f}% of staged records linked)"
    )
    g = summary.grades
    print(
        f"  flagged   {summary.households_flagged} households: {g.get('red', 0)} red, "
        f"{g.get('yellow', 0)} yellow, {g.get('green', 0)} green"
    )
    c = summary.cases
    if c:
        print(
            f"  cases     {c.get('lead', 0)} leads ({c['overdue']} overdue), "
            f"{c.get('verifying', 0)} verifying, {c.get('confirmed', 0)} confirmed, "
            f"{c.get('assisting', 0)} assisting ({c['eligible']} eligible for elimination), "
            f"{c.get('eliminated', 0)} eliminated, {c.get('not_admitted', 0)} not admitted"
            + (f"; {c['conflict']} county decisions to re-check" if c["conflict"] else "")
        )
    if summary.exports:
        # The folder holding them all (county workbooks sit in sub-folders).
        print(f"  reports   {os.path.commonpath([Path(p).parent for p in summary.exports])}")
    for line in summary.warnings:
        print(f"  warning   {line}")
    for line in summary.overdue:
        print(f"  late      {line}")
    for load in summary.loads:
        if load.status in ("rejected", "empty", "duplicate_file"):
            print(f"  {load.status:<9} {load.source_id}/{load.file_name}: {load.message}")
        elif load.rows_stale:
            print(
                f"  stale     {load.source_id}/{load.file_name}: {load.rows_stale} rows older "
                "than the stored ones (the newer kept)"
            )
    for entry in summary.skipped:
        print(f"  skipped   {entry.source_id}/{entry.name}: {entry.reason_code} {entry.reason_en}")
    for failure in summary.failures:
        print(f"  FAILED    {failure}")


def _cmd_run(args) -> int:
    from crosscheck.steps import run
    from warehouse.db import WarehouseError

    given = {
        "warehouse_url": args.warehouse,
        "landing_dir": args.landing,
        "reports_dir": args.reports,
        "rules_file": args.rules,
    }
    # A wrong landing folder is the first thing to say, before any question about the key.
    landing = load_settings(**given, require_pii_key=False).landing_dir
    if not landing.is_dir():
        what = "is not a folder" if landing.exists() else "not found"
        raise SettingsError(f"landing folder {what}: {landing}")
    settings = load_settings(**given)
    # The run date is a parameter; by default today in the city's time zone (as Airflow's).
    today = dt.datetime.now(ZoneInfo(settings.timezone)).date()
    as_of = args.as_of or today
    if as_of > today and not args.allow_future_date:
        raise SettingsError(
            f"run date {as_of} is after today ({today}): history would then refuse every "
            "earlier date; pass --allow-future-date if that is meant"
        )
    from connectors.spec import load_specs

    progress = _Progress(total=len(load_specs()) + 5)  # sources + cross-check stages
    try:
        summary = run(
            settings.landing_dir,
            settings.warehouse_url,
            as_of,
            settings.reports_dir,
            settings.pii_key,
            progress,
            retrain_linkage=args.retrain_linkage,
            rules_file=settings.rules_file,
            now=dt.datetime.now(dt.UTC),  # the wall clock: which files are complete
            settle_seconds=settings.settle_seconds,
            limits=settings.limits,
            full=args.full,
        )
    except WarehouseError as exc:
        raise SettingsError(str(exc)) from None
    finally:
        progress.close()
    _print_summary(summary)
    return 0 if summary.ok else 1


def _cmd_db(args) -> int:
    from crosscheck.steps import deploy_warehouse
    from warehouse import access, migrate
    from warehouse.db import WarehouseError, connect

    url = load_settings(warehouse_url=args.warehouse, require_pii_key=False).warehouse_url
    try:
        engine = connect(url)
        try:
            if args.db_command == "upgrade":
                deploy_warehouse(engine)  # migrations, staging tables and int_ views
                print(f"warehouse at revision {migrate.current_revision(engine)}")
            elif args.db_command == "grant":
                access.grant_roles(engine)
                print("roles pipeline, bi_reader, county_officer granted")
            else:
                password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
                access.add_county_officer(engine, args.login_role, args.county, password)
                print(f"county officer {args.login_role} sees {args.county}")
        finally:
            engine.dispose()
    except WarehouseError as exc:
        raise SettingsError(str(exc)) from None
    return 0


def _cmd_history(args) -> int:
    from warehouse.db import WarehouseError, connect
    from warehouse.history import forget_run_date

    url = load_settings(warehouse_url=args.warehouse, require_pii_key=False).warehouse_url
    try:
        engine = connect(url)
        try:
            removed = forget_run_date(engine, args.as_of)
        finally:
            engine.dispose()
    except WarehouseError as exc:
        raise SettingsError(str(exc)) from None
    rows = ", ".join(f"{table} {n}" for table, n in removed.items() if n)
    print(f"run date {args.as_of} removed ({rows or 'nothing recorded'})")
    return 0


def _cmd_explain(args) -> int:
    from warehouse.db import WarehouseError, connect
    from warehouse.explain import explain_household

    url = load_settings(warehouse_url=args.warehouse, require_pii_key=False).warehouse_url
    try:
        engine = connect(url)
        try:
            print(explain_household(engine, args.household_no, args.as_of))
        finally:
            engine.dispose()
    except WarehouseError as exc:
        raise SettingsError(str(exc)) from None
    return 0


def _cmd_link(args) -> int:
    from matching.link_cli import run_link

    return run_link(args.settings, args.left, args.right, args.id_column, args.out)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if sys.stderr.isatty():
        # On a terminal the progress bar shows the stages; logs only say what went wrong.
        from rich.logging import RichHandler

        logging.basicConfig(
            level=logging.DEBUG if args.verbose else logging.WARNING,
            format="%(name)s: %(message)s",
            handlers=[RichHandler()],
        )
    else:
        logging.basicConfig(
            level=logging.DEBUG if args.verbose else logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    for noisy in ("great_expectations", "alembic", "sqlalchemy"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return {
            "demo": _cmd_demo,
            "run": _cmd_run,
            "link": _cmd_link,
            "db": _cmd_db,
            "explain": _cmd_explain,
            "history": _cmd_history,
            **CONSOLE_COMMANDS,
        }[args.command](args)
    except SettingsError as exc:
        print(f"crosscheck: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("crosscheck: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
