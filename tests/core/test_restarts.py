"""Restarts chosen by the whole-image objective, and the per-endmember trust they give."""

from __future__ import annotations

import json
import types

import numpy as np
import pytest

from ftir_unmix import iter_unmix, run_to_end, unmix
from ftir_unmix.methods import cnn
from ftir_unmix.methods.cnn import restart_spread
from ftir_unmix.methods.cnn.warm_start import candidate_starts
from ftir_unmix.metrics import log_volume
from ftir_unmix.preprocess import (
    ATMOSPHERE_LINE_SHARE,
    BELOW_NOISE_SIGMAS,
    below_baseline_share,
    weighted_nuisance_basis,
)
from ftir_unmix.trust import (
    BELOW_BASELINE_DOUBT,
    KNOWN_DOUBT_DEG,
    PINNED_ABUNDANCE,
    SPREAD_ALONE_DEG,
    SPREAD_DOUBT_DEG,
    atmosphere_note,
    doubts,
    edge_note,
    endmember_trust,
    polish_note,
    run_notes,
    spare_note,
)

OPTS = dict(epochs=40, warmup_steps=20, device="cpu", refine=False)


def test_two_restarts_keep_the_spectra_that_fit_the_image_best(small_section, one_torch_thread):
    one = unmix(small_section.cube, 4, restarts=1, **OPTS)
    two = unmix(small_section.cube, 4, restarts=2, **OPTS)
    assert "restart_runs" not in one.parameters and one.parameters["restarts"] == 1
    runs = two.parameters["restart_runs"]
    assert set(runs["objective_deg"]) == set(runs["fit_deg"]) == {"nmf", "vca"}
    assert runs["fit_deg"][runs["chosen"]] == min(runs["fit_deg"].values())
    assert all(runs["fit_deg"][n] <= runs["objective_deg"][n] + 1e-6 for n in runs["fit_deg"])  # the best maps
    if runs["chosen"] == two.parameters["warm_start"]["chosen"]:
        # the first restart is the one-start run, step for step: kept, it is that run's result
        np.testing.assert_array_equal(two.endmembers, one.endmembers)
        np.testing.assert_array_equal(two.loss_history, one.loss_history)
    else:
        assert not np.array_equal(two.endmembers, one.endmembers)
    spread = runs["spread_deg"]
    assert len(spread) == 4 and all(0.0 <= v <= 90.0 for v in spread)
    assert [t["restart_spread_deg"] for t in two.parameters["trust"]] == spread
    assert [t["restart_spread_deg"] for t in one.parameters["trust"]] == [None] * 4
    below = [t["below_baseline"] for t in two.parameters["trust"]]  # the baseline term is on by default
    assert len(below) == 4 and all(0.0 <= v < BELOW_BASELINE_DOUBT for v in below)
    # the doubt reads only the share deeper than each spectrum's own noise
    nuisance = weighted_nuisance_basis(two.baseline_basis(), two.weights)
    seen = np.asarray(two.endmembers, np.float64) * two.weights[:, None]
    np.testing.assert_allclose(below, below_baseline_share(seen, nuisance, noise_sigmas=BELOW_NOISE_SIGMAS), atol=2e-3)


def test_restarts_within_the_margin_keep_the_most_distinct_spectra(small_section, one_torch_thread, monkeypatch):
    import ftir_unmix.methods.cnn as cnn

    real = unmix(small_section.cube, 4, restarts=2, restart_margin=1.0, **OPTS).parameters["restart_runs"]
    volume = real["log_volume"]
    assert set(volume) == {"nmf", "vca"} and all(v <= 1e-9 for v in volume.values())
    assert volume[real["chosen"]] == max(volume.values())  # every restart within the margin
    # the restart trained second made the most distinct: kept within the margin, not outside it
    made = iter([-5.0, 0.0])
    monkeypatch.setattr(cnn, "log_volume", lambda *a, **k: next(made))
    tied = unmix(small_section.cube, 4, restarts=2, restart_margin=1.0, **OPTS).parameters
    first = tied["warm_start"]["chosen"]
    assert list(tied["restart_runs"]["log_volume"].values()) == [-5.0, 0.0]
    assert tied["restart_runs"]["chosen"] != first
    made = iter([-5.0, 0.0])
    fits = tied["restart_runs"]["fit_deg"]
    apart = abs(fits["nmf"] - fits["vca"]) / min(fits.values())
    narrow = unmix(small_section.cube, 4, restarts=2, restart_margin=apart / 2, **OPTS).parameters["restart_runs"]
    assert narrow["chosen"] == min(fits, key=fits.get)


