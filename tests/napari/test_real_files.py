"""Every real imaging sample file opens through the npe2 reader with its stated shape and range."""

from __future__ import annotations

import numpy as np
import pytest
from real_files import IMAGING

from ftir_unmix.napari._reader import napari_get_reader as get_reader


@pytest.mark.parametrize(("rel", "fmt", "shape", "wn0", "wn1", "px"), IMAGING)
def test_npe2_reader_opens_real_file(formats, rel, fmt, shape, wn0, wn1, px):
    path = formats / rel
    assert path.exists(), f"shared sample data missing: {path}"
    read = get_reader(str(path))
    assert read is not None
    (data, kwargs, layer_type), = read(str(path))
    h, w, b = shape
    assert layer_type == "image" and np.asarray(data).shape == (b, h, w)
    wn = np.asarray(kwargs["metadata"]["wavenumbers"])
    assert wn[0] == pytest.approx(wn0, abs=1e-3) and wn[-1] == pytest.approx(wn1, abs=1e-3)
