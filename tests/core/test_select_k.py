"""Choosing K: diagnostics, recommendation, progress/cancel, command line."""

from __future__ import annotations

import csv
import json
import math
import threading

import numpy as np
import pytest

from ftir_unmix import UnmixResult
from ftir_unmix.select_k import (
    KSweep,
    SelectionCriteria,
    iter_sweep_k,
    k_diagnostics,
    sweep_k,
    weighted_recon_angle,
)
from ftir_unmix.synthetic import cross_section

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _patches(k, seed):
    return cross_section(16, 20, n_bands=150, materials=k, layout="patches", seed=seed)


@pytest.fixture(scope="module")
def four():
    """A clear case: 4 materials in patches (every material has pure pixels), artefacts on."""
    return _patches(4, 2)


@pytest.fixture(scope="module")
def vca_sweep(four):
    return sweep_k(four.cube, range(2, 7), method="vca-fcls")


@pytest.mark.parametrize("method, options", [("vca-fcls", {}), ("nmf", {}), ("cnn", {"epochs": 40})])
def test_recommendation_hits_true_k_on_a_clear_case(four, method, options):
    sweep = vca_sweep_for(four, method, options)
    rec = sweep.recommend()
    assert rec.k == 4, sweep.format_table()
    assert rec.text.startswith("K = 4: ") and any("larger K" in r for r in rec.reasons)
    assert rec.rule == sweep.rule
    assert sweep.rule == ("count" if method == "cnn" else "largest-clean")
    # a sweep never trains a K again with a spare: a difference spectrum at too high a K is its signal
    assert not any("spare_endmembers" in r.parameters for r in sweep.results.values())
    assert all(r.parameters["spare_when_needed"] is False for r in sweep.results.values())
    # Every K above the truth was rejected for a stated reason: not clean, or too little gain
    # (the count rule: no more distinct endmembers, or a fit gain the rule does not count).
    for d in sweep.diagnostics:
        if d.k > 4 and sweep.rule == "largest-clean":
            assert (not d.clean) or d.gain < sweep.criteria.min_gain
        if d.k > 4 and sweep.rule == "count":
            assert d.n_distinct <= 4 or d.gain <= sweep.criteria.count_min_gain


def vca_sweep_for(truth, method, options):
    return sweep_k(truth.cube, range(2, 7), method=method, **options)


def test_duplicates_detected_when_k_too_large():
    # VCA splits one of three materials into near-identical spectra at K = 4 and 5.
    truth = _patches(3, 3)
    sweep = sweep_k(truth.cube, range(2, 6), method="vca-fcls")
    assert sweep[3].clean
    assert sweep[4].duplicates and sweep[5].duplicates
    assert sweep[5].min_sad_deg < sweep.criteria.dup_sad_deg
    assert sweep.recommend().k == 3


def _result(e, a):
    return UnmixResult(abundances=a.astype(np.float32), endmembers=e.astype(np.float32),
                       weights=np.ones(e.shape[0]), wavenumbers=np.arange(e.shape[0], dtype=float))


def test_split_material_is_a_duplicate_and_a_leftover_map_is_faint():
    truth = _patches(3, 0)
    e, a = truth.endmembers, truth.abundances
    px = truth.clean.reshape(-1, e.shape[0])
    # Material 3 split in two halves with (almost) the same spectrum: a duplicated pair.
    e_split = np.column_stack([e, e[:, 2] * 1.02 + 1e-4])
    a_split = np.concatenate([a[:2], a[2:] * 0.5, a[2:] * 0.5])
    d = k_diagnostics(_result(e_split, a_split), px)
    assert (2, 3) in d.duplicates and d.min_sad_deg < 1 and d.max_map_corr > 0.99
    assert d.sad_pair == (2, 3)
    # A fourth endmember that takes at most 5 % anywhere: faint, not a duplicate.
    leftover = np.full((1, *a.shape[1:]), 0.05)
    e_extra = np.column_stack([e, np.linspace(0, 1, e.shape[0])])
    d = k_diagnostics(_result(e_extra, np.concatenate([a * 0.95, leftover])), px)
    assert d.faint == (3,) and not d.duplicates and not d.clean
    assert d.peak.shape == (4,) and d.mean_abundance.shape == (4,)
    # The truth itself: clean, and reconstructs the clean data exactly.
    d = k_diagnostics(_result(e, a), px)
    assert d.clean and d.recon_deg < 1e-3 and math.isnan(d.gain)


