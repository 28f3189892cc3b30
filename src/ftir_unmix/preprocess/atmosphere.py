"""Water vapour lines in a spectrum: how much of it they are.

Water vapour absorbs in rotational lines as narrow as the instrument's resolution (about
4 cm⁻¹), around its bending band (1250–2050 cm⁻¹) and its stretching bands (3400–4000
cm⁻¹); the bands of condensed materials are wider (10 cm⁻¹ and more). What a spectrum
loses in those ranges when smoothed over a few cm⁻¹ is therefore mostly water vapour.
Counting only those ranges keeps all of the vapour's share and about two thirds of white
noise's, which is spread over every band (a band with 30 % white noise: 0.20 over the whole
axis, 0.14 in the ranges). As a share of the spectrum's norm (:func:`narrow_line_share`,
4 cm⁻¹ sampling): at most 0.06 for the material spectra of the scene family, at most 0.11
for 34 measured reference spectra (median 0.05), 0.22–0.35 for measured and modelled water
vapour alone; a run on aggregates-k6 seed 9049 spent an endmember on drifting vapour and
merged calcite into lead white to pay for it (docs/benchmarks.md §0). The band weights only
down-weight the lines' centres; their wings and the bands between them keep full weight,
so an image whose vapour drifts can still buy an endmember for it. CO₂ is not counted: its
lines lie outside the ranges, and at this resolution its band is one broad envelope that
the band weights take out.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d

__all__ = ["ATMOSPHERE_LINE_SHARE", "LINE_WIDTH_CM", "WATER_RANGES", "narrow_line_share", "narrow_lines"]

#: Lines narrower than this (the Gaussian smoothing's standard deviation, cm⁻¹) count as atmosphere.
LINE_WIDTH_CM = 4.0
#: Where water vapour's rotational lines lie (cm⁻¹).
WATER_RANGES = ((1250.0, 2050.0), (3400.0, 4000.0))
#: Above this share of its norm in narrow lines a spectrum is water vapour, not a material: above
#: every material spectrum measured (0.11 at most), below water vapour alone (see above).
ATMOSPHERE_LINE_SHARE = 0.2


def narrow_lines(spectra: np.ndarray, wavenumbers: np.ndarray) -> np.ndarray:
    """The part of each spectrum (columns of ``spectra``, (B, K)) narrower than :data:`LINE_WIDTH_CM`:
    the spectrum minus its Gaussian smoothing along the band axis."""
    e = np.asarray(spectra, dtype=np.float64)
    wn = np.asarray(wavenumbers, dtype=np.float64)
    step = float(np.median(np.abs(np.diff(wn)))) if wn.size > 1 else 1.0
    return e - gaussian_filter1d(e, LINE_WIDTH_CM / max(step, 1e-12), axis=0, mode="nearest")


def narrow_line_share(spectra: np.ndarray, wavenumbers: np.ndarray) -> np.ndarray:
    """Per spectrum (columns of ``spectra``), the norm of its :func:`narrow_lines` in
    :data:`WATER_RANGES` over the spectrum's whole norm.

    Examples
    --------
    >>> wn = np.arange(650.0, 4000.0, 4.0)
    >>> band = np.exp(-0.5 * ((wn - 1700) / 12) ** 2)              # a carbonyl band
    >>> lines = np.where(np.arange(wn.size) % 2 == 0, 1.0, 0.0) * (np.abs(wn - 3750) < 200)
    >>> np.round(narrow_line_share(np.stack([band, lines], axis=1), wn), 2)
    array([0.05, 0.7 ])
    """
    e = np.asarray(spectra, dtype=np.float64)
    wn = np.asarray(wavenumbers, dtype=np.float64)
    water = np.zeros(wn.shape, dtype=bool)
    for lo, hi in WATER_RANGES:
        water |= (wn >= lo) & (wn <= hi)
    lines = narrow_lines(e, wn)[water]
    return np.linalg.norm(lines, axis=0) / np.maximum(np.linalg.norm(e, axis=0), 1e-30)
