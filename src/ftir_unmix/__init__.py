"""FTIR-unmixer: unmixing of ATR-µFTIR hyperspectral images of painting cross-sections.

The headless engine. ``import ftir_unmix`` never imports Qt, napari or
magicgui; the napari plugin lives in :mod:`ftir_unmix.napari`. The public
names below are imported on first use, so ``import ftir_unmix`` (and the
command line's ``info`` or a refused option) does not pay for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

#: Public name -> the module that defines it.
_EXPORTS = {
    "UnmixConfig": "config",
    "Cube": "cube", "make_cube": "cube",
    "CubeError": "errors", "CubeReadError": "errors", "DataError": "errors", "OutputError": "errors",
    "ParameterError": "errors", "ResultReadError": "errors", "FTIRUnmixWarning": "errors",
    "load_cube": "io",
    "KnownSpectra": "known_spectra", "load_known": "known_spectra",
    "UnmixResult": "result", "load_result": "result",
    "Progress": "run", "iter_unmix": "run", "run_to_end": "run", "unmix": "run",
    "BandDiagnostics": "preprocess", "band_diagnostics": "preprocess", "band_weights": "preprocess",
}

__all__ = [
    "BandDiagnostics", "Cube", "CubeError", "CubeReadError", "DataError", "FTIRUnmixWarning",
    "KnownSpectra", "OutputError", "ParameterError", "Progress", "ResultReadError", "UnmixConfig",
    "UnmixResult", "band_diagnostics", "band_weights", "iter_unmix", "load_cube", "load_known",
    "load_result", "make_cube",
    "run_to_end", "unmix", "__version__",
]

if TYPE_CHECKING:  # pragma: no cover
    from .config import UnmixConfig
    from .cube import Cube, make_cube
    from .errors import (
        CubeError,
        CubeReadError,
        DataError,
        FTIRUnmixWarning,
        OutputError,
        ParameterError,
        ResultReadError,
    )
    from .io import load_cube
    from .known_spectra import KnownSpectra, load_known
    from .preprocess import BandDiagnostics, band_diagnostics, band_weights
    from .result import UnmixResult, load_result
    from .run import Progress, iter_unmix, run_to_end, unmix


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ftir_unmix' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
