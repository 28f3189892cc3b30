"""Blind synthetic ATR-µFTIR scenes of painting cross-sections (an independent third generator).

This module was written without looking at the project's own synthetic generators, to check whether
defaults tuned on those generalise. It depends on numpy and scipy only.

Each scene follows the linear mixing model ``x = E a`` per pixel, with ``E >= 0``, ``a >= 0`` and
``sum(a) = 1``, and then departs from it the way measured images do:

* every true endmember (column of ``E``) is normalised to a maximum of 1 before mixing, so that
  materials have comparable strengths;
* per pixel, an ATR contact factor (0.4-1.3, smooth in space) multiplies the whole spectrum, and the
  bands of several materials shift by a few cm-1 and broaden, smoothly across the image (lead-soap
  bands are narrow in crystalline aggregate cores and broad in their amorphous rims);
* a smooth per-pixel baseline (offset, slope, curvature and a scattering-like rise towards high
  wavenumbers) with spatially varying amplitude;
* CO2 and water-vapour lines whose amplitude drifts along the raster scan and may turn negative
  (over-compensated background). The measured atmosphere spectra of the shared data folder are used
  when present, synthetic line lists otherwise;
* noise whose level rises at both ends of the range (detector cut-off), at 30-40 dB SNR against the
  clean signal, and a few large single-value spikes (in 0.2-1 % of the spectra; ``dense_spikes``
  puts 1-3 in every spectrum).

Three layouts are provided (see ``CASES``); in each, at least half of the materials never exceed
an abundance of 0.75 (enforced by construction), so these materials have no pure pixels.

Run ``python benchmarks/blind_scenes.py`` to print a summary of the three cases at seed 0.
"""

from __future__ import annotations

import os
import time
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter, gaussian_filter1d, minimum_filter1d
from scipy.special import erfcx, expit, ndtr

CASES: tuple[str, ...] = ("soap-paint-k6", "ground-crust-k7", "glaze-stack-k8")

NU_MIN = 650.0
NU_MAX = 4000.0

# A band: (centre cm-1, FWHM cm-1, relative height, shape, parameter).
# Shapes: "g" Gaussian, "l" Lorentzian, "v" pseudo-Voigt (parameter: Lorentzian fraction),
# "s" split pseudo-Voigt (parameter: high-side / low-side width ratio),
# "e" exponentially modified Gaussian (parameter: tail length cm-1, > 0 towards high wavenumber).
Band = tuple[float, float, float, str, float]

