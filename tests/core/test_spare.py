"""Spare endmembers: K + s trained, the s that are not materials dropped (issue 12, no pure pixels)."""

from __future__ import annotations

import numpy as np
import pytest

from ftir_unmix import unmix
from ftir_unmix.methods.cnn.spare import CLOSE_CALL, SPOT_PIXELS, choose_spares, close_calls, drop_columns
from ftir_unmix.metrics import cone_angles
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
    assert columns == [1] and why[0]["column"] == 1 and why[0]["cost_deg"] < 0.1
    # the next cheapest is said too (how close the choice was); far from a close call here
    assert why[0]["next"]["column"] in (0, 2, 3) and why[0]["next"]["cost_deg"] > 1.0
    assert close_calls(why, [0, 2, 3]) == []
    # with a baseline term too
    nuisance = weighted_nuisance_basis(polynomial_basis(wn, 2), np.ones(len(wn)))
    assert choose_spares(m, x + 0.05, 1, np.ones(len(wn)), nuisance)[0] == [1]
    # known spectra (the first columns) are never chosen, and each further spare costs more fit
    columns, why = choose_spares(m, x, 2, np.ones(len(wn)), None, first=2)
    assert set(columns) <= {2, 3} and len(set(columns)) == 2 and why[1]["cost_deg"] > 1.0
    # a column of atmospheric lines goes first however much the image needs it; a known one never
    columns, why = choose_spares(m, x, 1, np.ones(len(wn)), None, atmosphere=[2])
    assert columns == [2] and why[0]["cost_deg"] > 1.0 and "next" not in why[0]  # not a choice by cost
    assert choose_spares(m, x, 2, np.ones(len(wn)), None, atmosphere=[2])[0] == [2, 1]
    assert choose_spares(m, x, 1, np.ones(len(wn)), None, first=3, atmosphere=[2])[0] == [3]


