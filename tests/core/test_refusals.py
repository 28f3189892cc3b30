"""Parameters and data the engine refuses before any work, with a message that names the culprit."""

from __future__ import annotations

import warnings
from dataclasses import fields

import numpy as np
import pytest

from ftir_unmix import UnmixConfig, band_weights, iter_unmix, make_cube, unmix
from ftir_unmix.config import parameter_rule
from ftir_unmix.errors import DataError, FTIRUnmixWarning, ParameterError

WN = np.linspace(650.0, 4000.0, 60)


def _cube(data):
    data = np.asarray(data, dtype=np.float64)
    return make_cube(data, np.linspace(650.0, 4000.0, data.shape[-1]))


@pytest.fixture(scope="module")
def noise_cube():
    return _cube(np.random.default_rng(0).random((8, 8, 60)) + 0.1)


@pytest.mark.parametrize("name, value, accepts", [
    ("lr", float("inf"), r"\(0, 1\]"),
    ("lr", 0.0, r"\(0, 1\]"),
    ("softmax_scale", float("nan"), r"\(0, 100\]"),
    ("softmax_scale", float("inf"), r"\(0, 100\]"),
    ("tau", -5.0, r"\[0, 1000\]"),
    ("tau", float("inf"), r"\[0, 1000\]"),
    ("tau", float("nan"), r"\[0, 1000\]"),
    ("sharpness", float("nan"), r"\(0, 100\]"),
    ("gamma_rough", float("nan"), r"\[0, 100\]"),
    ("gamma_flat", float("inf"), r"\[0, 100\]"),
    ("w_min", 1.5, r"\[0, 1\]"),
    ("epochs", 99999999999999999999, r"\[1, 100000\]"),
    ("epochs", 0, r"\[1, 100000\]"),
    ("seed", -1, r"\[0, 4294967295\]"),
    ("seed", 10**20, r"\[0, 4294967295\]"),
    ("k", 0, r"\[2, 256\]"),
    ("k", 1, r"\[2, 256\]"),
    ("patch_size", 4, "odd integer"),
    ("dropout", 1.0, r"\[0, 1\)"),
    ("method", "pca", "one of cnn, nmf, vca-fcls"),
])
def test_out_of_range_parameters_are_refused_with_name_and_range(name, value, accepts):
    with pytest.raises(ParameterError, match=accepts) as info:
        UnmixConfig(**{name: value})
    assert info.value.name == name and str(info.value).startswith(f"{name}: must be")


@pytest.mark.parametrize("name, value", [("k", "3"), ("k", 3.7), ("k", True), ("lr", "0.1"),
                                         ("tau", None), ("method", 3)])
def test_wrong_types_are_type_errors_naming_the_parameter(name, value):
    with pytest.raises(TypeError, match=f"^{name} must be"):
        UnmixConfig(**{name: value})


def test_every_config_field_has_a_rule_or_a_checker():
    unchecked = [f.name for f in fields(UnmixConfig) if "rule" not in f.metadata]
    assert unchecked == ["forced_ranges"]  # checked by its own function (pairs of numbers)
    assert parameter_rule("k").describe() == "an integer in [2, 256]"


@pytest.mark.parametrize("ranges, match", [
    ([(float("nan"), float("nan"))], "finite"),
    ([(2300.0, 2300.0)], "empty range"),
    ([(1.0, 2.0, 3.0)], "pair"),
])
def test_forced_ranges_checked(ranges, match):
    with pytest.raises(ParameterError, match=match):
        UnmixConfig(forced_ranges=ranges)


def test_forced_range_outside_the_spectrum_is_refused(noise_cube):
    with pytest.raises(ParameterError, match="5000:6000 cm-1 holds no band"):
        unmix(noise_cube, 3, epochs=2, forced_ranges=[(6000, 5000)])


def test_band_weights_api_validates_its_parameters():
    data = np.random.default_rng(1).random((20, 12))
    with pytest.raises(ParameterError, match="^tau: "):
        band_weights(data, tau=float("nan"))
    with pytest.raises(ParameterError, match="^sharpness: "):
        band_weights(data, sharpness=0.0)
    with pytest.raises(TypeError, match="real numbers"):
        band_weights(np.array([["a"] * 5] * 4))
    bad = data.copy()
    bad[3, 4] = np.nan
    with pytest.raises(ValueError, match="1 NaN or infinite"):
        band_weights(bad)