def test_weighted_recon_angle_ignores_scale_and_respects_weights():
    rng = np.random.default_rng(0)
    e = rng.random((30, 3))
    a = rng.dirichlet(np.ones(3), 50).T
    x = (a.T @ e.T) * rng.uniform(0.5, 2, (50, 1))  # contact factor per pixel
    assert weighted_recon_angle(x, e, a) < 1e-4
    x_bad = x.copy()
    x_bad[:, 5] += 10
    w = np.ones(30)
    w[5] = 0
    assert weighted_recon_angle(x_bad, e, a) > 1
    assert weighted_recon_angle(x_bad, e, a, w) < 1e-4


def test_diagnostics_and_plot_data_shapes(vca_sweep):
    ks = vca_sweep.k_values
    assert ks.tolist() == [2, 3, 4, 5, 6]
    for d in vca_sweep.diagnostics:
        assert d.peak.shape == (d.k,) and d.mean_abundance.shape == (d.k,)
        assert 0 <= d.min_sad_deg <= 180 and -1 <= d.max_map_corr <= 1
        assert vca_sweep.results[d.k].abundances.shape == (d.k, 16, 20)
    gains = [d.gain for d in vca_sweep.diagnostics]
    assert math.isnan(gains[0]) and all(np.isfinite(gains[1:]))
    pd = vca_sweep.plot_data()
    for key in ("k", "recon_deg", "gain", "min_sad_deg", "max_map_corr", "min_peak",
                "n_duplicates", "n_faint", "n_distinct", "clean", "recommended"):
        assert pd[key].shape == ks.shape, key
    assert pd["recommended"].sum() == 1 and pd["k"][pd["recommended"]][0] == vca_sweep.recommend().k
    assert float(pd["faint_peak"]) == SelectionCriteria().faint_peak
    summary = json.loads(json.dumps(vca_sweep.to_dict()))
    assert summary["recommended_k"] == 4 and len(summary["rows"]) == 5
    assert len(vca_sweep.format_table().splitlines()) == 6
    assert summary["rule"] == "largest-clean" and summary["rows"][2]["n_distinct"] == 4


def _diag(k, peaks, gain, dups=()):
    from ftir_unmix.select_k import KDiagnostics

    peak = np.asarray(peaks, dtype=float)
    return KDiagnostics(k=k, min_sad_deg=50.0, sad_pair=(0, 1), max_map_corr=0.1, corr_pair=(0, 1),
                        duplicates=tuple(dups), peak=peak, mean_abundance=np.full(k, 1 / k),
                        faint=tuple(int(i) for i in np.flatnonzero(peak < 0.5)),
                        recon_deg=10.0 * (1 - (0 if np.isnan(gain) else gain)), gain=gain, prev_k=k - 1)


def test_rules_on_an_unresolved_material():
    # A layered section with 4 materials, as the CNN sees it: at K = 4 the small
    # aggregates stay faint, at K = 6 they get their own map; surplus maps stay faint.
    diags = [_diag(2, [0.99, 0.99], np.nan), _diag(3, [0.99, 0.98, 0.97], 0.54),
             _diag(4, [1.0, 0.99, 0.97, 0.35], 0.15), _diag(5, [0.97, 0.96, 0.85, 0.39, 0.32], -0.03),
             _diag(6, [0.98, 0.92, 0.85, 0.28, 0.3, 0.76], 0.05),
             _diag(7, [0.99, 0.91, 0.79, 0.48, 0.34, 0.71, 0.9], -0.02, dups=[(5, 6)])]
    sweep = KSweep(diags, {}, "cnn")
    assert [d.n_distinct for d in sweep.diagnostics] == [2, 3, 3, 3, 4, 4]
    rec = sweep.recommend()
    assert rec.k == 4 and rec.rule == "count" and "first at K = 6" in rec.reasons[0] and "faint" in rec.why
    assert sweep.with_criteria(SelectionCriteria(rule="largest-clean")).recommend().k == 3
    # a K that improves the fit by less than count_min_gain (3 %) is not counted
    assert sweep.with_criteria(SelectionCriteria(count_min_gain=0.06)).recommend().k == 3
    assert KSweep(diags, {}, "vca-fcls").rule == "largest-clean"
    with pytest.raises(ValueError, match="rule"):
        SelectionCriteria(rule="best")