_LEAD_WHITE: list[Band] = [
    (1400.0, 110.0, 1.0, "s", 1.6),  # carbonate nu3, broad, tailing to high wavenumber
    (1045.0, 7.0, 0.10, "v", 0.5),  # nu1, sharp
    (838.0, 8.0, 0.12, "l", 0.0),  # nu2
    (680.0, 8.0, 0.16, "v", 0.4),  # nu4
    (693.0, 7.0, 0.10, "g", 0.0),
    (3535.0, 14.0, 0.05, "v", 0.3),  # OH of the hydroxide
    (1736.0, 10.0, 0.03, "g", 0.0),
    (2412.0, 12.0, 0.015, "g", 0.0),
]
_DRYING_OIL: list[Band] = [
    (2925.0, 32.0, 0.55, "v", 0.4),
    (2854.0, 22.0, 0.38, "v", 0.4),
    (2956.0, 18.0, 0.12, "g", 0.0),
    (3008.0, 14.0, 0.03, "g", 0.0),
    (1740.0, 26.0, 1.0, "e", -14.0),  # ester C=O, tail to low wavenumber (oxidation products)
    (1712.0, 40.0, 0.25, "g", 0.0),  # free acids
    (1462.0, 24.0, 0.16, "v", 0.5),
    (1415.0, 30.0, 0.06, "g", 0.0),
    (1377.0, 16.0, 0.06, "g", 0.0),
    (1240.0, 45.0, 0.16, "g", 0.0),
    (1165.0, 40.0, 0.42, "v", 0.6),
    (1100.0, 50.0, 0.20, "g", 0.0),
    (1040.0, 40.0, 0.06, "g", 0.0),
    (725.0, 14.0, 0.05, "l", 0.0),
    (3450.0, 320.0, 0.07, "g", 0.0),
]
_LEAD_SOAP: list[Band] = [
    (1513.0, 14.0, 1.0, "v", 0.6),  # COO- asymmetric stretch
    (1540.0, 13.0, 0.50, "v", 0.6),
    (1418.0, 16.0, 0.32, "v", 0.5),  # COO- symmetric stretch
    (1403.0, 14.0, 0.25, "g", 0.0),
    (2918.0, 13.0, 0.75, "v", 0.5),
    (2849.0, 10.0, 0.55, "v", 0.5),
    (2955.0, 12.0, 0.12, "g", 0.0),
    (2872.0, 10.0, 0.08, "g", 0.0),
    (1472.0, 8.0, 0.12, "l", 0.0),
    (1463.0, 7.0, 0.08, "l", 0.0),
    (720.0, 7.0, 0.12, "l", 0.0),
    (730.0, 6.0, 0.07, "l", 0.0),
    (935.0, 18.0, 0.05, "g", 0.0),
] + [(float(c), 7.0, 0.035, "g", 0.0) for c in range(1190, 1345, 22)]  # CH2 wagging progression
_CA_OXALATE: list[Band] = [
    (1620.0, 32.0, 1.0, "s", 0.7),
    (1315.0, 14.0, 0.72, "v", 0.6),
    (780.0, 11.0, 0.50, "v", 0.5),
    (663.0, 12.0, 0.12, "g", 0.0),
    (3480.0, 70.0, 0.14, "g", 0.0),
    (3430.0, 60.0, 0.12, "g", 0.0),
    (3335.0, 70.0, 0.16, "g", 0.0),
    (3260.0, 70.0, 0.13, "g", 0.0),
    (3060.0, 90.0, 0.10, "g", 0.0),
    (1365.0, 10.0, 0.05, "g", 0.0),
    (950.0, 8.0, 0.03, "g", 0.0),
    (885.0, 10.0, 0.04, "g", 0.0),
]
_ANIMAL_GLUE: list[Band] = [
    (1650.0, 55.0, 1.0, "s", 0.8),  # amide I
    (1545.0, 55.0, 0.60, "s", 1.2),  # amide II
    (1452.0, 28.0, 0.22, "g", 0.0),
    (1400.0, 30.0, 0.18, "g", 0.0),
    (1337.0, 22.0, 0.12, "g", 0.0),
    (1240.0, 50.0, 0.22, "g", 0.0),  # amide III
    (1205.0, 30.0, 0.08, "g", 0.0),
    (1080.0, 60.0, 0.12, "g", 0.0),
    (1035.0, 40.0, 0.08, "g", 0.0),
    (3300.0, 220.0, 0.42, "s", 0.7),  # amide A, H-bonded
    (3075.0, 80.0, 0.10, "g", 0.0),  # amide B
    (2935.0, 45.0, 0.12, "g", 0.0),
    (2875.0, 30.0, 0.05, "g", 0.0),
]
_CALCITE: list[Band] = [
    (1420.0, 130.0, 1.0, "s", 1.5),
    (872.0, 12.0, 0.42, "v", 0.5),
    (848.0, 8.0, 0.03, "g", 0.0),
    (712.0, 6.0, 0.18, "v", 0.5),
    (1795.0, 12.0, 0.05, "g", 0.0),
    (2512.0, 40.0, 0.07, "g", 0.0),
    (2875.0, 30.0, 0.04, "g", 0.0),
]
_GYPSUM: list[Band] = [
    (1140.0, 70.0, 1.0, "v", 0.4),  # sulfate nu3
    (1110.0, 50.0, 0.50, "g", 0.0),
    (1620.0, 14.0, 0.32, "v", 0.5),  # water bending
    (1685.0, 14.0, 0.22, "v", 0.5),
    (3400.0, 110.0, 0.55, "g", 0.0),
    (3530.0, 55.0, 0.45, "v", 0.4),
    (3245.0, 70.0, 0.15, "g", 0.0),
    (669.0, 12.0, 0.40, "v", 0.5),
    (600.0, 12.0, 0.35, "v", 0.5),
    (2215.0, 60.0, 0.03, "g", 0.0),
    (2120.0, 50.0, 0.02, "g", 0.0),
]
_DAMMAR: list[Band] = [
    (1707.0, 34.0, 1.0, "e", -10.0),
    (2935.0, 46.0, 0.80, "v", 0.5),
    (2868.0, 26.0, 0.42, "v", 0.4),
    (2955.0, 20.0, 0.35, "g", 0.0),
    (1460.0, 26.0, 0.32, "v", 0.5),
    (1385.0, 14.0, 0.28, "v", 0.5),
    (1365.0, 12.0, 0.14, "g", 0.0),
    (1240.0, 50.0, 0.18, "g", 0.0),
    (1180.0, 40.0, 0.18, "g", 0.0),
    (1110.0, 30.0, 0.08, "g", 0.0),
    (1030.0, 30.0, 0.08, "g", 0.0),
    (3450.0, 320.0, 0.13, "g", 0.0),
    (1645.0, 12.0, 0.04, "g", 0.0),
    (886.0, 12.0, 0.05, "g", 0.0),
]
_ULTRAMARINE: list[Band] = [
    (1005.0, 100.0, 1.0, "s", 0.75),  # Si-O-Al framework
    (700.0, 14.0, 0.10, "v", 0.5),
    (660.0, 12.0, 0.08, "v", 0.5),
    (2340.0, 10.0, 0.04, "g", 0.0),  # trapped CO2
    (3450.0, 300.0, 0.05, "g", 0.0),
    (1640.0, 30.0, 0.03, "g", 0.0),
]
_PRUSSIAN_BLUE: list[Band] = [
    (2090.0, 28.0, 1.0, "v", 0.7),  # C-N stretch
    (3400.0, 300.0, 0.25, "g", 0.0),
    (3630.0, 40.0, 0.05, "g", 0.0),
    (1610.0, 40.0, 0.20, "g", 0.0),
    (600.0, 40.0, 0.30, "g", 0.0),
]
_EMBEDDING_POLYESTER: list[Band] = [  # unsaturated polyester cross-linked with styrene
    (1725.0, 25.0, 1.0, "v", 0.5),
    (1265.0, 30.0, 0.70, "v", 0.5),
    (1120.0, 40.0, 0.50, "g", 0.0),
    (1070.0, 30.0, 0.45, "g", 0.0),
    (700.0, 10.0, 0.55, "v", 0.6),
    (760.0, 10.0, 0.30, "v", 0.6),
    (2930.0, 40.0, 0.25, "v", 0.4),
    (3030.0, 20.0, 0.08, "g", 0.0),
    (1600.0, 8.0, 0.10, "l", 0.0),
    (1580.0, 8.0, 0.08, "l", 0.0),
    (1450.0, 15.0, 0.20, "g", 0.0),
    (1495.0, 6.0, 0.10, "l", 0.0),
    (3450.0, 250.0, 0.10, "g", 0.0),
]

# name -> (band table, (max shift cm-1, lowest broadening factor, highest broadening factor))
_MATERIALS: dict[str, tuple[list[Band], tuple[float, float, float]]] = {
    "embedding resin": (_EMBEDDING_POLYESTER, (0.0, 1.0, 1.0)),
    "lead white": (_LEAD_WHITE, (3.0, 0.85, 1.35)),
    "drying oil": (_DRYING_OIL, (4.0, 0.9, 1.4)),
    "lead soap": (_LEAD_SOAP, (3.0, 0.9, 2.0)),
    "calcium oxalate": (_CA_OXALATE, (2.0, 0.9, 1.2)),
    "animal glue": (_ANIMAL_GLUE, (3.0, 0.9, 1.15)),
    "calcite": (_CALCITE, (2.0, 0.9, 1.2)),
    "gypsum": (_GYPSUM, (2.5, 0.9, 1.25)),
    "natural resin": (_DAMMAR, (3.0, 0.9, 1.3)),
    "ultramarine": (_ULTRAMARINE, (4.0, 0.95, 1.15)),
    "Prussian blue": (_PRUSSIAN_BLUE, (3.0, 0.9, 1.2)),
}

