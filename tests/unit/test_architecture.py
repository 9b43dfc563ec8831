"""The layering is a contract: import-linter runs here and in `make lint`, and it can fail."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PKG = ROOT / "src" / "payer_model"
LINT = [
    sys.executable,
    "-c",
    "import sys; from importlinter.cli import lint_imports_command as c; sys.exit(c())",
]


def _lint(cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess:
    env = {"PYTHONPATH": str(pythonpath), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [*LINT, "--no-cache"], cwd=cwd, capture_output=True, text=True, env=env, check=False
    )


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory) -> Path:
    """The package and the contracts copied aside, so a test can break them."""
    root = tmp_path_factory.mktemp("arch")
    shutil.copytree(
        PKG, root / "src" / "payer_model", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def test_contracts_hold_on_the_package():
    res = _lint(ROOT, PKG.parent)
    assert res.returncode == 0, res.stdout[-4000:]
    assert "BROKEN" not in res.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("features/definitions.py", "import mlflow", "Core is pure"),
        ("modelling/metrics.py", "from payer_model.jobs import train", "Layers"),
        ("policy/__init__.py", "import evidently", "Core is pure"),
        ("data/schema.py", "from payer_model.features import definitions", "Layers"),
    ],
)
def test_a_forbidden_import_breaks_the_check(tree_copy, module, line, contract):
    target = tree_copy / "src" / "payer_model" / module
    original = target.read_text()
    try:
        target.write_text(original + f"\n{line}  # injected by the test\n")
        res = _lint(tree_copy, tree_copy / "src")
    finally:
        target.write_text(original)
    assert res.returncode != 0
    broken = [ln for ln in res.stdout.splitlines() if ln.endswith("BROKEN")]
    assert any(contract in ln for ln in broken), res.stdout[-3000:]


def _private_imports(root: Path, base: Path = ROOT) -> list[str]:
    """`from payer_model.x import _name` where x is another module: forbidden."""
    found = []
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("payer_model"):
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        found.append(f"{path.relative_to(base)}:{node.lineno} {alias.name}")
    return found


def test_no_module_imports_a_private_name_of_another():
    offenders = []
    for folder in ("src", "serving", "training", "bench", "tests", "notebooks"):
        offenders += _private_imports(ROOT / folder)
    assert offenders == []


def test_the_private_name_check_can_fail(tmp_path):
    (tmp_path / "m.py").write_text("from payer_model.features.batch import _run\n")
    assert _private_imports(tmp_path, tmp_path) == ["m.py:1 _run"]


def test_no_module_over_500_lines():
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in PKG.rglob("*.py")}
    assert {k: v for k, v in sizes.items() if v > 500} == {}
