"""Synthetic cross-sections: shapes, truth on the simplex, determinism, artefacts, atmosphere files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ftir_unmix.cube import Cube
from ftir_unmix.errors import CubeReadError
from ftir_unmix.synthetic import (
    MATERIALS,
    atmosphere_templates,
    cross_section,
    load_atmosphere_dpt,
    material_spectra,
)


@pytest.fixture
def atmosphere_file(shared_data):
    """The measured CO₂/H₂O spectrum from the shared data (read in place: its licence forbids copies)."""
    path = shared_data / "atmosphere" / "D2O-H2O_set_atm2.dpt"
    if not path.is_file():
        pytest.fail(f"measured atmosphere spectrum missing from the shared data: {path}")
    return path


def band(wn: np.ndarray, value: float) -> int:
    return int(np.argmin(np.abs(wn - value)))


def mixing_model(s) -> np.ndarray:
    return (s.abundances.reshape(s.k, -1).T @ s.endmembers.T).reshape(s.cube.shape)


# --------------------------------------------------------------------------- shapes & truth


@pytest.mark.parametrize(("height", "width", "k"), [(32, 48, 6), (20, 30, 2), (48, 40, 10), (1, 5, 3)])
def test_shapes_and_truth(height: int, width: int, k: int) -> None:
    s = cross_section(height, width, n_bands=120, materials=k, seed=1)
    assert isinstance(s.cube, Cube)
    assert s.cube.shape == (height, width, 120)
    assert s.cube.data.dtype == np.float32
    assert s.endmembers.shape == (120, k)
    assert s.abundances.shape == (k, height, width)
    assert s.names == MATERIALS[:k] and s.k == k
    assert s.artefact_mask.shape == (120,) and s.artefact_mask.dtype == bool
    assert s.clean.shape == s.cube.shape and s.clean.dtype == np.float32
    assert s.contact.shape == (height, width)
    assert np.all(np.diff(s.wavenumbers) > 0)
    assert s.wavenumbers[0] == 650 and s.wavenumbers[-1] == 4000
    assert np.all(s.endmembers >= 0) and np.all(s.endmembers.max(axis=0) > 0)
    assert np.all(s.abundances >= 0)
    np.testing.assert_allclose(s.abundances.sum(axis=0), 1.0, atol=1e-12)


def test_default_grid_and_metadata() -> None:
    s = cross_section(16, 24, seed=0)
    assert s.cube.n_bands == 838
    assert np.median(np.diff(s.wavenumbers)) == pytest.approx(4.0, abs=0.01)
    meta = s.cube.metadata
    assert meta["format"] == "synthetic"
    assert meta["parameters"]["seed"] == 0
    assert meta["parameters"]["materials"] == list(s.names)
    json.dumps(meta)  # the run record must be able to hold it
    assert s.cube.pixel_size == pytest.approx(1.1)


def test_clean_is_the_mixing_model() -> None:
    s = cross_section(24, 32, n_bands=200, seed=4)
    np.testing.assert_allclose(s.clean, mixing_model(s), rtol=1e-5, atol=1e-6)


def test_most_materials_have_pure_pixels() -> None:
    s = cross_section(64, 96, n_bands=50, materials=10, seed=0, artefacts=False)
    top = s.abundances.reshape(s.k, -1).max(axis=1)
    assert np.all(top > 0.6), dict(zip(s.names, top, strict=True))
    assert np.sum(top > 0.9) >= s.k - 1, dict(zip(s.names, top, strict=True))


def test_layered_stratigraphy_resin_outside() -> None:
    s = cross_section(64, 64, n_bands=50, seed=2, artefacts=False)
    resin = s.abundances[s.names.index("embedding resin")]
    assert resin[0].mean() > 0.95 and resin[-1].mean() > 0.95  # embedding at top and bottom
    assert resin[28:36].mean() < 0.05  # the sample in between


def test_patches_layout_is_pure() -> None:
    s = cross_section(40, 60, n_bands=50, materials=8, seed=3, layout="patches", artefacts=False)
    assert np.all(s.abundances.reshape(8, -1).max(axis=1) > 0.99)
    np.testing.assert_allclose(s.abundances.sum(axis=0), 1.0, atol=1e-12)


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_arrays() -> None:
    a = cross_section(24, 36, n_bands=300, seed=7)
    b = cross_section(24, 36, n_bands=300, seed=7)
    for name in ("endmembers", "abundances", "artefact_mask", "clean", "contact", "spikes"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert np.array_equal(a.cube.data, b.cube.data)


def test_different_seed_different_arrays() -> None:
    a = cross_section(24, 36, n_bands=100, seed=0)
    b = cross_section(24, 36, n_bands=100, seed=1)
    assert not np.array_equal(a.abundances, b.abundances)
    assert not np.array_equal(a.cube.data, b.cube.data)
    np.testing.assert_array_equal(a.endmembers, b.endmembers)  # the materials are the same


def test_switching_one_artefact_leaves_the_rest() -> None:
    full = cross_section(20, 30, n_bands=100, seed=5)
    no_spikes = cross_section(20, 30, n_bands=100, seed=5, spikes=False)
    assert np.array_equal(full.abundances, no_spikes.abundances)
    assert np.array_equal(full.contact, no_spikes.contact)
    assert no_spikes.spikes.shape == (0, 3)
    diff = full.cube.data != no_spikes.cube.data
    assert diff.sum() == len(full.spikes)  # only the spiked values differ


# --------------------------------------------------------------------------- artefacts


@pytest.mark.parametrize("noise", [0.0, 0.01])
def test_artefacts_off_is_mixing_model_plus_noise(noise: float) -> None:
    s = cross_section(32, 40, n_bands=400, seed=3, artefacts=False, noise=noise)
    resid = s.cube.data - mixing_model(s)
    if noise == 0:
        assert np.abs(resid).max() < 1e-5
    else:
        assert resid.std() == pytest.approx(noise, rel=0.03)
        assert abs(resid.mean()) < 3 * noise / np.sqrt(resid.size) + 1e-6
    assert not s.artefact_mask.any()
    assert s.spikes.shape == (0, 3)
    assert np.all(s.contact == 1.0)


def test_artefact_mask_covers_atmospheric_lines() -> None:
    s = cross_section(8, 8, seed=0)
    wn, mask = s.wavenumbers, s.artefact_mask
    co2 = (wn > 2330) & (wn < 2370)
    assert mask[co2].all()
    assert mask[band(wn, 667)]
    assert mask[(wn > 1400) & (wn < 1800)].mean() > 0.3  # water bending lines
    assert mask[(wn > 3550) & (wn < 3900)].mean() > 0.3  # water stretching lines
    assert not mask[(wn > 2450) & (wn < 3400)].any()  # nothing atmospheric there
    only_co2 = cross_section(8, 8, seed=0, water=False)
    assert only_co2.artefact_mask[co2].all()
    assert not only_co2.artefact_mask[(wn > 1400) & (wn < 1800)].any()


def test_artefacts_are_in_the_cube() -> None:
    s = cross_section(40, 60, seed=1, noise=0.0, spikes=False)
    wn = s.wavenumbers
    assert 0.6 <= s.contact.min() < 0.8 and 1.0 < s.contact.max() <= 1.2
    resid = s.cube.data - s.contact[..., None] * s.clean  # baseline + atmosphere
    # The CO₂ doublet drifts across the image far more than the smooth baseline does.
    at_co2 = resid[..., band(wn, 2361)] - resid[..., band(wn, 2450)]
    away = resid[..., band(wn, 2600)] - resid[..., band(wn, 2450)]
    assert np.ptp(at_co2) > 0.02 and np.abs(at_co2).max() > 0.02
    assert np.abs(away).max() < 0.01
    # The baseline is small and smooth.
    assert np.abs(resid[..., ~s.artefact_mask]).max() < 0.1


def test_spikes_are_single_band_outliers() -> None:
    s = cross_section(30, 40, n_bands=200, seed=2, noise=0.0, spike_rate=0.01)
    assert len(s.spikes) == 12
    assert s.spikes.min() >= 0 and s.spikes[:, 2].max() < 200
    for r, c, b in s.spikes:
        neighbours = s.cube.data[r, c, [max(b - 1, 0), min(b + 1, 199)]]
        assert abs(s.cube.data[r, c, b] - neighbours.mean()) > 0.2


def test_strengths_scale_and_validate() -> None:
    weak = cross_section(16, 16, n_bands=100, seed=0, artefacts=0.5)
    assert weak.cube.metadata["parameters"]["contact"] == 0.5
    assert 0.8 - 1e-6 <= weak.contact.min() and weak.contact.max() <= 1.1 + 1e-6
    with pytest.raises(ValueError):
        cross_section(4, 4, spikes=-1.0)
    with pytest.raises(ValueError):
        cross_section(4, 4, noise=-0.1)
    with pytest.raises(ValueError):
        cross_section(4, 4, layout="diagonal")


# --------------------------------------------------------------------------- materials


def test_material_library_positions() -> None:
    wn = np.linspace(650, 4000, 1676)
    spectra = material_spectra(wn, len(MATERIALS))
    assert list(spectra) == list(MATERIALS) and len(MATERIALS) >= 10
    strongest = {
        "drying oil": 1740, "lead white": 1400, "zinc soap": 1538, "calcium oxalate": 1620,
        "animal glue": 1650, "gypsum": 1120, "varnish": 1705, "earth pigment": 1020,
        "lead soap": 1510, "chalk": 1420,
    }
    for name, position in strongest.items():
        assert abs(wn[np.argmax(spectra[name])] - position) <= 10, name
    resin = spectra["embedding resin"]
    assert resin[band(wn, 1725)] > 0.5 * resin.max()  # ester C=O
    for spec in spectra.values():
        assert np.all(spec >= 0) and 0.3 <= spec.max() <= 1.0


def test_materials_by_name_and_alias() -> None:
    s = cross_section(16, 16, n_bands=80, materials=["protein", "Calcium_Oxalate", "silicate"], seed=0)
    assert s.names == ("animal glue", "calcium oxalate", "earth pigment")
    with pytest.raises(ValueError, match="unknown material"):
        cross_section(4, 4, materials=["unobtainium"])
    with pytest.raises(ValueError, match="twice"):
        cross_section(4, 4, materials=["oil", "drying oil"])
    with pytest.raises(ValueError):
        cross_section(4, 4, materials=len(MATERIALS) + 1)


def test_descending_wavenumbers_are_accepted() -> None:
    wn = np.linspace(4000, 700, 300)
    s = cross_section(8, 8, wavenumbers=wn, seed=0)
    np.testing.assert_array_equal(s.wavenumbers, wn[::-1])
    ref = material_spectra(wn[::-1], 6)
    np.testing.assert_allclose(s.endmembers[:, 0], ref["embedding resin"])


# --------------------------------------------------------------------------- measured atmosphere


def test_load_atmosphere_dpt_reads_the_shared_file(atmosphere_file) -> None:
    wn, absorbance = load_atmosphere_dpt(atmosphere_file)
    assert wn.shape == absorbance.shape and wn.size > 1000
    assert np.all(np.diff(wn) > 0)
    assert wn[0] < 700 and wn[-1] > 3900
    co2 = (wn > 2300) & (wn < 2400)
    assert np.abs(absorbance[co2]).max() > 5 * np.abs(absorbance[(wn > 2500) & (wn < 2800)]).max()
    grid = np.linspace(650, 4000, 838)
    g_wn, g_abs = load_atmosphere_dpt(atmosphere_file, grid)
    np.testing.assert_array_equal(g_wn, grid)
    np.testing.assert_allclose(g_abs, np.interp(grid, wn, absorbance, left=0.0, right=0.0))


def test_cross_section_with_measured_atmosphere(atmosphere_file) -> None:
    atm = load_atmosphere_dpt(atmosphere_file)
    co2, water = atmosphere_templates(np.linspace(650, 4000, 838), atm)
    assert co2.max() == pytest.approx(1.0)
    assert 0.1 < np.abs(water).max() < 1.5
    s = cross_section(16, 24, seed=0, atmosphere=atm)
    built_in = cross_section(16, 24, seed=0)
    wn = s.wavenumbers
    assert s.artefact_mask[(wn > 2335) & (wn < 2365)].all()
    assert not np.array_equal(s.cube.data, built_in.cube.data)
    assert np.array_equal(s.abundances, built_in.abundances)
    assert "measured" in s.cube.metadata["parameters"]["atmosphere"]


def test_load_atmosphere_dpt_rejects_bad_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.dpt"
    bad.write_text("not,a\nspectrum,at all\n")
    with pytest.raises(CubeReadError, match="bad.dpt"):
        load_atmosphere_dpt(bad)
    with pytest.raises(CubeReadError):
        load_atmosphere_dpt(tmp_path / "missing.dpt")
