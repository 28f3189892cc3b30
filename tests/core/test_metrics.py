"""Spectral angles, Hungarian matching, abundance RMSE and reconstruction error on hand-worked values."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ftir_unmix.metrics import (
    abundance_rmse,
    endmember_sad,
    evaluate,
    match_endmembers,
    mean_sad,
    reconstruction_error,
    spectral_angles,
)


def test_orthogonal_scaled_and_45_degrees() -> None:
    e_true = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    e_est = np.array([[5.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 2.0, 0.0]])
    angles = spectral_angles(e_true, e_est)
    assert angles.shape == (2, 3)
    np.testing.assert_allclose(angles, [[0.0, 90.0, 45.0], [90.0, 90.0, 45.0]], atol=1e-12)


def test_angle_of_opposite_and_zero_spectra() -> None:
    e = np.array([[1.0], [2.0]])
    assert spectral_angles(e, -e)[0, 0] == pytest.approx(180.0)
    assert spectral_angles(e, np.zeros((2, 1)))[0, 0] == pytest.approx(90.0)
    assert spectral_angles(np.array([1.0, 1.0]), np.array([1.0, 1.0]))[0, 0] == pytest.approx(0.0, abs=1e-5)


def test_band_mismatch_is_refused() -> None:
    with pytest.raises(ValueError, match="band"):
        spectral_angles(np.ones((3, 2)), np.ones((4, 2)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matching_recovers_a_permutation(seed: int) -> None:
    rng = np.random.default_rng(seed)
    e_true = rng.random((30, 5))
    order = rng.permutation(5)
    e_est = e_true[:, order] * rng.uniform(0.5, 3.0, 5)  # scaled: angles unchanged
    perm = match_endmembers(e_true, e_est)
    np.testing.assert_array_equal(order[perm], np.arange(5))
    assert mean_sad(e_true, e_est) == pytest.approx(0.0, abs=1e-5)
    assert mean_sad(e_true, e_est, match=False) > 1.0


def test_matching_with_surplus_estimates() -> None:
    e_true = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    e_est = np.array([[0.0, 1.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.1], [0.0, 0.0, 1.0, 0.0]])
    np.testing.assert_array_equal(match_endmembers(e_true, e_est), [1, 0])
    np.testing.assert_allclose(endmember_sad(e_true, e_est), [0.0, 0.0], atol=1e-12)
    with pytest.raises(ValueError, match="only 2"):
        match_endmembers(e_est, e_true)


def test_matching_is_global_not_greedy() -> None:
    # True at 0° and 30°, estimates at 10° and −40°. Greedy takes the closest pair
    # (0°↔10°) and leaves 30°↔−40° (10° + 70°); the optimum is 40° + 20°.
    t, s = np.radians([0.0, 30.0]), np.radians([10.0, -40.0])
    e_true, e_est = np.stack([np.cos(t), np.sin(t)]), np.stack([np.cos(s), np.sin(s)])
    np.testing.assert_array_equal(match_endmembers(e_true, e_est), [1, 0])
    np.testing.assert_allclose(endmember_sad(e_true, e_est), [40.0, 20.0], atol=1e-9)
    assert mean_sad(e_true, e_est) == pytest.approx(30.0)


def test_abundance_rmse_hand_values() -> None:
    a_true = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert abundance_rmse(a_true, np.full((2, 2), 0.5)) == pytest.approx(0.5)
    assert abundance_rmse(a_true, a_true[::-1]) == pytest.approx(1.0)
    assert abundance_rmse(a_true, a_true[::-1], perm=[1, 0]) == 0.0
    cube_true = a_true.reshape(2, 1, 2)
    assert abundance_rmse(cube_true, a_true[::-1].reshape(2, 1, 2), perm=np.array([1, 0])) == 0.0
    with pytest.raises(ValueError, match="pixel counts"):
        abundance_rmse(a_true, np.ones((2, 3)))
    with pytest.raises(ValueError, match="perm"):
        abundance_rmse(a_true, a_true, perm=[0, 2])


def test_reconstruction_error() -> None:
    y = np.array([[1.0, 0.0], [0.0, 2.0]])
    r = reconstruction_error(y, 2 * y)
    assert r["mean_sad_deg"] == pytest.approx(0.0, abs=1e-5)
    assert r["rmse"] == pytest.approx(np.sqrt(np.mean(y**2)))
    r = reconstruction_error(y, np.array([[0.0, 1.0], [0.0, 2.0]]))
    assert r["mean_sad_deg"] == pytest.approx(45.0)  # 90° and 0°
    cube = np.arange(24.0).reshape(2, 3, 4)
    assert reconstruction_error(cube, cube) == {"rmse": 0.0, "mean_sad_deg": pytest.approx(0.0, abs=1e-5)}
    with pytest.raises(ValueError, match="shapes differ"):
        reconstruction_error(y, y[:1])


def test_evaluate_permuted_estimate() -> None:
    rng = np.random.default_rng(4)
    e_true = rng.random((40, 3))
    a_true = rng.dirichlet(np.ones(3), 6 * 7).T.reshape(3, 6, 7)
    order = np.array([2, 0, 1])
    result = evaluate(e_true, a_true, 2.0 * e_true[:, order], a_true[order].reshape(3, -1))
    assert result["mean_sad_deg"] == pytest.approx(0.0, abs=1e-5)
    assert result["abundance_rmse"] == pytest.approx(0.0, abs=1e-12)
    assert result["permutation"] == [1, 2, 0]
    assert len(result["per_endmember_sad_deg"]) == 3
    json.dumps(result)


def test_evaluate_known_errors() -> None:
    e_true = np.array([[1.0, 0.0], [0.0, 1.0]])
    e_est = np.array([[1.0, 1.0], [1.0, 0.0]])  # est 0 at 45° from both, est 1 = true 0
    a_true = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5]])
    a_est = np.array([[0.0, 1.0, 0.5], [1.0, 0.0, 0.5]])
    result = evaluate(e_true, a_true, e_est, a_est)
    assert result["permutation"] == [1, 0]
    np.testing.assert_allclose(result["per_endmember_sad_deg"], [0.0, 45.0], atol=1e-9)
    assert result["mean_sad_deg"] == pytest.approx(22.5)
    assert result["abundance_rmse"] == pytest.approx(0.0)
