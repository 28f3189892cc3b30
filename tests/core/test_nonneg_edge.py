"""The spectra of materials that never occur pure taken out to the edge of nonnegativity."""

from __future__ import annotations

import numpy as np
import pytest

from ftir_unmix.methods.cnn.nonneg_edge import holdings, to_nonneg_edge

WN = np.linspace(650.0, 4000.0, 1500)


def _bands(*centres: float, width: float = 12.0) -> np.ndarray:
    return sum(np.exp(-0.5 * ((WN - c) / width) ** 2) for c in centres)


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1.0, 1.0))))


@pytest.fixture
def pair() -> tuple[np.ndarray, np.ndarray]:
    """A binder (bands of its own and none of its pigment's) and its pigment."""
    return _bands(1740.0, 2920.0, 2850.0, 1160.0), _bands(1400.0, 712.0, 3535.0, 838.0)


def test_a_binder_found_as_its_purest_mixture_is_taken_out_to_itself(pair):
    binder, pigment = pair
    estimate = 0.55 * binder + 0.45 * pigment  # the purest pixel: never more binder than this
    e = np.stack([estimate, pigment], axis=1)
    out, record = to_nonneg_edge(e, np.array([0.5, 0.95]), WN, below=0.7)
    assert _angle(estimate, binder) > 20.0
    assert _angle(out[:, 0], binder) < 1.0
    np.testing.assert_array_equal(out[:, 1], pigment)  # nearly pure: kept
    assert out[:, 0].max() == pytest.approx(estimate.max())  # the scale the run reported
    assert record["step"][0] > 0.5 and record["step"][1] == 0.0


def test_a_partner_mixed_too_still_takes_it_out(pair):
    binder, pigment = pair
    e = np.stack([0.55 * binder + 0.45 * pigment, 0.85 * pigment + 0.15 * binder], axis=1)
    out, _ = to_nonneg_edge(e, np.array([0.5, 0.95]), WN, below=0.7)
    assert _angle(out[:, 0], binder) < 1.0


@pytest.mark.parametrize("purest, below, fixed", [((0.9, 0.95), 0.7, ()), ((0.5, 0.95), 0.0, ()),
                                                   ((0.5, 0.95), 0.7, [0])])
def test_spectra_with_pure_pixels_off_or_known_are_not_moved(pair, purest, below, fixed):
    binder, pigment = pair
    e = np.stack([0.9 * binder + 0.1 * pigment, pigment], axis=1).astype(np.float32)
    out, record = to_nonneg_edge(e, np.array(purest), WN, below=below, fixed=fixed)
    np.testing.assert_array_equal(out, e)
    assert out.dtype == np.float32
    assert record["step"] == [0.0, 0.0]


def test_a_mixture_that_reads_as_pure_is_moved_where_it_holds_much_of_a_partner(pair):
    """A spectrum lying on a mixed pixel reads as pure; holding half its height of its partner
    (the large step), it is moved all the same, and with a tenth it is kept."""
    binder, pigment = pair
    half = np.stack([0.55 * binder + 0.45 * pigment, pigment], axis=1)
    out, record = to_nonneg_edge(half, np.array([0.9, 0.95]), WN, below=0.7)
    assert record["step"][0] > 0.5 and _angle(out[:, 0], binder) < 1.0
    gate_only, record = to_nonneg_edge(half, np.array([0.9, 0.95]), WN, below=0.7, large=np.inf)
    np.testing.assert_array_equal(gate_only, half)
    tenth = np.stack([0.9 * binder + 0.1 * pigment, pigment], axis=1)
    kept, record = to_nonneg_edge(tenth, np.array([0.9, 0.95]), WN, below=0.7)
    np.testing.assert_array_equal(kept, tenth)
    assert record["step"] == [0.0, 0.0] and record["large"] == 0.5


def test_a_narrow_dip_in_the_spectrum_does_not_stop_the_step(pair):
    """The dilation: the estimate dips to zero over ±3 cm⁻¹ on the flank of its pigment's band
    (where the pigment is at half its height), a ripple, not a band of the binder's."""
    binder, pigment = pair
    estimate = 0.55 * binder + 0.45 * pigment
    estimate[np.abs(WN - 1415.0) < 3.0] = 0.0
    e = np.stack([estimate, pigment], axis=1)
    plain, _ = to_nonneg_edge(e, np.array([0.5, 0.95]), WN, below=0.7, fill_cm=0.0)
    filled, record = to_nonneg_edge(e, np.array([0.5, 0.95]), WN, below=0.7)  # ±4 cm⁻¹
    assert _angle(plain[:, 0], binder) > 20.0  # the dip stops the step at once
    assert _angle(filled[:, 0], binder) < 1.0 and record["fill_cm"] == 4.0
    wide = 0.55 * binder + 0.45 * pigment
    wide[np.abs(WN - 1415.0) < 12.0] = 0.0  # as wide as a band: it is one, and it stops the step
    held, _ = to_nonneg_edge(np.stack([wide, pigment], axis=1), np.array([0.5, 0.95]), WN, below=0.7)
    assert _angle(held[:, 0], binder) > 20.0


