"""The baseline term: an exact invariance of the loss, the endmember convention, and recovery."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ftir_unmix import make_cube, unmix
from ftir_unmix.methods.cnn.losses import wsad
from ftir_unmix.metrics import mean_sad
from ftir_unmix.preprocess.background import (
    baseline_degree,
    lower_envelope,
    polynomial_basis,
    quantile_subtraction,
    weighted_nuisance_basis,
)
from ftir_unmix.result import scale_to
from ftir_unmix.synthetic import cross_section

WN = np.linspace(650.0, 4000.0, 300)


@pytest.mark.parametrize("degree", [0, 1, 2])
def test_loss_ignores_any_polynomial_added_to_pixels_or_reconstruction(degree):
    rng = np.random.default_rng(degree)
    basis = polynomial_basis(WN, degree)
    w = rng.uniform(0.05, 1.0, WN.size)
    q = torch.as_tensor(weighted_nuisance_basis(basis, w))
    x = torch.as_tensor(rng.random((50, WN.size)))
    x_hat = torch.as_tensor(rng.random((50, WN.size)))
    wt = torch.as_tensor(w)
    base = wsad(x, x_hat, wt, reduction="none", project_out=q)
    shift_x = torch.as_tensor(rng.normal(size=(50, degree + 1)) @ basis.T)
    shift_h = torch.as_tensor(rng.normal(size=(50, degree + 1)) @ basis.T)
    moved = wsad(x + shift_x, x_hat + shift_h, wt, reduction="none", project_out=q)
    torch.testing.assert_close(moved, base, atol=1e-6, rtol=1e-6)
    # ... and it still sees everything else
    assert float((base - wsad(x, x_hat, wt, reduction="none")).abs().max()) > 1e-3
    # a polynomial of higher degree is not ignored
    curved = torch.as_tensor(np.outer(np.ones(50), np.linspace(-1, 1, WN.size) ** (degree + 1)))
    assert float((wsad(x + curved, x_hat, wt, reduction="none", project_out=q) - base).abs().max()) > 1e-3


def test_lower_envelope_recovers_a_spectrum_that_is_transparent_somewhere():
    basis = polynomial_basis(WN, 2)
    peaks = np.exp(-0.5 * ((WN[:, None] - np.array([1000.0, 1700.0, 2900.0])) / 40.0) ** 2)
    truth = peaks @ np.array([[0.5, 0.2], [1.0, 0.0], [0.3, 0.8]])  # (B, 2)
    shifted = truth + basis @ np.array([[0.05, -0.02], [0.03, 0.01], [-0.02, 0.04]])
    corrected, removed = lower_envelope(shifted, basis)
    assert (corrected >= 0).all()
    np.testing.assert_allclose(corrected + removed, shifted, atol=1e-12)
    assert mean_sad(truth, corrected, match=False) < 0.5
    assert mean_sad(truth, shifted, match=False) > 5.0


def test_quantile_subtraction_takes_off_what_of_the_others_a_spectrum_holds():
    # A minor material (bands at 1000 and 1450) seen with 30 % of its matrix (bands at 1450,
    # 1730 and 2900, one shared) on a sloping baseline: the matrix's own bands say how much
    # of it is there; the shared band must not pull the subtraction further.
    basis = polynomial_basis(WN, 2)
    band = lambda centre, width: np.exp(-0.5 * ((WN - centre) / width) ** 2)  # noqa: E731
    minor = band(1000.0, 30.0) + 0.6 * band(1450.0, 25.0)
    matrix = band(1450.0, 25.0) + 0.8 * band(1730.0, 15.0) + 0.5 * band(2900.0, 40.0)
    other = band(2300.0, 30.0)  # a third material, absent from the spot
    seen = minor + 0.3 * matrix + basis @ np.array([0.05, 0.03, -0.02])
    d = quantile_subtraction(seen, np.stack([matrix, other], axis=1), basis, quantile=0.03)
    assert d[0] == pytest.approx(0.3, abs=0.03)
    assert d[1] == pytest.approx(0.0, abs=0.01)
    cleaned, _ = lower_envelope((seen - d[0] * matrix)[:, None], basis)
    assert mean_sad(minor[:, None], cleaned, match=False) < 1.0
    assert mean_sad(minor[:, None], lower_envelope(seen[:, None], basis)[0], match=False) > 10.0
    # Without a baseline basis the baseline is zero.
    no_basis = quantile_subtraction(minor + 0.3 * matrix, matrix[:, None], None, quantile=0.03)
    assert no_basis[0] == pytest.approx(0.3, abs=0.03)


@pytest.mark.parametrize(("with_others", "with_gain"), [(False, False), (True, False), (True, True)])
def test_quantile_fit_is_the_quantile_regression(with_others, with_gain):
    """The dual programme gives the primal's coefficients: the quantile regression written
    out directly (residual split into its positive and negative parts) and solved; with a
    gain per band, a positive residual there costs ``q·gain``."""
    from scipy.optimize import linprog

    from ftir_unmix.preprocess.background import _quantile_fit

    rng = np.random.default_rng(4)
    free = polynomial_basis(WN, 2)
    others = np.abs(rng.normal(size=(len(WN), 3))).cumsum(axis=0) / len(WN) if with_others else None
    y = free @ np.array([0.2, -0.1, 0.05]) + np.abs(rng.normal(0, 0.05, len(WN)))
    if with_others:
        y = y + others @ np.array([0.4, 0.0, 0.7])
    q = 0.1
    gain = (WN > 1500).astype(float) if with_gain else None
    design = free if others is None else np.hstack([free, others])
    n, m = design.shape
    eye = np.eye(n)
    primal = linprog(np.concatenate([np.zeros(m), q * (np.ones(n) if gain is None else gain), np.full(n, 1 - q)]),
                     A_eq=np.hstack([design, eye, -eye]), b_eq=y,
                     bounds=[(None, None)] * 3 + [(0, None)] * (m - 3 + 2 * n), method="highs")
    coef = _quantile_fit(y, free, others, q, gain)
    np.testing.assert_allclose(coef, primal.x[:m], atol=1e-8)
    if with_others:
        assert (coef[3:] >= -1e-12).all()


def test_unknown_baseline_is_refused():
    with pytest.raises(ValueError, match="baseline must be one of"):
        baseline_degree("cubic")
    cube = make_cube(np.random.default_rng(0).random((4, 4, 10)), np.linspace(700, 4000, 10))
    with pytest.raises(ValueError, match="baseline: must be one of none, offset, linear, quadratic"):
        unmix(cube, 2, baseline="cubic")


@pytest.fixture(scope="module")
def baseline_section():
    """Clean mixtures plus the generator's per-pixel quadratic baseline (no other artefact)."""
    return cross_section(20, 24, n_bands=240, materials=4, seed=5, co2=0, water=0, spikes=0,
                         contact=0)


