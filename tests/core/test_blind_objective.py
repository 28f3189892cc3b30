"""Tests of the blind scenes' objective diagnosis in benchmarks/blind_objective.py."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ftir_unmix.preprocess import weighted_nuisance_basis

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import blind_objective  # noqa: E402


def _scene(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three smooth positive spectra, pixels mixing them (none pure) and a linear baseline basis."""
    nu = np.linspace(0.0, 1.0, 120)
    spectra = np.stack([np.exp(-0.5 * ((nu - c) / 0.05) ** 2) for c in (0.25, 0.5, 0.75)], 1)
    shares = rng.dirichlet([2.0, 2.0, 2.0], 400)
    background = np.stack([np.ones_like(nu), nu], 1)
    pixels = shares @ spectra.T + rng.normal(0.0, 0.02, (400, 2)) @ background.T
    return pixels, spectra, background


def test_the_truth_fits_its_own_mixtures_and_a_mixed_answer_does_not():
    pixels, spectra, background = _scene(np.random.default_rng(0))
    weights = np.ones(pixels.shape[1])
    nuisance = weighted_nuisance_basis(background, weights)
    inner = spectra @ np.array([[0.6, 0.2, 0.2], [0.2, 0.6, 0.2], [0.2, 0.2, 0.6]])  # inside the data
    fit = blind_objective.fits_deg(pixels, {"truth": spectra, "inner": inner}, weights, nuisance)
    assert fit["truth"] < 1e-3
    assert fit["inner"] > 1.0
    # without the background removed the same truth no longer explains the pixels
    assert blind_objective.fits_deg(pixels, {"truth": spectra}, weights, None)["truth"] > 0.1


def test_priors_read_a_mixed_answer_as_less_distinct():
    pixels, spectra, background = _scene(np.random.default_rng(1))
    weights = np.ones(pixels.shape[1])
    nuisance = weighted_nuisance_basis(background, weights)
    inner = spectra @ np.array([[0.6, 0.2, 0.2], [0.2, 0.6, 0.2], [0.2, 0.2, 0.6]])
    truth, mixed = (blind_objective.priors_of(e, weights, nuisance) for e in (spectra, inner))
    assert mixed["log_volume"] < truth["log_volume"]
    assert 0.0 <= truth["below_baseline"] < 0.05


def test_verdict_names_which_is_at_fault():
    assert blind_objective.verdict({"answer": 3.0, "truth": 4.0, "effective": 3.5}) == "objective"
    assert blind_objective.verdict({"answer": 3.0, "truth": 4.0, "effective": 2.9}) == "optimiser"
    assert blind_objective.verdict({"answer": 3.0, "truth": 2.0, "effective": 3.5}) == "optimiser"


def test_summary_counts_the_verdicts_per_case():
    per = {"lead white": {"to_truth_deg": 10.0, "to_effective_deg": 9.0, "effective_to_truth_deg": 2.0}}
    runs = [{"case": "soap-paint-k6", "seed": s, "fit_deg": {"answer": 3.0, "truth": 4.0, "effective": e},
             "verdict": blind_objective.verdict({"answer": 3.0, "truth": 4.0, "effective": e}),
             "mean_sad_deg": 10.0, "mean_to_effective_deg": 9.0, "per_material": per,
             "priors": {"answer": {"log_volume": -9.0, "below_baseline": 0.02},
                        "truth": {"log_volume": -8.0, "below_baseline": 0.01},
                        "effective": {"log_volume": -8.5, "below_baseline": 0.03}}}
            for s, e in ((100, 3.5), (101, 2.5))]
    table = blind_objective.summary(runs)
    assert "| soap-paint-k6 | 2 | 1 | 10.00° | 9.00° | 2.00° |" in table
    assert "| soap-paint-k6 | 101 | 10.00° (9.00°) | 3.000 / 4.000 / 2.500° | optimiser |" in table
    assert "| soap-paint-k6 | 2 | 2 | 0 |" in table  # the answer less distinct, not further below
