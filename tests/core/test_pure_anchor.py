"""Spectra of materials that cover a region pure, put on that region's pixels (``pure_anchor``)."""

from __future__ import annotations

import numpy as np
import pytest

from ftir_unmix.methods.cnn import pure_anchor
from ftir_unmix.methods.cnn.cone_polish import cone_maps, polish
from ftir_unmix.methods.cnn.pure_anchor import MIN_PIXEL_SHARE, anchor_to_pure
from ftir_unmix.metrics import WeightedPixels
from ftir_unmix.preprocess.background import polynomial_basis, weighted_nuisance_basis
from ftir_unmix.trust import anchor_note

NM = np.linspace(400.0, 2500.0, 120)


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1.0, 1.0))))


def _shore(seed: int = 0, noise: float = 0.004, n_region: int = 500, n_mixed: int = 300):
    """A dark water spectrum and two bright ones (vegetation, soil), each pure over a region of
    ``n_region`` pixels, mixed pixels between them, each pixel lit a little differently, with
    noise that is large beside the water's signal."""
    rng = np.random.default_rng(seed)
    water = 0.05 * np.exp(-0.5 * ((NM - 500.0) / 120.0) ** 2) + 0.004
    vegetation = 0.05 + 0.4 / (1.0 + np.exp(-(NM - 715.0) / 15.0)) - 0.15 * np.exp(-0.5 * ((NM - 1450.0) / 60.0) ** 2)
    soil = 0.1 + 0.25 * (NM - 400.0) / 2100.0
    truth = np.column_stack([water, vegetation, soil])
    a = np.vstack([np.repeat(np.eye(3), n_region, axis=0), rng.dirichlet(np.full(3, 0.7), n_mixed)])
    x = (a @ truth.T) * rng.uniform(0.9, 1.1, (len(a), 1)) + rng.normal(0.0, noise, (len(a), NM.size))
    return truth, a, x


def _maps(x: np.ndarray, e: np.ndarray) -> np.ndarray:
    return cone_maps(WeightedPixels(x, np.ones(NM.size)), e)


def test_a_spectrum_outside_its_pure_region_is_put_on_that_region():
    truth, _, x = _shore()
    out_of_region = truth.copy()
    out_of_region[:, 0] = np.clip(1.6 * truth[:, 0] - 0.06 * truth[:, 1], 0.0, None)  # away from the others
    e, maps, record = anchor_to_pure(x, out_of_region, _maps(x, out_of_region), lambda m: _maps(x, m), share=0.95)
    assert _angle(out_of_region[:, 0], truth[:, 0]) > 10.0
    assert _angle(e[:, 0], truth[:, 0]) < 1.5, record
    assert record["moved_deg"][0] > 8.0 and record["pure_pixels"][0] >= 400
    # the bright ones were already on their regions: they move by the noise only
    assert max(_angle(e[:, j], truth[:, j]) for j in (1, 2)) < 0.5
    assert np.allclose(maps.sum(axis=0), 1.0)
    assert (np.percentile(maps[0, :500], 50)) > 0.95  # the water's pixels now read as pure


def test_a_fixed_spectrum_and_a_spectrum_without_a_pure_region_stay():
    truth, _, x = _shore()
    start = truth.copy()
    start[:, 0] = np.clip(1.6 * truth[:, 0] - 0.06 * truth[:, 1], 0.0, None)
    e, _, record = anchor_to_pure(x, start, _maps(x, start), lambda m: _maps(x, m), share=0.95, fixed=[0])
    np.testing.assert_array_equal(e[:, 0], start[:, 0])
    assert record["moved_deg"][0] == 0.0
    # a region smaller than MIN_PIXEL_SHARE of the image is a spot, not a region: left as it is
    truth, _, x = _shore(n_region=2000)
    x = np.vstack([x[:30], x[2000:]])  # the water region cut to 30 of 4330 pixels
    e, _, record = anchor_to_pure(x, start, _maps(x, start), lambda m: _maps(x, m), share=0.95)
    assert record["pure_pixels"][0] < MIN_PIXEL_SHARE * x.shape[0]
    np.testing.assert_array_equal(e[:, 0], start[:, 0])