# Per case: materials in column order, their abundance caps (1.0 = may be pure) and the designed minor ones.
_CASE_MATERIALS: dict[str, tuple[list[str], dict[str, float], list[str]]] = {
    "soap-paint-k6": (
        ["embedding resin", "lead white", "drying oil", "lead soap", "calcite", "animal glue"],
        {"lead white": 0.75, "drying oil": 0.55, "calcite": 0.75, "animal glue": 0.5, "lead soap": 0.95},
        [],
    ),
    "ground-crust-k7": (
        ["embedding resin", "calcium oxalate", "lead white", "drying oil", "ultramarine", "gypsum", "animal glue"],
        {"calcium oxalate": 0.7, "drying oil": 0.6, "ultramarine": 0.65, "animal glue": 0.5},
        ["calcium oxalate", "ultramarine"],
    ),
    "glaze-stack-k8": (
        ["embedding resin", "natural resin", "ultramarine", "Prussian blue", "drying oil", "lead white", "lead soap",
         "calcite"],
        {"natural resin": 0.55, "ultramarine": 0.55, "Prussian blue": 0.5, "drying oil": 0.6, "lead white": 0.75,
         "lead soap": 0.45, "calcite": 0.75},
        [],
    ),
}


@dataclass(frozen=True)
class BlindScene:
    """One synthetic cross-section image with its ground truth.

    Attributes
    ----------
    data : numpy.ndarray
        (H, W, B) float32 observed absorbance, bands in ascending wavenumber.
    wavenumbers : numpy.ndarray
        (B,) float64 ascending wavenumbers in cm-1.
    endmembers : numpy.ndarray
        (B, K) float64 true pure-material spectra before any per-pixel variability, each with maximum 1.
    abundances : numpy.ndarray
        (K, H, W) float64 abundances, non-negative, summing to 1 over K at every pixel.
    names : list of str
        The K material names, in column order.
    case : str
        The case name (one of ``CASES``).
    seed : int
        The seed.
    info : dict
        JSON-ready description: per-material maximum abundance, coverage (share of pixels with
        abundance >= 0.1) and cap, the minor and capped materials, the sources of the atmosphere and
        reference spectra, noise level and other generation parameters.
    effective : numpy.ndarray
        (B, K) float64 each material as the image holds it on average: its per-pixel shifted and
        broadened variants averaged with the pixels' amounts (abundance times contact), each with
        maximum 1. Not the truth the benchmarks score against (``endmembers`` is); the closest a
        single spectrum per material can come to the image's own, for diagnosis.
    """

    data: np.ndarray
    wavenumbers: np.ndarray
    endmembers: np.ndarray
    abundances: np.ndarray
    names: list[str]
    case: str
    seed: int
    info: dict
    effective: np.ndarray


def shared_data_dir() -> Path | None:
    """Return the shared data folder, or None when it is absent.

    Returns
    -------
    pathlib.Path or None
        ``$FTIR_UNMIX_SHARED_DATA`` when set, else ``<repository>/../shared/data``; None when that
        folder does not exist.
    """
    env = os.environ.get("FTIR_UNMIX_SHARED_DATA")
    path = Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"
    return path if path.is_dir() else None


# ----------------------------------------------------------------------------------------------------------------
# Band profiles and spectra


def _profile(nu: np.ndarray, centre: float, fwhm: float, shape: str, par: float) -> np.ndarray:
    """Return a unit-height band profile on ``nu``."""
    x = nu - centre
    if shape == "g":
        return np.exp(-4.0 * np.log(2.0) * (x / fwhm) ** 2)
    if shape == "l":
        return 1.0 / (1.0 + 4.0 * (x / fwhm) ** 2)
    if shape == "v":
        g = np.exp(-4.0 * np.log(2.0) * (x / fwhm) ** 2)
        return par / (1.0 + 4.0 * (x / fwhm) ** 2) + (1.0 - par) * g
    if shape == "s":
        w_low = 2.0 * fwhm / (1.0 + par)
        w = np.where(x < 0.0, w_low, w_low * par)
        return 0.5 / (1.0 + 4.0 * (x / w) ** 2) + 0.5 * np.exp(-4.0 * np.log(2.0) * (x / w) ** 2)
    if shape == "e":
        sigma = fwhm / 2.3548
        tau = abs(par)
        sign = 1.0 if par > 0 else -1.0

        def emg(xx: np.ndarray) -> np.ndarray:
            xs = sign * xx
            z = (sigma / tau - xs / sigma) / np.sqrt(2.0)
            gauss_part = np.exp(-0.5 * (xs / sigma) ** 2) * erfcx(np.maximum(z, -5.0))
            tail = 2.0 * np.exp(0.5 * (sigma / tau) ** 2 - xs / tau)  # asymptote of the line above for z < -5
            return np.where(z > -5.0, gauss_part, tail)

        grid = np.linspace(-3.0 * fwhm - 6.0 * tau, 3.0 * fwhm + 6.0 * tau, 4001)
        return emg(x) / emg(grid).max()
    raise ValueError(f"unknown band shape {shape!r}")


def _band_spectrum(nu: np.ndarray, bands: list[Band], shift: float = 0.0, broad: float = 1.0) -> np.ndarray:
    """Sum a band table on ``nu``, all bands shifted by ``shift`` and widened by ``broad``."""
    out = np.zeros_like(nu)
    height_scale = 1.0 / np.sqrt(broad)  # between height-preserving and area-preserving broadening
    for centre, fwhm, height, shape, par in bands:
        p = par * broad if shape == "e" else par
        out += height * height_scale * _profile(nu, centre + shift, fwhm * broad, shape, p)
    return out


def _smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


@lru_cache(maxsize=16)
def _read_columns(path: str, skip: int) -> tuple[np.ndarray, np.ndarray]:
    arr = np.loadtxt(path, delimiter=",", skiprows=skip, dtype=np.float64)
    order = np.argsort(arr[:, 0])
    return arr[order, 0].copy(), arr[order, 1:].copy()


def _resample(x: np.ndarray, y: np.ndarray, nu: np.ndarray) -> np.ndarray:
    """Interpolate ``y(x)`` onto ``nu``, smoothing first when ``nu`` is coarser (against aliasing)."""
    step_src = float(np.median(np.diff(x)))
    step_dst = float(nu[1] - nu[0]) if nu.size > 1 else step_src
    if step_dst > 1.5 * step_src:
        y = gaussian_filter1d(y, 0.5 * step_dst / step_src, mode="nearest")
    return np.interp(nu, x, y, left=0.0, right=0.0)


