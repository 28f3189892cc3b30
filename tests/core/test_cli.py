"""The ftir-unmix command line, run as a user runs it."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tifffile


def _cli(*args, check=True):
    exe = shutil.which("ftir-unmix")
    cmd = [exe] if exe else [sys.executable, "-m", "ftir_unmix.cli"]
    out = subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if check and out.returncode != 0:
        raise AssertionError(f"exit {out.returncode}: {out.stderr}")
    return out


@pytest.fixture(scope="module")
def cube_npz(tmp_path_factory, request):
    from ftir_unmix.synthetic import cross_section

    s = cross_section(12, 14, n_bands=160, materials=4, seed=5)
    path = tmp_path_factory.mktemp("cli") / "cube.npz"
    np.savez(path, cube=s.cube.data, wavenumbers=s.cube.wavenumbers)
    return path


def test_info_json(cube_npz):
    info = json.loads(_cli("info", cube_npz, "--json").stdout)
    assert (info["height"], info["width"], info["bands"], info["format"]) == (12, 14, 160, "npz")
    assert info["wavenumber_min"] == pytest.approx(650) and info["wavenumber_max"] == pytest.approx(4000)


def test_weights_csv(cube_npz, tmp_path):
    out = tmp_path / "w.csv"
    _cli("weights", cube_npz, "--out", out, "--tau", "2.5")
    rows = list(csv.reader(out.open()))
    assert rows[0][:4] == ["wavenumber", "weight", "score", "d_corr"]
    assert len(rows) == 161
    w = np.array([float(r[1]) for r in rows[1:]])
    assert w.min() >= 0.05 - 1e-12 and w.max() <= 1


def test_unmix_writes_four_files_reproducibly(cube_npz, tmp_path):
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        res = _cli("unmix", cube_npz, "--k", 4, "--out", out, "--epochs", 12, "--seed", 7,
                   "--device", "cpu")
        assert "abundances.tif" in res.stdout
    a, b = outs
    assert sorted(p.name for p in a.iterdir()) == ["abundances.tif", "band_weights.csv",
                                                   "endmembers.csv", "run.json"]
    abund = tifffile.imread(a / "abundances.tif")
    assert abund.dtype == np.float32 and abund.shape == (4, 12, 14)
    np.testing.assert_allclose(abund.sum(0), 1.0, atol=1e-4)
    rows = list(csv.reader((a / "endmembers.csv").open()))
    assert rows[0][0] == "wavenumber" and len(rows[0]) == 5 and len(rows) == 161
    spectra = np.array([[float(v) for v in r] for r in rows[1:]])
    assert np.all(np.diff(spectra[:, 0]) > 0) and (spectra[:, 1:] >= 0).all()
    for name in ("abundances.tif", "endmembers.csv", "band_weights.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    run_a, run_b = (json.loads((d / "run.json").read_text()) for d in outs)
    assert run_a.pop("timings") and run_b.pop("timings")  # wall times differ, nothing else may
    assert run_a == run_b
    p = run_a["parameters"]
    assert (p["k"], p["seed"], p["protocol"], p["device"]) == (4, 7, "fast", "cpu")
    runs = 2 if "spare_endmembers" in p else 1  # a second run with a spare after a difference spectrum
    assert p["steps_run"] <= (12 + 6) * runs and len(run_a["loss_history"]) == p["steps_run"]  # + refinement
    assert set(p["refinement"]) >= {"replaced", "accepted", "objective_before_deg"}


@pytest.mark.parametrize("method", ["nmf", "vca-fcls"])
def test_unmix_baseline_flag(cube_npz, tmp_path, method):
    _cli("unmix", cube_npz, "--k", 3, "--out", tmp_path, "--method", method)
    assert json.loads((tmp_path / "run.json").read_text())["parameters"]["method"] == method
    assert tifffile.imread(tmp_path / "abundances.tif").shape == (3, 12, 14)


@pytest.mark.parametrize("content", [b"", b"\x00\x01garbage" * 50])
def test_unreadable_file_one_line_no_traceback(tmp_path, content):
    bad = tmp_path / "broken.npz"
    bad.write_bytes(content)
    for args in (("info", bad), ("unmix", bad, "--k", 3, "--out", tmp_path / "o")):
        res = _cli(*args, check=False)
        assert res.returncode != 0
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and "broken.npz" in lines[0] and "Traceback" not in res.stderr


def test_missing_file_and_bad_k(cube_npz, tmp_path):
    res = _cli("info", tmp_path / "nope.hdr", check=False)
    assert res.returncode != 0 and "nope.hdr" in res.stderr and len(res.stderr.strip().splitlines()) == 1
    res = _cli("unmix", cube_npz, "--k", 200, "--out", tmp_path / "o", check=False)
    assert res.returncode != 0 and "--k must be at most the number of bands (160); got 200" in res.stderr


@pytest.mark.parametrize("command", ["info", "weights", "unmix", "select-k", "identify", "batch", "demo"])
def test_every_command_prints_its_help(command, capsys):
    # a help text with a bare "%" (e.g. "1 % of the pixels") breaks argparse's --help
    from ftir_unmix.cli import main

    with pytest.raises(SystemExit) as stop:
        main([command, "--help"])
    assert stop.value.code == 0
    assert command in capsys.readouterr().out
