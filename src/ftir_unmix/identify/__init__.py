"""Names for endmembers: reference libraries, marker bands of heritage materials, scores.

>>> from ftir_unmix.identify import identify, load_library, identification_to_json
>>> # result = identify(result.endmembers, result.wavenumbers, names,
>>> #                   library=load_library("my_refs/"), weights=result.weights)

- :func:`load_library` reads the user's reference spectra (JCAMP-DX, CSV/TXT/DPT, OMNIC
  ``.spa``, OPUS, PerkinElmer ``.sp``, ``endmembers.csv`` of past runs): ``.entries`` and
  ``.problems`` (unreadable files with the reason; never fatal).
- :func:`builtin_markers` is the table of marker bands with their literature sources
  (``marker_bands.csv``, ``marker_sources.csv``); :func:`load_markers` merges a user's file.
- :func:`identify` returns, per endmember, candidates with scores and evidence;
  :func:`identification_to_json` and :func:`format_identification` render them.
- :func:`resample` puts a spectrum onto other band positions (band-averaged where finer).

See docs/identification.md. Nothing here imports torch, napari, Qt or matplotlib.
"""

from __future__ import annotations

from ._spectra import CO2_REGION, resample
from .library import (
    Library,
    LibraryProblem,
    Reference,
    load_library,
    read_band_weights_csv,
    read_endmembers_csv,
    read_reference_file,
)
from .markers import (
    MARKER_THRESHOLD,
    MarkerBand,
    MarkerFileError,
    MarkerTable,
    builtin_markers,
    detect_peaks,
    load_markers,
    read_marker_file,
)
from .match import Candidate, best_match, identify, incomparable_references
from .report import format_identification, identification_to_json, summary
from .scores import LIBRARY_THRESHOLD, fit_pair, hit_quality_index, spectral_angle_deg, weighted_correlation

__all__ = [
    "CO2_REGION",
    "LIBRARY_THRESHOLD",
    "MARKER_THRESHOLD",
    "Candidate",
    "Library",
    "LibraryProblem",
    "MarkerBand",
    "MarkerFileError",
    "MarkerTable",
    "Reference",
    "best_match",
    "builtin_markers",
    "detect_peaks",
    "fit_pair",
    "format_identification",
    "hit_quality_index",
    "identification_to_json",
    "identify",
    "incomparable_references",
    "load_library",
    "load_markers",
    "read_band_weights_csv",
    "read_endmembers_csv",
    "read_marker_file",
    "read_reference_file",
    "resample",
    "spectral_angle_deg",
    "summary",
    "weighted_correlation",
]