def test_a_band_a_little_apart_in_the_two_estimates_does_not_stop_the_step(pair):
    """The erosion: the pigment's bands sit 2 cm⁻¹ higher in the mixture than in its own estimate."""
    binder, pigment = pair
    moved = _bands(1402.0, 714.0, 3537.0, 840.0)
    e = np.stack([0.55 * binder + 0.45 * moved, pigment], axis=1)
    plain, _ = to_nonneg_edge(e, np.array([0.5, 0.95]), WN, below=0.7, shift_cm=0.0, fill_cm=0.0)
    eroded, _ = to_nonneg_edge(e, np.array([0.5, 0.95]), WN, below=0.7, fill_cm=0.0)  # ±2 cm⁻¹
    assert _angle(plain[:, 0], binder) > 10.0  # the offset's lobes stop the step early
    assert _angle(eroded[:, 0], binder) < 5.0


def test_the_step_in_a_run_s_last_fit_gives_the_binder_and_its_true_shares(pair):
    """The image itself: a binder never above 0.55, always with its pigment, and pure pigment
    pixels. The polish ends a little outside the data, still with the pigment's bands (0.2 of
    them): the binder's purest pixels then hold under 0.7 of that spectrum."""
    from ftir_unmix.methods.cnn.cone_polish import cone_maps, edge_step
    from ftir_unmix.metrics import WeightedPixels

    binder, pigment = pair
    rng = np.random.default_rng(0)
    share = np.r_[rng.uniform(0.0, 0.55, 300), np.zeros(20)]
    pixels = np.outer(share, binder) + np.outer(1 - share, pigment) + rng.normal(0, 1e-3, (320, WN.size))
    e = np.stack([0.8 * binder + 0.2 * pigment, pigment], axis=1)
    maps = cone_maps(WeightedPixels(pixels), e)
    assert 0.6 < np.percentile(maps[0], 99) < 0.7
    out, moved, record = edge_step(pixels, np.ones(WN.size), None, e, maps, WN, below=0.7)
    assert record["step"][0] == pytest.approx(0.25, abs=0.02) and record["step"][1] == 0.0
    assert _angle(out[:, 0], binder) < 1.0
    assert np.allclose(moved.sum(axis=0), 1.0)
    # The binder's shares nearer to those mixed (the moved spectrum keeps the estimate's maximum,
    # 0.8 of the binder's, and the maps' shares are in the spectra's scale: not exact).
    assert np.abs(maps[0] - share).max() > 0.1
    assert np.abs(moved[0] - share).max() < 0.07


def test_a_run_with_the_step_records_it(small_section, one_torch_thread):
    from ftir_unmix import UnmixConfig, unmix

    r = unmix(small_section.cube, 4, epochs=40, restarts=1, refine=False, polish=5, seed=0, edge_below=0.99,
              edge_keep_peak=0.85)
    edge = r.parameters["polished"]["edge"]
    assert edge["below"] == 0.99 and len(edge["step"]) == 4 and edge["keep_peak"] == 0.85
    assert edge["add_back"] == UnmixConfig().edge_add_back > 0  # the default adds back
    assert edge["partner_floor"] == UnmixConfig().edge_partner_floor > 0  # partners' leftovers do not stop it
    assert edge["organic_purest"] == UnmixConfig().edge_organic_purest > 0  # nearly pure organics keep their kind
    assert np.allclose(r.abundances.sum(axis=0), 1.0, atol=1e-5) and r.endmembers.min() >= 0.0
    off = unmix(small_section.cube, 4, epochs=40, restarts=1, refine=False, polish=5, seed=0, edge_below=0.0)
    assert "edge" not in off.parameters["polished"]
    no_baseline = unmix(small_section.cube, 4, epochs=40, restarts=1, refine=False, polish=5, seed=0,
                        baseline="none", atmosphere=False)
    assert "edge" not in no_baseline.parameters["polished"]  # spectra not referenced to zero: not done


