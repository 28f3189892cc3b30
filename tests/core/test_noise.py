"""The white-noise estimate from differences (:mod:`ftir_unmix.preprocess.noise`)."""

from __future__ import annotations

import numpy as np
import pytest

from ftir_unmix.preprocess.noise import difference_noise


def _smooth_plus_noise(sigma: float, dtype=np.float64, n: int = 200, bands: int = 600) -> np.ndarray:
    wn = np.linspace(0.0, 1.0, bands)
    rng = np.random.default_rng(1)
    # A level plus two bands 18 and 30 samples wide (standard deviation): smooth over a few bands.
    shape = 0.2 + np.exp(-0.5 * ((wn - 0.3) / 0.03) ** 2) + 0.5 * np.exp(-0.5 * ((wn - 0.7) / 0.05) ** 2)
    amounts = rng.uniform(0.5, 2.0, (n, 1))
    return (amounts * shape + sigma * rng.normal(size=(n, bands))).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("sigma", [0.002, 0.02])
def test_known_white_noise_is_read_per_spectrum(dtype, sigma):
    x = _smooth_plus_noise(sigma, dtype)
    est = difference_noise(x, 2, axis=1)
    assert est.shape == (x.shape[0],)
    assert est.dtype == dtype
    assert np.median(est) == pytest.approx(sigma, rel=0.15)


def test_first_differences_read_flat_noise_but_a_band_s_slope_too():
    rng = np.random.default_rng(2)
    flat = 0.3 + 0.01 * rng.normal(size=(50, 400))
    assert np.median(difference_noise(flat, 1, axis=1)) == pytest.approx(0.01, rel=0.15)
    banded = _smooth_plus_noise(0.002)  # bands whose slope per sample is well above the noise
    first, second = np.median(difference_noise(banded, 1, axis=1)), np.median(difference_noise(banded, 2, axis=1))
    assert first > 1.3 * second  # why the polish's estimate uses second differences
    assert second == pytest.approx(0.002, rel=0.15)


def test_weights_multiply_the_differences_not_the_spectra():
    x = _smooth_plus_noise(0.01, bands=601)
    w = np.where(np.arange(601) % 2 == 0, 1.0, 0.5)  # jumps every band
    est = np.median(difference_noise(x, 2, weights=w, axis=1))
    # each second difference carries the weight of its middle band: half of them 1, half 0.5
    assert 0.5 * 0.01 < est < 0.01
    flat = np.median(difference_noise(x * w, 2, axis=1))
    assert flat > 5 * est  # weighting before differencing turns the jumps into "noise"


def test_a_smooth_spectrum_reads_almost_no_noise_and_short_ones_none():
    clean = _smooth_plus_noise(0.0)
    assert np.max(difference_noise(clean, 2, axis=1)) < 1e-3 * np.max(clean)
    assert difference_noise(np.array([1.0, 2.0]), 2) == 0.0
    assert difference_noise(np.ones((3, 1)), 1).shape == (3,)
    assert difference_noise(np.arange(10), 1) == 0.0  # integers: a straight line
