"""A copy of the repository with no shared data beside it: the data tests say why they skip."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_ENV_VARS = ("FTIR_UNMIX_SHARED_DATA", "FTIR_UNMIX_REQUIRE_SHARED_DATA")


def _tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                         capture_output=True, text=True)
    if out.returncode != 0:
        pytest.fail(f"git ls-files failed in {ROOT}: {out.stderr.strip()}")
    return [f for f in out.stdout.splitlines() if f]


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> Path:
    """The repository's files (as a clone has them) in a folder with no ``../shared`` beside it."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.fail("this test copies the repository with git ls-files; run it from a git checkout")
    dest = tmp_path_factory.mktemp("fresh") / "napari-ftir-unmix"
    for rel in _tracked_files():
        src, dst = ROOT / rel, dest / rel
        if not src.exists() and not src.is_symlink():
            continue  # deleted in the working tree
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), dst)
        else:
            shutil.copy2(src, dst)
    assert not (dest.parent / "shared").exists()
    return dest


def _run_in(clone: Path, *args: str, **env_extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in _ENV_VARS}
    env["PYTHONPATH"] = str(clone / "src")
    env.update(env_extra)
    return subprocess.run([sys.executable, *args], cwd=clone, env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=600)


def test_the_copy_imports_its_own_package(clone):
    out = _run_in(clone, "-c", "import ftir_unmix._shared_data as s; print(s.__file__); print(s.shared_data_dir())")
    assert out.returncode == 0, out.stderr
    path, found = out.stdout.split("\n")[:2]
    assert Path(path).is_relative_to(clone) and found == "None"


def test_data_tests_skip_with_the_reason(clone):
    out = _run_in(clone, "-m", "pytest", "-m", "shared_data", "-rs", "-q", "-p", "no:cacheprovider", "tests")
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    summary = re.search(r"(\d+) skipped, (\d+) deselected", text)
    assert summary, text[-2000:]
    skipped = int(summary.group(1))
    assert skipped >= 40  # the real-file, Samson, atmosphere and reference-spectra tests
    assert not re.search(r"\d+ (passed|failed|error)", text), text[-2000:]
    reasons = [ln for ln in text.splitlines() if ln.startswith("SKIPPED")]
    assert reasons and all("shared sample data not found: set FTIR_UNMIX_SHARED_DATA" in ln for ln in reasons)


def test_ci_setting_turns_missing_data_into_failures(clone):
    out = _run_in(clone, "-m", "pytest", "-m", "shared_data", "-q", "-x", "-p", "no:cacheprovider",
                  "tests/core", FTIR_UNMIX_REQUIRE_SHARED_DATA="1")
    text = out.stdout + out.stderr
    assert out.returncode == 1, text[-2000:]
    assert "FTIR_UNMIX_REQUIRE_SHARED_DATA is set" in text