@pytest.mark.parametrize("weights, match", [
    (np.full(60, np.nan), "weights: must be finite; 60 of 60"),
    (np.zeros(60), "weights: are all zero"),
    (-np.ones(60), "weights: must be ≥ 0"),
    (np.ones(59), r"weights: must have shape \(60,\)"),
])
def test_given_weights_are_checked_and_blamed(noise_cube, weights, match):
    with pytest.raises(ParameterError, match=match):
        unmix(noise_cube, 3, epochs=2, weights=weights)


def test_api_type_errors_name_the_argument(noise_cube):
    with pytest.raises(TypeError, match="cube must be an ftir_unmix.Cube .*make_cube"):
        unmix(np.zeros((4, 4, 5)), 3)
    with pytest.raises(TypeError, match="^k must be an integer"):
        unmix(noise_cube, "3")
    with pytest.raises(TypeError, match="^k must be an integer"):
        unmix(noise_cube, 3.7)
    with pytest.raises(TypeError, match="config must be an UnmixConfig"):
        next(iter_unmix(noise_cube, {"k": 3}))
    with pytest.raises(TypeError, match="unknown unmixing parameter"):
        unmix(noise_cube, 3, learning_rate=0.1)


@pytest.mark.parametrize("method", ["cnn", "nmf"])
@pytest.mark.parametrize("data, match", [
    (np.zeros((6, 6, 60)), "every value of the cube is zero"),
    (np.full((6, 6, 60), 0.3), r"every value of the cube is the same \(0.3\)"),
    (-np.random.default_rng(2).random((6, 6, 60)) - 0.01, "every value of the cube is ≤ 0"),
    (np.random.default_rng(3).random((6, 6, 1)) * np.random.default_rng(4).random(60),
     "every pixel's spectrum is a multiple of one spectrum"),
])
def test_degenerate_cubes_are_refused_with_the_reason(data, match, method):
    with pytest.raises(DataError, match=match):
        unmix(_cube(data), 3, epochs=2, method=method)


def test_too_few_bands_for_the_baseline_is_refused_and_names_the_way_out():
    data = np.random.default_rng(5).random((8, 8, 3)) + 0.1
    with pytest.raises(DataError, match="quadratic baseline .* leave nothing .*'offset'"):
        unmix(_cube(data), 2, epochs=2)
    r = unmix(_cube(data), 2, epochs=2, baseline="none")  # without the term the same data are fine
    assert r.abundances.shape == (2, 8, 8)


def test_k_above_the_rank_warns_and_is_recorded():
    rng = np.random.default_rng(6)
    data = rng.random((8, 8, 2)) @ rng.random((2, 60))
    with pytest.warns(FTIRUnmixWarning, match="only 2 linearly independent spectra"):
        r = unmix(_cube(data), 4, epochs=3, baseline="none")
    assert any("only 2 linearly independent" in w for w in r.parameters["warnings"])


def test_zero_pixels_warn_but_run():
    data = np.random.default_rng(7).random((8, 8, 60)) + 0.1
    data[:2] = 0.0
    with pytest.warns(FTIRUnmixWarning, match="16 of 64 pixels have an all-zero spectrum"):
        r = unmix(_cube(data), 3, epochs=3)
    assert np.isfinite(r.abundances).all()


def test_a_normal_cube_gives_no_warning(noise_cube):
    with warnings.catch_warnings():
        warnings.simplefilter("error", FTIRUnmixWarning)
        r = unmix(noise_cube, 3, epochs=3)
    assert r.parameters["warnings"] == []


def test_epochs_is_the_most_steps_in_all(small_section, one_torch_thread):
    r = unmix(small_section.cube, 4, epochs=20, seed=0)
    assert r.parameters["refinement"]["steps"] <= 20 // 3
    assert r.parameters["steps_run"] <= 20 and len(r.loss_history) == r.parameters["steps_run"]
    assert UnmixConfig(epochs=20).step_budget() == (14, 6)
    assert UnmixConfig().resolved().epochs == 450 and UnmixConfig().step_budget() == (300, 150)
    assert UnmixConfig(refine=False).step_budget() == (300, 0)