def test_baseline_term_recovers_endmembers_a_baseline_would_spoil(baseline_section, one_torch_thread):
    s = baseline_section
    # measured: 2.9° with the term, 7.8° without
    with_term = unmix(s.cube, 4, epochs=200, device="cpu", seed=0)  # default: quadratic
    without = unmix(s.cube, 4, epochs=200, device="cpu", seed=0, baseline="none")
    sad_with = mean_sad(s.endmembers, with_term.endmembers)
    sad_without = mean_sad(s.endmembers, without.endmembers)
    assert with_term.parameters["baseline"] == "quadratic"
    assert sad_with < 4.0, sad_with
    assert sad_with < sad_without - 3.0, (sad_with, sad_without)
    # The reconstruction the Spectra panel shows includes the fitted baseline.
    basis = with_term.baseline_basis()
    assert basis is not None and basis.shape == (s.cube.n_bands, 3)
    assert without.baseline_basis() is None
    obs = s.cube.data[7, 9].astype(np.float64)
    fitted = scale_to(obs, with_term.reconstruct(7, 9).astype(np.float64), basis)
    plain = scale_to(obs, with_term.reconstruct(7, 9).astype(np.float64))
    assert np.linalg.norm(fitted - obs) < 0.8 * np.linalg.norm(plain - obs)  # measured 0.65