def test_recommend_without_a_passing_k_and_empty_sweep(vca_sweep):
    strict = vca_sweep.with_criteria(SelectionCriteria(faint_peak=1.01))
    rec = strict.recommend()
    assert rec.k in strict.k_values and rec.rule == "fallback" and "no K passed" in rec.why
    assert all(d.faint for d in strict.diagnostics)
    assert vca_sweep.recommend().k == 4  # the original is unchanged
    lax = vca_sweep.with_criteria(SelectionCriteria(min_gain=-1.0, faint_peak=0.0, dup_sad_deg=0.0,
                                                    dup_corr=1.0))
    assert lax.recommend().k == 6
    with pytest.raises(ValueError, match="no completed K"):
        KSweep([], {}, "cnn").recommend()


def test_progress_events_and_cancel(four):
    gen = iter_sweep_k(four.cube, [2, 3, 4], method="cnn", epochs=5)
    done, fractions = [], []
    while True:
        try:
            ev = next(gen)
        except StopIteration as stop:
            sweep = stop.value
            break
        fractions.append(ev.fraction)
        if ev.done is not None:
            done.append(ev.k)
    assert done == [2, 3, 4] and not sweep.cancelled
    assert fractions[-1] == 1.0 and all(0 <= f <= 1 for f in fractions)

    flag = threading.Event()

    def cancel_after_first(ev):
        if ev.done is not None:
            flag.set()

    sweep = sweep_k(four.cube, [2, 3, 4], method="vca-fcls", callback=cancel_after_first, stop=flag)
    assert sweep.cancelled and sweep.k_values.tolist() == [2]


def test_bad_k_values(four):
    with pytest.raises(ValueError, match=r"k_values: must be an integer in \[2, 256\]; got 1"):
        sweep_k(four.cube, [1, 2], method="nmf")
    with pytest.raises(ValueError, match="empty"):
        sweep_k(four.cube, [], method="nmf")
    with pytest.raises(TypeError, match="unknown"):
        sweep_k(four.cube, [2, 3], method="nmf", not_an_option=1)


def test_cli_select_k(four, tmp_path, capsys):
    from ftir_unmix.cli import main

    path = tmp_path / "cube.npz"
    np.savez(path, cube=four.cube.data, wavenumbers=four.cube.wavenumbers)
    out = tmp_path / "k.csv"
    assert main(["select-k", str(path), "--k-min", "2", "--k-max", "6", "--method", "vca-fcls",
                 "--out", str(out)]) == 0
    text = capsys.readouterr()
    assert "recommended K = 4" in text.out and text.out.splitlines()[0].split()[0] == "K"
    assert "K = 6" in text.err  # one progress line per K
    rows = list(csv.DictReader(out.open()))
    assert [int(r["k"]) for r in rows] == [2, 3, 4, 5, 6]
    assert [r["recommended"] for r in rows].count("True") == 1
    assert main(["select-k", str(path), "--k-min", "2", "--k-max", "4", "--method", "nmf",
                 "--json", "--quiet", "--rule", "count"]) == 0
    text = capsys.readouterr()
    payload = json.loads(text.out)
    assert payload["method"] == "nmf" and [r["k"] for r in payload["rows"]] == [2, 3, 4]
    assert payload["rule"] == "count" and payload["criteria"]["rule"] == "count"
    assert text.err == ""
    assert main(["select-k", str(path), "--k-min", "5", "--k-max", "3"]) == 2
    assert "k-min" in capsys.readouterr().err
