"""The layout follows the flow of the data: each package imports only what lies upstream.

    privacy  <-  connectors  <-  validation  <-  matching  <-  warehouse  <-  crosscheck  <-  dags

(``privacy`` is the one bottom module everyone may import.) The demo generator and the
benchmarks sit outside the product: no product package imports them, tests import no
benchmark code, and the wheel ships neither.
"""

from __future__ import annotations

import ast
import configparser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FLOW = ["privacy", "connectors", "validation", "matching", "warehouse", "crosscheck", "dags"]
OUTSIDE = {"demo", "benchmarks", "tests"}
# The one door out: `crosscheck demo` runs the generator of a source checkout (lazily).
EXCEPTIONS = {"crosscheck/cli.py": {"demo"}}


def _imports(path: Path) -> set[str]:
    """Top-level project packages a module imports (lazy imports inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & (set(FLOW) | OUTSIDE)


def _modules(package: str) -> list[Path]:
    single = ROOT / f"{package}.py"
    return [single] if single.exists() else sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", FLOW)
def test_each_package_imports_only_what_lies_upstream(package):
    allowed = set(FLOW[: FLOW.index(package) + 1])
    wrong = {}
    for path in _modules(package):
        name = str(path.relative_to(ROOT))
        beyond = _imports(path) - allowed - EXCEPTIONS.get(name, set())
        if beyond:
            wrong[name] = sorted(beyond)
    assert wrong == {}, f"{package} may import only {sorted(allowed)}"


def test_the_direction_check_catches_a_downstream_import(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from warehouse.models import Base\n", encoding="utf-8")
    assert _imports(module) == {"warehouse"}


def test_tests_import_no_benchmark_code():
    offenders = [
        p.name for p in sorted((ROOT / "tests").glob("*.py")) if "benchmarks" in _imports(p)
    ]
    assert offenders == []


def test_the_wheel_ships_the_product_only():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg", encoding="utf-8")
    include = cfg["options.packages.find"]["include"].split()
    assert {name.rstrip("*") for name in include} == set(FLOW) - {"privacy", "dags"}
    assert cfg["options"]["py_modules"].strip() == "privacy"