def test_auto_warm_start_keeps_the_candidate_with_the_lower_trial_loss(small_section, one_torch_thread):
    r = unmix(small_section.cube, 4, epochs=30, warmup_steps=20, device="cpu", seed=2, refine=False, restarts=1)
    ws = r.parameters["warm_start"]
    assert set(ws["trial_loss"]) == {"nmf", "vca"}
    assert ws["trial_loss"][ws["chosen"]] == min(ws["trial_loss"].values())
    # the chosen start's trial steps are the run's first steps
    assert ws["trial_steps"] == 10
    assert len(r.loss_history) == r.parameters["steps_run"] <= 30
    assert np.isclose(np.mean(r.loss_history[8:10]), ws["trial_loss"][ws["chosen"]])
    explicit = unmix(small_section.cube, 4, epochs=12, warmup_steps=20, device="cpu", init="nmf")
    assert "warm_start" not in explicit.parameters


def test_cone_angles_are_the_best_nonnegative_fit_of_each_pixel():
    from scipy.optimize import nnls

    from ftir_unmix.metrics import cone_angles

    rng = np.random.default_rng(3)
    e = rng.random((WN.size, 3)) + 0.05
    w = rng.uniform(0.05, 1.0, WN.size)
    basis = polynomial_basis(WN, 2)
    q = weighted_nuisance_basis(basis, w)
    x = rng.random((30, WN.size)) + 0.2 * rng.dirichlet(np.ones(3), 30) @ e.T
    x[0] = 2.5 * (0.3 * e[:, 0] + 0.7 * e[:, 2]) + basis @ [0.4, -0.2, 0.1]  # inside the cone, on a baseline
    x[1] = e[:, 0] - 0.5 * e[:, 1]  # needs a negative abundance
    x[2] = 0.0
    ours = cone_angles(x, e, w, nuisance=q, chunk=7)  # several chunks
    xw, ew = x * w, e * w[:, None]
    xw, ew = xw - (xw @ q) @ q.T, ew - q @ (q.T @ ew)
    for i in range(1, 30):  # the full B×K problem, pixel by pixel
        norm = np.linalg.norm(xw[i])
        ref = np.arcsin(nnls(ew, xw[i] / norm)[1]) if norm else np.pi / 2
        assert ours[i] == pytest.approx(ref, abs=1e-7), i
    assert ours[0] == pytest.approx(0.0, abs=1e-5) and ours[1] > 0.05 and ours[2] == pytest.approx(np.pi / 2)


@pytest.mark.parametrize("k", [1, 3, 8, 15, 24])
def test_batched_nnls_equals_scipy_row_by_row(k):
    from scipy.optimize import nnls

    from ftir_unmix._nnls import nnls_gram

    rng = np.random.default_rng(k)
    a = np.abs(rng.normal(size=(40, k))) ** 2
    if k > 2:
        a[:, 1] = a[:, 0] + 1e-6 * rng.random(40)  # nearly collinear columns
    y = rng.normal(size=(500, 40))
    y[:100] = np.abs(y[:100]) @ (a @ np.abs(rng.normal(size=(k, 40)))) / 10  # inside or near the cone
    y[100:120] = -np.abs(y[100:120]) @ np.abs(a) @ np.ones((k, 40))  # nothing helps: a = 0
    gram = a.T @ a
    ours = nnls_gram(gram, y @ a)
    refs = [nnls(a, v)[1] for v in y]
    assert not ours[100:120].any()
    # Started from a guess of each row's nonzero variables (as the polish passes its last
    # iteration's): as good a solution, whether the guess is right, partly wrong or all.
    flipped = (ours > 0) ^ (rng.random(ours.shape) < 0.3)
    for sol in [ours] + [nnls_gram(gram, y @ a, passive=g) for g in (ours > 0, flipped, np.ones_like(flipped))]:
        assert (sol >= 0).all()
        for i in range(len(y)):
            assert np.linalg.norm(a @ sol[i] - y[i]) == pytest.approx(refs[i], rel=1e-7, abs=1e-9), i


