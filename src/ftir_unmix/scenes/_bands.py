"""Band shapes, material spectra and their rendering on a scene's wavenumber axis.

Spectra are rendered on a fine grid (:data:`FINE_STEP` cm⁻¹) and averaged over
each band of the scene's axis (a box-car instrument function), so a coarse
axis sees an honest, resolution-limited version of sharp bands instead of
point samples that miss them.

Band shapes
-----------
Every band is a pseudo-Voigt profile ``η·L + (1 − η)·G`` with its own
Lorentzian share ``η``, optionally asymmetric in two ways: split half-widths
(``asym``: the low-wavenumber side has half-width ``(1 − asym)·fwhm/2``, the
high side ``(1 + asym)·fwhm/2``) and an exponential tail towards lower
wavenumbers (``tail`` cm⁻¹: the profile convolved with a one-sided decaying
exponential, the shape of hydrogen-bonded OH/NH envelopes and of strong
carbonate bands in ATR). Heights are apparent ATR absorbances of the pure
material.

Band positions follow the literature (positions only; widths and heights are
our estimates of typical ATR spectra):

- [D99] Derrick, Stulik, Landry, *Infrared Spectroscopy in Conservation
  Science*, Getty Conservation Institute, 1999.
- [V16] Vahur et al., "ATR-FT-IR spectral collection of conservation materials
  in the extended region of 4000-80 cm⁻¹", Anal. Bioanal. Chem. 408 (2016) 3373.
- [M13] Monico et al., "Calcium oxalates in paintings", Anal. Bioanal. Chem.
  405 (2013) 7191 (whewellite/weddellite).
- [RC03] Robinet & Corbeil, "The characterization of metal soaps", Stud.
  Conserv. 48 (2003) 23; [H15] Hermans et al., "Zinc soaps in oil paint",
  Anal. Chem. 87 (2015) (crystalline/amorphous zinc carboxylates).
- [Ma03] Madejová, "FTIR techniques in clay mineral studies", Vib. Spectrosc.
  31 (2003) 1 (kaolinite OH quartet, Si–O).
- [B07] Barth, "Infrared spectroscopy of proteins", BBA 1767 (2007) 1073.
- [S13] Samain et al., Prussian blue, J. Anal. At. Spectrom. 28 (2013) 524.

Measured spectra
----------------
Two materials use measured spectra from the shared data folder when it is
present (:mod:`._data`), read in place:

- ``animal glue``: the collagen class mean of the Orange "collagen" data set
  (902–1801 cm⁻¹ only) blended into the built-in protein band list outside
  that range (smooth 40 cm⁻¹ cross-fades, scaled by least squares on the
  overlap).
- ``embedding resin``: the absorbance (−log₁₀ T, rubber-band corrected) of the
  public-domain polystyrene film of the JCAMP-DX test disk, plus the built-in
  polyester bands (the resin is a polyester–styrene copolymer).

The OpenSpecy library CSVs in the same folder were inspected and not used:
their band positions are displaced by 10–40 cm⁻¹ from the known ones (e.g.
polystyrene at 1470/1390 cm⁻¹ instead of 1493/1452), which would teach
the wrong spectra.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter1d
from scipy.signal import lfilter

from . import _data

__all__ = [
    "Band",
    "Material",
    "MATERIALS",
    "FINE_STEP",
    "fine_grid",
    "wavenumber_axis",
    "band_profile",
    "render_bands",
    "bin_to_axis",
    "material_variants",
]

#: Step of the fine rendering grid (cm⁻¹).
FINE_STEP = 0.5
#: Default spectral range of the scenes (cm⁻¹).
WN_MIN, WN_MAX = 650.0, 4000.0
#: Default number of bands: about 4 cm⁻¹ spacing over 4000–650 cm⁻¹.
DEFAULT_BANDS = 838
#: Gaussian broadening (cm⁻¹) of a measured spectrum at width factor 1.
MEASURED_SIGMA = 2.5


def wavenumber_axis(bands: int = DEFAULT_BANDS, lo: float = WN_MIN, hi: float = WN_MAX) -> np.ndarray:
    """An evenly spaced, ascending wavenumber axis.

    Parameters
    ----------
    bands : int
        Number of bands (at least 2).
    lo, hi : float
        First and last band centre (cm⁻¹).

    Returns
    -------
    ndarray, shape (bands,)

    Examples
    --------
    >>> ax = wavenumber_axis(838)
    >>> float(ax[0]), float(ax[-1]), round(float(ax[1] - ax[0]), 2)
    (650.0, 4000.0, 4.0)
    """
    if int(bands) < 2:
        raise ValueError(f"a wavenumber axis needs at least 2 bands, got {bands}")
    return np.linspace(float(lo), float(hi), int(bands))


def fine_grid(axis: np.ndarray) -> np.ndarray:
    """The fine rendering grid covering ``axis`` with margin for band averaging and shifts.

    Parameters
    ----------
    axis : ndarray, shape (B,)
        Ascending band centres.

    Returns
    -------
    ndarray
        Ascending, step :data:`FINE_STEP`.
    """
    step = float(np.max(np.diff(axis)))
    lo = np.floor((axis[0] - step - 60.0) / FINE_STEP) * FINE_STEP
    hi = np.ceil((axis[-1] + step + 60.0) / FINE_STEP) * FINE_STEP
    return np.arange(lo, hi + FINE_STEP / 2, FINE_STEP)


@dataclass(frozen=True)
class Band:
    """One absorption band.

    Attributes
    ----------
    centre : float
        Position (cm⁻¹).
    fwhm : float
        Full width at half maximum (cm⁻¹) of the symmetric profile.
    height : float
        Peak absorbance of the pure material.
    eta : float
        Lorentzian share of the pseudo-Voigt, in [0, 1].
    asym : float
        Split-width asymmetry in (−1, 1); positive widens the high-wavenumber side.
    tail : float
        Length (cm⁻¹) of an exponential tail towards lower wavenumbers; 0 for none.
    """

    centre: float
    fwhm: float
    height: float
    eta: float = 0.5
    asym: float = 0.0
    tail: float = 0.0


def _pseudo_voigt(d: np.ndarray, half: np.ndarray, eta: float) -> np.ndarray:
    """Pseudo-Voigt of unit height at offsets ``d`` with half-widths ``half``."""
    u2 = (d / half) ** 2
    return eta / (1.0 + u2) + (1.0 - eta) * np.exp(-np.log(2.0) * u2)


def _exp_tail(prof: np.ndarray, a: float) -> np.ndarray:
    """Convolve rows with a one-sided exponential running from high to low wavenumbers."""
    return lfilter([1.0 - a], [1.0, -a], prof[:, ::-1], axis=1)[:, ::-1]


def band_profile(x: np.ndarray, band: Band, *, shift: np.ndarray | float = 0.0,
                 width: np.ndarray | float = 1.0) -> np.ndarray:
    """Render one band, unit peak height at nominal width, area kept when broadened.

    Parameters
    ----------
    x : ndarray, shape (F,)
        Ascending, evenly spaced wavenumbers (the fine grid).
    band : Band
    shift : float or ndarray, shape (V,)
        Centre displacement (cm⁻¹), one per variant.
    width : float or ndarray, shape (V,)
        Width factor, one per variant; the height is divided by it so the
        integrated absorbance stays constant.

    Returns
    -------
    ndarray, shape (V, F)
        Profiles scaled by ``band.height / width``.
    """
    shift = np.atleast_1d(np.asarray(shift, dtype=np.float64))
    width = np.atleast_1d(np.asarray(width, dtype=np.float64))
    shift, width = np.broadcast_arrays(shift, width)
    # Evaluate within ±40 FWHM (plus tail and shift): beyond, the profile is below 2e-4 of its peak.
    reach = (40.0 * band.fwhm * (1.0 + abs(band.asym)) * float(width.max()) + 8.0 * band.tail
             + float(np.abs(shift).max()))
    lo, hi = np.searchsorted(x, [band.centre - reach, band.centre + reach])
    out = np.zeros((shift.size, x.size))
    xs = x[lo:hi]
    d = xs[None, :] - (band.centre + shift[:, None])
    half = 0.5 * band.fwhm * width[:, None] * np.where(d < 0, 1.0 - band.asym, 1.0 + band.asym)
    prof = _pseudo_voigt(d, half, band.eta)
    if band.tail > 0:
        a = np.exp(-float(x[1] - x[0]) / band.tail)
        prof = _exp_tail(prof, a)
        # Unit peak at nominal width; broadened variants keep the area (divided by width below).
        d0 = xs[None, :] - band.centre
        half0 = 0.5 * band.fwhm * np.where(d0 < 0, 1.0 - band.asym, 1.0 + band.asym)
        prof = prof / float(_exp_tail(_pseudo_voigt(d0, half0, band.eta), a).max())
    out[:, lo:hi] = band.height * prof / width[:, None]
    return out


def render_bands(x: np.ndarray, bands: tuple[Band, ...] | list[Band], *,
                 shift: np.ndarray | float = 0.0, width: np.ndarray | float = 1.0,
                 shift_gain: np.ndarray | None = None, width_gain: np.ndarray | None = None) -> np.ndarray:
    """Sum of band profiles, for one or several (shift, width) variants.

    Parameters
    ----------
    x : ndarray, shape (F,)
        Fine grid.
    bands : sequence of Band
    shift, width : float or ndarray, shape (V,)
        Material-level displacement (cm⁻¹) and width factor per variant.
    shift_gain, width_gain : ndarray, shape (n_bands,), optional
        How strongly each band follows the material-level shift (multiplier)
        and broadening (exponent); ones by default.

    Returns
    -------
    ndarray, shape (V, F)
    """
    shift = np.atleast_1d(np.asarray(shift, dtype=np.float64))
    width = np.atleast_1d(np.asarray(width, dtype=np.float64))
    shift, width = np.broadcast_arrays(shift, width)
    sg = np.ones(len(bands)) if shift_gain is None else np.asarray(shift_gain, dtype=np.float64)
    wg = np.ones(len(bands)) if width_gain is None else np.asarray(width_gain, dtype=np.float64)
    out = np.zeros((shift.size, x.size))
    for b, band in enumerate(bands):
        out += band_profile(x, band, shift=shift * sg[b], width=width ** wg[b])
    return out


def _interp_weights(xp: np.ndarray, xq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``i`` and fractions ``f`` with ``y(xq) ≈ (1 − f)·y[i] + f·y[i + 1]`` (clamped)."""
    i = np.clip(np.searchsorted(xp, xq, side="right") - 1, 0, xp.size - 2)
    f = np.clip((xq - xp[i]) / (xp[i + 1] - xp[i]), 0.0, 1.0)
    return i, f


