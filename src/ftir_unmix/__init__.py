"""FTIR-unmixer: unmixing of ATR-µFTIR hyperspectral images of painting cross-sections.

The headless engine. ``import ftir_unmix`` never imports Qt, napari or
magicgui; the napari plugin lives in :mod:`ftir_unmix.napari`.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .config import UnmixConfig
from .cube import Cube, make_cube
from .errors import CubeError, CubeReadError
from .io import load_cube
from .result import UnmixResult, load_result
from .train import Progress, iter_unmix, run_to_end
from .unmixing import unmix
from .weights import BandDiagnostics, band_diagnostics, band_weights

__all__ = [
    "Cube", "CubeError", "CubeReadError", "BandDiagnostics", "Progress", "UnmixConfig",
    "UnmixResult", "band_diagnostics", "band_weights", "iter_unmix", "load_cube", "load_result",
    "make_cube", "run_to_end", "unmix", "__version__",
]
