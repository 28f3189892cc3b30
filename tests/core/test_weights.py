"""Band weights: every equation checked against an independent loop implementation."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from ftir_unmix import band_diagnostics, band_weights
from ftir_unmix.preprocess.weights import force_ranges, robust_z

EPS = 1e-8


def _median(v):
    return statistics.median(list(v))


def _reference(y, gamma_rough=0.75, gamma_flat=0.0, tau=3.0, sharpness=2.0, w_min=0.05):
    """Plain-Python transcription of DESIGN.md, band by band."""
    n, b = len(y), len(y[0])
    cols = [[y[p][j] for p in range(n)] for j in range(b)]
    z = []
    for col in cols:
        med = _median(col)
        mad = _median(abs(v - med) for v in col)
        zc = [(v - med) / (mad + EPS) for v in col]
        mean = sum(zc) / n
        zc = [v - mean for v in zc]
        sd = math.sqrt(sum(v * v for v in zc) / n)
        z.append([v / (sd + EPS) for v in zc])
    rho = [sum(z[j][p] * z[j + 1][p] for p in range(n)) / n for j in range(b - 1)]
    c = [rho[0]] + [min(rho[j - 1], rho[j]) for j in range(1, b - 1)] + [rho[-1]]
    d_corr = [1 - v for v in c]
    m = [_median(col) for col in cols]
    inner = [abs(m[j + 1] - 2 * m[j] + m[j - 1]) for j in range(1, b - 1)]
    d_rough = [inner[0]] + inner + [inner[-1]]
    d_flat = []
    for col in cols:
        mean = sum(col) / n
        d_flat.append(-math.log(sum((v - mean) ** 2 for v in col) / n + EPS))

    def rz(u):
        med = _median(u)
        mad = _median(abs(v - med) for v in u)
        return [(v - med) / (mad + EPS) for v in u]

    s = [max(a, 0) + gamma_rough * max(r, 0) + gamma_flat * max(f, 0)
         for a, r, f in zip(rz(d_corr), rz(d_rough), rz(d_flat))]
    w = [w_min + (1 - w_min) / (1 + math.exp(sharpness * (v - tau))) for v in s]
    return dict(d_corr=d_corr, d_rough=d_rough, d_flat=d_flat, score=s, weights=w)


@pytest.mark.parametrize("shape", [(7, 6), (12, 9), (3, 4, 8)])
@pytest.mark.parametrize("gamma_flat", [0.0, 0.5])
@pytest.mark.parametrize("block_bands", [None, 2, 3])
def test_matches_independent_loops(shape, gamma_flat, block_bands, monkeypatch):
    if block_bands is not None:  # force the band blocks (and the links across them) of big cubes
        n_pix = int(np.prod(shape[:-1]))
        monkeypatch.setattr("ftir_unmix.preprocess.weights._BLOCK_VALUES", block_bands * n_pix)
    rng = np.random.default_rng(sum(shape))
    y = rng.gamma(2.0, 1.0, size=shape)
    diag = band_diagnostics(y, gamma_flat=gamma_flat, tau=1.0)
    ref = _reference(y.reshape(-1, shape[-1]).tolist(), gamma_flat=gamma_flat, tau=1.0)
    for key in ("d_corr", "d_rough", "d_flat", "score", "weights"):
        np.testing.assert_allclose(getattr(diag, key), ref[key], rtol=1e-9, atol=1e-9, err_msg=key)


def test_edge_bands_copy_neighbours_and_roughness_by_hand():
    # Median spectrum 0, 1, 0, 1, 0 (every pixel equal up to a per-pixel offset that
    # leaves the median unchanged): second differences |1-2*0+1|... worked out by hand.
    base = np.array([0.0, 1.0, 0.0, 1.0, 0.0])
    y = np.stack([base + d for d in (-0.1, 0.0, 0.1)])
    diag = band_diagnostics(y)
    np.testing.assert_allclose(diag.d_rough, [2, 2, 2, 2, 2])
    base = np.array([0.0, 0.0, 1.0, 3.0, 6.0, 10.0])  # second differences 1,1,1,1
    y = np.stack([base, base + 1, base + 2])
    np.testing.assert_allclose(band_diagnostics(y).d_rough, [1, 1, 1, 1, 1, 1])


def test_neighbour_correlation_by_hand():
    # Two pixels: every standardised band is (-1, +1) or (+1, -1).
    y = np.array([[0.0, 0.0, 1.0, 0.0], [1.0, 1.0, 0.0, 1.0]])
    diag = band_diagnostics(y)
    # rho = mean(z_b z_{b+1}) = [1, -1, -1] → c = [1, min(1,-1), min(-1,-1), -1]
    np.testing.assert_allclose(diag.d_corr, [0.0, 2.0, 2.0, 2.0], atol=1e-6)


def test_flatness_is_minus_log_variance():
    y = np.array([[0.0, 1.0, 5.0], [2.0, 1.0, 5.0], [4.0, 1.0, 5.0]])
    diag = band_diagnostics(y)
    np.testing.assert_allclose(diag.d_flat, -np.log(np.array([8 / 3, 0.0, 0.0]) + EPS))


def test_robust_z_has_no_consistency_factor():
    np.testing.assert_allclose(robust_z(np.array([1.0, 2.0, 3.0, 4.0, 100.0])),
                               (np.array([1.0, 2.0, 3.0, 4.0, 100.0]) - 3.0) / (1.0 + EPS))


def test_sigmoid_mapping_limits_and_midpoint():
    rng = np.random.default_rng(1)
    y = rng.normal(size=(200, 40)).cumsum(axis=1)  # smooth, correlated bands
    y[:, 20] = rng.normal(scale=50, size=200)  # one band uncorrelated with its neighbours
    w = band_weights(y)
    assert w[20] < 0.1
    assert np.median(w) > 0.9
    assert w.min() >= 0.05 - 1e-12 and w.max() <= 1.0
    diag = band_diagnostics(y, tau=float(band_diagnostics(y).score[20]))
    assert diag.weights[20] == pytest.approx(0.05 + 0.95 / 2)


def test_spike_and_atmospheric_lines_are_downweighted():
    rng = np.random.default_rng(2)
    wn = np.linspace(650, 4000, 600)
    a = rng.dirichlet(np.ones(3), size=400)
    e = np.stack([np.exp(-((wn - c) / 60) ** 2) for c in (1000, 1650, 2900)], axis=1)
    y = a @ e.T + rng.normal(scale=1e-3, size=(400, 600))
    co2 = (wn > 2300) & (wn < 2400)
    lines = np.sin(wn * 1.7) * co2  # sharp alternating lines, random amplitude per pixel
    y += rng.normal(size=(400, 1)) * 0.2 * lines
    # The correlation diagnostic alone: artefact bands out, absorbing bands kept,
    # with or without the floor on the deficit's spread (these lines are uncorrelated).
    informative = e.max(axis=1) > 0.05  # bands where some material absorbs
    for floor in (0.0, 0.05):
        w = band_weights(y, gamma_rough=0.0, corr_floor=floor)
        assert w[co2].max() < 0.1
        assert w[informative & ~co2].min() > 0.9
    # Roughness flags the sharp lines in the median spectrum even when they do not
    # vary from pixel to pixel (a constant atmospheric residue).
    y_const = a @ e.T + rng.normal(scale=1e-3, size=(400, 600)) + 0.05 * lines
    diag = band_diagnostics(y_const)
    assert np.median(diag.z_rough[co2]) > 10 * np.median(np.abs(diag.z_rough[~co2 & ~informative]))
    assert diag.weights[co2].mean() < 0.2


def test_accepts_hwb_and_nb_alike():
    rng = np.random.default_rng(3)
    y = rng.random((4, 5, 12))
    np.testing.assert_array_equal(band_weights(y), band_weights(y.reshape(20, 12)))


@pytest.mark.parametrize("bad", [np.zeros((5,)), np.zeros((1, 10)), np.zeros((10, 2))])
def test_refuses_unusable_shapes(bad):
    with pytest.raises(ValueError):
        band_weights(bad)


def test_force_ranges():
    wn = np.arange(2200.0, 2500.0, 10.0)
    w = force_ranges(np.ones_like(wn), wn, [(2400, 2280)], 0.05)
    assert np.all(w[(wn >= 2280) & (wn <= 2400)] == 0.05)
    assert np.all(w[(wn < 2280) | (wn > 2400)] == 1.0)


@pytest.mark.parametrize("params", [
    dict(gamma_rough=0.75, gamma_flat=0.0, tau=3.0, sharpness=2.0, w_min=0.05),
    dict(gamma_rough=0.0, gamma_flat=1.5, tau=1.0, sharpness=5.0, w_min=0.2),
    dict(gamma_rough=2.0, gamma_flat=0.3, tau=6.0, sharpness=0.5, w_min=0.0),
    dict(gamma_rough=0.0, gamma_flat=0.0, tau=3.0, sharpness=2.0, w_min=0.05, corr_floor=0.1),
    dict(gamma_rough=0.0, corr_floor=0.05, corr_model="neighbours"),
])
def test_reweighted_matches_a_full_recomputation(params):
    y = np.random.default_rng(4).gamma(2.0, 1.0, size=(60, 30))
    again = band_diagnostics(y).reweighted(**params)
    full = band_diagnostics(y, **params)
    np.testing.assert_allclose(again.weights, full.weights, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(again.score, full.score, rtol=1e-12, atol=1e-12)
    assert again.params == full.params
    with pytest.raises(TypeError, match="alpha"):
        band_diagnostics(y).reweighted(alpha=1.0)


def test_corr_floor_keeps_well_correlated_bands_of_a_clean_image():
    """Without a floor the robust score is relative: on a clean image the deficit's MAD
    is tiny and bands whose neighbours still correlate at about 0.95 are distrusted."""
    rng = np.random.default_rng(5)
    n_pix, n_bands = 2000, 200
    signal = rng.normal(size=(n_pix, 1)) * np.ones((1, n_bands))  # one smooth component
    noise_sd = np.full(n_bands, 0.05)
    noise_sd[:20] = 0.25  # a noisier edge: neighbour correlation about 0.94 there
    y = signal + rng.normal(size=(n_pix, n_bands)) * noise_sd
    y[:, 100] = rng.normal(size=n_pix)  # and one band that is pure noise
    paper = band_diagnostics(y, gamma_rough=0.0)
    floored = band_diagnostics(y, gamma_rough=0.0, corr_floor=0.05)
    assert 0.9 < 1 - paper.d_corr[5] < 0.97
    assert paper.weights[:20].max() < 0.1  # distrusted without the floor
    assert floored.weights[:20].min() > 0.9  # kept with it
    assert floored.weights[99:102].max() < 0.1  # the noise band and its neighbours still out
    assert floored.params["corr_floor"] == 0.05


def test_neighbour_model_keeps_a_shifting_narrow_band_and_still_cuts_spikes_and_noise():
    """The paper's pair correlation reads a narrow band that shifts from pixel to pixel as
    unreliable; what the two bands on each side predict does not, and a spike or a noise band
    stays out. The scene: a narrow band (10 cm⁻¹ wide, like lead white's 680 or calcite's 712)
    whose centre moves by ±6 cm⁻¹ on a 4 cm⁻¹ axis, over a broad band that covers every band."""
    rng = np.random.default_rng(6)
    wn, n_pix = np.arange(650.0, 1450.0, 4.0), 3000
    broad = np.exp(-((wn - 1050) / 400) ** 2)
    narrow = np.exp(-((wn - 700 - rng.uniform(-6, 6, size=(n_pix, 1))) / 6) ** 2)
    a = rng.dirichlet([1.0, 1.0], size=n_pix)
    y = a[:, :1] * broad + a[:, 1:] * (narrow + 0.5 * broad) + rng.normal(scale=2e-3, size=(n_pix, wn.size))
    spike_band, noise_band = int(np.searchsorted(wn, 1000)), int(np.searchsorted(wn, 1300))
    y[rng.choice(n_pix, 30, replace=False), spike_band] += rng.uniform(2, 5, size=30)  # 1 % of the pixels
    y[:, noise_band] = rng.normal(scale=0.3, size=n_pix)
    opts = dict(gamma_rough=0.0, corr_floor=0.05)
    pairs = band_diagnostics(y, corr_model="pairs", **opts)
    neighbours = band_diagnostics(y, corr_model="neighbours", **opts)
    near = np.abs(wn - 700) <= 12
    assert pairs.weights[near].max() < 0.1  # the paper cuts the shifting band
    assert neighbours.weights[near].min() > 0.9  # kept
    assert pairs.weights[[spike_band, noise_band]].max() < 0.1
    np.testing.assert_array_equal(np.flatnonzero(neighbours.weights < 0.5), [spike_band, noise_band])
    assert neighbours.params["corr_model"] == "neighbours"
    np.testing.assert_array_equal(neighbours.corr_deficits["pairs"], pairs.d_corr)