def bin_to_axis(x: np.ndarray, y: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Average fine-grid spectra over each band of ``axis`` (box-car instrument function).

    Band ``b`` covers the interval between the midpoints to its neighbours
    (the end bands extend by half a spacing).

    Parameters
    ----------
    x : ndarray, shape (F,)
        Ascending fine grid covering ``axis`` with margin.
    y : ndarray, shape (..., F)
    axis : ndarray, shape (B,)
        Ascending band centres.

    Returns
    -------
    ndarray, shape (..., B)

    Examples
    --------
    >>> x = np.arange(0.0, 10.01, 0.5)
    >>> bin_to_axis(x, 2.0 * x, np.array([2.0, 4.0, 6.0])).round(6)
    array([ 4.,  8., 12.])
    """
    mid = 0.5 * (axis[1:] + axis[:-1])
    edges = np.concatenate([[axis[0] - (mid[0] - axis[0])], mid, [axis[-1] + (axis[-1] - mid[-1])]])
    dx = np.diff(x)
    cum = np.concatenate([np.zeros(y.shape[:-1] + (1,)),
                          np.cumsum(0.5 * (y[..., 1:] + y[..., :-1]) * dx, axis=-1)], axis=-1)
    i, f = _interp_weights(x, edges)
    c = cum[..., i] * (1.0 - f) + cum[..., i + 1] * f
    return np.diff(c, axis=-1) / np.diff(edges)


# --------------------------------------------------------------------------------------
# Materials
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Material:
    """A material of the scenes.

    Attributes
    ----------
    name : str
    bands : tuple of Band
        The built-in spectrum (used as the whole spectrum when no measured
        spectrum is available).
    measured : str or None
        Key of a measured source (see module docstring), used when the shared
        data folder is present.
    companion : tuple of Band
        For measured sources that are only part of the material (``add``
        mode): bands added to the measured spectrum.
    summary : str
        One line: what it is and its marker bands.
    """

    name: str
    bands: tuple[Band, ...]
    measured: str | None = None
    companion: tuple[Band, ...] = ()
    summary: str = ""


B = Band

_OXALATE = (  # whewellite CaC2O4·H2O [M13, V16]
    B(3480, 55, 0.07, 0.4), B(3425, 50, 0.07, 0.4), B(3335, 60, 0.08, 0.4), B(3255, 70, 0.07, 0.3),
    B(3055, 80, 0.04, 0.3), B(1620, 45, 0.55, 0.6, 0.2), B(1365, 20, 0.05, 0.5),
    B(1315, 18, 0.45, 0.5, -0.1), B(948, 12, 0.03), B(885, 12, 0.03),
    B(780, 14, 0.26, 0.5, 0.1), B(660, 40, 0.12, 0.3),
)
_LEAD_WHITE = (  # hydrocerussite 2PbCO3·Pb(OH)2 with cerussite [V16, D99]
    B(3535, 14, 0.05, 0.5), B(2410, 30, 0.012, 0.3), B(1735, 10, 0.04, 0.5),
    B(1440, 110, 0.42, 0.3, 0.1), B(1392, 80, 0.5, 0.5, -0.1, 15.0),
    B(1045, 9, 0.08, 0.5), B(838, 8, 0.04, 0.5), B(778, 10, 0.02), B(680, 10, 0.22, 0.5),
)
_CH_CHAIN = (B(2955, 15, 0.05, 0.6), B(2917, 18, 0.25, 0.7), B(2870, 12, 0.04, 0.6), B(2849, 12, 0.18, 0.7))
_LEAD_SOAP = _CH_CHAIN + (  # crystalline lead palmitate/stearate [RC03]
    B(1540, 20, 0.12, 0.5), B(1513, 22, 0.6, 0.6, -0.1), B(1470, 8, 0.05), B(1463, 8, 0.05),
    B(1418, 25, 0.15, 0.5), B(1400, 25, 0.12, 0.5),
    B(1330, 8, 0.02), B(1310, 8, 0.02), B(1290, 8, 0.02), B(1270, 8, 0.02), B(1250, 8, 0.02),
    B(1225, 8, 0.02), B(1200, 8, 0.02), B(1100, 15, 0.02), B(930, 10, 0.02), B(720, 8, 0.07, 0.6),
)
_ZINC_SOAP = _CH_CHAIN + (  # crystalline zinc stearate with an amorphous (ionomer) share [H15]
    B(1590, 60, 0.15, 0.3), B(1538, 18, 0.62, 0.6), B(1465, 8, 0.05), B(1455, 8, 0.05),
    B(1398, 20, 0.12, 0.5), B(1320, 8, 0.02), B(1300, 8, 0.02), B(1280, 8, 0.02),
    B(745, 10, 0.05), B(720, 8, 0.05, 0.6),
)
_OIL = (  # aged drying oil (linseed) [D99]
    B(3420, 280, 0.05, 0.2, 0.0, 60.0), B(2955, 15, 0.05, 0.5), B(2926, 30, 0.25, 0.6),
    B(2855, 22, 0.16, 0.6), B(1740, 32, 0.55, 0.55), B(1710, 40, 0.2, 0.4),
    B(1460, 25, 0.08, 0.5), B(1415, 20, 0.03), B(1378, 20, 0.05), B(1240, 60, 0.1, 0.4),
    B(1165, 55, 0.22, 0.4, 0.15), B(1100, 50, 0.08, 0.4), B(725, 14, 0.03, 0.6),
)
_GLUE = (  # animal glue / collagen [B07, D99]
    B(3300, 220, 0.2, 0.3, 0.0, 40.0), B(3075, 80, 0.04, 0.3), B(2935, 40, 0.05, 0.5),
    B(2875, 30, 0.02, 0.5), B(1650, 60, 0.55, 0.35, -0.15), B(1545, 55, 0.38, 0.35),
    B(1450, 30, 0.12, 0.4), B(1400, 35, 0.1, 0.4), B(1335, 30, 0.08, 0.4),
    B(1240, 45, 0.12, 0.4), B(1080, 40, 0.06, 0.3), B(1030, 40, 0.05, 0.3),
)
_CALCITE = (  # calcite, chalk [V16, D99]
    B(2980, 30, 0.02), B(2875, 20, 0.04), B(2512, 18, 0.05), B(1795, 10, 0.05, 0.5),
    B(1395, 120, 0.62, 0.4, 0.3), B(1460, 80, 0.2, 0.3), B(872, 10, 0.45, 0.5),
    B(848, 8, 0.03), B(712, 8, 0.25, 0.5),
)
_GYPSUM = (  # gypsum CaSO4·2H2O [V16]
    B(3525, 50, 0.2, 0.4), B(3400, 120, 0.25, 0.3, 0.0, 30.0), B(3240, 100, 0.08, 0.3),
    B(2230, 40, 0.02), B(1685, 20, 0.12, 0.5), B(1620, 22, 0.16, 0.5),
    B(1140, 40, 0.5, 0.4), B(1110, 60, 0.6, 0.4, -0.2), B(1005, 10, 0.03),
    B(670, 15, 0.3, 0.5), B(602, 15, 0.28, 0.5),
)
_RESIN = (  # aged triterpenoid varnish (dammar/mastic) [D99]
    B(3450, 250, 0.06, 0.2, 0.0, 40.0), B(2940, 40, 0.25, 0.5), B(2870, 25, 0.12, 0.5),
    B(1735, 25, 0.12, 0.5), B(1705, 40, 0.5, 0.5, 0.1), B(1460, 20, 0.12), B(1385, 15, 0.1),
    B(1365, 12, 0.05), B(1240, 70, 0.15, 0.3), B(1180, 40, 0.08), B(1105, 40, 0.06),
    B(1030, 35, 0.05),
)
_CLAY = (  # kaolinite [Ma03]
    B(3695, 12, 0.2, 0.6), B(3669, 10, 0.06, 0.6), B(3652, 10, 0.08, 0.6), B(3620, 11, 0.2, 0.6),
    B(1115, 25, 0.25, 0.4), B(1030, 40, 0.7, 0.4, -0.1), B(1005, 30, 0.65, 0.4),
    B(937, 10, 0.18), B(912, 14, 0.35), B(790, 12, 0.08), B(752, 12, 0.07), B(690, 14, 0.12),
)
_PRUSSIAN_BLUE = (  # Fe4[Fe(CN)6]3·xH2O [S13]
    B(3630, 30, 0.02), B(3400, 300, 0.08, 0.2, 0.0, 50.0), B(2088, 22, 0.6, 0.5, -0.15),
    B(1610, 40, 0.05), B(602, 25, 0.2),
)
_ULTRAMARINE = (  # lazurite [D99]
    B(3450, 250, 0.03, 0.2), B(1630, 40, 0.02), B(1090, 60, 0.15, 0.3),
    B(1000, 160, 0.6, 0.3, -0.2), B(695, 15, 0.08), B(660, 15, 0.12),
)
_POLYESTER = (  # unsaturated polyester part of an embedding resin [D99]
    B(3440, 200, 0.04, 0.2, 0.0, 40.0), B(2930, 35, 0.06), B(2860, 20, 0.02),
    B(1725, 28, 0.6, 0.6), B(1380, 15, 0.05), B(1260, 40, 0.4, 0.5), B(1160, 35, 0.15),
    B(1120, 30, 0.2), B(1070, 30, 0.22), B(980, 25, 0.06), B(742, 10, 0.1),
)
_STYRENE = (  # polystyrene part of the same resin
    B(3082, 10, 0.015), B(3060, 12, 0.03), B(3026, 12, 0.04), B(2924, 25, 0.04),
    B(1601, 8, 0.04), B(1580, 8, 0.03), B(1493, 10, 0.07), B(1452, 14, 0.08),
    B(757, 12, 0.2), B(700, 10, 0.35),
)
_PVAC = (  # poly(vinyl acetate) consolidant [D99]
    B(2975, 20, 0.04), B(2930, 30, 0.05), B(1735, 25, 0.7, 0.6), B(1435, 15, 0.1),
    B(1370, 15, 0.25), B(1225, 40, 0.75, 0.5), B(1120, 25, 0.08), B(1020, 25, 0.35),
    B(945, 18, 0.15), B(795, 15, 0.05),
)
del B

#: Every material the scenes can use, by name.
MATERIALS: dict[str, Material] = {m.name: m for m in (
    Material("calcium oxalate", _OXALATE, summary="whewellite; 1620, 1315, 780 cm⁻¹"),
    Material("lead white", _LEAD_WHITE, summary="hydrocerussite; 1400 broad, 1045, 680, 3535 cm⁻¹"),
    Material("lead soap", _LEAD_SOAP, summary="lead carboxylate; 1513, 1540 sh, 1418, 2917/2849 cm⁻¹"),
    Material("zinc soap", _ZINC_SOAP, summary="zinc carboxylate; 1538, 1590 broad, 2917/2849 cm⁻¹"),
    Material("drying oil", _OIL, summary="aged linseed oil; 1740, 1710 sh, 2926/2855, 1165 cm⁻¹"),
    Material("animal glue", _GLUE, measured="collagen", summary="protein; amide I 1650, II 1545, A 3300 cm⁻¹"),
    Material("calcite", _CALCITE, summary="chalk; 1395 very broad, 872, 712 cm⁻¹"),
    Material("gypsum", _GYPSUM, summary="CaSO4·2H2O; 3525/3400, 1685/1620, 1140/1110, 670 cm⁻¹"),
    Material("natural resin", _RESIN, summary="aged triterpenoid varnish; 1705, 2940, 1240 cm⁻¹"),
    Material("kaolinite clay", _CLAY, summary="silicate; 1030/1005 broad, 3695/3620 sharp OH, 912 cm⁻¹"),
    Material("prussian blue", _PRUSSIAN_BLUE, summary="2088 sharp CN cm⁻¹"),
    Material("ultramarine", _ULTRAMARINE, summary="lazurite; 1000 very broad cm⁻¹"),
    Material("embedding resin", _POLYESTER + _STYRENE, measured="polystyrene", companion=_POLYESTER,
             summary="polyester–styrene; 1725, 1260, 757/700 cm⁻¹"),
    Material("pvac", _PVAC, summary="poly(vinyl acetate) consolidant; 1735, 1370, 1225, 1020 cm⁻¹"),
)}


# --------------------------------------------------------------------------------------
# Measured sources
# --------------------------------------------------------------------------------------

_COLLAGEN_PATH = "reference-spectra/orange_collagen_classes/collagen_csv_class_means.csv"
_PS_PATH = "reference-spectra/jcamp_public_domain/jtpolys.jdx"


@lru_cache(maxsize=8)
def _read_jcamp_fix(path: str) -> tuple[np.ndarray, np.ndarray]:
    """Read a JCAMP-DX ``(X++(Y..Y))`` file in FIX (plain numbers) form: ascending x, y."""
    with open(path, encoding="latin-1") as fh:
        text = fh.read()
    header = {k.strip().upper(): v.split("$$")[0].strip()
              for k, v in re.findall(r"##([^=]+)=([^\n]*)", text)}
    xf, yf = float(header.get("XFACTOR", 1.0)), float(header.get("YFACTOR", 1.0))
    body = text.split("##XYDATA=", 1)[1].split("\n", 1)[1].split("##", 1)[0]
    first_x = float(header["FIRSTX"])
    xs: list[float] = []
    ys: list[float] = []
    for line in body.splitlines():
        vals = line.split()
        if len(vals) < 2:
            continue
        x0 = float(vals[0])
        for j, v in enumerate(vals[1:]):
            xs.append(x0 + j)
            ys.append(float(v))
    x = np.asarray(xs) * xf
    y = np.asarray(ys) * yf
    if abs(x[0] - first_x) > 2 * abs(xf):
        raise ValueError(f"{path}: FIRSTX {first_x} does not match the data ({x[0]})")
    order = np.argsort(x, kind="stable")
    return x[order], y[order]


def _taper(x: np.ndarray, lo: float, hi: float, ramp: float) -> np.ndarray:
    """Window: 0 outside [lo, hi], half-cosine ramps of ``ramp`` cm⁻¹ inside both ends."""
    w = np.clip(np.minimum(x - lo, hi - x) / ramp, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * w)


def _measured_on_grid(key: str, x: np.ndarray, root: Path, model: np.ndarray) -> tuple[np.ndarray, str]:
    """A measured (or hybrid) material spectrum on the fine grid ``x``.

    ``model`` is the built-in band spectrum on ``x`` (used for scaling and,
    for the collagen blend, outside the measured range).
    """
    if key == "collagen":
        path = root / _COLLAGEN_PATH
        wn, cols = _data.read_class_means(str(path))
        y = cols["collagen_mean"]
        y = y - _data.rubber_band(wn, y)
        lo, hi = float(wn[0]), float(wn[-1])
        inside = (x >= lo) & (x <= hi)
        meas = np.zeros_like(x)
        meas[inside] = np.interp(x[inside], wn, y)
        core = (x >= lo + 40) & (x <= hi - 40)
        scale = float(model[core] @ meas[core] / max(meas[core] @ meas[core], 1e-12))
        w = _taper(x, lo, hi, 40.0)
        spec = w * scale * meas + (1.0 - w) * model
        return np.clip(spec, 0.0, None), f"hybrid: measured {_COLLAGEN_PATH} ({lo:.0f}-{hi:.0f} cm-1) + built-in bands"
    if key == "polystyrene":
        path = root / _PS_PATH
        wn, t = _read_jcamp_fix(str(path))
        a = -np.log10(np.clip(t, 1e-3, None))
        a = a - _data.rubber_band(wn, a)
        lo, hi = float(wn[0]), float(wn[-1])
        meas = np.interp(x, wn, a, left=0.0, right=0.0) * _taper(x, lo, hi, 20.0)
        # Scale the styrene part so its 700 cm⁻¹ band has the built-in height.
        target = max(b.height for b in _STYRENE if b.centre == 700)
        near = (x > 680) & (x < 720)
        meas *= target / max(float(meas[near].max()), 1e-12)
        return np.clip(meas, 0.0, None), f"hybrid: measured {_PS_PATH} (polystyrene film) + built-in polyester bands"
    raise KeyError(key)


def _perturbed(bands: tuple[Band, ...], rng: np.random.Generator, amount: float) -> tuple[Band, ...]:
    """The bands with seed-dependent heights (±8 %), widths (±5 %) and positions (±2 cm⁻¹)."""
    if amount <= 0:
        return bands
    n = len(bands)
    h = np.exp(amount * 0.08 * rng.standard_normal(n))
    w = np.exp(amount * 0.05 * rng.standard_normal(n))
    c = amount * np.clip(rng.standard_normal(n), -2.0, 2.0)
    return tuple(replace(b, centre=b.centre + c[i], fwhm=b.fwhm * w[i], height=b.height * h[i])
                 for i, b in enumerate(bands))


def material_variants(material: Material, axis: np.ndarray, rng: np.random.Generator, *,
                      shifts: np.ndarray, widths: np.ndarray, perturb: float = 1.0,
                      use_measured: bool = True) -> tuple[np.ndarray, str]:
    """A material's spectrum at a grid of (shift, width) variants, on ``axis``.

    Band-list materials are re-rendered at each variant, each band following
    the material's shift and broadening with its own random gain (some bands
    move more than others). Measured and hybrid spectra are displaced as a
    whole and broadened by a Gaussian of ``MEASURED_SIGMA·width`` cm⁻¹.

    Parameters
    ----------
    material : Material
    axis : ndarray, shape (B,)
        Ascending band centres.
    rng : numpy.random.Generator
        Draws the seed-dependent perturbation of the band list and the gains.
    shifts : ndarray, shape (S,)
        Displacements (cm⁻¹); must contain 0 at the middle (the true spectrum).
    widths : ndarray, shape (W,)
        Width factors; must contain 1 at the middle.
    perturb : float
        Scale of the seed-dependent perturbation of the band list (0: none).
    use_measured : bool
        Use the measured source where one is defined and the data are present.

    Returns
    -------
    variants : ndarray, shape (S, W, B), float64, non-negative
        ``variants[S // 2, W // 2]`` is the true (nominal) spectrum.
    source : str
        ``"built-in bands"`` or a description of the measured source.
    """
    x = fine_grid(axis)
    bands = _perturbed(material.bands, rng, perturb)
    n_b = len(bands)
    shift_gain = rng.uniform(-0.3, 1.0, n_b)
    width_gain = rng.uniform(0.3, 1.0, n_b)
    ss, ww = np.meshgrid(shifts, widths, indexing="ij")
    root = _data.shared_data_dir()
    if material.measured is not None and use_measured and root is not None:
        try:
            if material.companion:
                model = render_bands(x, _perturbed(material.companion, rng, perturb))[0]
                meas, source = _measured_on_grid(material.measured, x, root, model)
                base = meas + model
            else:
                model = render_bands(x, bands)[0]
                base, source = _measured_on_grid(material.measured, x, root, model)
        except (OSError, KeyError, ValueError, IndexError):
            base, source = None, ""
        if base is not None:
            step = float(x[1] - x[0])
            out = np.empty(ss.shape + (x.size,))
            for i, j in np.ndindex(ss.shape):
                moved = np.interp(x - ss[i, j], x, base, left=0.0, right=0.0)
                out[i, j] = gaussian_filter1d(moved, MEASURED_SIGMA * ww[i, j] / step, mode="nearest")
            return np.clip(bin_to_axis(x, out, axis), 0.0, None), source
    fine = render_bands(x, bands, shift=ss.ravel(), width=ww.ravel(),
                        shift_gain=shift_gain, width_gain=width_gain)
    out = bin_to_axis(x, fine.reshape(ss.shape + (x.size,)), axis)
    return np.clip(out, 0.0, None), "built-in bands"
