"""Tests of the blind synthetic scene generator in benchmarks/blind_scenes.py."""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import blind_scenes  # noqa: E402

SMALL = {"height": 16, "width": 32, "n_bands": 300}


@lru_cache(maxsize=32)
def _small(case: str, seed: int, fallback: bool = False) -> blind_scenes.BlindScene:
    kwargs = dict(SMALL)
    if fallback:
        kwargs["data_dir"] = "/nonexistent/blind-scenes-data"
    return blind_scenes.make_blind_scene(case, seed, **kwargs)


def test_three_distinct_cases():
    assert len(blind_scenes.CASES) == 3
    assert len(set(blind_scenes.CASES)) == 3


@pytest.mark.parametrize("case", blind_scenes.CASES)
def test_shapes_and_types(case):
    sc = _small(case, 0)
    k = len(sc.names)
    assert 5 <= k <= 8
    assert sc.data.shape == (16, 32, 300) and sc.data.dtype == np.float32
    assert sc.wavenumbers.shape == (300,) and sc.wavenumbers.dtype == np.float64
    assert np.all(np.diff(sc.wavenumbers) > 0)
    assert sc.wavenumbers[0] == pytest.approx(650.0) and sc.wavenumbers[-1] == pytest.approx(4000.0)
    assert sc.endmembers.shape == (300, k) and sc.endmembers.dtype == np.float64
    assert sc.abundances.shape == (k, 16, 32) and sc.abundances.dtype == np.float64
    assert sc.case == case and sc.seed == 0
    assert np.all(np.isfinite(sc.data))
    json.dumps(sc.info)


@pytest.mark.parametrize("case", blind_scenes.CASES)
def test_abundances_simplex_and_caps(case):
    for seed in (0, 1, 2):
        sc = _small(case, seed)
        a = sc.abundances
        assert a.min() >= 0.0
        np.testing.assert_allclose(a.sum(axis=0), 1.0, atol=1e-9)
        for name, cap in sc.info["caps"].items():
            assert a[sc.names.index(name)].max() <= cap
        capped = sc.info["capped"]
        assert 2 * len(capped) >= len(sc.names)
        for name in capped:
            assert a[sc.names.index(name)].max() <= 0.75
            assert sc.info["max_abundance"][name] <= 0.75
        for j, name in enumerate(sc.names):
            assert sc.info["max_abundance"][name] == pytest.approx(a[j].max(), abs=1e-6)
            assert sc.info["coverage"][name] == pytest.approx(np.mean(a[j] >= 0.1), abs=1e-6)


@pytest.mark.parametrize("case", blind_scenes.CASES)
def test_endmembers_valid_and_distinct(case):
    e = _small(case, 0).endmembers
    assert np.all(np.isfinite(e)) and e.min() >= 0.0
    np.testing.assert_allclose(e.max(axis=0), 1.0)
    n = e / np.linalg.norm(e, axis=0)
    ang = np.degrees(np.arccos(np.clip(n.T @ n, -1.0, 1.0)))
    np.fill_diagonal(ang, 180.0)
    assert ang.min() > 5.0


@pytest.mark.parametrize("case", blind_scenes.CASES)
def test_deterministic(case):
    a = blind_scenes.make_blind_scene(case, 3, **SMALL)
    b = blind_scenes.make_blind_scene(case, 3, **SMALL)
    c = blind_scenes.make_blind_scene(case, 4, **SMALL)
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(a.abundances, b.abundances)
    np.testing.assert_array_equal(a.endmembers, b.endmembers)
    assert a.info == b.info
    assert not np.array_equal(a.data, c.data)
    assert not np.array_equal(a.abundances, c.abundances)


@pytest.mark.parametrize("case", blind_scenes.CASES)
def test_data_depart_from_linear_mixture_but_follow_it(case):
    sc = _small(case, 0)
    mix = np.einsum("bk,khw->hwb", sc.endmembers, sc.abundances)
    diff = np.linalg.norm(sc.data - mix) / np.linalg.norm(mix)
    assert diff > 0.05
    assert np.corrcoef(sc.data.ravel(), mix.ravel())[0, 1] > 0.6