def test_log_volume_falls_as_spectra_near_each_other():
    rng = np.random.default_rng(0)
    e = rng.random((50, 3))
    near = e.copy()
    near[:, 2] = e[:, 1] + 0.01 * rng.random(50)
    assert log_volume(np.eye(4)) == pytest.approx(0.0)
    assert log_volume(near) < log_volume(e) - 3.0
    assert log_volume(e * 7.0) == pytest.approx(log_volume(e))  # each spectrum's scale is free
    w = np.ones(50)
    w[:25] = 0.0  # only what the weights keep counts
    assert log_volume(e, w) == pytest.approx(log_volume(e[25:]))
    assert log_volume(np.c_[e, e[:, :1]]) == float("-inf")


def test_more_restarts_add_seeded_starts():
    assert [c[0] for c in candidate_starts(1)] == ["nmf", "vca"]  # both are always tried
    assert candidate_starts(5) == [("nmf", "nmf", 0), ("vca", "vca", 0), ("vca+1", "vca", 1),
                                   ("nmf+1", "nmf", 1), ("vca+2", "vca", 2)]


def test_cancel_during_a_restart_keeps_the_best_finished_one(small_section, one_torch_thread):
    seen: list[str] = []

    def stop() -> bool:
        return any(m.startswith("restart 2/2") for m in seen)

    gen = iter_unmix(small_section.cube, k=4, restarts=2, stop=stop, **OPTS)
    result = run_to_end(gen, lambda ev: seen.append(ev.message or ""))
    assert result.cancelled and result.parameters["stopped_by"] == "cancel"
    runs = result.parameters["restart_runs"]
    assert list(runs["objective_deg"]) == [result.parameters["warm_start"]["chosen"]]
    assert "spread_deg" not in runs  # nothing to compare with


def test_restart_spread_is_the_largest_matched_angle():
    rng = np.random.default_rng(0)
    e = rng.random((50, 3)) + 0.1
    assert np.allclose(restart_spread(e, [e[:, [2, 0, 1]] * 3.0]), 0.0, atol=1e-5)  # order and scale ignored
    moved = e.copy()
    moved[:10, 1] += 0.5
    angle = np.degrees(np.arccos(e[:, 1] @ moved[:, 1] / np.linalg.norm(e[:, 1]) / np.linalg.norm(moved[:, 1])))
    spread = restart_spread(e, [e, moved[:, ::-1]])
    assert spread[1] == pytest.approx(angle, rel=1e-4) and spread[1] > 1.0
    assert np.allclose(spread[[0, 2]], 0.0, atol=1e-5)


