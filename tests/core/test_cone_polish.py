"""The last polish of the spectra on the whole image's cone fit (:mod:`ftir_unmix.methods.cnn.cone_polish`)."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from ftir_unmix import unmix
from ftir_unmix.config import UnmixConfig
from ftir_unmix.methods.cnn import cone_polish
from ftir_unmix.methods.cnn.cone_polish import (
    NO_PURE_SHARE,
    cone_maps,
    noise_level,
    polish,
    polish_endmembers,
    with_slopes,
)
from ftir_unmix.metrics import WeightedPixels, endmember_sad
from ftir_unmix.preprocess.background import as_seen, polynomial_basis, weighted_nuisance_basis

WN = np.linspace(650.0, 4000.0, 120)


def _bands(centres: list[float], width: float = 40.0) -> np.ndarray:
    return sum(np.exp(-0.5 * ((WN - c) / width) ** 2) for c in centres)


def _mixtures(n: int = 600, seed: int = 0, baseline: bool = False):
    """Noise-free mixtures of three spectra with overlapping bands, 5 % of the pixels pure,
    each pixel scaled (contact); with ``baseline`` a random quadratic added to each."""
    rng = np.random.default_rng(seed)
    truth = np.column_stack([_bands([1000, 1700, 2900]), _bands([1400, 1700, 3300]), _bands([1100, 1550, 2950])])
    a = rng.dirichlet(np.ones(3), n)
    a[: n // 20] = np.eye(3)[rng.integers(0, 3, n // 20)]
    x = (a @ truth.T) * rng.uniform(0.5, 1.5, (n, 1))
    basis = polynomial_basis(WN, 2)
    if baseline:
        x += rng.uniform(0.0, 0.3, (n, 3)) @ basis.T
    return truth, a, x, basis


#: A finer axis (4 cm⁻¹ a band) for bands that shift by a few cm⁻¹ from pixel to pixel.
WN_FINE = np.linspace(1000.0, 1800.0, 201)
CENTRES = ([1100, 1450, 1720], [1250, 1460, 1600], [1150, 1380, 1700])


def _moved(centres: list[int], shifts: np.ndarray) -> np.ndarray:
    """(B, n): a spectrum of bands 12 cm⁻¹ wide, moved by each of ``shifts`` (cm⁻¹), rendered exactly."""
    return sum(np.exp(-0.5 * ((WN_FINE[:, None] - (c + shifts)) / 12.0) ** 2) for c in centres)


def _mixed_inwards(truth: np.ndarray) -> np.ndarray:
    """Each spectrum blended with the others: a start inside the data, as a run that stopped short."""
    return truth @ np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])


def _no_pure_mixtures(n: int = 600, seed: int = 0):
    """Mixtures of the three spectra of :func:`_mixtures` in which no material exceeds 0.6 of any
    pixel, each pixel scaled (contact), with a little noise."""
    rng = np.random.default_rng(seed)
    truth = _mixtures()[0]
    a = rng.dirichlet(np.full(3, 2.0), 8 * n)
    a = a[a.max(axis=1) <= 0.6][:n]
    x = (a @ truth.T) * rng.uniform(0.5, 1.5, (len(a), 1)) + rng.normal(0.0, 0.002, (len(a), WN.size))
    return truth, x


def test_where_no_pixel_is_nearly_pure_the_polish_goes_on_towards_the_truth():
    truth, x = _no_pure_mixtures()
    start, w = _mixed_inwards(truth), np.ones(WN.size)
    short, _, rec_short = polish(x, start, w, None, None, iterations=30)
    e, maps, rec = polish(x, start, w, None, None, iterations=30, no_pure_iterations=300)
    assert rec_short["no_pure"] and rec["no_pure"] and max(rec["purest_share"]) < NO_PURE_SHARE
    assert rec_short["iterations"] == 30 and rec["iterations"] == 300 and not rec["stopped"]
    before, after = endmember_sad(truth, short).mean(), endmember_sad(truth, e).mean()
    assert after < before - 1.0, (before, after)  # 3.9° -> 1.9° when written
    assert rec["fit_before_deg"] == rec_short["fit_before_deg"] and rec["fit_after_deg"] < rec_short["fit_after_deg"]
    assert np.allclose(maps.sum(axis=0), 1.0)
    # A stop during the further iterations keeps what it has and says so.
    calls = iter(range(10**6))
    _, _, stopped = polish(x, start, w, None, None, iterations=30, no_pure_iterations=300,
                           stop=lambda: next(calls) >= 100)
    assert stopped["stopped"] and 30 < stopped["iterations"] < 300


def test_where_pixels_are_nearly_pure_the_polish_stops_at_its_iterations():
    truth, _, x, _ = _mixtures(seed=7)  # 5 % of the pixels pure
    start, w = _mixed_inwards(truth), np.ones(WN.size)
    plain, _, rec_plain = polish(x, start, w, None, None, iterations=30)
    e, _, rec = polish(x, start, w, None, None, iterations=30, no_pure_iterations=300)
    assert not rec["no_pure"] and min(rec["purest_share"]) > NO_PURE_SHARE
    assert rec["iterations"] == 30 and np.array_equal(e, plain) and rec == rec_plain


@pytest.mark.parametrize("baseline", [False, True])
def test_the_polish_moves_spectra_started_inside_the_data_to_the_truth(baseline):
    truth, _, x, basis = _mixtures(baseline=baseline)
    w = np.random.default_rng(1).uniform(0.3, 1.0, WN.size)
    nuisance = weighted_nuisance_basis(basis, w) if baseline else None
    start = _mixed_inwards(truth)
    p = polish_endmembers(x, start, w, nuisance, iterations=200)

    def sad(e: np.ndarray) -> float:  # as the loss sees them: a spectrum is known up to the background
        return float(endmember_sad(as_seen(truth, w, nuisance), as_seen(e, w, nuisance)).mean())

    before, after = sad(start), sad(p.endmembers)
    assert before > 5.0
    assert after < 0.5, (before, after)
    assert p.fit_after < p.fit_before
    assert p.iterations == 200
    assert np.allclose(np.linalg.norm(p.endmembers, axis=0), np.linalg.norm(start, axis=0))  # norms kept


def test_each_iteration_lowers_the_cone_fit():
    truth, _, x, _ = _mixtures(seed=2)
    w = np.ones(WN.size)
    e = _mixed_inwards(truth)
    fits = []
    for _ in range(4):
        p = polish_endmembers(x, e, w, None, iterations=1)
        fits.append((p.fit_before, p.fit_after))
        e = p.endmembers
    assert all(after < before for before, after in fits)
    assert all(np.isclose(fits[i][1], fits[i + 1][0]) for i in range(3))


def test_fixed_spectra_stay_and_a_stop_returns_the_start():
    truth, _, x, _ = _mixtures(seed=3)
    start = _mixed_inwards(truth)
    p = polish_endmembers(x, start, np.ones(WN.size), None, iterations=20, fixed=[0])
    assert np.array_equal(p.endmembers[:, 0], start[:, 0])
    assert not np.allclose(p.endmembers[:, 1:], start[:, 1:])
    stopped = polish_endmembers(x, start, np.ones(WN.size), None, iterations=20, stop=lambda: True)
    assert stopped.iterations == 0 and np.array_equal(stopped.endmembers, start)


def test_a_fixed_column_anywhere_is_kept_and_the_others_fitted_as_if_it_came_first():
    """Held columns need not lead: fixing the middle spectrum gives, column for column, what
    fixing it moved to the front gives (to the rounding of the float32 products)."""
    truth, _, x, _ = _mixtures(seed=3)
    start = _mixed_inwards(truth)
    middle = polish_endmembers(x, start, np.ones(WN.size), None, iterations=20, fixed=[1])
    order = [1, 0, 2]
    front = polish_endmembers(x, start[:, order], np.ones(WN.size), None, iterations=20, fixed=[0])
    assert np.array_equal(middle.endmembers[:, 1], start[:, 1])
    assert not np.allclose(middle.endmembers[:, [0, 2]], start[:, [0, 2]])
    np.testing.assert_allclose(middle.endmembers, front.endmembers[:, np.argsort(order)], rtol=1e-4, atol=1e-6)


def test_a_sample_of_rows_is_what_is_fitted():
    truth, _, x, _ = _mixtures(seed=4)
    start = _mixed_inwards(truth)
    rows = np.arange(0, x.shape[0], 3)
    on_rows = polish_endmembers(x, start, np.ones(WN.size), None, iterations=5, rows=rows)
    on_copy = polish_endmembers(x[rows].copy(), start, np.ones(WN.size), None, iterations=5)
    assert np.allclose(on_rows.endmembers, on_copy.endmembers)


def test_cone_maps_sum_to_one_and_recover_noise_free_abundances():
    truth, a, x, _ = _mixtures(seed=5)
    maps = cone_maps(WeightedPixels(x), truth)
    assert maps.shape == (3, x.shape[0])
    assert np.allclose(maps.sum(axis=0), 1.0) and maps.min() >= 0.0
    # The pixels' scale is taken out; with the spectra's own scale, the shares are a's.
    assert np.abs(maps.T - a).max() < 1e-6


def test_cone_fit_coefficients_give_its_angles():
    truth, _, x, _ = _mixtures(seed=6)
    rng = np.random.default_rng(6)
    noisy = x + rng.normal(0, 0.02, x.shape)
    prepared = WeightedPixels(noisy)
    angles, coef = prepared.cone_fit(truth)
    unit = noisy / prepared.norms[:, None]
    fitted = coef @ truth.T
    cos = np.einsum("nb,nb->n", unit, fitted) / np.linalg.norm(fitted, axis=1)
    assert np.allclose(np.cos(angles), cos, atol=1e-9)
    assert np.allclose(angles, prepared.cone_angles(truth))


@pytest.mark.parametrize("moves", [{"polish_shifts": True}, {"polish_band_shift": 3.0}])
def test_a_run_with_the_polish_records_it_and_its_maps_sum_to_one(small_section, one_torch_thread, moves):
    r = unmix(small_section.cube, 4, epochs=40, restarts=1, refine=False, polish=5, seed=0, **moves)
    record = r.parameters["polished"]
    assert record["iterations"] == 5 and record["pixels"] == 16 * 20
    assert record["shifts"] is ("polish_shifts" in moves) and UnmixConfig.polish_shifts is False
    step = abs(float(np.median(np.diff(small_section.cube.wavenumbers))))
    assert record["band_shift_bands"] == pytest.approx(moves.get("polish_band_shift", 0.0) / step)
    assert (record["dead_zone"] >= 1e-3) is ("polish_band_shift" in moves)  # shifts free: no zone
    assert record["fit_after_deg"] < record["fit_before_deg"]
    assert np.allclose(r.abundances.sum(axis=0), 1.0, atol=1e-5) and r.abundances.min() >= 0.0
    off = unmix(small_section.cube, 4, epochs=40, restarts=1, refine=False, polish=0, seed=0)
    assert "polished" not in off.parameters


def test_a_stop_during_the_polish_returns_the_trained_spectra_as_cancelled(small_section, one_torch_thread):
    flag = threading.Event()
    r = unmix(small_section.cube, 4, epochs=40, restarts=1, refine=False, polish=50, seed=0, stop=flag,
              callback=lambda ev: flag.set() if ev.phase == "infer" else None)
    assert r.cancelled and r.parameters["stopped_by"] == "cancel"
    assert r.parameters["polished"]["iterations"] == 0
    assert np.allclose(r.abundances.sum(axis=0), 1.0, atol=1e-5)


def test_with_the_slopes_free_a_spectrum_moved_by_a_few_wavenumbers_fits():
    e = _moved(CENTRES[0], np.zeros(1))
    moved = _moved(CENTRES[0], np.array([-3.0, 3.0])).T
    w = np.random.default_rng(2).uniform(0.3, 1.0, WN_FINE.size)
    plain = np.degrees(WeightedPixels(moved, w).cone_angles(e))
    free = np.degrees(WeightedPixels(moved, w, nuisance=with_slopes(None, w, e)).cone_angles(e))
    assert plain.min() > 5.0 and free.max() < 2.0, (plain, free)
    # with a background: its columns come first, unchanged, and all stay orthonormal
    q = weighted_nuisance_basis(polynomial_basis(WN_FINE, 2), w)
    both = with_slopes(q, w, np.column_stack([e[:, 0], 2 * e[:, 0]]))  # collinear slopes count once
    assert both.shape == (WN_FINE.size, 4) and np.allclose(both[:, :3], q)
    assert np.allclose(both.T @ both, np.eye(4), atol=1e-10)


def _materials_that_move(n: int = 800):
    """Mixtures of the three materials, each pixel's bands moved by up to ±4 cm⁻¹ per material
    (10 % of the pixels pure), and a start inside the data."""
    rng = np.random.default_rng(0)
    truth = np.column_stack([_moved(c, np.zeros(1))[:, 0] for c in CENTRES])
    a = rng.dirichlet(np.ones(3), n)
    a[: n // 10] = np.eye(3)[rng.integers(0, 3, n // 10)]
    shifts = rng.uniform(-4.0, 4.0, (n, 3))
    x = sum(a[:, k:k + 1] * _moved(CENTRES[k], shifts[:, k]).T for k in range(3))
    start = truth @ np.array([[0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.05, 0.05, 0.9]])
    return truth, a, x, start


def test_with_the_slopes_free_the_maps_of_materials_whose_bands_move_are_right():
    truth, a, x, start = _materials_that_move()
    w = np.ones(WN_FINE.size)
    errors = {}
    for shifts_free in (False, True):
        p = polish_endmembers(x, start, w, None, iterations=100, shifts=shifts_free)
        image = WeightedPixels(x, w, nuisance=with_slopes(None, w, p.endmembers) if shifts_free else None)
        maps = cone_maps(image, p.endmembers)
        assert np.allclose(maps.sum(axis=0), 1.0)
        errors[shifts_free] = (float(endmember_sad(truth, p.endmembers).mean()),
                               float(np.sqrt(((maps - a.T) ** 2).mean())))
    assert errors[True][0] < 1.5, errors  # the spectra found either way
    assert errors[True][1] < 0.5 * errors[False][1], errors  # the maps: the shifts no longer read as mixing


def test_with_a_bounded_move_the_maps_of_materials_whose_bands_move_are_right():
    truth, a, x, start = _materials_that_move()
    w = np.ones(WN_FINE.size)
    errors = {}
    for bands in (0.0, 1.0):  # a move of up to one band: the 4 cm⁻¹ the bands move by
        p = polish_endmembers(x, start, w, None, iterations=100, bounded=bands)
        maps = cone_maps(WeightedPixels(x, w), p.endmembers, bands)
        assert np.allclose(maps.sum(axis=0), 1.0)
        errors[bands] = (float(endmember_sad(truth, p.endmembers).mean()), float(np.sqrt(((maps - a.T) ** 2).mean())))
    assert errors[1.0][0] < 1.0, errors  # the spectra found either way
    assert errors[1.0][1] < 0.5 * errors[0.0][1], errors  # the maps: the moves no longer read as mixing


def test_a_bounded_move_still_takes_spectra_started_inside_the_data_to_the_truth(monkeypatch):
    """Where nothing moves, the moves must not take up the residuals that push the spectra out."""
    truth, a, x, _ = _mixtures()
    w = np.random.default_rng(1).uniform(0.3, 1.0, WN.size)
    start = _mixed_inwards(truth)
    bands = 2.0 / float(WN[1] - WN[0])  # ± 2 cm⁻¹ on this 28 cm⁻¹ axis
    sad = {}
    defaults = cone_polish.MOVE_DEAD_ZONE, cone_polish.DEAD_ZONE_PER_NOISE
    for zone, (least, per_noise) in {"off": (0.0, 0.0), "on": defaults}.items():
        monkeypatch.setattr(cone_polish, "MOVE_DEAD_ZONE", least)
        monkeypatch.setattr(cone_polish, "DEAD_ZONE_PER_NOISE", per_noise)
        p = polish_endmembers(x, start, w, None, iterations=200, bounded=bands)
        sad[zone] = float(endmember_sad(truth, p.endmembers).mean())
    assert sad["on"] < 0.05, sad  # as the plain polish (0.001°)
    assert sad["off"] > 0.5, sad  # without the dead zone they stop short (1.1°)
    maps = cone_maps(WeightedPixels(x, w), p.endmembers, bands)
    assert np.allclose(maps.sum(axis=0), 1.0) and np.sqrt(((maps - a.T) ** 2).mean()) < 0.01


@pytest.mark.parametrize("sigma", [0.005, 0.02])
def test_the_noise_level_is_the_weighted_noise_per_band_of_unit_pixels(sigma):
    """Jagged weights must not read as noise: they multiply the smooth spectra after differencing."""
    rng = np.random.default_rng(2)
    truth = np.column_stack([_moved(c, np.zeros(1))[:, 0] for c in CENTRES])
    clean = rng.dirichlet(np.ones(3), 1000) @ truth.T
    clean /= np.linalg.norm(clean, axis=1, keepdims=True)
    w = rng.uniform(0.5, 1.0, WN_FINE.size)
    x = clean + sigma * rng.standard_normal(clean.shape)
    norms = np.linalg.norm(x * w, axis=1)
    expected = sigma * np.median(w) / np.median(norms)
    assert noise_level(x / norms[:, None], w) == pytest.approx(expected, rel=0.15)
    assert noise_level(clean / np.linalg.norm(clean * w, axis=1, keepdims=True), w) < 0.2 * expected


def test_the_dead_zone_follows_the_noise():
    truth, _, x, _ = _mixtures(n=400)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    zones = []
    for sigma in (0.0, 0.02):
        noisy = x + sigma * np.random.default_rng(3).standard_normal(x.shape)
        zones.append(polish_endmembers(noisy, truth, np.ones(WN.size), None, iterations=1, bounded=0.5).dead_zone)
    assert zones[0] == cone_polish.MOVE_DEAD_ZONE  # noise-free: the least zone
    assert zones[1] == pytest.approx(cone_polish.DEAD_ZONE_PER_NOISE * 0.02, rel=0.2)
    assert polish_endmembers(x, truth, np.ones(WN.size), None, iterations=1).dead_zone == 0.0  # no move, no zone


def test_a_cone_fit_cost_leaves_out_columns_that_explain_little():
    truth, _, x, _ = _mixtures(n=200)
    other = _bands([2000, 2300])  # a fourth material: a trace in half the pixels, plenty in the rest
    share = np.where(np.arange(200) < 100, 0.002, 0.3) * np.linalg.norm(x, axis=1)
    x = x + share[:, None] * other / np.linalg.norm(other)
    columns = np.column_stack([truth, other])
    prepared = WeightedPixels(x, np.ones(WN.size))
    free_angles, free = prepared.cone_fit(columns)
    angles, priced = prepared.cone_fit(columns, cost=np.array([0.0, 0.0, 0.0, 0.01]))
    assert (free[:, 3] > 0).all() and np.allclose(free_angles, 0.0, atol=1e-6)  # the free fit takes every trace
    assert not priced[:100, 3].any() and (priced[100:, 3] > 0).all()  # priced: only where it explains > 1 %
    assert (angles[:100] > 1e-3).all() and (angles[100:] < 0.011).all()