def test_the_user_is_told_which_spectra_lie_beyond_every_pixel():
    from ftir_unmix.trust import run_notes

    params = {"polished": {"edge": {"below": 0.7, "step": [0.3, 0.0, 0.1]}}}
    trust = [{"abundance_share": 0.3, "dominant_pixels": 0.3}] * 3
    notes = run_notes(params, trust, ["oil", "lead white", "glue"])
    said = [text for kind, text in notes if kind == "note" and "other materials' bands" in text]
    assert said and said[0].startswith("The spectra of oil and glue held other materials' bands (no pixel shows "
                                       "them pure): they were taken away")
    unmoved = {"polished": {"edge": {"below": 0.7, "step": [0.0, 0.0, 0.0]}}}
    assert not any("other materials' bands" in text for _, text in run_notes(unmoved, trust, ["a", "b", "c"]))


def test_a_partner_holding_a_third_spectrum_stops_the_step_unless_that_one_may_be_added_back(pair):
    """A binder's estimate holds its pigment; the pigment's estimate holds a little of a third
    material (a filler with bands of its own): taking the pigment off would push the filler's
    bands negative, so the plain step stops early. With ``add_back`` the filler is added back,
    as much as the pigment taken off held of it, and the step reaches the binder."""
    binder, pigment = pair
    filler = _bands(875.0, 1090.0)
    e = np.stack([0.55 * binder + 0.45 * pigment, 0.85 * pigment + 0.15 * filler, filler], axis=1)
    purest = np.array([0.5, 0.95, 0.95])
    plain, record = to_nonneg_edge(e, purest, WN, below=0.7)
    assert _angle(plain[:, 0], binder) > 15.0 and "add_back" not in record
    added, record = to_nonneg_edge(e, purest, WN, below=0.7, add_back=3.0)
    assert _angle(added[:, 0], binder) < 1.0
    assert record["add_back"] == 3.0 and record["step"][0] > 0.5
    np.testing.assert_array_equal(added[:, 1:], e[:, 1:])  # nearly pure: kept


def test_nothing_is_added_back_beyond_what_the_partners_taken_off_hold():
    """A clean binder and a resin whose bands lie under the binder's but for a weak one of its
    own; a clay's strong band fills that one. Adding clay back would let the resin be taken off
    the binder down to nothing of its ester band (45° off); the resin holds next to no clay
    (the clay's other band is not in it), so hardly more is added back than the plain step."""
    binder = _bands(1740.0, 2920.0, 2850.0, 1160.0)
    resin = _bands(1740.0, 2920.0) + 0.1 * _bands(1250.0)
    clay = _bands(1250.0) + 0.5 * _bands(3620.0)
    e = np.stack([binder, resin, clay], axis=1)
    purest = np.array([0.5, 0.95, 0.95])
    assert holdings(e / e.max(axis=0), e / e.max(axis=0))[1, 2] < 0.01  # the resin holds (nearly) no clay
    plain, _ = to_nonneg_edge(e, purest, WN, below=0.7)
    added, _ = to_nonneg_edge(e, purest, WN, below=0.7, add_back=3.0)
    unbounded, _ = to_nonneg_edge(e, purest, WN, below=0.7, add_back=1e6)
    assert _angle(plain[:, 0], binder) < 1.0 and _angle(added[:, 0], binder) < 1.5
    assert _angle(unbounded[:, 0], binder) > 30.0


def test_a_partner_s_leftover_where_nothing_absorbs_stops_the_step_unless_below_the_floor(pair):
    """The pigment's estimate keeps 1.5 % of its height at the spectrum's high end, where no
    material absorbs (an estimate's leftover of noise or baseline; blind soap-paint, tuning seed
    100: the oil's step stopped at 3911 cm⁻¹ with a third of its lead white left). The binder is
    transparent there, so the plain step stops short; with ``partner_floor`` above the leftover
    the step reaches the binder, and a floor below it changes nothing."""
    binder, pigment = pair
    leftover = 0.015 * pigment.max() * ((WN > 3850.0) & (WN < 3950.0))
    e = np.stack([0.55 * binder + 0.45 * pigment, pigment + leftover], axis=1)
    purest = np.array([0.5, 0.95])
    plain, record = to_nonneg_edge(e, purest, WN, below=0.7)
    assert _angle(plain[:, 0], binder) > 15.0 and "partner_floor" not in record
    low, _ = to_nonneg_edge(e, purest, WN, below=0.7, partner_floor=0.01)
    np.testing.assert_allclose(low, plain)
    floored, record = to_nonneg_edge(e, purest, WN, below=0.7, partner_floor=0.03)
    assert _angle(floored[:, 0], binder) < 1.0
    assert record["partner_floor"] == 0.03 and record["step"][0] > 0.5
    np.testing.assert_array_equal(floored[:, 1], e[:, 1])  # nearly pure: kept


