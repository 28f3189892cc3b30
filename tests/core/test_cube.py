"""Cube validation and repairs."""

from __future__ import annotations

import numpy as np
import pytest

from ftir_unmix import CubeError, make_cube


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int16, np.uint8])
def test_make_cube_converts_to_float32(dtype):
    cube = make_cube(np.ones((2, 3, 4), dtype=dtype), [1000, 1100, 1200, 1300])
    assert cube.data.dtype == np.float32 and cube.shape == (2, 3, 4)
    assert cube.metadata["repairs"] == []


def test_descending_axis_is_flipped_and_recorded():
    data = np.arange(24, dtype=float).reshape(2, 3, 4)
    cube = make_cube(data, [4000, 3000, 2000, 1000])
    np.testing.assert_array_equal(cube.wavenumbers, [1000, 2000, 3000, 4000])
    np.testing.assert_array_equal(cube.data, data[:, :, ::-1])
    assert "descending" in cube.metadata["repairs"][0]


@pytest.mark.parametrize(
    "wn,match",
    [([1, 2, 2, 3], "duplicated"), ([1, 3, 2, 4], "not monotonic"), ([1, 2, np.nan, 4], "NaN"),
     ([1, 2, 3], "3 wavenumbers for 4 bands")],
)
def test_bad_axes_are_refused(wn, match):
    with pytest.raises(CubeError, match=match):
        make_cube(np.ones((2, 2, 4)), wn)


def test_nonfinite_values_refused_or_zeroed_explicitly():
    data = np.ones((2, 2, 3))
    data[0, 1, 2] = np.nan
    data[1, 1, 0] = np.inf
    with pytest.raises(CubeError, match="2 NaN/inf"):
        make_cube(data, [1, 2, 3])
    cube = make_cube(data, [1, 2, 3], nonfinite="zero")
    assert np.isfinite(cube.data).all() and cube.data[0, 1, 2] == 0
    assert "2 non-finite" in cube.metadata["repairs"][0]


@pytest.mark.parametrize("shape", [(0, 3, 4), (2, 2, 1), (3, 4)])
def test_degenerate_shapes_refused(shape):
    with pytest.raises(CubeError):
        make_cube(np.ones(shape), np.arange(shape[-1] if len(shape) == 3 else 4))


def test_single_spectrum_becomes_one_pixel():
    cube = make_cube(np.arange(5.0), np.arange(5.0) + 1)
    assert cube.shape == (1, 1, 5)
    info = cube.info()
    assert info["height"] == 1 and info["bands"] == 5 and info["wavenumber_max"] == 5.0
