"""What happens to the data before a method sees it.

- :mod:`.weights`: the band-reliability weights of the WSAD loss (Pande et al.
  2026, Sec. II-E) and their diagnostics, hand-forced ranges;
- :mod:`.background`: the smooth per-pixel background (baseline) term — a
  polynomial basis, its weighted orthonormal form, and the convention that
  picks endmember spectra that are zero where the material is transparent;
- :mod:`.atmosphere`: how much of a spectrum is narrow atmospheric lines (water vapour), and the
  spectra of the image's drifting water vapour and CO₂, estimated from the image;
- :mod:`.scaling`: scaling of the pixel spectra;
- :mod:`.noise`: white noise per band read from the spectra's differences.
"""

from __future__ import annotations

from .atmosphere import ATMOSPHERE_LINE_SHARE, AtmosphereEstimate, axis_step, estimate_atmosphere, narrow_line_share
from .background import (
    BASELINES,
    BELOW_NOISE_SIGMAS,
    as_seen,
    baseline_degree,
    below_baseline_share,
    lower_envelope,
    polynomial_basis,
    weighted_nuisance_basis,
)
from .scaling import SCALINGS, ScaledPixels, Scaling, file_mapping, release_pages, scale_pixels
from .weights import BandDiagnostics, band_diagnostics, band_weights, force_ranges, robust_z

__all__ = [
    "ATMOSPHERE_LINE_SHARE", "AtmosphereEstimate", "BASELINES", "SCALINGS", "BandDiagnostics", "ScaledPixels",
    "Scaling", "as_seen", "axis_step", "band_diagnostics", "band_weights", "estimate_atmosphere", "file_mapping",
    "release_pages", "baseline_degree", "BELOW_NOISE_SIGMAS", "below_baseline_share", "force_ranges", "lower_envelope",
    "narrow_line_share", "polynomial_basis", "robust_z", "scale_pixels", "weighted_nuisance_basis",
]
