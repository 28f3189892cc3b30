"""The layering and the style are checked by the suite, not by memory."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "ftir_unmix"


def _tool(name: str) -> list[str]:
    exe = shutil.which(name)
    if exe is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return [exe]


def test_import_contracts_are_kept():
    """import-linter contracts of pyproject.toml: no GUI in the engine, io below methods, layers."""
    out = subprocess.run([*_tool("lint-imports"), "--config", str(ROOT / "pyproject.toml")], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "0 broken" in out.stdout


def test_ruff_is_clean():
    out = subprocess.run([*_tool("ruff"), "check", "src", "tests", "benchmarks", "scripts"], cwd=ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]


def test_no_module_of_the_package_imports_its_init():
    """``from . import name`` of a name the package ``__init__`` hands on, or ``import ftir_unmix``
    inside the package, would tie every module to the public surface (and its import cost)."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        depth = len(path.relative_to(PACKAGE).parts) - 1  # how many dots reach the package root
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                to_root = node.level == depth + 1 and node.module is None
                if (node.level == 0 and node.module == "ftir_unmix") or to_root:
                    # a submodule (``from . import methods``) is fine; a name of __init__ is not
                    names = [a.name for a in node.names if not (PACKAGE / a.name).is_dir()
                             and not (PACKAGE / f"{a.name}.py").is_file()]
                    if names and (path.name != "__init__.py" or depth):
                        offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {names}")
            elif isinstance(node, ast.Import) and any(a.name == "ftir_unmix" for a in node.names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} import ftir_unmix")
    assert not offenders, offenders


def test_lint_sees_this_interpreter_package():
    out = subprocess.run([sys.executable, "-c", "import ftir_unmix; print(ftir_unmix.__file__)"],
                         capture_output=True, text=True)
    assert Path(out.stdout.strip()).is_relative_to(PACKAGE)
