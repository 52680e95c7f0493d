"""The house rules hold: the import contracts in pyproject.toml pass on the tree, each one fails when it is
broken on purpose, and no module in app/ grows past 400 lines."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
MAX_LINES = 400


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(root)})


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory) -> Path:
    """app/ and db/ (Python files only) with the contracts, to break on purpose without touching the tree."""
    copy = tmp_path_factory.mktemp("house")
    for package in ("app", "db"):
        shutil.copytree(ROOT / package, copy / package, ignore=lambda d, names: [
            n for n in names if not (n.endswith(".py") or (Path(d) / n).is_dir()) or n == "__pycache__"])
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def test_the_tree_keeps_every_import_contract():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


VIOLATIONS = {
    "a service imports the web framework": (
        "app/services/shared/violation.py", "import litestar\n", "Services never import the web framework"),
    "a service imports a route": (
        "app/services/shared/violation.py", "import app.routes.forms\n", "Layers point one way"),
    "db imports app": ("db/violation.py", "import app.settings\n", "db never imports app"),
    "one domain's routes import another's": (
        "app/routes/wallet/violation.py", "import app.routes.programs.public\n", "A domain's routes never import"),
    "a route queries a table": (
        "app/routes/wallet/violation.py", "from db.tables import Member\n", "Routes never query tables"),
}


@pytest.mark.parametrize("case", VIOLATIONS, ids=list(VIOLATIONS))
def test_each_contract_fails_when_it_is_broken_on_purpose(tree_copy, case):
    path, source, contract = VIOLATIONS[case]
    target = tree_copy / path
    target.write_text(source)
    try:
        result = lint_imports(tree_copy)
    finally:
        target.unlink()
    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert contract in broken and "violation" in broken


def test_no_module_in_app_is_over_400_lines():
    long = {str(path.relative_to(ROOT)): n for path in (ROOT / "app").rglob("*.py")
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}