def test_a_minor_material_is_kept_over_a_residue_every_pixel_needs_a_little(spectra):
    """A spot in 1 % of the pixels costs the image's mean fit less than a residue column
    present everywhere at 5 %; dropping the spot loses a material (issue 12: minor materials)."""
    wn, e = spectra
    rng = np.random.default_rng(1)
    n = 2000
    residue = _bands(wn, [2200, 2600], width=60.0)  # what the other spectra cannot explain
    a = rng.dirichlet([1.0, 1.0], size=n)
    x = a @ e[:, :2].T + 0.05 * residue[None, :]
    spot = rng.choice(n, n // 100, replace=False)
    x[spot] = 0.5 * x[spot] + 0.5 * e[:, 2]
    m = np.column_stack([e[:, 0], e[:, 1], e[:, 2], residue])
    columns, why = choose_spares(m, x, 1, np.ones(len(wn)), None)
    assert columns == [3], why
    # the image's mean fit alone would have dropped the spot's material
    mean_cost = {j: float(np.mean(cone_angles(x, np.delete(m, j, 1)) - cone_angles(x, m))) for j in (2, 3)}
    assert mean_cost[2] < mean_cost[3]


def test_a_material_mixed_everywhere_is_kept_over_a_variant_only_extreme_pixels_need(spectra):
    """A material and a variant of it that 1 % of the pixels are made of (band shifts, contact)
    are near-tied at the 99.5th percentile: each replaces the other at about the angle
    between them. The 95th percentile tells them apart: the many pixels that hold the
    material need it (layered-k8-var: calcite dropped for a resin variant, issue 12)."""
    wn, e = spectra
    variant = _bands(wn, [1012, 1712]) + 0.01  # the first material, its bands moved by 12 cm⁻¹
    m = np.column_stack([e[:, 0], e[:, 1], e[:, 2], variant])
    rng = np.random.default_rng(0)
    n = 4000
    x = rng.dirichlet([1.0, 1.0, 0.5], size=n) @ m[:, :3].T
    x[rng.choice(n, n // 100, replace=False)] = variant
    x += 0.002 * rng.standard_normal(x.shape)
    base = cone_angles(x, m)
    growth = {j: cone_angles(x, np.delete(m, j, 1)) - base for j in (0, 3)}
    top = {j: np.degrees(np.quantile(g, 0.995)) for j, g in growth.items()}
    assert abs(top[0] - top[3]) < 1.0  # the tie: either could go on the extreme pixels alone
    columns, why = choose_spares(m, x, 1, np.ones(len(wn)), None)
    assert columns == [3], why
    assert why[0]["cost_deg"] == pytest.approx(np.degrees(np.quantile(growth[3], [0.995, 0.95]).sum()
                                                          + np.sort(growth[3])[-SPOT_PIXELS]))
    assert choose_spares(m, x, 1, np.ones(len(wn)), None, spot_pixels=0)[0] == [3]  # the quantiles alone too


def test_the_spot_term_keeps_a_material_of_nine_pixels_the_quantiles_do_not_see(spectra):
    """A 3 × 3 spot of a material (9 of 4000 pixels, below the 99.5th percentile) costs the
    quantiles nothing; a residue that 3 % of the pixels hold costs a little. With the growth
    of the ninth most affected pixel added, the residue goes and the spot's material stays
    (blind ground-crust: the ultramarine spot, stop 47)."""
    wn, e = spectra
    rng = np.random.default_rng(2)
    n = 4000
    residue = _bands(wn, [2200, 2600], width=60.0)
    x = rng.dirichlet([1.0, 1.0], size=n) @ e[:, :2].T
    held = rng.choice(n, 3 * n // 100, replace=False)
    x[held] += 0.3 * residue
    x[held[:9]] = e[:, 2]  # the spot, pure
    x += 0.002 * rng.standard_normal(x.shape)
    m = np.column_stack([e[:, 0], e[:, 1], e[:, 2], residue])
    columns, why = choose_spares(m, x, 1, np.ones(len(wn)), None, spot_pixels=0)
    assert columns == [2], why  # the quantiles alone drop the spot's material
    columns, why = choose_spares(m, x, 1, np.ones(len(wn)), None, spot_pixels=9)
    assert columns == [3] and why[0]["next"]["column"] == 2, why
    growth = cone_angles(x, m[:, :3]) - cone_angles(x, m)
    assert why[0]["cost_deg"] == pytest.approx(np.degrees(np.quantile(growth, [0.995, 0.95]).sum()
                                                          + np.sort(growth)[-9]))
    # in a sample of a larger image the spot is its share of the sample: 9 of 4000 in 2000 is 4 or 5
    columns, why = choose_spares(m, x, 1, np.ones(len(wn)), None, spot_pixels=9, sample=2000)
    assert columns == [3], why


def test_close_calls_name_the_kept_spectrum_in_the_numbering_of_the_kept():
    why = [{"column": 1, "cost_deg": 10.0, "next": {"column": 3, "cost_deg": 10.0 * CLOSE_CALL}}]
    assert close_calls(why, [0, 2, 3]) == [{"kept_em": 3, "cost_deg": 10.0 * CLOSE_CALL, "dropped_cost_deg": 10.0}]
    assert close_calls([{**why[0], "next": {"column": 3, "cost_deg": 11.5}}], [0, 2, 3]) == []  # not close
    assert close_calls([{**why[0], "next": {"column": 3, "cost_deg": 10.5}}], [0, 1, 2]) == []  # dropped later
    assert close_calls([{"column": 1, "cost_deg": 10.0}], [0, 2, 3]) == []  # atmosphere: no runner-up


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
    spare = r.parameters["spare_endmembers"]
    assert spare["trained_k"] == 5 and len(spare["dropped"]) == 1 and 0 <= spare["dropped"][0]["column"] < 5
    assert len(r.parameters["restart_runs"]["spread_deg"]) == 4 and len(r.parameters["trust"]) == 4
    replaced = r.parameters["refinement"]["replaced"]
    assert replaced is None or 0 <= replaced < 4
    with pytest.raises(ValueError, match="spare"):
        unmix(small_section.cube, 4, spare=-1)


def test_a_difference_spectrum_trains_the_run_again_with_a_spare(small_section, one_torch_thread, monkeypatch):
    """``spare_when_needed``: a first run that ends with an endmember below its own baseline
    deeper than its noise (here made so) is trained again with K + 1 and the spare dropped; the
    record says why. Below its baseline only by its noise, it is not (stop 74)."""
    import ftir_unmix.methods.cnn as cnn
    from ftir_unmix.preprocess import BELOW_NOISE_SIGMAS

    opts = dict(epochs=40, warmup_steps=10, device="cpu", restarts=1, seed=1)
    whole, deep = np.zeros(4), np.zeros(4)  # the share below the baseline, and the part deeper than the noise

    def share(spectra, basis, noise_sigmas=0.0):
        assert noise_sigmas in (0.0, BELOW_NOISE_SIGMAS)
        return (deep if noise_sigmas else whole)[:spectra.shape[1]]

    monkeypatch.setattr(cnn, "below_baseline_share", share)
    whole[2] = 0.3  # a measured spectrum's noise below its baseline: no difference spectrum
    plain = unmix(small_section.cube, 4, **opts)
    assert "spare_endmembers" not in plain.parameters  # one run
    assert plain.parameters["spare_when_needed"] is True

    deep[2] = 0.3
    events = []
    r = unmix(small_section.cube, 4, callback=events.append, **opts)
    spare = r.parameters["spare_endmembers"]
    assert spare["reason"] == "EM3 of the first run was 30% below its own baseline, deeper than its noise"
    assert spare["trained_k"] == 5 and len(spare["dropped"]) == 1
    assert spare["first_run"]["steps_run"] == plain.parameters["steps_run"]
    assert r.parameters["steps_run"] > plain.parameters["steps_run"]
    assert r.endmembers.shape[1] == 4 and len(r.parameters["trust"]) == 4
    assert "first_run_s" in r.timings
    assert any("training again with a spare" in e.message for e in events if e.phase == "train")
    # off: the first run is the answer
    off = unmix(small_section.cube, 4, spare_when_needed=False, **opts)
    assert "spare_endmembers" not in off.parameters
    np.testing.assert_allclose(off.endmembers, plain.endmembers)


def test_cancelling_the_second_run_keeps_the_first(small_section, one_torch_thread, monkeypatch):
    import threading

    import ftir_unmix.methods.cnn as cnn
    from ftir_unmix.config import UnmixConfig
    from ftir_unmix.run import iter_unmix, run_to_end

    monkeypatch.setattr(cnn, "below_baseline_share", lambda spectra, basis, **kw: np.full(spectra.shape[1], 0.3))
    stop = threading.Event()

    def cancel_in_second_run(ev):
        if ev.phase == "train" and "training again" in ev.message:
            stop.set()

    cfg = UnmixConfig(k=4, epochs=40, warmup_steps=10, device="cpu", restarts=1, seed=1)
    r = run_to_end(iter_unmix(small_section.cube, cfg, stop=stop), cancel_in_second_run)
    assert r.parameters["spare_endmembers"] == {"reason": "EM1 of the first run was 30% below its own baseline, "
                                                          "deeper than its noise",
                                     "second_run": "cancelled"}
    assert r.parameters["stopped_by"] == "cancel"
    assert r.endmembers.shape[1] == 4 and np.isfinite(r.endmembers).all()


def _checked_polish(monkeypatch, turns, spot_swaps=(True,), spot_reached=0, **settings):
    """``cnn._polished`` of a run trained again with a spare, K = 5, with the polish and the
    check stubbed: ``turns`` gives, call by call, the columns the check flags (the trained
    spectra first, then after each polish) from the guard's ``difference`` argument; with
    ``spot_check`` the spot check swaps EM3 for a spot's spectrum (all -1) where
    ``spot_swaps`` says so, call by call. Each polish maps EM3 at 0.5 on the first
    ``spot_reached`` of the 6 pixels (1/K elsewhere). Returns the output, the columns each
    polish held fixed and the ``difference`` arguments seen."""
    import ftir_unmix.methods.cnn as cnn
    from ftir_unmix.config import UnmixConfig
    from ftir_unmix.methods.base import MethodInput, MethodOutput

    k, bands, h, w = 5, 40, 2, 3
    calls = iter(turns)
    guards: list[bool] = []

    def check(inp, e, difference=True):
        guards.append(difference)
        return np.isin(np.arange(k), next(calls)(difference))

    monkeypatch.setattr(cnn, "_not_materials", check)
    fixed_seen: list[list[int]] = []

    def fake_polish(pixels, endmembers, *args, fixed, **kwargs):
        fixed_seen.append(list(fixed))
        moved = endmembers + 1.0
        moved[:, fixed] = endmembers[:, fixed]  # held spectra stay as trained
        maps = np.full((k, h * w), 1.0 / k)
        maps[2, :spot_reached] = 0.5
        return moved, maps, {"stopped": False}

    monkeypatch.setattr(cnn, "polish", fake_polish)
    settings = {"spot_check": False, "polish_guard": "vapour", **settings}  # the stub flags by _not_materials
    if settings["spot_check"]:
        swaps = iter(spot_swaps)

        def swap(e, *args, **kwargs):
            if not next(swaps):
                return e, {"weakest": {"em": 3}, "swapped": False}
            swapped = np.array(e, copy=True)
            swapped[:, 2] = -1.0
            return swapped, {"weakest": {"em": 3}, "swapped": True}

        monkeypatch.setattr(cnn, "check_worst_spot", swap)
    cfg = UnmixConfig(k=k, **settings)
    inp = MethodInput(pixels=np.ones((h * w, bands)), shape=(h, w), wavenumbers=np.linspace(700.0, 3800.0, bands),
                      loss_weights=np.ones(bands), background=None, config=cfg)
    out = MethodOutput(abundances=np.zeros((k, h, w)), endmembers=np.arange(bands * k, dtype=float).reshape(bands, k))
    gen = cnn._polished(inp, out, checked=True)
    with pytest.raises(StopIteration) as done:
        while True:
            next(gen)
    return done.value.value, fixed_seen, guards


@pytest.mark.parametrize("holds, kept, held", [(0, False, None), (1, False, [1]), (2, True, [1, 3])])
def test_the_checked_polish_holds_what_it_turned_round_by_round(monkeypatch, holds, kept, held):
    """A run trained again with a spare: each round of the checked polish holds, as trained,
    the spectra the last round turned into vapour lines or a difference spectrum; after
    ``polish_holds`` rounds a spectrum that still turns drops the polish (the trained run is
    returned). Here EM2 turns first, then EM4."""
    turns = [lambda d: [], lambda d: [1], lambda d: [3], lambda d: []]
    r, fixed_seen, _ = _checked_polish(monkeypatch, turns, polish_holds=holds, polish_guard="vapour+difference")
    trained = np.arange(40 * 5, dtype=float).reshape(40, 5)
    polished = r.record["polished"]
    assert polished["kept"] is kept and fixed_seen == [[], [1], [1, 3]][:holds + 1]
    assert (polished.get("held") or {}).get("columns") == held
    if kept:  # the held spectra as trained, the others polished
        np.testing.assert_array_equal(r.endmembers[:, held], trained[:, held])
        np.testing.assert_array_equal(r.endmembers[:, [0, 2, 4]], trained[:, [0, 2, 4]] + 1.0)
        assert polished["held"]["why"] == "EM2 and EM4 became atmospheric lines or a difference spectrum"
    else:  # the polish dropped: the trained spectra, and which one still turned
        np.testing.assert_array_equal(r.endmembers, trained)
        assert polished["why_not"] == f"EM{[2, 4][holds]} became atmospheric lines or a difference spectrum"


@pytest.mark.parametrize("second_kept", [True, False])
def test_a_spot_swapped_in_is_undone_when_the_checked_polish_is_not_kept(monkeypatch, second_kept):
    """The spot check swapped EM3 for a spot's spectrum and the checked polish around it turned
    EM2 into vapour lines: the swap is undone and the trained spectra are polished as with the
    check off (that polish kept: its spectra; not kept either: the trained spectra)."""
    turns = [lambda d: [], lambda d: [1], lambda d: [], lambda d: [] if second_kept else [4]]
    r, fixed_seen, _ = _checked_polish(monkeypatch, turns, polish_holds=0, spot_check=True)
    trained = np.arange(40 * 5, dtype=float).reshape(40, 5)
    assert fixed_seen == [[2], []]  # the spot's spectrum held in the first polish, nothing in the second
    assert r.record["spot_checked"] == {"weakest": {"em": 3}, "swapped": False, "undone": "the polish was not kept"}
    assert r.record["polished"]["kept"] is second_kept
    np.testing.assert_array_equal(r.endmembers, trained + 1.0 if second_kept else trained)


@pytest.mark.parametrize("reached, free_kept", [(2, True), (4, True), (4, False)])
def test_a_spot_whose_map_reaches_a_layer_is_polished_again_free(monkeypatch, reached, free_kept):
    """``spot_hold_reach``: the spot check swapped EM3 for a spot's spectrum and the polish held
    it; where its map then holds ≥ 0.3 on more than that share of the pixels (here 4 of 6 >
    0.5), the swapped spectra are polished again with it free (that polish not kept: the held
    one stands); on 2 of 6 it stays held."""
    # the guard reads each polish's input and its output
    turns = [lambda d: [], lambda d: [], lambda d: [], lambda d: [] if free_kept else [4]]
    r, fixed_seen, _ = _checked_polish(monkeypatch, turns, polish_holds=0, spot_check=True, spot_hold_reach=0.5,
                                       spot_reached=reached)
    check = r.record["spot_checked"]
    assert check["swapped"] is True and check["reach"] == pytest.approx(reached / 6)
    swapped = np.arange(40 * 5, dtype=float).reshape(40, 5)
    swapped[:, 2] = -1.0
    held = swapped + 1.0
    held[:, 2] = -1.0
    if reached == 2:
        assert fixed_seen == [[2]] and check["held"] is True and "free_not_kept" not in check
        np.testing.assert_array_equal(r.endmembers, held)
    elif free_kept:  # the spot's spectrum polished with the others
        assert fixed_seen == [[2], []] and check["held"] is False
        np.testing.assert_array_equal(r.endmembers, swapped + 1.0)
        assert r.record["polished"]["kept"] is True
    else:
        assert fixed_seen == [[2], []] and check["held"] is True
        assert check["free_not_kept"] == "EM5 became atmospheric lines"
        assert r.record["polished"]["kept"] is True  # the held polish's record
        np.testing.assert_array_equal(r.endmembers, held)


@pytest.mark.parametrize("second_kept", [True, False])
def test_the_spot_check_after_the_polish_polishes_again_around_its_spot(monkeypatch, second_kept):
    """``spot_check_after``: the check before the polish swapped nothing, the one after it swaps
    EM3 for a spot's spectrum, and the polished spectra are polished again with it held; where
    that second polish is not kept (EM5 turned), the first polish stands and the swap is undone."""
    # the guard reads each polish's input and its output
    turns = [lambda d: [], lambda d: [], lambda d: [], lambda d: [] if second_kept else [4]]
    r, fixed_seen, _ = _checked_polish(monkeypatch, turns, spot_swaps=(False, True), polish_holds=0,
                                       spot_check=True, spot_check_after=True)
    trained = np.arange(40 * 5, dtype=float).reshape(40, 5)
    assert fixed_seen == [[], [2]]  # the first polish holds nothing, the second the spot's spectrum
    assert r.record["spot_checked"]["swapped"] is False
    after = r.record["spot_checked_after"]
    if second_kept:
        assert after["swapped"] is True and r.record["polished"]["kept"] is True
        expected = trained + 2.0
        expected[:, 2] = -1.0
        np.testing.assert_array_equal(r.endmembers, expected)
    else:
        assert after == {"weakest": {"em": 3}, "swapped": False, "undone": "the polish was not kept"}
        assert r.record["polished"]["kept"] is True  # the first polish's record, kept
        np.testing.assert_array_equal(r.endmembers, trained + 1.0)


def test_a_deepened_guard_holds_a_difference_spectrum_the_polish_made(monkeypatch):
    """``polish_guard="vapour+deepened"``: vapour lines count as with ``"vapour"``, and a
    spectrum the polish took deeper below its baseline is held as trained (here EM4)."""
    import ftir_unmix.methods.cnn as cnn

    deepened = iter([[3], []])
    monkeypatch.setattr(cnn, "_signs", lambda inp, e: (np.zeros(e.shape[1]), None))
    monkeypatch.setattr(cnn, "_deepened", lambda before, after: np.isin(np.arange(5), next(deepened)))
    r, fixed_seen, guards = _checked_polish(monkeypatch, [lambda d: []] * 3, polish_guard="vapour+deepened")
    assert guards == [False, False, False] and fixed_seen == [[], [3]]
    polished = r.record["polished"]
    assert polished["kept"] is True
    assert polished["held"] == {"columns": [3], "why": "EM4 became atmospheric lines or a difference spectrum"}


def test_deepened_counts_only_what_the_polish_took_further_below_its_baseline():
    """The shares below baseline of stop 67's measured spectra, as trained and polished: the
    polish lost the first two (0.000 → 0.133, 0.054 → 0.293) and the fourth (0.030 → 0.060),
    and moved the third towards the truth (0.191 → 0.053); the fifth barely changed."""
    import ftir_unmix.methods.cnn as cnn

    trained = np.array([0.0, 0.054, 0.191, 0.030, 0.084])
    polished = np.array([0.133, 0.293, 0.053, 0.060, 0.092])
    assert cnn._deepened(trained, polished).tolist() == [True, True, False, True, False]


def test_a_vapour_guard_lets_the_polish_make_a_difference_spectrum(monkeypatch):
    """``polish_guard="vapour"``: only vapour lines count; a spectrum the polish turns into a
    difference spectrum (flagged here only when the check is asked about those) is polished
    like the others, and a vapour-lines one is said as such."""
    different = [lambda d: [], lambda d: [2] if d else []]
    r, fixed_seen, guards = _checked_polish(monkeypatch, different, polish_guard="vapour")
    assert guards == [False, False] and fixed_seen == [[]]
    assert r.record["polished"]["kept"] is True and "held" not in r.record["polished"]
    vapour = [lambda d: [], lambda d: [2], lambda d: [4]]
    r, fixed_seen, _ = _checked_polish(monkeypatch, vapour, polish_guard="vapour")
    assert fixed_seen == [[], [2]] and r.record["polished"]["why_not"] == "EM5 became atmospheric lines"