def test_trust_shares_and_doubts():
    a = np.zeros((3, 10, 10))
    a[0] = 0.7
    a[1] = 0.3
    a[1, 0, :5] = 0.9  # EM2 dominates 5 pixels
    a[0, 0, :5] = 0.1
    a[2, 9, 9] = 0.001  # EM3: almost nothing
    trust = endmember_trust(a, [1.0, SPREAD_DOUBT_DEG + 4.0, 0.5], below_baseline=[0.004, 0.01, 0.02])
    shares = [t["abundance_share"] for t in trust]
    assert sum(shares) == pytest.approx(1.0) and shares[0] > shares[1] > shares[2]
    assert [t["dominant_pixels"] for t in trust] == pytest.approx([0.95, 0.05, 0.0])
    assert [t["purest_abundance"] for t in trust] == pytest.approx([0.7, 0.9, 0.0])
    said = doubts(trust, ["lead white", "oil", "EM3"])
    # the oil's five pixels at 0.9 hold its spectrum: a moderate spread is no doubt of it
    assert set(said) == {"EM3"} and PINNED_ABUNDANCE <= 0.9
    assert "explains 0.0 % of the image" in said["EM3"]
    # where no pixel is nearly pure, the same spread is a doubt; a large one is a doubt anyway
    a[1, 0, :5] = PINNED_ABUNDANCE - 0.1
    said = doubts(endmember_trust(a, [1.0, SPREAD_DOUBT_DEG + 4.0, 0.5]), ["lead white", "oil", "EM3"])
    assert said["oil"] == (f"oil varies by {SPREAD_DOUBT_DEG + 4.0:.1f}° between restarts and no pixel is more "
                           f"than {100 * (PINNED_ABUNDANCE - 0.1):.0f} % of it: doubt its spectrum and map")
    a[1, 0, :5] = 0.9
    said = doubts(endmember_trust(a, [1.0, SPREAD_ALONE_DEG + 1.0, 0.5]), ["lead white", "oil", "EM3"])
    assert said["oil"] == f"oil varies by {SPREAD_ALONE_DEG + 1.0:.1f}° between restarts: doubt its spectrum and map"
    # a record written before the purest pixels were kept: the spread alone, as then
    old = [{k: v for k, v in t.items() if k != "purest_abundance"} for t in trust]
    assert doubts(old, ["lead white", "oil", "EM3"])["oil"].startswith(
        f"oil varies by {SPREAD_DOUBT_DEG + 4.0:.1f}° between restarts: doubt")
    assert not any(t["found_by_refinement"] for t in trust)
    assert [t["below_baseline"] for t in trust] == [0.004, 0.01, 0.02]
    # a spectrum with dips below its own baseline is doubted, whatever its spread
    dips = endmember_trust(a, [1.0, 1.0, 0.5], below_baseline=[BELOW_BASELINE_DOUBT + 0.1, 0.01, 0.0])
    said = doubts(dips, ["resin?", "oil", "EM3"])
    assert said["resin?"] == ("resin? dips below its own baseline where other materials absorb (15 % of its "
                              "spectrum): a difference of spectra rather than one material")
    assert "oil" not in said
    assert [t["below_baseline"] for t in endmember_trust(a)] == [None] * 3  # no baseline term
    # a spectrum that is mostly narrow lines is doubted as water vapour
    vapour = endmember_trust(a, narrow_lines=[0.05, ATMOSPHERE_LINE_SHARE + 0.26, 0.1])
    said = doubts(vapour, ["lead white", "EM2", "EM3"])
    assert said["EM2"] == ("EM2 is mostly narrow lines (46 % of its spectrum): drifting water vapour rather "
                           "than a material")
    assert "lead white" not in said and [t["narrow_lines"] for t in endmember_trust(a)] == [None] * 3
    # the endmember an accepted refinement put in: no restart found it, and the doubt says so
    refined = endmember_trust(a, [1.0, SPREAD_DOUBT_DEG + 4.0, 0.5], refined=1)
    assert [t["found_by_refinement"] for t in refined] == [False, True, False]
    said = doubts(refined, ["lead white", "oil", "EM3"])
    assert said["oil"].startswith("oil was found only by the refinement")
    assert "varies by" not in said["oil"]
    # an endmember held by a known spectrum that ends far from it: the reference is doubted
    held = endmember_trust(a, known_deg=[KNOWN_DOUBT_DEG + 2.0, 1.0])
    assert [t["known_angle_deg"] for t in held] == [KNOWN_DOUBT_DEG + 2.0, 1.0, None]
    said = doubts(held, ["lead white", "oil", "EM3"])
    assert said["lead white"] == ("lead white ends 7.0° from the known spectrum that held it: the reference may "
                                  "not match the material in this sample")
    assert "oil" not in said
    # what a user is told, in order: the spare note first, then the doubts
    again = {"spare_endmembers": {"reason": "EM2 of the first run was 9% below its own baseline",
                                  "trained_k": 4, "dropped": [{"column": 3, "cost_deg": 0.4}]}}
    told = run_notes(again, held, ["lead white", "oil", "EM3"])
    assert [kind for kind, _ in told] == ["note", "doubt", "doubt"]
    assert told[0][1] == spare_note(again) and told[1][1].startswith("lead white ends")
    assert run_notes({}, held, ["lead white", "oil", "EM3"]) == told[1:]
    # a drop nearly tied with a spectrum kept is said, after why the run was trained again,
    # and also where the spare was asked for (then alone)
    call = {"kept_em": 2, "cost_deg": 28.86, "dropped_cost_deg": 27.46}
    close = {"spare_endmembers": {**again["spare_endmembers"], "close_calls": [call]}}
    assert spare_note(close) == spare_note(again) + (
        "; a close call: EM2 was needed nearly as little as the spectrum dropped (28.9° against 27.5°); if a "
        "material is missing, it may have been dropped for a variant of another: compare a run with one "
        "endmember more")
    asked = {"spare_endmembers": {**close["spare_endmembers"], "reason": "asked for"}}
    assert spare_note(asked) == spare_note(close).split("; ", 1)[1]
    assert spare_note({"spare_endmembers": {**again["spare_endmembers"], "reason": "asked for"}}) is None
    # the atmosphere the run fitted comes first; none found, nothing said
    fitted = {**again, "preprocessing": {"atmosphere": {"found": ["CO2"], "dominance": {"CO2": 12.0}}}}
    told = run_notes(fitted, held, ["lead white", "oil", "EM3"])
    assert told[0] == ("note", "CO2 drifts across the image: estimated from it and fitted in every pixel "
                               "with the baseline")
    assert told[1:] == run_notes(again, held, ["lead white", "oil", "EM3"])
    # a polish that turned a spectrum into what is not a material: said after the spare, before the doubts
    turned = "EM3 became atmospheric lines or a difference spectrum"
    polished = {**again, "polished": {"kept": True, "held": {"columns": [2], "why": turned}}}
    told = run_notes(polished, held, ["lead white", "oil", "EM3"])
    assert told[1] == ("note", f"{turned} when fitted to the whole image: left as trained, the other spectra "
                               "fitted around it")
    assert told[:1] + told[2:] == run_notes(again, held, ["lead white", "oil", "EM3"])
    dropped = {"polished": {"kept": False, "why_not": turned}}
    assert polish_note(dropped) == f"{turned} when fitted to the whole image: the spectra and maps are left as trained"
    assert polish_note({"polished": {"kept": True}}) is None and polish_note({}) is None
    for off in ({"atmosphere": "off"}, {"atmosphere": "off (no baseline term)"},
                {"atmosphere": {"found": [], "dominance": {"CO2": 1.1}}}):
        assert atmosphere_note({"preprocessing": off}) is None