@pytest.mark.parametrize("case", blind_scenes.CASES)
def test_effective_spectra_are_the_variants_as_the_image_holds_them(case):
    sc = _small(case, 0)
    assert sc.effective.shape == sc.endmembers.shape
    np.testing.assert_allclose(sc.effective.max(axis=0), 1.0)
    assert np.all(sc.effective >= 0)
    fixed = sc.names.index("embedding resin")  # no shifts, no broadening: its own spectrum
    np.testing.assert_array_equal(sc.effective[:, fixed], sc.endmembers[:, fixed])
    moved = [j for j in range(len(sc.names)) if j != fixed]
    assert not np.allclose(sc.effective[:, moved], sc.endmembers[:, moved], atol=1e-3)


def test_effective_lead_soap_is_broader_than_its_nominal_spectrum():
    # the soap's bands broaden by up to 1.95x outside the aggregates' crystalline cores, so its
    # average over the image, at the same height, holds more area than the nominal (narrow) one
    sc = _small("soap-paint-k6", 0)
    j = sc.names.index("lead soap")
    assert sc.effective[:, j].sum() > 1.1 * sc.endmembers[:, j].sum()


def test_crust_minor_material_small():
    for seed in (0, 1, 2):
        sc = _small("ground-crust-k7", seed)
        assert "calcium oxalate" in sc.info["minor"]
        assert 0.005 <= sc.info["coverage"]["calcium oxalate"] <= 0.05


def test_crust_minor_material_default_size():
    for seed in (0, 1):
        sc = blind_scenes.make_blind_scene("ground-crust-k7", seed)
        assert sc.data.shape == (64, 256, 1504)
        assert 0.01 <= sc.info["coverage"]["calcium oxalate"] <= 0.03


@pytest.mark.parametrize("case", blind_scenes.CASES)
def test_fallback_without_shared_data(case):
    sc = _small(case, 0, fallback=True)
    assert sc.info["atmosphere_source"] == "synthetic"
    assert sc.info["reference_spectra_used"] == []
    assert np.all(np.isfinite(sc.data))
    assert sc.endmembers.min() >= 0.0
    np.testing.assert_allclose(sc.abundances.sum(axis=0), 1.0, atol=1e-9)


def test_measured_data_used_when_present(shared_data):
    sc = blind_scenes.make_blind_scene("soap-paint-k6", 0, data_dir=shared_data, **SMALL)
    assert sc.info["atmosphere_source"].startswith("measured")
    assert len(sc.info["reference_spectra_used"]) == 2


def test_unknown_case_rejected():
    with pytest.raises(ValueError):
        blind_scenes.make_blind_scene("no-such-case", 0, **SMALL)


def test_dense_spikes_change_only_the_spikes():
    """By default a few spectra carry one glitch; ``dense_spikes`` (the stress test) puts 1–3 in
    every spectrum and leaves everything drawn before the spikes as it was."""
    sparse = blind_scenes.make_blind_scene("soap-paint-k6", 1, **SMALL)
    dense = blind_scenes.make_blind_scene("soap-paint-k6", 1, dense_spikes=True, **SMALL)
    spectra = SMALL["height"] * SMALL["width"]
    assert 1 <= sparse.info["n_spikes"] <= 0.01 * spectra + 1 and not sparse.info["dense_spikes"]
    assert dense.info["n_spikes"] >= 0.5 * spectra * SMALL["n_bands"] * 0.0005 and dense.info["dense_spikes"]
    np.testing.assert_array_equal(sparse.abundances, dense.abundances)
    np.testing.assert_array_equal(sparse.endmembers, dense.endmembers)
    changed = np.any(sparse.data != dense.data, axis=2)
    assert 0 < changed.mean() < 1.0
