"""``ftir-unmix identify`` and ``unmix --library``: names for endmembers from the command line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from ftir_unmix.export import write_spectra_csv
from ftir_unmix.identify import builtin_markers


def _cli(*args):
    exe = shutil.which("ftir-unmix")
    cmd = [exe] if exe else [sys.executable, "-m", "ftir_unmix.cli"]
    return subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, stdin=subprocess.DEVNULL)


def _band_spectrum(wn: np.ndarray, material: str) -> np.ndarray:
    """A spectrum of Lorentzian bands at a material's marker positions (strength by weight)."""
    bands = [b for b in builtin_markers().bands if b.material == material]
    assert bands, material
    height = {"strong": 1.0, "medium": 0.5, "weak": 0.25}
    return sum(height.get(b.strength, 0.5) / (1 + ((wn - b.band) / 8.0) ** 2) for b in bands)


@pytest.fixture
def endmembers_csv(tmp_path):
    wn = np.linspace(650.0, 4000.0, 838)
    table = np.column_stack([_band_spectrum(wn, "calcium oxalate monohydrate (whewellite)"),
                             np.exp(-((wn - 2500) / 300) ** 2) * 0.01 + 0.001])
    return write_spectra_csv(tmp_path / "endmembers.csv", wn, table, ["crust", "nothing"])


def test_identify_json_names_the_material_and_says_no_match(endmembers_csv):
    res = _cli("identify", endmembers_csv, "--json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert set(out) == {"crust", "nothing"}
    top = out["crust"][0]
    assert {"name", "score", "source", "markers"} <= set(top)
    assert top["name"] == "calcium oxalate monohydrate (whewellite)" and top["confident"]
    assert not any(c["confident"] for c in out["nothing"])
    text = _cli("identify", endmembers_csv).stdout
    assert "crust: calcium oxalate monohydrate (whewellite)" in text and "nothing: no confident match" in text


def test_library_problems_are_warnings_not_failures(endmembers_csv, tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "broken.jdx").write_bytes(b"\x00\x01 not jcamp")
    wn = np.linspace(650.0, 4000.0, 838)
    write_spectra_csv(lib / "oxalate.csv", wn, _band_spectrum(wn, "calcium oxalate monohydrate (whewellite)")[:, None],
                      ["my oxalate"])
    res = _cli("identify", endmembers_csv, "--library", lib, "--no-markers", "--json")
    assert res.returncode == 0, res.stderr
    assert "warning" in res.stderr and "broken.jdx" in res.stderr
    assert json.loads(res.stdout)["crust"][0]["name"] == "oxalate"  # a one-spectrum file is named by its stem


def test_unmix_with_a_library_records_the_identification(shared_data, tmp_path):
    from ftir_unmix.synthetic import cross_section

    s = cross_section(12, 14, n_bands=200, materials=3, seed=1)
    cube = tmp_path / "cube.npz"
    np.savez(cube, cube=s.cube.data, wavenumbers=s.cube.wavenumbers)
    library = shared_data / "reference-spectra" / "openspecy_library"
    res = _cli("unmix", cube, "--k", 3, "--out", tmp_path / "o", "--epochs", 10, "--quiet",
               "--library", library)
    assert res.returncode == 0, res.stderr
    record = json.loads((tmp_path / "o" / "run.json").read_text())
    assert set(record["identification"]) == {"EM1", "EM2", "EM3"}
    assert all(line.split(": ", 1)[0] in {"EM1", "EM2", "EM3"} for line in res.stdout.splitlines()[:3])
    bad = _cli("unmix", cube, "--k", 3, "--out", tmp_path / "o2", "--library", tmp_path / "nowhere")
    assert bad.returncode == 2 and "--library" in bad.stderr and not (tmp_path / "o2").exists()
