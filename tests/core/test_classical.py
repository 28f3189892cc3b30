"""NMF, VCA, FCLS and the simplex projection against references and synthetic truth."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import nnls

from ftir_unmix.methods.classical import fcls, nmf, project_simplex, vca, vca_fcls
from ftir_unmix.metrics import evaluate, mean_sad
from ftir_unmix.synthetic import cross_section


@pytest.fixture(scope="module")
def pure_mixture():
    """Noiseless linear mixture with pure pixels for every material."""
    return cross_section(32, 40, n_bands=500, materials=6, seed=2, layout="patches",
                         artefacts=False, noise=0.0)


@pytest.fixture(scope="module")
def small_mixture():
    """A smaller one for the slower NMF."""
    return cross_section(20, 24, n_bands=200, materials=6, seed=2, layout="patches",
                         artefacts=False, noise=0.0)


def on_simplex(a: np.ndarray, tol: float) -> bool:
    return bool(a.min() >= -tol and np.abs(a.sum(axis=0) - 1.0).max() <= tol)


# --------------------------------------------------------------------------- simplex projection


def _project_bisection(v: np.ndarray) -> np.ndarray:
    """Reference: find θ with Σ max(v − θ, 0) = 1 by bisection, column by column."""
    out = np.empty_like(v)
    for j, col in enumerate(v.T):
        lo, hi = col.min() - 1.0, col.max()
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if np.maximum(col - mid, 0).sum() > 1 else (lo, mid)
        out[:, j] = np.maximum(col - 0.5 * (lo + hi), 0)
    return out


@pytest.mark.parametrize("k", [1, 2, 5, 11])
def test_project_simplex_matches_bisection(k: int) -> None:
    v = np.random.default_rng(k).normal(0.0, 2.0, (k, 50))
    p = project_simplex(v)
    assert on_simplex(p, 1e-12)
    np.testing.assert_allclose(p, _project_bisection(v), atol=1e-10)
    np.testing.assert_allclose(project_simplex(p), p, atol=1e-12)  # idempotent


def test_project_simplex_hand_values() -> None:
    v = np.array([[0.5, 3.0, 0.0], [0.5, 1.0, 0.0], [0.0, -1.0, 0.0]])
    np.testing.assert_allclose(project_simplex(v), [[0.5, 1.0, 1 / 3], [0.5, 0.0, 1 / 3], [0.0, 0.0, 1 / 3]])


# --------------------------------------------------------------------------- FCLS


def _fcls_nnls(y: np.ndarray, e: np.ndarray, delta: float = 1e4) -> np.ndarray:
    """The classic reference: NNLS with a heavily weighted row of ones."""
    ed = np.vstack([e, delta * np.ones((1, e.shape[1]))])
    return np.stack([nnls(ed, np.append(p, delta))[0] for p in y], axis=1)


@pytest.mark.parametrize(("bands", "k", "seed"), [(40, 3, 0), (120, 6, 1), (60, 10, 2)])
def test_fcls_matches_nnls_reference(bands: int, k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    e = rng.random((bands, k)) + 0.2 * rng.random((bands, 1))  # correlated endmembers
    a = rng.dirichlet(np.full(k, 0.4), 200).T
    y = (e @ a).T + rng.normal(0.0, 0.05, (200, bands)) - 0.02  # noisy, partly negative
    got = fcls(y, e)
    assert got.shape == (k, 200)
    assert on_simplex(got, 1e-12)
    np.testing.assert_allclose(got, _fcls_nnls(y, e), atol=1e-6)
    # KKT: on the support the gradient is constant (−μ); off it, it is no smaller.
    grad = e.T @ (e @ got - y.T)
    for g, col in zip(grad.T, got.T, strict=True):
        on = col > 1e-12
        mu = g[on].mean()
        assert np.abs(g[on] - mu).max() < 1e-7 * (1 + np.abs(g).max())
        assert np.all(g[~on] >= mu - 1e-7 * (1 + np.abs(g).max()))


def test_fcls_recovers_noiseless_abundances(pure_mixture) -> None:
    s = pure_mixture
    a = fcls(s.cube.pixels, s.endmembers)
    assert on_simplex(a, 1e-12)
    np.testing.assert_allclose(a, s.abundances.reshape(s.k, -1), atol=1e-4)  # float32 cube


def test_fcls_shapes_and_validation() -> None:
    e = np.eye(3)
    np.testing.assert_allclose(fcls(np.array([[0.2, 0.3, 0.5]]), e), [[0.2], [0.3], [0.5]])
    np.testing.assert_allclose(fcls(np.ones((4, 3)), e[:, :1]), np.ones((1, 4)))
    cube = np.random.default_rng(0).random((2, 3, 3)).astype(np.float32)
    assert fcls(cube, e).shape == (3, 6)
    with pytest.raises(ValueError, match="endmembers"):
        fcls(np.ones((4, 3)), np.ones((5, 2)))


# --------------------------------------------------------------------------- VCA


@pytest.mark.parametrize("snr", [None, 5.0])
@pytest.mark.parametrize("bands", [200, 500])  # dense eigensolver / Lanczos
def test_vca_fcls_recovers_pure_mixture(snr: float | None, bands: int) -> None:
    s = cross_section(32, 40, n_bands=bands, materials=6, seed=2, layout="patches",
                      artefacts=False, noise=0.0)
    e, idx = vca(s.cube.pixels, 6, seed=0, snr=snr, return_indices=True)
    assert e.shape == (bands, 6) and idx.shape == (6,)
    assert np.all(e >= 0)
    assert mean_sad(s.endmembers, e) < 1.0
    a = fcls(s.cube.pixels, e)
    assert on_simplex(a, 1e-6)
    result = evaluate(s.endmembers, s.abundances, e, a)
    assert max(result["per_endmember_sad_deg"]) < 1.0
    assert result["abundance_rmse"] < 0.01


def test_vca_fcls_is_seeded(pure_mixture) -> None:
    y = pure_mixture.cube.pixels
    e1, a1 = vca_fcls(y, 6, seed=3)
    e2, a2 = vca_fcls(y, 6, seed=3)
    np.testing.assert_array_equal(e1, e2)
    np.testing.assert_array_equal(a1, a2)
    assert e1.shape == (y.shape[1], 6) and a1.shape == (6, y.shape[0])


def test_vca_on_noisy_cross_section_is_reasonable() -> None:
    s = cross_section(48, 64, n_bands=300, seed=0, artefacts=False, noise=0.005)
    e, a = vca_fcls(s.cube.pixels, s.k, seed=0)
    assert mean_sad(s.endmembers, e) < 3.0
    assert on_simplex(a, 1e-6)


def test_vca_validates_k() -> None:
    with pytest.raises(ValueError, match="k="):
        vca(np.ones((10, 4)), 5)
    with pytest.raises(ValueError, match="NaN"):
        vca(np.full((10, 4), np.nan), 2)


# --------------------------------------------------------------------------- NMF


def test_nmf_on_simplex_and_reproducible(small_mixture) -> None:
    y = small_mixture.cube.pixels
    e1, a1 = nmf(y, 6, seed=0)
    e2, a2 = nmf(y, 6, seed=0)
    np.testing.assert_array_equal(e1, e2)
    np.testing.assert_array_equal(a1, a2)
    assert e1.shape == (y.shape[1], 6) and a1.shape == (6, y.shape[0])
    assert np.all(e1 >= 0)
    assert on_simplex(a1, 1e-9)
    assert mean_sad(small_mixture.endmembers, e1) < 5.0


def test_nmf_rescaling_keeps_the_fit(small_mixture) -> None:
    y = small_mixture.cube.pixels
    e_raw, a_raw = nmf(y, 6, seed=0, sum_to_one=False)
    e, a = nmf(y, 6, seed=0)
    raw_fit = e_raw @ a_raw
    scaled_fit = e @ a
    # Equal up to one positive factor per pixel (the abundance sum that was divided out).
    factor = (raw_fit * scaled_fit).sum(axis=0) / (scaled_fit**2).sum(axis=0)
    np.testing.assert_allclose(scaled_fit * factor, raw_fit, rtol=1e-8, atol=1e-10)
    # With the least-squares balance, the removed sums are close to 1 on this clean mixture.
    assert np.median(np.abs(factor - 1)) < 0.1


def test_nmf_clips_negative_data() -> None:
    rng = np.random.default_rng(0)
    y = rng.random((50, 20)) - 0.3
    e, a = nmf(y, 3, seed=1)
    assert np.all(e >= 0) and on_simplex(a, 1e-9)