def test_cli_reports_the_doubts_recorded_in_run_json(tmp_path):
    import subprocess
    import sys

    from ftir_unmix.synthetic import cross_section

    s = cross_section(12, 14, n_bands=160, materials=3, seed=5)
    path = tmp_path / "cube.npz"
    np.savez(path, cube=s.cube.data, wavenumbers=s.cube.wavenumbers)
    out = subprocess.run([sys.executable, "-m", "ftir_unmix.cli", "unmix", str(path), "--k", "6", "--epochs", "60",
                          "--threads", "1", "--out", str(tmp_path / "res"), "--quiet"],
                         capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert out.returncode == 0, out.stderr
    record = json.loads((tmp_path / "res" / "run.json").read_text())
    trust = record["parameters"]["trust"]
    assert len(trust) == 6 and all(t["restart_spread_deg"] is not None for t in trust)
    expected = list(doubts(trust, record["names"]).values())
    assert expected, "six endmembers for three materials: some must be in doubt"
    # first, the atmosphere the run fitted, a second run with a spare and the spectra taken out
    # to the edge of nonnegativity, where there were
    notes = [atmosphere_note(record["parameters"]), spare_note(record["parameters"]),
             polish_note(record["parameters"]), edge_note(record["parameters"], record["names"])]
    expected = [n for n in notes if n] + expected
    printed = [line for line in out.stdout.splitlines() if not line.startswith("wrote ")]
    assert printed == expected


def test_a_big_image_is_fitted_on_a_fixed_sample_of_its_pixels(small_section, one_torch_thread, monkeypatch):
    from ftir_unmix.methods.cnn import refinement

    full = unmix(small_section.cube, 4, restarts=2, **OPTS).parameters["restart_runs"]["fit_deg"]
    n_pixels = small_section.cube.shape[0] * small_section.cube.shape[1]
    monkeypatch.setattr(refinement, "FIT_PIXELS", n_pixels // 3)
    sampled = unmix(small_section.cube, 4, restarts=2, **OPTS).parameters["restart_runs"]["fit_deg"]
    assert set(sampled) == set(full)
    assert all(sampled[n] != full[n] for n in full)  # the sample, not the whole image
    assert all(abs(sampled[n] - full[n]) < 0.1 * full[n] for n in full)  # and representative


def test_the_time_left_counts_the_restarts_still_to_come(small_section, one_torch_thread, monkeypatch):
    # A clock that moves one unit per reading: the training loop reads it once per step, so the
    # estimate is in steps and does not depend on how loaded the machine is.
    ticks = iter(range(10**9))
    monkeypatch.setattr(cnn, "time", types.SimpleNamespace(perf_counter=lambda: float(next(ticks))))
    events = []
    opts = {**OPTS, "epochs": 300, "patience": 1000}  # no early stop: every restart trains its steps
    run_to_end(iter_unmix(small_section.cube, k=4, restarts=2, **opts), events.append)
    first = [ev for ev in events if ev.phase == "train" and ev.eta is not None and not ev.message]
    assert first and any(ev.message.startswith("restart 2/2") for ev in events)
    guess = first[0]
    this_restart = guess.total - guess.step
    # the second restart trains as many steps as the first; counting only the first, eta == this_restart
    assert guess.eta == pytest.approx(this_restart + opts["epochs"], rel=0.02), (guess.eta, guess.step, guess.total)
