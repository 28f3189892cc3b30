"""Tests of the reflectance scene generator in benchmarks/reflectance_scenes.py."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import reflectance_scenes  # noqa: E402


@pytest.mark.parametrize("case", reflectance_scenes.CASES)
def test_a_scene_is_a_linear_mixture_with_abundances_on_the_simplex(case):
    s = reflectance_scenes.make_reflectance_scene(case, 3)
    h, w, b = s.cube.data.shape
    k = len(s.names)
    assert s.endmembers.shape == (b, k) and s.abundances.shape == (k, h, w)
    assert np.all(s.abundances >= 0) and np.allclose(s.abundances.sum(axis=0), 1.0)
    assert np.all(s.endmembers > 0) and np.all(np.diff(s.cube.wavenumbers) > 0)
    clean = np.einsum("bk,khw->hwb", s.endmembers, s.abundances)
    ratio = np.median(s.cube.data / clean, axis=2)  # the shading, up to the noise
    assert 0.8 < ratio.min() and ratio.max() < 1.2


def test_the_same_seed_gives_the_same_scene_and_another_seed_another():
    a, b = (reflectance_scenes.make_reflectance_scene("shore-k3", 7) for _ in range(2))
    c = reflectance_scenes.make_reflectance_scene("shore-k3", 8)
    np.testing.assert_array_equal(a.cube.data, b.cube.data)
    assert not np.allclose(a.endmembers, c.endmembers)


def test_regions_are_pure_and_the_road_is_minor_and_never_pure():
    s = reflectance_scenes.make_reflectance_scene("road-k4", 0)
    pure = (s.abundances >= 0.95).reshape(len(s.names), -1).mean(axis=1)
    road = s.names.index(s.minor[0])
    assert all(pure[j] > 0.05 for j in range(len(s.names)) if j != road)
    assert pure[road] == 0.0 and 0.005 < (s.abundances[road] > 0.05).mean() < 0.05