def _measured_embedding(nu: np.ndarray, data_dir: Path | None) -> tuple[np.ndarray, str] | None:
    """Polyester library spectrum (Open Specy), baseline-corrected, extended below 760 cm-1 analytically."""
    if data_dir is None:
        return None
    path = data_dir / "reference-spectra" / "openspecy_library" / "12_PEST.csv"
    try:
        x, y = _read_columns(str(path), 1)
    except (OSError, ValueError):
        return None
    y = y[:, 0]
    keep = x >= 735.0  # the first points are an edge artefact
    x, y = x[keep], y[keep]
    y = gaussian_filter1d(y, 1.2, mode="nearest")
    base = gaussian_filter1d(minimum_filter1d(y, 61, mode="nearest"), 15.0, mode="nearest")
    y = np.clip(y - base, 0.0, None)
    meas = _resample(x, y, nu)
    meas /= max(meas.max(), 1e-12)
    ana = _band_spectrum(nu, _EMBEDDING_POLYESTER)
    ana /= ana.max()
    w = _smoothstep(nu, 745.0, 790.0)
    return w * meas + (1.0 - w) * ana, "reference-spectra/openspecy_library/12_PEST.csv"


def _measured_glue(nu: np.ndarray, data_dir: Path | None) -> tuple[np.ndarray, str] | None:
    """Collagen class mean (902-1801 cm-1) spliced into the analytic glue spectrum with cosine tapers."""
    if data_dir is None:
        return None
    path = data_dir / "reference-spectra" / "orange_collagen_classes" / "collagen_csv_class_means.csv"
    try:
        x, y = _read_columns(str(path), 1)
    except (OSError, ValueError):
        return None
    if y.shape[1] < 2:
        return None
    y = y[:, 1].copy()  # columns after the wavenumber: DNA, collagen, glycogen, lipids
    lo_i = int(np.argmin(y[x < 980.0]))
    hi_i = int(np.argmax(x))
    slope = (y[hi_i] - y[lo_i]) / (x[hi_i] - x[lo_i])
    y = np.clip(y - (y[lo_i] + slope * (x - x[lo_i])), 0.0, None)
    meas = np.interp(nu, x, y, left=0.0, right=0.0)
    ana = _band_spectrum(nu, _ANIMAL_GLUE)
    w = _smoothstep(nu, x[0] + 3.0, x[0] + 50.0) * (1.0 - _smoothstep(nu, x[-1] - 50.0, x[-1] - 3.0))
    inside = w > 0.5
    if not inside.any() or meas[inside].max() <= 0.0:
        return None
    scale = float(np.dot(meas[inside], ana[inside]) / max(np.dot(meas[inside], meas[inside]), 1e-12))
    return w * scale * meas + (1.0 - w) * ana, "reference-spectra/orange_collagen_classes/collagen_csv_class_means.csv"


# ----------------------------------------------------------------------------------------------------------------
# Atmosphere