def test_the_step_keeps_the_spectrum_s_own_strongest_band_with_keep_peak(pair):
    """A carbonate's estimate, never pure (a ground's calcite), and another carbonate whose
    bands all lie under it (a lead white: its main band under the calcite's broad one, its weak
    band under the calcite's): nothing stops the plain step before it takes the lead white off
    whole, the calcite's own main band with it (blind soap-paint, tuning seed 113: 12° → 48°).
    With ``keep_peak`` the step may take at most ``1 − keep_peak`` of the spectrum's strongest
    band, and a binder whose partner lies away from its strongest band still reaches itself."""
    calcite = _bands(1420.0, width=60.0) + 0.35 * _bands(875.0, 712.0)
    lead_white = _bands(1410.0, width=30.0) + 0.2 * _bands(875.0)
    e = np.stack([calcite, lead_white], axis=1)
    purest = np.array([0.5, 0.95])
    plain, record = to_nonneg_edge(e, purest, WN, below=0.7)
    assert record["step"][0] > 0.8 and _angle(plain[:, 0], calcite) > 30.0 and "keep_peak" not in record
    kept, record = to_nonneg_edge(e, purest, WN, below=0.7, keep_peak=0.9)
    assert record["keep_peak"] == 0.9 and record["step"][0] < 0.15 and _angle(kept[:, 0], calcite) < 8.0
    binder, pigment = pair
    mixed = np.stack([0.55 * binder + 0.45 * pigment, pigment], axis=1)
    out, _ = to_nonneg_edge(mixed, purest, WN, below=0.7, keep_peak=0.9, add_back=3.0)
    assert _angle(out[:, 0], binder) < 1.0


@pytest.fixture
def organics() -> tuple[np.ndarray, np.ndarray]:
    """A drying oil and a natural resin: C–H-rich, each band near one of the other's."""
    return _bands(2920.0, 2850.0, 1740.0, 1465.0, 1160.0), _bands(2935.0, 2865.0, 1720.0, 1450.0, 1180.0, width=14.0)


def test_a_nearly_pure_organic_keeps_its_organic_partners_with_organic_purest(organics):
    """Neither organic has a band where the other is transparent: the plain step takes the oil
    off the resin and the resin's own bands with it; with ``organic_purest`` a C–H-rich spectrum
    that reads that pure keeps them."""
    oil, resin = organics
    e = np.stack([oil, resin], axis=1)
    plain, record = to_nonneg_edge(e, np.array([0.65, 0.65]), WN, below=0.7)
    assert record["step"][1] > 0.1 and _angle(plain[:, 1], resin) > 5.0 and "organic_purest" not in record
    kept, record = to_nonneg_edge(e, np.array([0.65, 0.65]), WN, below=0.7, organic_purest=0.6)
    assert record["step"] == [0.0, 0.0] and record["organic_purest"] == 0.6
    np.testing.assert_array_equal(kept, e)


def test_a_pigment_holding_its_resin_is_still_taken_out_with_organic_purest(organics, pair):
    """An estimate that reads C–H-rich only because it holds the resin is a mixture: reading
    over ``organic_purest`` pure, it loses its C–H with the resin, so it is moved as before."""
    _, resin = organics
    pigment = pair[1]
    estimate = 0.6 * pigment + 0.4 * resin
    ch = (WN >= 2800.0) & (WN <= 3000.0)
    assert estimate[ch].max() > 0.3 * estimate.max()  # it reads C–H-rich
    out, record = to_nonneg_edge(np.stack([estimate, resin], axis=1), np.array([0.65, 0.9]), WN, below=0.7,
                                 organic_purest=0.6)
    assert _angle(estimate, pigment) > 20.0 and record["step"][0] > 0.5 and _angle(out[:, 0], pigment) < 1.0


def test_organic_purest_changes_nothing_without_the_c_h_stretch(organics):
    oil, resin = organics
    short = WN < 1800.0  # a fingerprint-only axis: no spectrum can read C–H-rich
    e = np.stack([oil, resin], axis=1)[short]
    plain, _ = to_nonneg_edge(e, np.array([0.65, 0.65]), WN[short], below=0.7)
    out, _ = to_nonneg_edge(e, np.array([0.65, 0.65]), WN[short], below=0.7, organic_purest=0.6)
    np.testing.assert_array_equal(out, plain)