def test_with_area_the_purest_pixels_anchor_spectra_that_no_pixel_reads_as_pure():
    truth, _, x = _shore()
    # each spectrum pushed away from the others, as a cone fit that encloses the noise leaves them
    out = np.column_stack([np.clip(1.3 * truth[:, j] - 0.3 * np.delete(truth, j, axis=1).mean(axis=1), 0.0, None)
                           for j in range(3)])
    maps = _maps(x, out)
    assert (maps[1:] >= 0.95).sum() == 0  # the bright ones: no pixel at 0.95
    by_share, _, _ = anchor_to_pure(x, out, maps, lambda m: _maps(x, m), share=0.95)
    e, maps, record = anchor_to_pure(x, out, maps, lambda m: _maps(x, m), share=0.95, area=0.33)
    np.testing.assert_array_equal(by_share[:, 1:], out[:, 1:])  # the share's rule leaves them
    assert all(_angle(out[:, j], truth[:, j]) > 1.0 for j in range(3))
    assert all(_angle(e[:, j], truth[:, j]) < 0.5 * _angle(out[:, j], truth[:, j]) for j in range(3)), record
    assert max(_angle(e[:, j], truth[:, j]) for j in (1, 2)) < 0.3
    assert record["area"] == 0.33 and min(record["pure_pixels"]) >= 150 and not record["refused"]
    assert np.allclose(maps.sum(axis=0), 1.0)


def test_with_area_a_mean_that_mixes_the_other_spectra_is_refused(monkeypatch):
    """Water never pure, a little of it in some vegetation, its spectrum at a tenth of its scale:
    its shares read high where it is, and those pixels' mean is mostly vegetation."""
    truth, _, _ = _shore()
    rng = np.random.default_rng(4)
    a = np.zeros((1500, 3))
    a[np.arange(1500), rng.integers(1, 3, 1500)] = 1.0
    wet = rng.random(1500) < 0.3
    a[wet] = [0.0, 1.0, 0.0]
    a[wet, 0] = rng.uniform(0.05, 0.25, wet.sum())
    a /= a.sum(axis=1, keepdims=True)
    x = a @ truth.T + rng.normal(0.0, 0.002, (1500, NM.size))
    start = truth.copy()
    start[:, 0] *= 0.1
    maps = _maps(x, start)
    e, _, record = anchor_to_pure(x, start, maps, lambda m: _maps(x, m), share=0.95, area=0.33)
    assert record["refused"] == [0] and record["moved_deg"][0] == 0.0
    np.testing.assert_array_equal(e[:, 0], start[:, 0])
    monkeypatch.setattr(pure_anchor, "NOVELTY_KEPT", 0.0)  # without the guard: put on the mixtures
    unguarded, _, record = anchor_to_pure(x, start, maps, lambda m: _maps(x, m), share=0.95, area=0.33)
    assert _angle(unguarded[:, 0], truth[:, 0]) > 30.0 and not record["undone"], record


def test_with_tight_a_spectrum_trained_out_beyond_its_region_is_put_on_it():
    """The soil pushed 19° out, away from the vegetation (as training left Samson's): its pixels'
    mean is far nearer the others' cone than the spectrum, so the novelty rule refuses it; the
    pixels agree with one another and their mean stands apart from the others, so ``tight`` takes it."""
    truth, _, x = _shore()
    out = truth.copy()
    out[:, 2] = np.clip(1.5 * truth[:, 2] - 0.5 * truth[:, 1], 0.0, None)
    maps = _maps(x, out)
    assert _angle(out[:, 2], truth[:, 2]) > 15.0
    for tight in (0.0, 0.05):  # off, and a bound the pixels' noise does not meet
        e, _, record = anchor_to_pure(x, out, maps, lambda m: _maps(x, m), share=0.95, area=0.33, tight=tight)
        assert record["refused"] == [2] and record["moved_deg"][2] == 0.0, (tight, record)
    e, _, record = anchor_to_pure(x, out, maps, lambda m: _maps(x, m), share=0.95, area=0.33, tight=3.0)
    assert _angle(e[:, 2], truth[:, 2]) < 0.5 and not record["refused"] and not record["undone"], record
    assert record["tight"] == 3.0
    assert max(_angle(e[:, j], truth[:, j]) for j in (0, 1)) < 2.0


