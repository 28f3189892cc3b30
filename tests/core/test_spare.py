"""Spare endmembers: K + s trained, the s that are not materials dropped (issue 12, no pure pixels)."""

from __future__ import annotations

import numpy as np
import pytest

from ftir_unmix import unmix
from ftir_unmix.methods.cnn.spare import choose_spares, drop_columns
from ftir_unmix.preprocess import polynomial_basis, weighted_nuisance_basis


def _bands(wn, centres, width=25.0):
    return sum(np.exp(-0.5 * ((wn - c) / width) ** 2) for c in centres)


@pytest.fixture
def spectra():
    wn = np.linspace(700.0, 3800.0, 400)
    e = np.stack([_bands(wn, [1000, 1700]), _bands(wn, [1400, 2900]), _bands(wn, [1100, 3300]),
                  _bands(wn, [1700, 2900, 1250])], 1) + 0.01
    return wn, e


def test_the_spare_is_the_spectrum_the_image_needs_least(spectra):
    wn, e = spectra
    rng = np.random.default_rng(0)
    a = rng.dirichlet([0.8, 0.8, 0.8], size=600)  # mixtures of the first three only
    x = a @ e[:, :3].T + 0.002 * rng.standard_normal((600, len(wn)))
    m = np.column_stack([e[:, 0], e[:, 3], e[:, 1], e[:, 2]])  # the unused one in column 1
    columns, why = choose_spares(m, x, 1, np.ones(len(wn)), None)
    assert columns == [1] and why[0]["column"] == 1 and why[0]["fit_cost_deg"] < 0.1
    # with a baseline term too
    nuisance = weighted_nuisance_basis(polynomial_basis(wn, 2), np.ones(len(wn)))
    assert choose_spares(m, x + 0.05, 1, np.ones(len(wn)), nuisance)[0] == [1]
    # known spectra (the first columns) are never chosen, and each further spare costs more fit
    columns, why = choose_spares(m, x, 2, np.ones(len(wn)), None, first=2)
    assert set(columns) <= {2, 3} and len(set(columns)) == 2 and why[1]["fit_cost_deg"] > 1.0


def test_drop_columns_renormalises_the_maps():
    e = np.arange(12.0).reshape(4, 3)
    a = np.array([[0.5, 0.0], [0.3, 0.0], [0.2, 1.0]])
    kept_e, kept_a = drop_columns(e, a, [2])
    np.testing.assert_array_equal(kept_e, e[:, :2])
    np.testing.assert_allclose(kept_a, [[0.625, 0.5], [0.375, 0.5]])  # a pixel of the spare alone: even split


def test_a_run_with_a_spare_returns_k_materials_and_says_which_it_dropped(small_section, one_torch_thread):
    r = unmix(small_section.cube, 4, spare=1, epochs=60, warmup_steps=20, device="cpu", restarts=2, seed=1)
    assert r.endmembers.shape[1] == 4 and r.abundances.shape[0] == 4 and len(r.names) == 4
    np.testing.assert_allclose(r.abundances.sum(0), 1.0, atol=1e-5)
    spare = r.parameters["spare"]
    assert spare["trained_k"] == 5 and len(spare["dropped"]) == 1 and 0 <= spare["dropped"][0]["column"] < 5
    assert len(r.parameters["restart_runs"]["spread_deg"]) == 4 and len(r.parameters["trust"]) == 4
    replaced = r.parameters["refinement"]["replaced"]
    assert replaced is None or 0 <= replaced < 4
    with pytest.raises(ValueError, match="spare"):
        unmix(small_section.cube, 4, spare=-1)
