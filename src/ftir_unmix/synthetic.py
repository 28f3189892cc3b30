"""Seeded synthetic ATR-µFTIR cross-sections with known truth.

No public ATR-µFTIR cube of a paint cross-section comes with ground truth, so
quality in this project is measured on these images. Each one follows the
linear mixing model of the method plus the artefacts a real measurement has::

    Y = contact · (Aᵀ Eᵀ) + baseline + atmosphere + spikes + noise

- E (B, K): material spectra built from pseudo-Voigt bands at literature
  positions (:func:`material_spectra`), nonnegative;
- A (K, H, W): a layered stratigraphy (embedding resin, varnish, oxalate
  crust, paint layers with metal-soap aggregates, a glue/filler ground) with
  wavy boundaries and smooth mixing, on the simplex per pixel;
- contact: smooth multiplicative ATR contact factor per pixel (0.6–1.2);
- baseline: small smooth quadratic per pixel;
- atmosphere: CO₂ and water-vapour lines whose amplitude drifts smoothly
  across the image, of either sign (imperfect background compensation);
- spikes: single-band outliers at random pixels;
- noise: white Gaussian.

Everything is drawn from independent streams of one seed, so a given seed
gives the same arrays on every machine, and switching one artefact off does
not change the others.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from scipy import ndimage

from .cube import Cube, make_cube
from .errors import CubeReadError
from .preprocess.atmosphere import axis_step

__all__ = [
    "DEFAULT_N_BANDS",
    "MATERIALS",
    "SyntheticCrossSection",
    "atmosphere_templates",
    "cross_section",
    "load_atmosphere_dpt",
    "material_spectra",
]

#: 650–4000 cm⁻¹ at about 4 cm⁻¹ sampling.
DEFAULT_N_BANDS = 838


# --------------------------------------------------------------------------------------
# Material library
# --------------------------------------------------------------------------------------


class _Material(NamedTuple):
    name: str
    role: str  # where the stratigraphy puts it
    peak: float  # maximum absorbance of the pure material (ATR)
    aliases: tuple[str, ...]
    # (centre cm⁻¹, relative height, FWHM cm⁻¹, Lorentzian fraction); heights are
    # transmission-like, the ATR depth-of-penetration weighting is applied on top.
    bands: tuple[tuple[float, float, float, float], ...]


_LIBRARY: tuple[_Material, ...] = (
    _Material(
        "embedding resin", "embedding", 0.5, ("polyester", "epoxy", "resin", "embedding"),
        (
            (3450, 0.10, 200, 0.1),  # OH end groups
            (3060, 0.06, 18, 0.3), (3028, 0.08, 16, 0.3),  # aromatic CH (styrene)
            (2930, 0.35, 45, 0.3), (2860, 0.15, 30, 0.3),
            (1725, 1.00, 28, 0.4),  # ester C=O
            (1600, 0.10, 10, 0.4), (1580, 0.08, 10, 0.4), (1493, 0.08, 10, 0.4),
            (1452, 0.25, 20, 0.4), (1380, 0.12, 18, 0.4),
            (1280, 0.70, 38, 0.4), (1250, 0.45, 35, 0.4),  # C–O ester
            (1120, 0.60, 35, 0.4), (1070, 0.40, 25, 0.4), (1040, 0.20, 20, 0.4),
            (745, 0.25, 12, 0.5), (700, 0.30, 10, 0.5),  # aromatic CH out of plane
        ),
    ),
    _Material(
        "drying oil", "binder", 0.45, ("oil", "linseed oil", "linseed", "lipid"),
        (
            (3450, 0.10, 250, 0.1),  # OH of oxidation products
            (3010, 0.05, 15, 0.4), (2955, 0.30, 18, 0.4),
            (2925, 1.00, 30, 0.4), (2855, 0.60, 20, 0.4),
            (1740, 1.00, 30, 0.4),  # ester C=O
            (1715, 0.25, 40, 0.3),  # free acids from oxidation
            (1465, 0.25, 18, 0.4), (1415, 0.06, 15, 0.4), (1375, 0.10, 15, 0.4),
            (1240, 0.25, 40, 0.4), (1165, 0.45, 35, 0.4), (1100, 0.20, 30, 0.4),
            (725, 0.08, 10, 0.5),
        ),
    ),
    _Material(
        "lead white", "pigment", 0.9, ("hydrocerussite", "basic lead carbonate", "carbonate"),
        (
            (3535, 0.20, 20, 0.4),  # OH of hydrocerussite
            (1735, 0.03, 15, 0.4),
            (1400, 1.00, 110, 0.3),  # CO3 antisymmetric stretch
            (1045, 0.12, 8, 0.5), (838, 0.12, 8, 0.5), (680, 0.30, 9, 0.5),
        ),
    ),
    _Material(
        "zinc soap", "aggregate", 0.55, ("metal soap", "zinc carboxylate", "zinc stearate"),
        (
            (2955, 0.25, 15, 0.4), (2918, 0.90, 18, 0.4), (2850, 0.65, 12, 0.4),
            (1590, 0.15, 45, 0.3),  # amorphous zinc carboxylate
            (1538, 1.00, 20, 0.5),  # crystalline zinc carboxylate
            (1465, 0.35, 10, 0.5), (1455, 0.25, 10, 0.5), (1398, 0.30, 25, 0.4),
            (1320, 0.05, 8, 0.5), (1295, 0.05, 8, 0.5), (1270, 0.05, 8, 0.5),
            (1245, 0.05, 8, 0.5), (1220, 0.05, 8, 0.5), (1180, 0.05, 8, 0.5),
            (720, 0.10, 6, 0.5),  # CH2 rocking
        ),
    ),
    _Material(
        "calcium oxalate", "crust", 0.6, ("oxalate", "whewellite"),
        (
            (3430, 0.25, 70, 0.1), (3340, 0.30, 70, 0.1), (3255, 0.25, 70, 0.1),
            (3060, 0.18, 90, 0.1),  # water of crystallisation
            (1620, 1.00, 45, 0.4),  # C=O antisymmetric
            (1317, 0.70, 16, 0.5),  # C–O symmetric
            (950, 0.03, 10, 0.5), (885, 0.03, 10, 0.5),
            (780, 0.40, 10, 0.5), (660, 0.15, 12, 0.5),
        ),
    ),
    _Material(
        "animal glue", "ground_binder", 0.35, ("protein", "glue", "collagen"),
        (
            (3300, 0.50, 220, 0.1),  # amide A (NH)
            (3080, 0.12, 100, 0.1),  # amide B
            (2960, 0.12, 40, 0.3), (2930, 0.10, 40, 0.3),
            (1650, 1.00, 55, 0.3),  # amide I
            (1540, 0.65, 50, 0.3),  # amide II
            (1450, 0.25, 30, 0.3), (1400, 0.20, 30, 0.3), (1335, 0.10, 25, 0.3),
            (1240, 0.25, 45, 0.3),  # amide III
            (1080, 0.08, 40, 0.3), (1030, 0.06, 30, 0.3),
        ),
    ),
    _Material(
        "gypsum", "filler", 0.75, ("calcium sulfate", "calcium sulphate"),
        (
            (3545, 0.45, 55, 0.2), (3490, 0.40, 60, 0.2), (3400, 0.35, 150, 0.1),
            (3245, 0.15, 80, 0.1),
            (2220, 0.03, 60, 0.2), (2120, 0.04, 60, 0.2),
            (1685, 0.20, 15, 0.4), (1620, 0.25, 15, 0.4),  # H2O bending
            (1140, 0.60, 40, 0.4), (1115, 1.00, 55, 0.4),  # SO4 stretch
            (1005, 0.05, 8, 0.5), (670, 0.35, 12, 0.5),
        ),
    ),
    _Material(
        "varnish", "varnish", 0.35, ("natural resin", "dammar", "mastic", "terpenoid resin"),
        (
            (3450, 0.15, 250, 0.1),
            (2945, 0.60, 35, 0.3), (2930, 0.50, 35, 0.3), (2870, 0.35, 25, 0.3),
            (1705, 1.00, 38, 0.3),  # ketone / acid C=O
            (1460, 0.35, 25, 0.3), (1385, 0.28, 20, 0.3), (1365, 0.12, 15, 0.3),
            (1240, 0.18, 40, 0.3), (1180, 0.12, 30, 0.3), (1030, 0.08, 30, 0.3),
        ),
    ),
    _Material(
        "earth pigment", "pigment", 0.8, ("silicate", "clay", "kaolinite", "ochre", "earth"),
        (
            (3695, 0.35, 15, 0.4), (3670, 0.08, 12, 0.4), (3650, 0.08, 12, 0.4),
            (3620, 0.30, 10, 0.4),  # kaolinite OH
            (1115, 0.40, 30, 0.4), (1032, 1.00, 40, 0.4), (1008, 0.85, 35, 0.4),  # Si–O
            (938, 0.25, 12, 0.5), (912, 0.45, 15, 0.5),  # Al–OH
            (797, 0.12, 10, 0.5), (779, 0.10, 10, 0.5),  # quartz doublet
            (755, 0.06, 10, 0.5), (695, 0.15, 10, 0.5),
        ),
    ),
    _Material(
        "lead soap", "aggregate", 0.55, ("lead carboxylate", "lead stearate"),
        (
            (2955, 0.25, 15, 0.4), (2918, 0.90, 18, 0.4), (2850, 0.65, 12, 0.4),
            (1540, 0.80, 18, 0.5), (1510, 1.00, 20, 0.5),  # COO antisymmetric doublet
            (1470, 0.30, 10, 0.5), (1417, 0.45, 25, 0.4), (1400, 0.35, 25, 0.4),
            (1335, 0.04, 8, 0.5), (1290, 0.04, 8, 0.5), (1245, 0.04, 8, 0.5),
            (1200, 0.04, 8, 0.5),
            (720, 0.10, 6, 0.5),
        ),
    ),
    _Material(
        "chalk", "filler", 0.9, ("calcite", "calcium carbonate"),
        (
            (2980, 0.02, 30, 0.4), (2875, 0.04, 20, 0.4), (2512, 0.05, 20, 0.4),
            (1795, 0.04, 10, 0.4),
            (1420, 1.00, 100, 0.3),  # CO3 antisymmetric stretch
            (872, 0.35, 8, 0.5), (848, 0.03, 8, 0.5), (712, 0.15, 5, 0.5),
        ),
    ),
)

#: Library names in the default order: ``materials=k`` takes the first ``k``.
MATERIALS: tuple[str, ...] = tuple(m.name for m in _LIBRARY)
_BY_NAME = {m.name: m for m in _LIBRARY}
_ALIASES = {
    alias: m.name for m in _LIBRARY for alias in (m.name, *m.aliases)
}


def _key(name: str) -> str:
    return " ".join(name.lower().replace("_", " ").replace("-", " ").split())


def _resolve_materials(materials: int | Sequence[str] | None) -> list[str]:
    if materials is None:
        return list(MATERIALS[:6])
    if isinstance(materials, (int, np.integer)):
        k = int(materials)
        if not 1 <= k <= len(MATERIALS):
            raise ValueError(f"materials={k}: choose between 1 and {len(MATERIALS)}")
        return list(MATERIALS[:k])
    if isinstance(materials, str):
        materials = [materials]
    names = []
    for m in materials:
        name = _ALIASES.get(_key(str(m)))
        if name is None:
            raise ValueError(f"unknown material {m!r}; known: {', '.join(MATERIALS)}")
        if name in names:
            raise ValueError(f"material {name!r} given twice")
        names.append(name)
    if not names:
        raise ValueError("no materials given")
    return names


def _pseudo_voigt(wn: np.ndarray, bands: np.ndarray) -> np.ndarray:
    """Sum of peak-normalised pseudo-Voigt bands; ``bands`` is (n, 4)."""
    centre, height, fwhm, eta = (bands[:, i, None] for i in range(4))
    x = (wn[None, :] - centre) / (fwhm / 2.0)
    shape = eta / (1.0 + x**2) + (1.0 - eta) * np.exp(-np.log(2.0) * x**2)
    return (height * shape).sum(axis=0)


def material_spectra(
    wavenumbers: np.ndarray,
    materials: int | Sequence[str] | None = None,
    *,
    atr: bool = True,
) -> dict[str, np.ndarray]:
    """Absorbance spectra of library materials on a wavenumber grid.

    Each spectrum is a sum of pseudo-Voigt bands at literature positions
    (see ``_LIBRARY`` in the source for the band tables), optionally weighted
    by the ATR depth of penetration (∝ 1/ν̃, so high-wavenumber bands look
    weaker than in transmission), then scaled so that its maximum is the
    material's typical ATR peak absorbance (0.35–0.9).

    Parameters
    ----------
    wavenumbers : array_like, shape (B,)
        Grid in cm⁻¹ (any order; spectra follow it).
    materials : int or sequence of str, optional
        ``None``: the first six of :data:`MATERIALS`; an int ``k``: the first
        ``k``; or names (case-insensitive; aliases such as ``"protein"``,
        ``"oxalate"``, ``"silicate"`` are accepted).
    atr : bool
        Apply the ATR 1/ν̃ intensity weighting.

    Returns
    -------
    dict of str to ndarray, shape (B,)
        Canonical name → nonnegative spectrum, in the requested order.

    Examples
    --------
    >>> import numpy as np
    >>> spectra = material_spectra(np.linspace(650, 4000, 838), ["oil", "oxalate"])
    >>> list(spectra)
    ['drying oil', 'calcium oxalate']
    """
    wn = np.asarray(wavenumbers, dtype=np.float64).ravel()
    out: dict[str, np.ndarray] = {}
    for name in _resolve_materials(materials):
        mat = _BY_NAME[name]
        spec = _pseudo_voigt(wn, np.asarray(mat.bands, dtype=np.float64))
        if atr:
            spec = spec * (1000.0 / np.clip(wn, 1.0, None))
        top = spec.max()
        out[name] = spec * (mat.peak / top) if top > 0 else spec
    return out


# --------------------------------------------------------------------------------------
# Atmosphere
# --------------------------------------------------------------------------------------

# CO₂ occupies these regions; the rest of an atmospheric spectrum is water vapour.
_CO2_REGIONS = ((2250.0, 2400.0), (600.0, 730.0))
# Bands where |template| exceeds this fraction of the CO₂ doublet count as hit.
_MASK_THRESHOLD = 0.05
# Peak absorbance of the atmospheric residual (CO₂ doublet) at strength 1.
_ATMOSPHERE_SCALE = 0.04


def load_atmosphere_dpt(
    path: str | os.PathLike[str],
    wavenumbers: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Read a measured atmosphere spectrum from a two-column ``.dpt`` file.

    OPUS ``.dpt`` exports are comma-separated ``wavenumber,absorbance`` rows,
    usually in descending wavenumber order.

    Parameters
    ----------
    path : path-like
        The file.
    wavenumbers : array_like, optional
        A grid to interpolate onto (linear; zero outside the measured range).

    Returns
    -------
    wavenumbers : ndarray, shape (M,)
        Ascending; the given grid where one was passed.
    absorbance : ndarray, shape (M,)

    Raises
    ------
    CubeReadError
        The file is missing or is not two numeric columns.
    """
    try:
        table = np.loadtxt(os.fspath(path), delimiter=",", ndmin=2, dtype=np.float64)
    except (OSError, ValueError) as exc:
        raise CubeReadError(path, f"cannot read as a two-column .dpt spectrum ({exc})") from None
    if table.shape[1] < 2 or table.shape[0] < 2:
        raise CubeReadError(path, f"expected two columns and several rows, got shape {table.shape}")
    if not np.all(np.isfinite(table[:, :2])):
        raise CubeReadError(path, "contains NaN or inf")
    order = np.argsort(table[:, 0])
    wn, absorbance = table[order, 0], table[order, 1]
    if wavenumbers is None:
        return wn, absorbance
    grid = np.asarray(wavenumbers, dtype=np.float64).ravel()
    return grid, np.interp(grid, wn, absorbance, left=0.0, right=0.0)