def test_with_tight_a_duplicate_of_another_spectrum_is_still_refused():
    """A second vegetation spectrum (no soil in the image): its purest pixels agree with one
    another, but their mean lies in the other spectra's cone."""
    truth, _, x = _shore()
    x = x[np.r_[0:1000, 1500:1800]]
    out = truth.copy()
    out[:, 2] = np.clip(1.5 * truth[:, 1] - 0.5 * truth[:, 0], 0.0, None)
    e, _, record = anchor_to_pure(x, out, _maps(x, out), lambda m: _maps(x, m), share=0.95, area=0.33, tight=3.0)
    assert 2 in record["refused"], record
    np.testing.assert_array_equal(e[:, 2], out[:, 2])


def _layers(seed: int = 0):
    """Three absorbance spectra in layers: two thick ones pure over 400 pixels each and a thin one
    between them, pure over 20 pixels and graded into each neighbour over 100 pixels that hold it
    at 0.8 (a diffusion zone, as in a paint cross-section)."""
    rng = np.random.default_rng(seed)

    def bands(*centres: float) -> np.ndarray:
        return sum(np.exp(-0.5 * ((NM - c) / 40.0) ** 2) for c in centres) + 0.02

    truth = np.column_stack([bands(600.0, 1700.0), bands(1000.0, 1450.0), bands(800.0, 2100.0)])
    a = np.vstack([np.tile([1.0, 0.0, 0.0], (400, 1)), np.tile([0.2, 0.8, 0.0], (100, 1)),
                   np.tile([0.0, 1.0, 0.0], (20, 1)), np.tile([0.0, 0.8, 0.2], (100, 1)),
                   np.tile([0.0, 0.0, 1.0], (400, 1))])
    return truth, a, a @ truth.T + rng.normal(0.0, 0.002, (len(a), NM.size))


def test_with_graded_a_thin_layer_is_not_put_on_its_interfaces():
    """The thin layer's purest third takes in interface pixels at 0.8, whose mean is a mixture;
    the mean of its purer half drifts from it, so ``graded`` leaves the spectrum where it is,
    while the thick layers, read pure throughout, are still put on their pixels."""
    truth, _, x = _layers()
    start = truth.copy()
    start[:, 0] = np.clip(1.5 * truth[:, 0] - 0.5 * truth[:, 2], 0.0, None)  # a thick layer's spectrum pushed out
    maps = _maps(x, start)
    off, _, record_off = anchor_to_pure(x, start, maps, lambda m: _maps(x, m), share=0.95, area=0.33, tight=3.0)
    e, _, record = anchor_to_pure(x, start, maps, lambda m: _maps(x, m), share=0.95, area=0.33, tight=3.0,
                                  graded=2.0)
    assert _angle(off[:, 1], truth[:, 1]) > 3.0 and not record_off["drifted"], record_off
    assert record["drifted"] == [1] and record["graded"] == 2.0, record
    np.testing.assert_array_equal(e[:, 1], start[:, 1])
    assert _angle(start[:, 0], truth[:, 0]) > 2.0
    assert max(_angle(e[:, j], truth[:, j]) for j in (0, 2)) < 0.2, record
    note = anchor_note({"polished": {"anchor": record}}, ["EM1", "EM2", "EM3"])
    assert "EM2's purest pixels grade into other materials" in note and "more than 2°" in note, note
    assert note.startswith("EM1") and "EM2 covers" not in note, note
    # a region pure throughout (the water) is taken as before: graded changes nothing there
    truth, _, x = _shore()
    start = truth.copy()
    start[:, 0] = np.clip(1.6 * truth[:, 0] - 0.06 * truth[:, 1], 0.0, None)
    runs = [anchor_to_pure(x, start, _maps(x, start), lambda m: _maps(x, m), share=0.95, area=0.33, tight=3.0,
                           graded=graded) for graded in (0.0, 2.0)]
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert not runs[1][2]["drifted"] and _angle(runs[1][0][:, 0], truth[:, 0]) < 1.5