def _split_atmosphere(nu: np.ndarray, spec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split an atmosphere spectrum into a CO2 part (2230-2400 and 600-720 cm-1) and a water part."""
    co2_mask = _smoothstep(nu, 2220.0, 2240.0) * (1.0 - _smoothstep(nu, 2395.0, 2415.0))
    co2_mask += _smoothstep(nu, 590.0, 605.0) * (1.0 - _smoothstep(nu, 715.0, 730.0))
    return spec * co2_mask, spec * (1.0 - co2_mask)


def _measured_atmosphere(nu: np.ndarray, data_dir: Path | None) -> tuple[list[np.ndarray], list[str]] | None:
    """CO2 and water templates from the measured VaporFit atmosphere spectra (absorption made positive)."""
    if data_dir is None:
        return None
    templates: list[np.ndarray] = []
    used: list[str] = []
    for fname in ("D2O-H2O_set_atm1.dpt", "D2O-H2O_set_atm2.dpt"):
        try:
            x, y = _read_columns(str(data_dir / "atmosphere" / fname), 0)
        except (OSError, ValueError):
            continue
        y = -y[:, 0]  # stored as over-compensated (negative) absorbance
        quiet = ((x > 720) & (x < 1250)) | ((x > 2000) & (x < 2220)) | ((x > 2450) & (x < 3450))
        coef = np.polyfit(x[quiet], y[quiet], 1)
        y = y - np.polyval(coef, x)
        co2, h2o = _split_atmosphere(x, y)
        for t in (co2, h2o):
            r = _resample(x, t, nu)
            templates.append(r / max(np.abs(r).max(), 1e-12))
        used.append("atmosphere/" + fname)
    if not templates:
        return None
    return templates, used


def _synthetic_atmosphere(nu: np.ndarray) -> list[np.ndarray]:
    """Built-in CO2 and water-vapour line spectra (two sets with different rotational temperatures)."""
    rng = np.random.default_rng(20240611)  # fixed: the line lists do not depend on the scene
    fw = 4.0  # instrument-limited line width, cm-1
    out: list[np.ndarray] = []
    for temp in (16.0, 20.0):
        co2 = np.zeros_like(nu)
        for m in range(1, 40):
            inten = m * np.exp(-(m / temp) ** 2)
            co2 += inten * _profile(nu, 2349.0 + 1.56 * m, fw, "g", 0.0)
            co2 += 0.9 * inten * _profile(nu, 2349.0 - 1.56 * m, fw, "g", 0.0)
        co2 /= co2.max()
        co2 += 0.5 * _profile(nu, 667.4, 3.0, "v", 0.5) + 0.12 * _profile(nu, 650.0, 15.0, "g", 0.0)
        co2 += 0.12 * _profile(nu, 685.0, 15.0, "g", 0.0)
        h2o = np.zeros_like(nu)
        for lobes, n_lines in (((1480.0, 1720.0), 160), ((3620.0, 3850.0), 160)):
            for centre in lobes:
                pos = rng.normal(centre, 90.0, n_lines // 2)
                amp = rng.exponential(1.0, n_lines // 2) * np.exp(-(((pos - centre) / (8.0 * temp)) ** 2))
                for p, a in zip(pos, amp):
                    h2o += a * _profile(nu, float(p), fw, "g", 0.0)
        out += [co2 / np.abs(co2).max(), h2o / max(np.abs(h2o).max(), 1e-12)]
    return out


# ----------------------------------------------------------------------------------------------------------------
# Spatial helpers


def _field(rng: np.random.Generator, shape: tuple[int, int], sigma: tuple[float, float]) -> np.ndarray:
    """Smooth Gaussian random field with zero mean and unit standard deviation."""
    f = gaussian_filter(rng.standard_normal(shape), sigma, mode="reflect")
    f -= f.mean()
    return f / max(float(f.std()), 1e-12)


def _curve(rng: np.random.Generator, n: int, sigma: float) -> np.ndarray:
    """Smooth random 1-D curve with zero mean and unit standard deviation."""
    f = gaussian_filter1d(rng.standard_normal(n), sigma, mode="reflect")
    f -= f.mean()
    return f / max(float(f.std()), 1e-12)


def _stack(
    rng: np.random.Generator,
    height: int,
    width: int,
    top: float,
    thicknesses: list[float],
    diffuse: list[float],
    wave_px: float,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Soft memberships of a stack of wavy layers.

    Parameters
    ----------
    top : float
        Mean depth of the first boundary, as a fraction of the height.
    thicknesses : list of float
        Mean thickness of each inner layer, as a fraction of the height; the last layer runs to the bottom.
    diffuse : list of float
        Width (px) of each boundary's logistic transition; one more entry than ``thicknesses``.
    wave_px : float
        Amplitude (px) of the waviness of the first boundary.

    Returns
    -------
    memberships : list of numpy.ndarray
        ``len(thicknesses) + 2`` arrays (H, W) that sum to 1.
    boundaries : list of numpy.ndarray
        Depth (px) of each boundary per column.
    """
    ys = np.arange(height, dtype=np.float64)[:, None] + 0.5
    sig_x = max(2.0, width / 12.0)
    b = top * height + wave_px * _curve(rng, width, sig_x)
    bounds = [b]
    for t in thicknesses:
        b = b + t * height * np.exp(0.25 * _curve(rng, width, sig_x))
        bounds.append(b)
    steps = []
    for bd, dw in zip(bounds, diffuse):
        w = dw * np.exp(0.3 * _curve(rng, width, sig_x))
        steps.append(expit((ys - bd[None, :]) / w[None, :]))
    members = [1.0 - steps[0]]
    members += [steps[i] - steps[i + 1] for i in range(len(steps) - 1)]
    members.append(steps[-1])
    return members, bounds


def _mix(
    rng: np.random.Generator,
    names: list[str],
    means: dict[str, float],
    shape: tuple[int, int],
    spread: float,
    sigma: tuple[float, float],
) -> np.ndarray:
    """Layer composition (K, H, W) whose proportions vary smoothly around ``means``."""
    out = np.zeros((len(names), *shape))
    for name, m in means.items():
        out[names.index(name)] = m * np.exp(spread * _field(rng, shape, sigma))
    return out / out.sum(axis=0, keepdims=True)


def _insert(abund: np.ndarray, k: int, amount: np.ndarray) -> np.ndarray:
    """Put ``amount`` of material ``k`` into every pixel, scaling the others down to keep the sum 1."""
    out = abund * (1.0 - amount)[None]
    out[k] += amount
    return out


def _apply_caps(abund: np.ndarray, caps: np.ndarray) -> np.ndarray:
    """Clip materials at their caps and hand the excess to the materials that still have room."""
    caps_eff = (caps - 1e-12)[:, None, None]
    a = abund.copy()
    for _ in range(100):
        over = np.clip(a - caps_eff, 0.0, None)
        excess = over.sum(axis=0)
        if excess.max() <= 0.0:
            break
        a -= over
        free = np.clip(caps_eff - a, 0.0, None)
        room = free * (a > 1e-9)
        total = room.sum(axis=0)
        short = total < excess
        if short.any():
            room[:, short] = free[:, short]
            total = room.sum(axis=0)
        share = np.minimum(excess / np.maximum(total, 1e-300), 1.0)
        a += room * share[None]
    return a / a.sum(axis=0, keepdims=True)


# ----------------------------------------------------------------------------------------------------------------
# Layouts


def _layout_soap(rng: np.random.Generator, names: list[str], h: int, w: int) -> tuple[np.ndarray, dict, dict]:
    """Lead-white/oil paint with lead-soap aggregates, over a chalk-glue ground, in embedding resin."""
    shp = (h, w)
    sig = (2.5, 10.0)
    top = rng.uniform(0.12, 0.2)
    t_paint, t_ground = rng.uniform(0.34, 0.42), rng.uniform(0.3, 0.38)
    members, bounds = _stack(rng, h, w, top, [t_paint, t_ground], list(rng.uniform(0.6, 1.6, 3)), 0.04 * h + 0.5)
    resin = {"embedding resin": 1.0}
    paint = {"lead white": 0.62, "drying oil": 0.33, "lead soap": 0.05}
    ground = {"calcite": 0.58, "animal glue": 0.3, "drying oil": 0.08, "lead white": 0.04}
    layers = [resin, paint, ground, resin]
    a = sum(m[None] * _mix(rng, names, comp, shp, 0.35, sig) for m, comp in zip(members, layers))

    k_soap = names.index("lead soap")
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    crystallinity = np.zeros(shp)
    scale_r = float(np.clip(h / 64.0, 0.4, 1.0))
    paint_px = float(members[1].sum())
    n_blobs = max(1, int(round(paint_px / 900.0 * rng.uniform(0.8, 1.25))))
    radii = []
    for _ in range(n_blobs):
        r0 = rng.uniform(3.0, 8.0) * scale_r
        cx = rng.uniform(0.0, w)
        col = int(np.clip(cx, 0, w - 1))
        lo, hi = bounds[0][col] + 0.6 * r0, bounds[1][col] - 0.6 * r0
        cy = rng.uniform(lo, hi) if hi > lo else 0.5 * (bounds[0][col] + bounds[1][col])
        theta = np.arctan2(yy - cy, xx - cx)
        r_eff = r0 * (1.0 + rng.uniform(0.0, 0.18) * np.cos(2 * theta + rng.uniform(0, 2 * np.pi))
                      + rng.uniform(0.0, 0.08) * np.cos(3 * theta + rng.uniform(0, 2 * np.pi)))
        rho = np.hypot(yy - cy, xx - cx) / r_eff
        rim = rng.uniform(0.8, 2.0)
        peak = rng.uniform(0.8, 0.93)
        prof = expit((1.0 - rho) * r0 / rim * 2.0)
        s = peak * prof
        s[s < 0.01] = 0.0
        a = _insert(a, k_soap, s)
        crystallinity = np.maximum(crystallinity, prof)
        radii.append(round(r0, 2))
    # soap bands are narrow (crystalline) in aggregate cores and broad (amorphous) elsewhere
    broad = 1.0 + 0.9 * (1.0 - crystallinity) + 0.05 * _field(rng, shp, (2.0, 2.0))
    overrides = {"lead soap": {"broad": broad}}
    extra = {"layers": ["embedding resin", "paint", "ground", "embedding resin"], "soap_aggregates": n_blobs,
             "soap_aggregate_radii_px": radii}
    return a, overrides, extra


def _layout_crust(rng: np.random.Generator, names: list[str], h: int, w: int) -> tuple[np.ndarray, dict, dict]:
    """Gypsum-glue ground under lead-white paint, an oxalate crust on the wavy top and pigment spots."""
    shp = (h, w)
    sig = (2.5, 12.0)
    top = rng.uniform(0.16, 0.24)
    members, bounds = _stack(rng, h, w, top, [rng.uniform(0.24, 0.32)], list(rng.uniform(0.7, 1.8, 2)),
                             0.05 * h + 0.5)
    layers = [{"embedding resin": 1.0}, {"lead white": 0.58, "drying oil": 0.42},
              {"gypsum": 0.68, "animal glue": 0.32}]
    a = sum(m[None] * _mix(rng, names, comp, shp, 0.35, sig) for m, comp in zip(members, layers))

    # crust: a patchy band of varying thickness just under the wavy surface, blurred by the ATR spot;
    # its thickness is scaled so that it covers a drawn 1.3-2.7 % of the pixels (a >= 0.1).
    surface = bounds[0][None, :]
    ys = np.arange(h, dtype=np.float64)[:, None]
    g = np.log1p(np.exp(2.0 * (_curve(rng, w, max(2.0, w / 20.0)) + 0.7)))
    peak = rng.uniform(0.5, 0.7) * (0.85 + 0.15 * np.tanh(_curve(rng, w, max(2.0, w / 15.0))))
    peak = np.minimum(peak, 0.7)

    def crust(scale: float) -> np.ndarray:
        d = scale * g[None, :]
        ov = np.clip(np.minimum(ys + 1.0, surface + d) - np.maximum(ys, surface), 0.0, 1.0)
        return gaussian_filter1d(peak[None, :] * ov, 0.45, axis=0, mode="nearest")

    target = rng.uniform(0.013, 0.027)
    lo, hi = 0.0, 1.0
    while np.mean(crust(hi) >= 0.1) < target and hi < 1e3:
        hi *= 2.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if np.mean(crust(mid) >= 0.1) < target:
            lo = mid
        else:
            hi = mid
    a_ox = crust(hi)
    a = _insert(a, names.index("calcium oxalate"), a_ox)

    k_um = names.index("ultramarine")
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    n_spots = int(rng.integers(1, 3))
    for _ in range(n_spots):
        cx = rng.uniform(0.1 * w, 0.9 * w)
        col = int(np.clip(cx, 0, w - 1))
        cy = 0.5 * (bounds[0][col] + bounds[1][col]) + rng.uniform(-1.0, 1.0)
        sd = rng.uniform(0.7, 1.2)
        s = rng.uniform(0.5, 0.65) * np.exp(-0.5 * ((yy - cy) ** 2 + (xx - cx) ** 2) / sd**2)
        s[s < 0.02] = 0.0
        a = _insert(a, k_um, s)
    d_px = (hi * g).mean()
    extra = {"layers": ["embedding resin", "paint", "ground"], "crust_target_coverage": round(float(target), 4),
             "crust_mean_thickness_px": round(float(d_px), 3), "pigment_spots": n_spots}
    return a, {}, extra


def _layout_glaze(rng: np.random.Generator, names: list[str], h: int, w: int) -> tuple[np.ndarray, dict, dict]:
    """Several thin wavy glazes (blue pigments, oil, natural resin) over a lead-white underpaint and chalk ground."""
    shp = (h, w)
    sig = (2.0, 14.0)
    n_glaze = int(rng.integers(4, 6))
    thick = list(rng.uniform(0.055, 0.085, n_glaze)) + [rng.uniform(0.17, 0.23)]
    diffuse = list(rng.uniform(0.8, 1.6, n_glaze + 1)) + [rng.uniform(0.8, 1.6)]
    members, _ = _stack(rng, h, w, rng.uniform(0.1, 0.15), thick, diffuse, 0.03 * h + 0.5)
    layers: list[dict[str, float]] = [{"embedding resin": 1.0}]
    for j in range(n_glaze):
        pig = rng.uniform(0.25, 0.45) * (0.4 if j == 0 else 1.0)  # the top glaze is mostly resin (varnish-like)
        split = rng.dirichlet([0.8, 0.8])
        oil = rng.uniform(0.3, 0.45)
        comp = {"ultramarine": pig * split[0] + 1e-3, "Prussian blue": pig * split[1] + 1e-3, "drying oil": oil,
                "natural resin": max(1.0 - pig - oil, 0.15)}
        layers.append(comp)
    layers.append({"lead white": 0.6, "drying oil": 0.3, "lead soap": 0.08, "calcite": 0.02})
    layers.append({"calcite": 0.6, "drying oil": 0.28, "lead white": 0.12})
    a = sum(m[None] * _mix(rng, names, comp, shp, 0.4, sig) for m, comp in zip(members, layers))
    extra = {"layers": ["embedding resin"] + [f"glaze {j + 1}" for j in range(n_glaze)] + ["underpaint", "ground"]}
    return a, {}, extra


_LAYOUTS = {"soap-paint-k6": _layout_soap, "ground-crust-k7": _layout_crust, "glaze-stack-k8": _layout_glaze}


# ----------------------------------------------------------------------------------------------------------------
# Main generator


def _bilinear_weights(s: np.ndarray, b: np.ndarray, s_levels: np.ndarray, b_levels: np.ndarray) -> np.ndarray:
    """(P, n_s * n_b) bilinear interpolation weights of per-pixel (shift, broadening) on a level grid."""
    p = s.size
    ns, nb = s_levels.size, b_levels.size
    out = np.zeros((p, ns * nb))
    rows = np.arange(p)

    def axis(v: np.ndarray, lev: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        if lev.size == 1:
            return [np.zeros(p, dtype=np.intp)], [np.ones(p)]
        f = np.clip((v - lev[0]) / (lev[1] - lev[0]), 0.0, lev.size - 1.0)
        i0 = np.clip(np.floor(f).astype(np.intp), 0, lev.size - 2)
        t = f - i0
        return [i0, i0 + 1], [1.0 - t, t]

    si, sw = axis(s, s_levels)
    bi, bw = axis(b, b_levels)
    for i_s, w_s in zip(si, sw):
        for i_b, w_b in zip(bi, bw):
            out[rows, i_s * nb + i_b] = w_s * w_b
    return out


def make_blind_scene(
    case: str,
    seed: int,
    *,
    height: int = 64,
    width: int = 256,
    n_bands: int = 1504,
    data_dir: str | Path | None = None,
    dense_spikes: bool = False,
) -> BlindScene:
    """Generate one blind synthetic cross-section scene.

    Parameters
    ----------
    case : str
        One of ``CASES``: ``"soap-paint-k6"`` (lead-soap aggregates in lead-white paint over a chalk-glue
        ground), ``"ground-crust-k7"`` (gypsum-glue ground, paint, thin calcium-oxalate crust on the top
        surface and one or two ultramarine spots) or ``"glaze-stack-k8"`` (thin glazes over underpaint and
        ground, glaze materials never pure).
    seed : int
        Non-negative seed; the scene is deterministic for a given (case, seed, size).
    height, width : int
        Image size in pixels.
    n_bands : int
        Number of bands, evenly spaced from 650 to 4000 cm-1.
    data_dir : str or pathlib.Path, optional
        Shared data folder with ``atmosphere/`` and ``reference-spectra/``; default ``shared_data_dir()``.
        When files are missing, built-in analytic spectra and a synthetic atmosphere are used instead
        (recorded in ``info``).
    dense_spikes : bool
        False (default): 0.2–1 % of the pixel spectra carry one single-band spike, as detector
        glitches do. True: 0.05–0.2 % of all values are spikes, about 1–3 in every spectrum (a
        stress test; the first blind runs were made so by mistake, docs/benchmarks.md, stop 43).

    Returns
    -------
    BlindScene
        The observed image and its ground truth. The true endmembers are normalised to a maximum of 1
        before mixing; the observed data add per-pixel contact, band shifts and broadenings, baselines,
        drifting atmosphere, heteroscedastic noise and spikes.
    """
    if case not in _CASE_MATERIALS:
        raise ValueError(f"unknown case {case!r}; choose one of {CASES}")
    if seed < 0:
        raise ValueError("seed must be non-negative")
    if height < 4 or width < 4 or n_bands < 16:
        raise ValueError("image too small")
    ddir = shared_data_dir() if data_dir is None else Path(data_dir)
    if ddir is not None and not ddir.is_dir():
        ddir = None
    rng = np.random.default_rng([zlib.crc32(case.encode("utf-8")), int(seed)])
    nu = np.linspace(NU_MIN, NU_MAX, n_bands)
    names, cap_map, minor = _CASE_MATERIALS[case]
    h, w = height, width
    p = h * w

    # ---- true endmembers (each normalised to max 1)
    ref_used: list[str] = []
    tabulated: dict[str, np.ndarray] = {}
    if "embedding resin" in names:
        got = _measured_embedding(nu, ddir)
        if got is not None:
            tabulated["embedding resin"], src = got
            ref_used.append(src)
    if "animal glue" in names:
        got = _measured_glue(nu, ddir)
        if got is not None:
            tabulated["animal glue"], src = got
            ref_used.append(src)
    raw = {}
    for name in names:
        raw[name] = tabulated[name] if name in tabulated else _band_spectrum(nu, _MATERIALS[name][0])
    norm = {name: 1.0 / raw[name].max() for name in names}
    endmembers = np.stack([raw[name] * norm[name] for name in names], axis=1)

    # ---- abundances
    abund, overrides, extra = _LAYOUTS[case](rng, names, h, w)
    caps = np.array([cap_map.get(name, 1.0) for name in names])
    abund = _apply_caps(np.clip(abund, 0.0, None), caps)

    # ---- per-pixel variability: contact factor, band shifts and broadenings
    xs = (np.arange(w) + 0.5) / w
    contact = 0.88 + 0.2 * _field(rng, (h, w), (6.0, 20.0)) + rng.uniform(-0.15, 0.15) * (xs[None, :] - 0.5)
    cy, cx = rng.uniform(0, h), rng.uniform(0, w)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    lift = rng.uniform(0.3, 0.5) * np.exp(-0.5 * (((yy - cy) / (0.25 * h + 2)) ** 2 + ((xx - cx) / (0.1 * w + 2)) ** 2))
    contact = np.clip(contact - lift, 0.4, 1.3)

    effective = endmembers.copy()  # (B, K) each material's amount-weighted mean variant
    blocks: list[np.ndarray] = []  # per-pixel coefficient blocks (P, n)
    temps: list[np.ndarray] = []  # matching spectral templates (n, B)
    var_info: dict[str, list[float]] = {}
    for j, name in enumerate(names):
        amount = (abund[j] * contact).reshape(p)
        max_shift, b_lo, b_hi = _MATERIALS[name][1]
        if name == "embedding resin" or (max_shift == 0.0 and b_lo == b_hi == 1.0):
            blocks.append(amount[:, None])
            temps.append(endmembers[:, j][None, :])
            continue
        ov = overrides.get(name, {})
        shift = ov.get("shift", max_shift * np.tanh(_field(rng, (h, w), (5.0, 18.0))))
        broad = ov.get("broad", b_lo + (b_hi - b_lo) * ndtr(1.2 * _field(rng, (h, w), (5.0, 18.0))))
        shift = np.clip(shift, -max_shift, max_shift)
        broad = np.clip(broad, b_lo, b_hi)
        s_lev = np.linspace(-max_shift, max_shift, 5)
        b_lev = np.linspace(b_lo, b_hi, 4)
        if name in tabulated:  # measured shape: shift only, by interpolation
            b_lev = np.array([1.0])
            broad = np.ones_like(broad)
            variants = np.stack([np.interp(nu - s, nu, endmembers[:, j]) for s in s_lev])
        else:
            variants = np.stack([_band_spectrum(nu, _MATERIALS[name][0], s, b) * norm[name]
                                 for s in s_lev for b in b_lev])
        wts = _bilinear_weights(shift.reshape(p), broad.reshape(p), s_lev, b_lev)
        blocks.append(amount[:, None] * wts)
        mean_variant = (amount @ wts) @ variants
        if mean_variant.max() > 0:
            effective[:, j] = mean_variant / mean_variant.max()
        temps.append(variants)
        var_info[name] = [round(float(shift.min()), 3), round(float(shift.max()), 3),
                          round(float(broad.min()), 3), round(float(broad.max()), 3)]

    # ---- baseline: offset, slope, curvature and a scattering-like rise; amplitudes vary in space
    u = (nu - 0.5 * (NU_MIN + NU_MAX)) / (0.5 * (NU_MAX - NU_MIN))
    scatter = (nu / NU_MAX) ** 3
    base_t = np.stack([np.ones_like(nu), u, u**2 - 1.0 / 3.0, scatter])
    amp = rng.uniform([0.01, 0.005, 0.005, 0.02], [0.04, 0.03, 0.02, 0.08])
    env = 0.6 + 0.4 * np.tanh(_field(rng, (h, w), (8.0, 30.0)))  # spatially varying baseline strength
    base_c = []
    for i in range(3):
        base_c.append(amp[i] * env * (_field(rng, (h, w), (6.0, 25.0)) + rng.normal(0.0, 0.5)))
    base_c.append(amp[3] * env * (1.0 + np.tanh(_field(rng, (h, w), (6.0, 25.0)))))
    blocks.append(np.stack([c.reshape(p) for c in base_c], axis=1))
    temps.append(base_t)

    # ---- atmosphere drifting along the raster scan (may go negative)
    meas = _measured_atmosphere(nu, ddir)
    if meas is not None:
        atm_t, atm_used = meas
        atm_source = "measured: " + ", ".join(atm_used)
    else:
        atm_t, atm_source = _synthetic_atmosphere(nu), "synthetic"
    t_scan = (np.arange(p, dtype=np.float64) / max(p - 1, 1)).reshape(h, w)
    atm_c = []
    for i in range(len(atm_t)):
        is_co2 = i % 2 == 0
        size = rng.uniform(0.04, 0.10) if is_co2 else rng.uniform(0.02, 0.06)
        size *= 1.0 if i < 2 else 0.35
        drift = (rng.uniform(-0.3, 0.6) + rng.uniform(-1.0, 1.0) * t_scan
                 + 0.3 * np.sin(2 * np.pi * rng.uniform(0.5, 3.0) * t_scan + rng.uniform(0, 2 * np.pi))
                 + 0.1 * _field(rng, (h, w), (3.0, 10.0)))
        atm_c.append((size * drift).reshape(p))
    blocks.append(np.stack(atm_c, axis=1))
    temps.append(np.stack(atm_t))

    coef = np.concatenate(blocks, axis=1).astype(np.float32)
    templ = np.concatenate(temps, axis=0).astype(np.float32)
    clean = coef @ templ  # (P, B) float32

    # ---- noise rising towards the detector cut-offs, then spikes
    snr_db = rng.uniform(30.0, 40.0)
    power = float(np.mean(np.square(clean, dtype=np.float32), dtype=np.float64))
    sigma = float(np.sqrt(power / 10.0 ** (snr_db / 10.0)))
    prof = 1.0 + 4.0 * expit((780.0 - nu) / 25.0) + 2.0 * expit((nu - 3750.0) / 70.0)
    prof /= np.sqrt(np.mean(prof**2))
    noise = rng.standard_normal((p, n_bands), dtype=np.float32)
    noise *= (sigma * prof).astype(np.float32)[None, :]
    data = clean + noise
    # one draw either way, so the arrays before the spikes do not depend on the choice
    rate = rng.uniform(0.0005, 0.002) * n_bands if dense_spikes else rng.uniform(0.002, 0.01)  # per spectrum
    n_spikes = max(1, int(round(rate * p)))
    idx = rng.integers(0, p * n_bands, n_spikes)
    sign = np.where(rng.random(n_spikes) < 0.75, 1.0, -1.0)
    flat = data.reshape(-1)
    flat[idx] += (sign * rng.uniform(0.5, 2.0, n_spikes)).astype(np.float32)
    data = data.reshape(h, w, n_bands)

    # ---- info
    max_ab = {name: round(float(abund[j].max()), 6) for j, name in enumerate(names)}
    cover = {name: round(float(np.mean(abund[j] >= 0.1)), 6) for j, name in enumerate(names)}
    info = {
        "case": case,
        "seed": int(seed),
        "shape": [h, w, n_bands],
        "endmember_normalisation": "each true endmember scaled to max 1 before mixing",
        "max_abundance": max_ab,
        "coverage": cover,
        "caps": {name: float(caps[j]) for j, name in enumerate(names) if caps[j] < 1.0},
        "capped": [name for j, name in enumerate(names) if caps[j] <= 0.75],
        "minor": list(minor),
        "atmosphere_source": atm_source,
        "reference_spectra_used": ref_used,
        "data_dir": str(ddir) if ddir is not None else None,
        "noise_sigma": sigma,
        "noise_profile": "rises below ~800 and above ~3700 cm-1; sigma is the rms over bands",
        "snr_db": round(float(snr_db), 3),
        "dense_spikes": bool(dense_spikes),
        "n_spikes": int(n_spikes),
        "spike_fraction": round(n_spikes / (p * n_bands), 6),
        "contact_range": [round(float(contact.min()), 3), round(float(contact.max()), 3)],
        "variability_shift_broad_ranges": var_info,
        "baseline_amplitudes": [round(float(v), 4) for v in amp],
    }
    info.update(extra)
    return BlindScene(
        data=np.ascontiguousarray(data, dtype=np.float32),
        wavenumbers=nu,
        endmembers=endmembers,
        abundances=abund,
        names=list(names),
        case=case,
        seed=int(seed),
        info=info,
        effective=effective,
    )


if __name__ == "__main__":
    for case_name in CASES:
        t0 = time.perf_counter()
        scene = make_blind_scene(case_name, 0)
        dt = time.perf_counter() - t0
        print(f"{case_name}: data {scene.data.shape}, {dt:.2f} s, atmosphere {scene.info['atmosphere_source']}, "
              f"references {scene.info['reference_spectra_used']}, SNR {scene.info['snr_db']:.1f} dB")
        for name in scene.names:
            tags = [t for t, lst in (("capped", scene.info["capped"]), ("minor", scene.info["minor"])) if name in lst]
            print(f"    {name:16s} max {scene.info['max_abundance'][name]:.3f}  "
                  f"coverage {100 * scene.info['coverage'][name]:6.2f} %  {' '.join(tags)}")
