"""A new method is one registration: the API, the command line and the config know it at once."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ftir_unmix import UnmixConfig, methods, unmix
from ftir_unmix.cli import main
from ftir_unmix.errors import ParameterError
from ftir_unmix.methods import Method, MethodOutput, register, unregister


def _mean_spectrum(inp):
    """Every endmember the mean spectrum, every pixel an even mixture (trivial, but a method)."""
    k = inp.config.k
    e = np.repeat(np.asarray(inp.pixels).mean(axis=0)[:, None], k, axis=1)
    return MethodOutput(abundances=np.full((k, *inp.shape), 1.0 / k), endmembers=e,
                        record={"note": "trivial"})
    yield  # a generator, as every method is


@pytest.fixture
def trivial_method():
    register(Method("mean-spectrum", "every endmember the mean spectrum", _mean_spectrum))
    yield "mean-spectrum"
    unregister("mean-spectrum")


def test_builtin_methods_are_listed():
    assert methods.available()[:3] == ["cnn", "nmf", "vca-fcls"]
    with pytest.raises(KeyError, match="no method 'pca'; available: cnn, nmf, vca-fcls"):
        methods.get("pca")
    with pytest.raises(ValueError, match="already registered"):
        register(Method("cnn", "again", _mean_spectrum))


def test_a_registered_method_runs_through_the_api(small_section, trivial_method):
    cube = small_section.cube
    r = unmix(cube, 3, method=trivial_method)
    assert r.parameters["method"] == trivial_method and r.parameters["note"] == "trivial"
    np.testing.assert_allclose(r.endmembers[:, 0], cube.pixels.mean(axis=0), rtol=1e-4)
    np.testing.assert_allclose(r.abundances, 1 / 3)
    assert "no baseline term" in r.parameters["preprocessing"]["baseline"]
    assert UnmixConfig(method=trivial_method).method == trivial_method


def test_a_registered_method_runs_through_the_cli(small_section, trivial_method, tmp_path, capsys):
    path = tmp_path / "cube.npz"
    np.savez(path, cube=small_section.cube.data, wavenumbers=small_section.cube.wavenumbers)
    assert main(["unmix", str(path), "--k", "3", "--method", trivial_method, "--out", str(tmp_path / "o")]) == 0
    record = json.loads((tmp_path / "o" / "run.json").read_text())
    assert record["parameters"]["method"] == trivial_method and record["shape"]["k"] == 3


def test_an_unknown_method_is_refused_by_the_config():
    with pytest.raises(ParameterError, match="method: must be one of cnn, nmf, vca-fcls"):
        UnmixConfig(method="mean-spectrum")
