"""Quality must not degrade on the hard cases of the held-out family: no pure pixels, minor materials.

Small scenes (32×64 px, 300 bands, tuning seeds only) with loose bounds: each
bound is about twice the error measured when the test was written (noted per
case), so the tests fail on a real degradation, not on the last digit.
The full benchmark is ``benchmarks/scenes_quality.py`` (docs/benchmarks.md).
"""

from __future__ import annotations

from ftir_unmix import UnmixConfig, band_diagnostics, unmix
from ftir_unmix.metrics import evaluate
from ftir_unmix.scenes import TUNING_SEEDS, make_scene

SIZE = dict(height=32, width=64, bands=300)


def _score(scene, **options):
    r = unmix(scene.cube, scene.k, threads=1, **options)
    ev = evaluate(scene.endmembers, scene.abundances, r.endmembers, r.abundances)
    return ev["mean_sad_deg"], ev["abundance_rmse"], dict(zip(scene.names, ev["per_endmember_sad_deg"])), r.parameters


def test_no_pure_pixels_stays_accurate_and_beats_the_classical_methods():
    # measured: CNN 4.1° / 0.033, NMF 7.3°, VCA+FCLS 34.8° (every material ≤ 0.5–0.6 of any pixel);
    # stop 44, with the step to the edge of nonnegativity: 2.08° / 0.011 (3.46° / 0.029 without)
    scene = make_scene("nopure-k4", 0, **SIZE)
    assert 0 in TUNING_SEEDS and max(scene.info["max_abundance"].values()) < 0.75
    sad, rmse, _, params = _score(scene)
    assert sad < 8.0 and rmse < 0.07, (sad, rmse)
    # No endmember is nearly pure anywhere, so the polish went on past its first iterations,
    # and the spectra were then taken out to the edge of nonnegativity, nearer the truth.
    polished = params["polished"]
    assert polished["no_pure"] and polished["iterations"] == UnmixConfig().polish_no_pure, polished
    assert max(polished["edge"]["step"]) > 0.05, polished["edge"]
    unmoved, unmoved_rmse, _, _ = _score(scene, edge_below=0.0)
    assert sad < unmoved - 0.5 and rmse < unmoved_rmse, (sad, unmoved, rmse, unmoved_rmse)
    nmf, _, _, _ = _score(scene, method="nmf")
    vca, _, _, _ = _score(scene, method="vca-fcls")
    assert sad < nmf and sad < vca, (sad, nmf, vca)


def test_a_thin_crust_of_a_minor_material_is_found():
    # measured: the calcium-oxalate crust (2.2 % of the pixels) 8.0°, mean 4.5°
    scene = make_scene("minor-crust-k5", 3, **SIZE)
    minor = [n for n in scene.names if scene.info["coverage"][n] < 0.05]
    assert minor == ["calcium oxalate"]
    sad, _, per, _ = _score(scene)
    assert per["calcium oxalate"] < 15.0 and sad < 9.0, (per, sad)


def test_a_spot_of_a_weak_minor_pigment_under_its_matrix_is_found():
    # measured: ultramarine (1.8 % of the pixels, at most 0.8 of a pixel, under lead white)
    # 5.4°, mean 3.2°, the refinement accepted; 20.6° (mean 6.5°) with the refinement before the
    # spot's matrix was subtracted (the least-used endmember took the raw spot; rejected)
    scene = make_scene("minor-spot-k5", 3, **SIZE)
    assert list(scene.info["minors"]) == ["ultramarine"]
    sad, _, per, record = _score(scene)
    assert record["refinement"]["accepted"]
    assert record["trust"][record["refinement"]["replaced"]]["found_by_refinement"]  # and the doubt says so
    assert per["ultramarine"] < 10.0 and sad < 6.5, (per, sad)


def test_default_weights_keep_the_well_correlated_bands_of_a_clean_scene():
    # measured (48×96 px, 838 bands): 16 bands below 0.5 with the default floor at tau = 3
    # (spikes and the noisy low-wavenumber edge; 4 at the default tau = 5), 107 without it
    # (neighbour correlations of 0.90–0.95: the low-wavenumber bands of lead white, oxalate
    # and clay and the O-H region); 4 with corr_model="neighbours" (the four spikes that
    # dominate their band)
    scene = make_scene("nopure-k4", 0, height=48, width=96)
    diag = band_diagnostics(scene.cube.data, **UnmixConfig().weight_params())
    paper = diag.reweighted(corr_floor=0.0, tau=3.0)  # the paper: no floor, tau = 3
    n_bands = scene.cube.n_bands
    assert (diag.weights < 0.5).sum() < 0.04 * n_bands
    assert (paper.weights < 0.5).sum() > 0.08 * n_bands
    # at tau = 3 a spike that dominates its band (neighbour correlation below 0.8) is still
    # distrusted; weaker spikes pass, and cost one pixel's angle each. At the default tau = 5
    # (stop 80) these two pass too (weights 0.92 and 0.83, measured): the benchmarks' scenes
    # carry such spikes, so their figures include that cost
    spikes = [band for _, _, band in scene.info["spikes"] if diag.d_corr[band] > 0.2]
    assert len(spikes) >= 2 and diag.reweighted(tau=3.0).weights[spikes].max() < 0.5, spikes