def _co2_weight(wn: np.ndarray) -> np.ndarray:
    """Smooth 0–1 indicator of the CO₂ regions."""
    w = np.zeros_like(wn)
    for lo, hi in _CO2_REGIONS:
        w = np.maximum(w, 1.0 / (1.0 + np.exp(-(wn - lo) / 5.0)) / (1.0 + np.exp((wn - hi) / 5.0)))
    return w


def _builtin_atmosphere(wn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Band model of residual CO₂ and water vapour at ~4 cm⁻¹ resolution.

    CO₂: the ν₃ P/R doublet (2340/2360) with its combination bands at
    3600/3710 and the ν₂ bending Q branch at 667 with weak wings. Water: the
    ν₂ (1300–2000) and ν₁/ν₃ (3500–3950) rotational lines, drawn once from a
    fixed internal seed (line positions are physical constants, not part of
    a cube's randomness) with two-lobed branch envelopes and log-normal
    strengths. Both are scaled jointly so that the CO₂ doublet peaks at 1.
    """
    step = axis_step(wn)
    line_fwhm = max(4.0, 1.5 * step)  # instrument-limited; never thinner than the grid
    co2 = _pseudo_voigt(wn, np.array([
        (2361.0, 1.00, 18.0, 0.2), (2338.0, 0.85, 20.0, 0.2),
        (3712.0, 0.05, 16.0, 0.3), (3600.0, 0.04, 16.0, 0.3),
        (667.5, 0.35, max(3.0, 1.2 * step), 0.5),
        (655.0, 0.07, 12.0, 0.3), (681.0, 0.07, 12.0, 0.3),
    ]))
    lines_rng = np.random.default_rng(0x5EED_A7)
    tables = []
    for lo, hi, n, lobes in (
        (1300.0, 2000.0, 140, ((1520.0, 90.0, 1.0), (1690.0, 90.0, 0.9), (1595.0, 260.0, 0.25))),
        (3500.0, 3950.0, 150, ((3650.0, 80.0, 0.8), (3840.0, 80.0, 1.0), (3756.0, 200.0, 0.2))),
    ):
        centres = np.sort(lines_rng.uniform(lo, hi, n))
        envelope = sum(a * np.exp(-(((centres - c) / s) ** 2)) for c, s, a in lobes)
        heights = envelope * lines_rng.lognormal(0.0, 0.8, n)
        tables.append(np.column_stack([centres, heights, np.full(n, line_fwhm), np.full(n, 0.5)]))
    water_table = np.vstack(tables)
    water = _pseudo_voigt(wn, water_table)
    # Scale independent of the grid: water lines at ~half the CO₂ doublet, as measured.
    ref = _pseudo_voigt(np.sort(water_table[:, 0]), water_table).max()
    water *= 0.5 / ref
    return co2, water


def atmosphere_templates(
    wavenumbers: np.ndarray,
    atmosphere: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """CO₂ and water-vapour templates on a grid, scaled so that CO₂ peaks at 1.

    Parameters
    ----------
    wavenumbers : array_like, shape (B,)
    atmosphere : (wn, absorbance), optional
        A measured spectrum (e.g. from :func:`load_atmosphere_dpt`). Its smooth
        background is removed (running median over 150 cm⁻¹), its sign set so
        that lines are positive, and it is split into CO₂ (2250–2400 and
        600–730 cm⁻¹) and water (elsewhere). Default: the built-in band model.

    Returns
    -------
    co2, water : ndarray, shape (B,)
    """
    wn = np.asarray(wavenumbers, dtype=np.float64).ravel()
    if atmosphere is None:
        return _builtin_atmosphere(wn)
    src_wn, src_a = (np.asarray(v, dtype=np.float64).ravel() for v in atmosphere)
    if src_wn.shape != src_a.shape or src_wn.size < 2:
        raise ValueError("atmosphere must be two arrays (wavenumbers, absorbance) of equal length ≥ 2")
    order = np.argsort(src_wn)
    # Hold the edge values while filtering (a jump to 0 would read as a line), zero after.
    spec = np.interp(wn, src_wn[order], src_a[order])
    step = axis_step(wn)
    size = max(3, int(round(150.0 / step)) | 1)
    background = ndimage.gaussian_filter1d(ndimage.median_filter(spec, size=size, mode="nearest"), size / 6)
    lines = np.where((wn >= src_wn.min()) & (wn <= src_wn.max()), spec - background, 0.0)
    if -lines.min() > lines.max():  # measured as background excess: lines negative
        lines = -lines
    w = _co2_weight(wn)
    co2, water = lines * w, lines * (1.0 - w)
    scale = np.abs(co2).max() if np.abs(co2).max() > 0 else np.abs(lines).max()
    if scale <= 0:
        return co2, water
    return co2 / scale, water / scale


# --------------------------------------------------------------------------------------
# Spatial structure
# --------------------------------------------------------------------------------------


def _field(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    """Smooth Gaussian random field with zero mean and unit standard deviation."""
    g = ndimage.gaussian_filter(rng.standard_normal(shape), sigma, mode="reflect")
    g -= g.mean()
    sd = g.std()
    return g / sd if sd > 0 else g


def _layer_stack(names: list[str]) -> list[tuple[float, list[int], bool]]:
    """Layers top to bottom: (nominal thickness, material indices, hosts aggregates)."""
    roles: dict[str, list[int]] = {}
    for i, n in enumerate(names):
        roles.setdefault(_BY_NAME[n].role, []).append(i)
    layers: list[tuple[float, list[int], bool]] = []
    emb = roles.get("embedding", [])
    if emb:
        layers.append((1.3, emb, False))
    for role in ("varnish", "crust"):
        if role in roles:
            layers.append((0.75, roles[role], False))
    binder = roles.get("binder", [])
    pigments = roles.get("pigment", [])
    if pigments:
        for p in pigments:  # one paint layer per pigment, bound in oil when present
            layers.append((3.2 / len(pigments), [p, *binder], True))
    elif binder:
        layers.append((3.2, binder, True))
    elif "aggregate" in roles:  # no paint to host them: a soap-rich layer
        layers.append((2.0, roles["aggregate"], True))
    ground = roles.get("ground_binder", []) + roles.get("filler", [])
    if ground:
        layers.append((2.2, ground, False))
    if emb:
        layers.append((1.0, emb, False))
    return layers


def _boundaries(
    rng: np.random.Generator, thickness: np.ndarray, height: int, width: int
) -> np.ndarray:
    """Internal layer boundaries (L-1, W) in pixel rows: wavy, slightly tilted, ordered."""
    n = thickness.size
    t = thickness * rng.uniform(0.8, 1.2, n)
    # Each layer's thickness drifts along the section; a log-normal keeps it positive.
    cols = np.stack([t[i] * np.exp(0.3 * _field(rng, (width,), max(2.0, width / 8))) for i in range(n)])
    edges = height * np.cumsum(cols, axis=0)[:-1] / cols.sum(axis=0)
    tilt = rng.uniform(-0.03, 0.03) * (np.arange(width) - width / 2)
    rough = 0.6 * np.stack([_field(rng, (width,), 1.5) for _ in range(n - 1)]) if n > 1 else 0.0
    edges = np.clip(edges + tilt + rough, 0, height)
    return np.maximum.accumulate(edges, axis=0)


def _blobs(
    rng: np.random.Generator,
    abund: np.ndarray,
    host: np.ndarray,
    material: int,
    radius: tuple[float, float],
    area_per_blob: float,
) -> None:
    """Add round aggregates of ``material`` centred in ``host`` pixels (in place)."""
    height, width = host.shape
    where = np.flatnonzero(host)
    if where.size == 0:
        return
    n = max(1, int(rng.poisson(where.size / area_per_blob)))
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    for c in rng.choice(where, size=n, replace=where.size < n):
        cy, cx = divmod(int(c), width)
        r = rng.uniform(*radius)
        aspect = rng.uniform(0.8, 1.25)
        d = np.hypot((yy - cy) * aspect, (xx - cx) / aspect)
        p = np.clip(r + 0.5 - d, 0.0, 1.0)  # anti-aliased disc
        abund *= 1.0 - p
        abund[material] += p


def _layered(rng: np.random.Generator, names: list[str], height: int, width: int) -> np.ndarray:
    layers = _layer_stack(names)
    k = len(names)
    edges = _boundaries(rng, np.array([t for t, _, _ in layers]), height, width)
    rows = np.arange(height)[:, None] + 0.5
    label = (rows[None] > edges[:, None, :]).sum(axis=0)  # (H, W) layer index
    abund = np.zeros((k, height, width))
    mix_sigma = max(1.5, min(height, width) / 16)
    for li, (_, comps, _) in enumerate(layers):
        mask = label == li
        if len(comps) == 1:
            abund[comps[0], mask] = 1.0
            continue
        # Softmax of smooth fields: patches rich in one component (pure-ish pixels)
        # joined by gradual mixtures, as pigment/binder ratios vary in real paint.
        logits = 2.5 * np.stack([_field(rng, (height, width), mix_sigma) for _ in comps])
        frac = np.exp(logits - logits.max(axis=0))
        frac /= frac.sum(axis=0)
        for j, c in enumerate(comps):
            abund[c, mask] = frac[j, mask]
    host = np.isin(label, [li for li, (_, _, h) in enumerate(layers) if h])
    scale = float(np.clip(height / 64, 0.5, 3.0))
    for i, n in enumerate(names):
        if _BY_NAME[n].role == "aggregate":
            # Lead soap aggregates grow into protrusions; at least 2 px keeps a pure core.
            lo, hi = (2.5, 5.0) if n == "lead soap" else (1.5, 3.5)
            radius = (max(2.0, lo * scale), max(3.0, hi * scale))
            _blobs(rng, abund, host, i, radius, area_per_blob=600 * scale**2)
    return abund


def _patches(rng: np.random.Generator, k: int, height: int, width: int) -> np.ndarray:
    """Warped Voronoi patches, one material each: every material has pure pixels."""
    gy = int(np.ceil(np.sqrt(k * height / width)))
    gx = int(np.ceil(k / gy))
    cells = rng.permutation(gy * gx)[:k]
    cy = (cells // gx + rng.uniform(0.25, 0.75, k)) * height / gy
    cx = (cells % gx + rng.uniform(0.25, 0.75, k)) * width / gx
    warp = min(height, width) / 10
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64) + 0.5
    sigma = max(2.0, min(height, width) / 8)
    wy = yy + warp * _field(rng, (height, width), sigma)
    wx = xx + warp * _field(rng, (height, width), sigma)
    d = (wy[None] - cy[:, None, None]) ** 2 + (wx[None] - cx[:, None, None]) ** 2
    label = d.argmin(axis=0)
    label[np.clip(cy.astype(int), 0, height - 1), np.clip(cx.astype(int), 0, width - 1)] = np.arange(k)
    return (label[None] == np.arange(k)[:, None, None]).astype(np.float64)


def _abundances(
    rng: np.random.Generator, names: list[str], height: int, width: int, layout: str, blur: float
) -> np.ndarray:
    if layout == "layered":
        abund = _layered(rng, names, height, width)
    elif layout == "patches":
        abund = _patches(rng, len(names), height, width)
    else:
        raise ValueError(f"layout must be 'layered' or 'patches', got {layout!r}")
    if blur > 0:  # optical mixing across boundaries (diffraction-limited ATR pixel)
        abund = ndimage.gaussian_filter(abund, (0, blur, blur), mode="nearest")
    abund = np.clip(abund, 0.0, None)
    return abund / abund.sum(axis=0, keepdims=True)


# --------------------------------------------------------------------------------------
# The forward model
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SyntheticCrossSection:
    """A synthetic cross-section and the truth behind it.

    Attributes
    ----------
    cube : Cube
        The measured-like cube, ``metadata["format"] == "synthetic"`` and
        ``metadata["parameters"]`` holding the generation parameters.
    endmembers : ndarray, shape (B, K), float64
        True material spectra (nonnegative), ascending wavenumber.
    abundances : ndarray, shape (K, H, W), float64
        True fractions, nonnegative, summing to 1 per pixel.
    names : tuple of str
        Material names, one per endmember.
    artefact_mask : ndarray, shape (B,), bool
        Bands hit by the CO₂/water lines actually added to this cube (all
        False when the atmosphere is off).
    clean : ndarray, shape (H, W, B), float32
        The pure mixing model ``Aᵀ Eᵀ`` (no contact, baseline, atmosphere,
        spikes or noise).
    contact : ndarray, shape (H, W), float32
        The multiplicative ATR contact factor (1 where contact is off).
    spikes : ndarray, shape (S, 3), int
        ``(row, column, band)`` of each spike.
    """

    cube: Cube
    endmembers: np.ndarray
    abundances: np.ndarray
    names: tuple[str, ...]
    artefact_mask: np.ndarray
    clean: np.ndarray
    contact: np.ndarray
    spikes: np.ndarray

    @property
    def wavenumbers(self) -> np.ndarray:
        """Band centres (B,), ascending."""
        return self.cube.wavenumbers

    @property
    def k(self) -> int:
        """Number of materials."""
        return len(self.names)


def _strength(value: bool | float, what: str) -> float:
    s = float(value)
    if not np.isfinite(s) or s < 0:
        raise ValueError(f"{what} must be a nonnegative strength or a bool, got {value!r}")
    return s


def cross_section(
    height: int = 64,
    width: int = 64,
    *,
    wavenumbers: np.ndarray | None = None,
    n_bands: int = DEFAULT_N_BANDS,
    materials: int | Sequence[str] | None = None,
    seed: int = 0,
    layout: str = "layered",
    blur: float = 1.0,
    noise: float = 0.005,
    artefacts: bool | float = True,
    atmosphere: tuple[np.ndarray, np.ndarray] | None = None,
    co2: bool | float = 1.0,
    water: bool | float = 1.0,
    spikes: bool | float = 1.0,
    spike_rate: float = 0.005,
    baseline: bool | float = 1.0,
    contact: bool | float = 1.0,
    atr: bool = True,
    pixel_size: float | None = 1.1,
) -> SyntheticCrossSection:
    """A seeded synthetic ATR-µFTIR image of a paint cross-section with known truth.

    Parameters
    ----------
    height, width : int
        Image size in pixels.
    wavenumbers : array_like, optional
        Band centres in cm⁻¹ (either order; the cube is ascending).
        Default ``np.linspace(650, 4000, n_bands)``.
    n_bands : int
        Number of bands of the default grid (838: about 4 cm⁻¹ sampling).
    materials : int or sequence of str, optional
        ``None``: the first six of :data:`MATERIALS` (embedding resin, drying
        oil, lead white, zinc soap, calcium oxalate, animal glue); an int
        ``k``: the first ``k``; or names/aliases.
    seed : int
        Seeds everything; the same seed gives identical arrays.
    layout : {"layered", "patches"}
        ``"layered"``: stratigraphy from top to bottom — embedding resin,
        varnish, oxalate crust, one paint layer per pigment (pigment in oil,
        ratio varying in patches) with metal-soap aggregates as round blobs,
        a ground of glue and fillers, embedding resin — keeping the layers
        whose materials are selected. ``"patches"``: warped Voronoi patches,
        one per material (every material has pure pixels).
    blur : float
        Gaussian blur (pixels) of the abundance maps: mixing at boundaries.
    noise : float
        Standard deviation of the white Gaussian noise (absorbance units);
        independent of ``artefacts``.
    artefacts : bool or float
        Global artefact strength multiplying every strength below; ``False``
        (0) switches them all off, ``True`` is 1.
    atmosphere : (wn, absorbance), optional
        A measured CO₂/H₂O absorbance spectrum (see
        :func:`load_atmosphere_dpt`) used instead of the built-in line model.
    co2, water : bool or float
        Strength of the drifting CO₂ and water-vapour residuals. At 1 the CO₂
        doublet reaches about ±0.04–0.06 absorbance, with either sign.
    spikes : bool or float
        Strength of single-band spikes (amplitudes 0.3–1.5 at 1, 80 %
        positive).
    spike_rate : float
        Spikes per pixel: ``round(spike_rate · H · W)`` spikes in all.
    baseline : bool or float
        Strength of the additive smooth quadratic baseline (about ±0.02).
    contact : bool or float
        Strength of the multiplicative ATR contact variation; at 1 the factor
        spans 0.6–1.2 smoothly across the image.
    atr : bool
        Weight band intensities by the ATR depth of penetration (∝ 1/ν̃).
    pixel_size : float or None
        Pixel pitch recorded on the cube (µm; 1.1 is a typical ATR-FPA value).

    Returns
    -------
    SyntheticCrossSection

    Examples
    --------
    >>> s = cross_section(32, 48, seed=1)
    >>> s.cube.shape, s.endmembers.shape, s.abundances.shape
    ((32, 48, 838), (838, 6), (6, 32, 48))
    >>> bool(np.allclose(s.abundances.sum(axis=0), 1.0))
    True
    """
    height, width = int(height), int(width)
    if height < 1 or width < 1:
        raise ValueError(f"image size must be positive, got {height}×{width}")
    if wavenumbers is None:
        wn = np.linspace(650.0, 4000.0, int(n_bands))
    else:
        wn = np.asarray(wavenumbers, dtype=np.float64).ravel()
        if wn.size > 1 and wn[0] > wn[-1]:
            wn = wn[::-1].copy()
    for value, what in ((noise, "noise"), (spike_rate, "spike_rate"), (blur, "blur")):
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"{what} must be ≥ 0, got {value}")
    names = _resolve_materials(materials)
    g = _strength(artefacts, "artefacts")
    s_co2, s_water, s_spikes, s_base, s_contact = (
        g * _strength(v, n)
        for v, n in (
            (co2, "co2"), (water, "water"), (spikes, "spikes"), (baseline, "baseline"), (contact, "contact")
        )
    )
    # Independent streams: switching one ingredient off leaves the others unchanged.
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(6)]
    r_geom, r_atm, r_contact, r_base, r_spike, r_noise = streams

    spectra = material_spectra(wn, names, atr=atr)
    endm = np.stack([spectra[n] for n in names], axis=1)  # (B, K)
    abund = _abundances(r_geom, names, height, width, layout, float(blur))
    n_pix, n_b = height * width, wn.size

    clean = abund.reshape(len(names), n_pix).T.astype(np.float32) @ endm.T.astype(np.float32)
    sigma_xy = max(height, width) / 4
    ramp = np.broadcast_to(np.linspace(-1.0, 1.0, height)[:, None], (height, width))

    c = np.ones((height, width))
    if s_contact > 0:
        c = 1.0 + s_contact * (0.3 * np.tanh(1.2 * _field(r_contact, (height, width), sigma_xy)) - 0.1)
        c = np.clip(c, 0.05, None)  # strengths above ~3 would otherwise lose all contact

    # Additive terms as one (N, 5) @ (5, B) product: baseline polynomial + atmosphere.
    x = (wn - wn.mean()) / max(np.ptp(wn) / 2, 1e-12)
    basis = [np.ones_like(wn), x, x**2 - 1.0 / 3.0]
    coef = [np.zeros((height, width)) for _ in range(3)]
    if s_base > 0:
        sb = max(height, width) / 6
        for i, (mean, amp) in enumerate(((0.01, 0.008), (0.0, 0.01), (0.0, 0.006))):
            smooth = _field(r_base, (height, width), sb) + 0.15 * r_base.standard_normal((height, width))
            coef[i] = s_base * (mean + amp * smooth)
    t_co2, t_water = atmosphere_templates(wn, atmosphere)
    for strength, template in ((s_co2, t_co2), (s_water, t_water)):
        # Drift: an offset, a ramp along the scan direction and a smooth field.
        u0, u1 = r_atm.uniform(-0.6, 0.6, 2)
        amp = np.clip(u0 + u1 * ramp + 0.5 * _field(r_atm, (height, width), sigma_xy), -1.5, 1.5)
        basis.append(template)
        coef.append(strength * _ATMOSPHERE_SCALE * amp)
    coef_m = np.stack([m.ravel() for m in coef], axis=1).astype(np.float32)
    data = clean * c.reshape(-1, 1).astype(np.float32)
    data += coef_m @ np.stack(basis).astype(np.float32)

    n_spk = int(round(spike_rate * n_pix)) if s_spikes > 0 else 0
    spike_pos = np.zeros((n_spk, 3), dtype=np.int64)
    if n_spk:
        pix = r_spike.integers(0, n_pix, n_spk)
        band = r_spike.integers(0, n_b, n_spk)
        sign = np.where(r_spike.random(n_spk) < 0.8, 1.0, -1.0)
        data[pix, band] += (s_spikes * sign * r_spike.uniform(0.3, 1.5, n_spk)).astype(np.float32)
        spike_pos = np.column_stack([pix // width, pix % width, band])
    if noise > 0:
        eps = r_noise.standard_normal(data.shape, dtype=np.float32)
        eps *= np.float32(noise)
        data += eps
        del eps

    mask = np.zeros(n_b, dtype=bool)
    if s_co2 > 0:
        mask |= np.abs(t_co2) > _MASK_THRESHOLD
    if s_water > 0:
        mask |= np.abs(t_water) > _MASK_THRESHOLD

    params: dict[str, Any] = {
        "height": height, "width": width, "n_bands": int(n_b),
        "wavenumber_min": float(wn[0]), "wavenumber_max": float(wn[-1]),
        "materials": list(names), "seed": int(seed), "layout": layout, "blur": float(blur),
        "noise": float(noise), "artefacts": g, "co2": s_co2, "water": s_water,
        "spikes": s_spikes, "spike_rate": float(spike_rate), "baseline": s_base,
        "contact": s_contact, "atr": bool(atr),
        "atmosphere": "built-in line model" if atmosphere is None
        else f"measured spectrum ({np.asarray(atmosphere[0]).size} points)",
    }
    cube = make_cube(
        data.reshape(height, width, n_b), wn, pixel_size=pixel_size,
        metadata={"format": "synthetic", "path": None,
                  "generator": "ftir_unmix.synthetic.cross_section", "parameters": params},
    )
    return SyntheticCrossSection(
        cube=cube, endmembers=endm, abundances=abund, names=tuple(names),
        artefact_mask=mask, clean=clean.reshape(height, width, n_b),
        contact=c.astype(np.float32), spikes=spike_pos,
    )
