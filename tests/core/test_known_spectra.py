"""Known spectra: reference spectra of materials the user knows are in the sample hold the
first endmembers near themselves and name them (issue 12: a lever for images without pure
pixels)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from ftir_unmix import DataError, KnownSpectra, load_known, unmix
from ftir_unmix.cli import main
from ftir_unmix.methods.cnn.known import known_angles, place_known
from ftir_unmix.metrics import match_endmembers, spectral_angles

_OPTS = dict(epochs=60, warmup_steps=20, device="cpu", restarts=1, seed=1)


def _write_reference(path, wn, values, name="reference"):
    path.write_text("wavenumber," + name + "\n" + "\n".join(f"{x},{y}" for x, y in zip(wn, values)) + "\n")
    return path


def test_known_spectra_are_resampled_onto_the_cube_and_held_flat_beyond_their_range():
    wn = np.linspace(600.0, 4000.0, 50)
    ks = KnownSpectra.from_arrays(["a", "b"], wn[::-1], np.stack([wn[::-1] / 1000, np.sin(wn[::-1] / 300) + 1], 1))
    cube_wn = np.linspace(500.0, 3900.0, 35)  # 100 cm⁻¹ below the references' range
    out = ks.on(cube_wn)
    assert out.shape == (35, 2)
    inside = cube_wn >= 600
    np.testing.assert_allclose(out[inside, 0], cube_wn[inside] / 1000, rtol=1e-9)
    np.testing.assert_allclose(out[~inside, 0], 0.6)  # the edge value held
    # a reference covering under 80 % of the cube's range is refused, naming it
    narrow = KnownSpectra.from_arrays(["short"], np.linspace(1000, 2000, 20), np.arange(20.0), source="lib.csv")
    with pytest.raises(DataError, match=r"lib.csv: known spectrum 'short' covers 29 %"):
        narrow.on(cube_wn)
    flat = KnownSpectra.from_arrays(["flat"], wn, np.zeros(50))
    with pytest.raises(DataError, match="no usable signal"):
        flat.on(cube_wn)


def test_place_known_takes_the_closest_column_and_moves_it_first():
    rng = np.random.default_rng(0)
    e = rng.random((80, 4)) ** 4 + 0.01
    known = e[:, [2, 0]] * (1 + 0.05 * rng.standard_normal((80, 2)))
    placed = place_known(e, known, np.ones(80), None)
    assert placed.shape == e.shape
    # known spectra first, scaled to the norm of the column each replaced; then columns 1 and 3
    np.testing.assert_allclose(placed[:, 0] / np.linalg.norm(placed[:, 0]), known[:, 0] / np.linalg.norm(known[:, 0]))
    np.testing.assert_allclose(np.linalg.norm(placed[:, :2], axis=0), np.linalg.norm(e[:, [2, 0]], axis=0))
    np.testing.assert_array_equal(placed[:, 2:], e[:, [1, 3]])
    with pytest.raises(ValueError, match="at most K"):
        place_known(e[:, :1], known, np.ones(80), None)


def test_known_angles_vanish_for_the_reference_and_pull_towards_it():
    known = torch.rand(30, 1, dtype=torch.float64)
    m = torch.cat([2.5 * known, torch.rand(30, 2, dtype=torch.float64)], 1).requires_grad_(True)
    assert float(known_angles(m.detach(), known)[0]) < 2e-3  # the clamp of the cosine
    far = torch.rand(30, 3, dtype=torch.float64, requires_grad=True)
    angle = known_angles(far, known).sum()
    angle.backward()
    with torch.no_grad():
        moved = far - 0.01 * far.grad
    assert float(known_angles(moved, known).sum()) < float(angle)
    assert float(far.grad[:, 1:].abs().max()) == 0.0  # only the first R columns are held


def test_a_known_spectrum_holds_and_names_the_first_endmember(small_section, one_torch_thread):
    truth, wn = small_section.endmembers, small_section.cube.wavenumbers
    j = 2
    known = KnownSpectra.from_arrays(["the known one"], wn, truth[:, [j]])
    held = unmix(small_section.cube, 4, known=known, known_weight=20.0, **_OPTS)
    rec = held.parameters["known_spectra"]
    assert held.names[0] == "the known one" and held.names[1:] == ["EM2", "EM3", "EM4"]
    assert rec["names"] == ["the known one"] and rec["weight"] == 20.0 and rec["sources"] == ["in memory"]
    assert rec["angle_deg"][0] < 2.0
    # the first endmember is the known material, close to its true spectrum
    assert match_endmembers(truth, held.endmembers)[j] == 0
    assert spectral_angles(truth[:, [j]], held.endmembers[:, [0]])[0, 0] < 5.0
    assert held.parameters["refinement"]["replaced"] != 0  # never the known endmember
    assert held.run_record()["names"][0] == "the known one"


def test_known_spectra_are_refused_where_they_cannot_be_used(small_section):
    wn = small_section.cube.wavenumbers
    one = KnownSpectra.from_arrays(["x"], wn, small_section.endmembers[:, [0]])
    with pytest.raises(ValueError, match="method 'nmf' does not take known spectra"):
        unmix(small_section.cube, 4, method="nmf", known=one)
    five = KnownSpectra.from_arrays(list("abcde"), wn, np.repeat(small_section.endmembers[:, [0]], 5, 1))
    with pytest.raises(ValueError, match="5 known spectra for K = 4"):
        unmix(small_section.cube, 4, known=five)
    with pytest.raises(ValueError, match="fast protocol"):
        unmix(small_section.cube, 4, known=one, protocol="paper", epochs=1)
    with pytest.raises(ValueError, match="known_weight"):
        unmix(small_section.cube, 4, known=one, known_weight=-1.0)


def test_load_known_names_a_bad_file(tmp_path):
    bad = tmp_path / "broken.csv"
    bad.write_text("this is not a spectrum\n")
    with pytest.raises(DataError, match="broken.csv"):
        load_known(bad)
    with pytest.raises(DataError, match="missing: file not found"):
        load_known(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty: no known spectra found"):
        load_known(tmp_path / "empty")


def test_cli_unmix_with_known_spectra(tmp_path, small_section, capsys):
    cube_path = tmp_path / "cube.npz"
    np.savez(cube_path, cube=small_section.cube.data, wavenumbers=small_section.cube.wavenumbers)
    ref = _write_reference(tmp_path / "linseed oil.csv", small_section.cube.wavenumbers,
                           small_section.endmembers[:, 1])
    out = tmp_path / "out"
    assert main(["unmix", str(cube_path), "--k", "4", "--out", str(out), "--known", str(ref), "--epochs", "40",
                 "--warmup-steps", "10", "--restarts", "1", "--quiet", "--threads", "1"]) == 0
    record = json.loads((out / "run.json").read_text())
    assert record["names"][0] == "linseed oil"
    assert record["parameters"]["known_spectra"]["sources"][0].endswith("linseed oil.csv")
    assert (out / "endmembers.csv").read_text().splitlines()[0].startswith("wavenumber,linseed oil,EM2")
    bad = tmp_path / "bad.csv"
    bad.write_text("nothing here\n")
    capsys.readouterr()
    assert main(["unmix", str(cube_path), "--k", "4", "--out", str(tmp_path / "out2"), "--known", str(bad),
                 "--quiet"]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.csv" in err[0]
