"""The independent scene family: truth on the simplex, caps, minors, artefacts, fallbacks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import label

import ftir_unmix.scenes._data as scene_data
from ftir_unmix.metrics import spectral_angles
from ftir_unmix.scenes import (
    CASES,
    COVERAGE_THRESHOLD,
    MATERIALS,
    REPORT_SEEDS,
    TUNING_SEEDS,
    make_scene,
    wavenumber_axis,
)
from ftir_unmix.scenes._artefacts import builtin_atmosphere
from ftir_unmix.scenes._bands import Band, bin_to_axis, fine_grid, render_bands
from ftir_unmix.scenes._fields import blend, cap_simplex, layer_memberships

SMALL = dict(height=32, width=48, bands=160)
REQUIRED = ("nopure-k4", "nopure-k6", "minor-spot-k5", "minor-crust-k5", "layered-k8-var",
            "aggregates-k6", "mixed-k12", "small-k3")


@pytest.fixture(scope="module")
def small_scenes():
    """Every case once, small, seed 0."""
    return {name: make_scene(name, 0, **SMALL) for name in CASES}


@pytest.fixture
def no_shared_data(monkeypatch):
    monkeypatch.setattr(scene_data, "SHARED_DATA", None)


def test_family_covers_the_named_cases_and_k_range():
    assert set(REQUIRED) <= set(CASES)
    ks = {CASES[n].k for n in CASES}
    assert min(ks) == 3 and max(ks) == 12
    for name in REQUIRED:
        k_in_name = int(name.split("-k")[1].split("-")[0])
        assert CASES[name].k == k_in_name
    assert not set(TUNING_SEEDS) & set(REPORT_SEEDS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_scene_truth_is_consistent(small_scenes, name):
    s = small_scenes[name]
    k, (h, w, b) = CASES[name].k, (SMALL["height"], SMALL["width"], SMALL["bands"])
    assert s.cube.shape == (h, w, b) and s.cube.data.dtype == np.float32
    assert s.endmembers.shape == (b, k) and s.abundances.shape == (k, h, w) and len(s.names) == k
    assert np.all(np.diff(s.cube.wavenumbers) > 0)
    assert s.cube.wavenumbers[0] == pytest.approx(650.0) and s.cube.wavenumbers[-1] == pytest.approx(4000.0)
    # Abundances on the simplex.
    assert s.abundances.min() >= 0.0
    np.testing.assert_allclose(s.abundances.sum(axis=0), 1.0, atol=1e-9)
    # Spectra: finite, non-negative, each material with a real band.
    assert np.all(np.isfinite(s.cube.data)) and np.all(np.isfinite(s.endmembers))
    assert s.endmembers.min() >= 0.0
    assert np.all(s.endmembers.max(axis=0) > 0.1)
    # Every material is actually present and distinct from the others.
    assert all(v > 0 for v in s.info["max_abundance"].values())
    assert s.info["min_pair_angle_deg"] > 10.0


def test_no_pure_cases_keep_their_caps():
    for name in ("nopure-k4", "nopure-k6"):
        for seed in TUNING_SEEDS[:3]:
            s = make_scene(name, seed, **SMALL)
            caps = np.array([s.info["caps"][m] for m in s.names])
            assert np.all((caps >= 0.4) & (caps <= 0.7))
            peak = s.abundances.reshape(s.k, -1).max(axis=1)
            assert np.all(peak <= caps + 1e-9), (name, seed, peak, caps)
            assert np.all(peak <= 0.7 + 1e-9)
            # The cap is approached: every material gets within 15 % of it somewhere.
            assert np.all(peak >= 0.85 * caps), (name, seed, peak, caps)


def test_uncapped_layered_cases_have_near_pure_pixels(small_scenes):
    for name, case in CASES.items():
        if case.caps is None and case.layout == "layers":
            s = small_scenes[name]
            assert s.info["caps"] is None
            assert max(s.info["max_abundance"].values()) > 0.95, name


@pytest.mark.parametrize("size", [(64, 128), (40, 96)])
@pytest.mark.parametrize("seed", [0, 3])
def test_minor_spots_cover_their_share_in_small_spots(size, seed):
    s = make_scene("minor-spot-k5", seed, height=size[0], width=size[1], bands=100)
    m = s.names.index("ultramarine")
    covered = s.abundances[m] >= COVERAGE_THRESHOLD
    assert 0.01 <= covered.mean() <= 0.02
    assert s.info["coverage"]["ultramarine"] == pytest.approx(covered.mean())
    labels, n = label(covered)
    sizes = np.bincount(labels.ravel())[1:]
    assert n >= 2 and sizes.max() <= 20  # several spots of a few pixels
    # Only in the paint: never where the embedding resin dominates.
    assert np.all(s.abundances[s.names.index("embedding resin")][covered] < 0.5)


@pytest.mark.parametrize("size", [(64, 128), (40, 96)])
@pytest.mark.parametrize("seed", [0, 3])
def test_minor_crust_is_thin_and_on_the_surface(size, seed):
    s = make_scene("minor-crust-k5", seed, height=size[0], width=size[1], bands=100)
    crust = s.abundances[s.names.index("calcium oxalate")]
    covered = crust >= COVERAGE_THRESHOLD
    assert 0.01 <= covered.mean() <= 0.03
    per_column = covered.sum(axis=0)
    assert per_column.max() <= 3  # one or two pixels thick (3 where it straddles a row edge)
    assert (per_column > 0).sum() >= 8  # laid along the surface, not a spot
    # Right below the embedding resin: the covered rows are near where the resin share crosses 0.5.
    emb = s.abundances[s.names.index("embedding resin")]
    for x in np.flatnonzero(per_column):
        surface_row = int(np.argmax(emb[:, x] < 0.5))
        rows = np.flatnonzero(covered[:, x])
        assert np.all(np.abs(rows - surface_row) <= 4), (x, rows, surface_row)


def test_aggregates_are_mixed_with_the_paint():
    s = make_scene("aggregates-k6", 1, **SMALL)
    soap = s.abundances[s.names.index("lead soap")]
    assert 0.5 < soap.max() < 0.9  # cores stay mixed (core fraction 0.55-0.85)
    core = soap > 0.5
    assert core.sum() >= 5
    others = s.abundances[[s.names.index("lead white"), s.names.index("drying oil")]].sum(axis=0)
    assert others[core].min() > 0.05 and others[core].mean() > 0.2


def test_scene_is_deterministic_per_seed_and_seeds_differ():
    a = make_scene("small-k3", 2, **SMALL)
    b = make_scene("small-k3", 2, **SMALL)
    c = make_scene("small-k3", 3, **SMALL)
    np.testing.assert_array_equal(a.cube.data, b.cube.data)
    np.testing.assert_array_equal(a.abundances, b.abundances)
    np.testing.assert_array_equal(a.endmembers, b.endmembers)
    assert a.info == b.info
    assert not np.allclose(a.abundances, c.abundances)
    assert not np.allclose(a.cube.data, c.cube.data)
    # The true spectra vary a little between seeds too (band heights, positions).
    assert 0.1 < spectral_angles(a.endmembers, c.endmembers).diagonal().max() < 15.0


def test_fallback_without_shared_data(no_shared_data):
    s = make_scene("mixed-k12", 0, **SMALL)
    assert s.info["shared_data"] is None
    assert set(s.info["sources"].values()) == {"built-in bands"}
    assert not s.info["measured_used"]
    assert s.info["atmosphere_source"] == "built-in line model"
    assert np.all(np.isfinite(s.cube.data)) and s.endmembers.min() >= 0.0
    np.testing.assert_allclose(s.abundances.sum(axis=0), 1.0, atol=1e-9)


def test_measured_spectra_used_when_shared_data_present(monkeypatch):
    if scene_data.shared_data_dir() is None:
        pytest.skip("no shared data folder")
    with_data = make_scene("mixed-k12", 0, **SMALL)
    assert with_data.info["measured_used"]
    assert with_data.info["atmosphere_source"].startswith("atmosphere/")
    monkeypatch.setattr(scene_data, "SHARED_DATA", None)
    without = make_scene("mixed-k12", 0, **SMALL)
    angles = spectral_angles(with_data.endmembers, without.endmembers).diagonal()
    for i, name in enumerate(with_data.names):
        if with_data.info["sources"][name] == "built-in bands":
            # The data folder changes nothing else.
            np.testing.assert_allclose(with_data.endmembers[:, i], without.endmembers[:, i], rtol=1e-12)
        else:
            assert angles[i] > 1.0
    np.testing.assert_array_equal(with_data.abundances, without.abundances)


def test_shared_data_setting_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FTIR_UNMIX_SHARED_DATA", str(tmp_path))
    assert scene_data.shared_data_dir_setting() == tmp_path
    monkeypatch.setattr(scene_data, "SHARED_DATA", tmp_path / "missing")
    assert scene_data.shared_data_dir() is None


def test_small_axis_keeps_band_areas_and_sharp_bands():
    fine = make_scene("mixed-k12", 1, height=16, width=24)
    coarse = make_scene("mixed-k12", 1, height=16, width=24, bands=120)
    assert coarse.cube.shape[2] == 120 and fine.cube.shape[2] == 838
    step_f = np.diff(fine.wavenumbers).mean()
    step_c = np.diff(coarse.wavenumbers).mean()
    area_f = fine.endmembers.sum(axis=0) * step_f
    area_c = coarse.endmembers.sum(axis=0) * step_c
    np.testing.assert_allclose(area_c, area_f, rtol=0.03)
    # The sharp Prussian-blue CN band stays the strongest feature near 2090 cm-1.
    pb = coarse.endmembers[:, coarse.names.index("prussian blue")]
    near = (coarse.wavenumbers > 1900) & (coarse.wavenumbers < 2300)
    assert abs(coarse.wavenumbers[near][np.argmax(pb[near])] - 2088) < step_c


def test_noise_matches_the_snr_and_spikes_are_single_band():
    s = make_scene("minor-spot-k5", 4, parts=True, **SMALL)
    p = s.parts
    snr = 10 * np.log10(np.mean(p["mixed"].astype(np.float64) ** 2) / np.mean(p["noise"].astype(np.float64) ** 2))
    assert snr == pytest.approx(CASES["minor-spot-k5"].artefacts.snr_db, abs=0.3)
    rest = s.cube.data - (p["mixed"] + p["atmosphere"] + p["baseline"] + p["noise"])
    spikes = np.array(s.info["spikes"])
    assert len(spikes) >= 1
    hit = np.zeros(rest.shape, dtype=bool)
    hit[spikes[:, 0], spikes[:, 1], spikes[:, 2]] = True
    assert np.all(np.abs(rest[hit]) > 0.1 * s.info["reference_absorbance"])
    assert np.abs(rest[~hit]).max() < 1e-5


def test_atmosphere_drifts_and_changes_sign(no_shared_data):
    co2, _ = builtin_atmosphere(wavenumber_axis(400))
    band = int(np.argmax(co2))
    both_signs = 0
    for seed in TUNING_SEEDS:
        s = make_scene("small-k3", seed, parts=True, height=24, width=32, bands=400)
        assert s.info["atmosphere_source"] == "built-in line model"
        amount = s.parts["atmosphere"][..., band]
        assert amount.std() > 0.1 * abs(amount.mean()) + 1e-6  # it drifts over the image
        both_signs += bool((amount > 0).any() and (amount < 0).any())
    assert both_signs >= 1  # over- and under-compensation in the same image
    # a stress test scales the atmosphere alone: the same scene otherwise
    plain = make_scene("small-k3", 0, parts=True, height=16, width=16, bands=200)
    strong = make_scene("small-k3", 0, parts=True, height=16, width=16, bands=200, atmosphere_scale=4.0)
    np.testing.assert_allclose(strong.parts["atmosphere"], 4.0 * plain.parts["atmosphere"], rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(strong.parts["mixed"], plain.parts["mixed"])
    assert strong.info["atmosphere_strength"] == pytest.approx(4.0 * plain.info["atmosphere_strength"])


def test_variability_and_contact_scale_the_pure_pixels():
    sads = {}
    for name in ("minor-spot-k5", "layered-k8-var"):
        s = make_scene(name, 0, parts=True, height=64, width=48, bands=300)
        m = s.names.index("embedding resin")
        pure = s.abundances[m] > 0.98
        assert pure.sum() > 20
        spectra = s.parts["mixed"][pure] / s.parts["contact"][pure][:, None]
        ang = spectral_angles(s.endmembers[:, [m]], spectra.T.astype(np.float64))[0]
        sads[name] = float(np.median(ang))
        # Contact scales the whole spectrum within the case's range.
        lo, hi = CASES[name].variability.contact
        ratio = s.parts["mixed"][pure].sum(axis=1) / s.endmembers[:, m].sum()
        assert np.all((ratio > 0.95 * lo) & (ratio < 1.05 * hi))
    assert 0.05 < sads["minor-spot-k5"] < sads["layered-k8-var"] < 20.0


def test_cap_simplex_keeps_simplex_and_caps():
    rng = np.random.default_rng(0)
    a = rng.dirichlet(np.full(5, 0.3), size=2000).T
    caps = rng.uniform(0.4, 0.7, 5)
    for soft in (False, True):
        out = cap_simplex(a, caps, soft=soft)
        assert out.min() >= 0.0
        np.testing.assert_allclose(out.sum(axis=0), 1.0, atol=1e-12)
        assert np.all(out <= caps[:, None] + 1e-12)
    with pytest.raises(ValueError):
        cap_simplex(a[:2], np.array([0.4, 0.4]))
    mixed = blend(a, 2, np.full(a.shape[1], 0.3))
    np.testing.assert_allclose(mixed.sum(axis=0), 1.0, atol=1e-12)


def test_layer_memberships_sum_to_one_even_when_layers_pinch_out():
    rng = np.random.default_rng(5)
    memb, bounds = layer_memberships(rng, 30, 50, np.array([1.0, 0.05, 1.0, 0.05, 1.0]),
                                     waviness=4.0, roughness=1.5, diffuse=(0.3, 3.0))
    assert memb.min() >= 0.0
    np.testing.assert_allclose(memb.sum(axis=0), 1.0, atol=1e-12)
    assert np.all(np.diff(bounds, axis=0) >= 0)


def test_band_rendering_keeps_area_and_box_car_average():
    axis = wavenumber_axis(300)
    x = fine_grid(axis)
    band = Band(1500.0, 20.0, 1.0, eta=0.3, asym=0.2, tail=10.0)
    prof = render_bands(x, (band,), shift=np.array([0.0, 3.0, 0.0]), width=np.array([1.0, 1.0, 1.3]))
    area = prof.sum(axis=1) * (x[1] - x[0])
    np.testing.assert_allclose(area[1:], area[0], rtol=1e-3)
    assert prof[0].max() == pytest.approx(1.0, rel=1e-3)
    assert x[np.argmax(prof[1])] - x[np.argmax(prof[0])] == pytest.approx(3.0, abs=0.6)
    binned = bin_to_axis(x, prof, axis)
    np.testing.assert_allclose(binned.sum(axis=1) * np.diff(axis).mean(), area, rtol=1e-3)


@pytest.mark.parametrize("name, lo, hi", [
    ("calcium oxalate", 1600, 1640), ("prussian blue", 2078, 2098), ("lead soap", 1503, 1523),
    ("zinc soap", 1528, 1548), ("drying oil", 1730, 1750), ("gypsum", 1095, 1150),
    ("kaolinite clay", 995, 1045), ("embedding resin", 1715, 1735),
])
def test_materials_peak_at_their_marker_bands(no_shared_data, name, lo, hi):
    axis = wavenumber_axis()
    x = fine_grid(axis)
    spec = bin_to_axis(x, render_bands(x, MATERIALS[name].bands), axis)[0]
    assert spec.min() >= -1e-12
    window = (axis > 1000 - 400) & (axis < 2300) if name != "embedding resin" else (axis > 1650) & (axis < 1800)
    peak = axis[window][np.argmax(spec[window])]
    assert lo <= peak <= hi, (name, peak)


def test_unknown_case_is_refused():
    with pytest.raises(KeyError, match="unknown scene case"):
        make_scene("no-such-case", 0)