def test_the_note_names_every_spectrum_left_and_is_silent_when_the_anchor_did_nothing():
    names = ["EM1", "EM2", "EM3"]
    left = {"share": 0.95, "area": 0.33, "graded": 2.0, "drifted": [0, 2], "pure_pixels": [0, 0, 0],
            "moved_deg": [0.0, 0.0, 0.0]}
    assert anchor_note({"polished": {"anchor": left}}, names) == (
        "EM1 and EM3: their purest pixels grade into other materials (their mean moves by more than 2° as they "
        "are narrowed): the spectra stay as fitted")
    assert anchor_note({"polished": {"anchor": {**left, "drifted": []}}}, names) is None


def test_the_polish_moves_a_dark_material_out_of_its_noisy_region_and_the_anchor_puts_it_back():
    truth, _, x = _shore(seed=1)
    w = np.ones(NM.size)
    plain, _, rec_plain = polish(x, truth, w, None, None, iterations=60)
    anchored, maps, rec = polish(x, truth, w, None, None, iterations=60, pure_anchor=0.95)
    assert "anchor" not in rec_plain
    assert _angle(plain[:, 0], truth[:, 0]) > 3.0  # the cone fit encloses the noise's spread
    assert _angle(anchored[:, 0], truth[:, 0]) < 0.5 * _angle(plain[:, 0], truth[:, 0]), rec["anchor"]
    assert np.allclose(maps.sum(axis=0), 1.0)


def test_with_a_background_term_the_anchor_does_nothing():
    truth, _, x = _shore()
    basis = polynomial_basis(NM, 2)
    w = np.ones(NM.size)
    nuisance = weighted_nuisance_basis(basis, w)
    off, _, _ = polish(x, truth, w, nuisance, basis, iterations=20)
    on, _, rec = polish(x, truth, w, nuisance, basis, iterations=20, pure_anchor=0.95)
    assert "anchor" not in rec
    np.testing.assert_array_equal(on, off)


@pytest.mark.parametrize(("name", "default", "allowed", "refused"), [
    ("pure_anchor", 0.95, (0.0, 0.95, 1.0), (1.5,)),
    ("anchor_area", 0.33, (0.0, 0.33, 1.0), (-0.1, 1.5)),
    ("anchor_tight", 3.0, (0.0, 3.0, 90.0), (-1.0, 91.0)),
    ("anchor_graded", 2.0, (0.0, 2.0, 90.0), (-1.0, 91.0)),
])
def test_the_anchor_s_settings_are_checked_and_their_defaults_are_as_documented(name, default, allowed, refused):
    from ftir_unmix.config import UnmixConfig
    from ftir_unmix.errors import ParameterError

    assert getattr(UnmixConfig(), name) == default
    for value in allowed:
        assert getattr(UnmixConfig(**{name: value}), name) == value
    for value in refused:
        with pytest.raises(ParameterError):
            UnmixConfig(**{name: value})


def test_a_run_without_a_baseline_term_puts_a_dark_region_on_its_pixels_and_says_so(one_torch_thread):
    from ftir_unmix import make_cube, unmix
    from ftir_unmix.metrics import match_endmembers
    from ftir_unmix.trust import run_notes

    truth, _, x = _shore(seed=2, n_region=600, n_mixed=300)  # 2100 pixels: blocks of rows, 30 × 70
    cube = make_cube(x.reshape(30, 70, NM.size), NM)
    # the anchor alone: with the residual spot as well both runs end with the water at 4.7°
    options = dict(k=3, baseline="none", epochs=80, restarts=1, seed=0, threads=1, residual_spot=False)

    def water_deg(result) -> float:
        e = np.asarray(result.endmembers, np.float64)
        return _angle(e[:, match_endmembers(truth, e)[0]], truth[:, 0])

    off = unmix(cube, pure_anchor=0.0, **options)
    on = unmix(cube, **options)  # the default
    anchor = on.parameters["polished"]["anchor"]
    assert "anchor" not in off.parameters["polished"]
    assert max(anchor["moved_deg"]) > 0.0, anchor
    assert water_deg(on) < water_deg(off), (water_deg(on), water_deg(off))
    notes = [text for kind, text in run_notes(on.parameters, on.parameters["trust"], on.names or
                                              [f"EM{j + 1}" for j in range(3)]) if kind == "note"]
    assert any("covers a region" in n and "pure" in n for n in notes), notes