def test_the_batched_solve_on_passive_sets_equals_one_solve_per_set():
    from ftir_unmix._nnls import _SOLVE_PER_SET, _solve_on_passive

    rng = np.random.default_rng(0)
    a = rng.normal(size=(60, 12))
    gram, c = a.T @ a, rng.normal(size=(3000, 12))
    passive = rng.random((3000, 12)) < 0.5  # hundreds of distinct sets: the batched path
    assert len(np.unique(passive, axis=0)) * _SOLVE_PER_SET > passive.size * 12
    s = _solve_on_passive(gram, c, passive)
    assert not s[~passive].any()
    for i in range(0, 3000, 97):
        cols = np.flatnonzero(passive[i])
        assert np.allclose(s[i, cols], np.linalg.solve(gram[np.ix_(cols, cols)], c[i, cols]))


def test_prepared_pixels_give_the_one_shot_angles_on_their_rows():
    from ftir_unmix.metrics import WeightedPixels, cone_angles, reconstruction_angles

    rng = np.random.default_rng(5)
    e = rng.random((WN.size, 4)) + 0.05
    w = rng.uniform(0.05, 1.0, WN.size)
    q = weighted_nuisance_basis(polynomial_basis(WN, 2), w)
    x = (rng.dirichlet(np.ones(4), 300) @ e.T + 0.01 * rng.random((300, WN.size))).astype(np.float32)
    rows = np.sort(rng.choice(300, 90, replace=False))
    fit = WeightedPixels(x, w, nuisance=q, rows=rows, chunk=16)
    for spectra in (e, e[:, :3], e @ rng.dirichlet(np.ones(4), 4).T):  # several sets on the same pixels
        np.testing.assert_allclose(fit.cone_angles(spectra), cone_angles(x[rows], spectra, w, nuisance=q),
                                   rtol=1e-9, atol=1e-12)
        a = rng.dirichlet(np.ones(spectra.shape[1]), len(rows)).T
        np.testing.assert_allclose(fit.reconstruction_angles(spectra, a),
                                   reconstruction_angles(x[rows], spectra, a, w, nuisance=q), rtol=1e-9, atol=1e-12)
    assert fit.mean_cone_angle(e) < fit.mean_cone_angle(e[:, :3])
    whole = WeightedPixels(x, w, nuisance=q, chunk=16)  # the same rows as a sample of the whole image
    np.testing.assert_allclose(whole.sample(rows).cone_angles(e), fit.cone_angles(e), rtol=1e-12, atol=1e-14)
    x64 = x.astype(np.float64)
    WeightedPixels(x64, w, nuisance=q).cone_angles(e)
    np.testing.assert_array_equal(x64, x.astype(np.float64))  # the caller's pixels are not touched


def test_cone_angles_prefer_the_true_spectra_to_mixtures_of_them_without_pure_pixels():
    from ftir_unmix.metrics import cone_angles

    rng = np.random.default_rng(4)
    e = rng.random((WN.size, 3)) + 0.05
    a = rng.dirichlet(np.ones(3), 2000)
    a = a[a.max(axis=1) < 0.6]  # no pixel above 0.6 of any material
    x = (a @ e.T) * rng.uniform(0.5, 2.0, (len(a), 1))
    inner = e @ np.array([[0.6, 0.2, 0.2], [0.2, 0.6, 0.2], [0.2, 0.2, 0.6]])  # each a mixture
    assert cone_angles(x, e).mean() < 1e-5 < 0.01 < cone_angles(x, inner).mean()


def test_reconstruction_angles_are_the_training_loss_per_pixel():
    from ftir_unmix.metrics import reconstruction_angles

    rng = np.random.default_rng(7)
    e, a = rng.random((WN.size, 3)), rng.dirichlet(np.ones(3), 40).T
    x = a.T @ e.T + 0.05 * rng.random((40, WN.size))
    w = rng.uniform(0.05, 1.0, WN.size)
    q = weighted_nuisance_basis(polynomial_basis(WN, 2), w)
    ours = reconstruction_angles(x, e, a, w, nuisance=q, chunk=7)  # several chunks
    ref = wsad(torch.as_tensor(x), torch.as_tensor(a.T @ e.T), torch.as_tensor(w), reduction="none",
               project_out=torch.as_tensor(q))
    np.testing.assert_allclose(ours, ref.numpy(), atol=1e-6)
