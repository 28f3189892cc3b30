"""Artefacts added to the mixed spectra: contact, atmosphere, baseline, spikes, noise.

Each has a strength parameter in :class:`ftir_unmix.scenes.Artefacts`.

- Contact: the ATR crystal's pressure scales every pixel's absorbance. A
  smooth field plus a tilt across the image, mapped into a range
  ``[lo, hi]`` (multiplicative, the same for all bands of a pixel).
- Atmosphere: CO₂ and water-vapour absorbance left over after background
  compensation. Templates come from the measured spectra in
  ``<shared>/atmosphere/*.dpt`` (read in place; their licence forbids
  shipping them), split into a CO₂ part (2250–2400 and 610–720 cm⁻¹) and a
  water part (the rest); without them a built-in line model is used (a CO₂
  P/R doublet at 2349 cm⁻¹ with its 667 cm⁻¹ bend, water rotation–vibration
  lines around 1595 and 3750 cm⁻¹). The per-pixel amounts drift with the
  acquisition: along the raster order (point mapping) or tile by tile (focal
  plane array mosaics), around a small bias, so they change sign across the
  image (over- and under-compensation).
- Baseline: an offset, a scattering-like curve ``c·(ν/4000)^p`` with a
  per-pixel exponent ``p``, and a broad hump, each with smooth per-pixel
  coefficients.
- Spikes: single-band spikes at random pixels and bands.
- Noise: Gaussian, at a given SNR in dB (total clean-signal power over noise
  power), louder towards both ends of the range as detectors are.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import _data
from ._bands import bin_to_axis, fine_grid
from ._fields import smooth_field

__all__ = [
    "contact_map",
    "atmosphere_templates",
    "atmosphere_amounts",
    "builtin_atmosphere",
    "baseline_cube",
    "add_spikes",
    "noise_profile",
]


def contact_map(rng: np.random.Generator, shape: tuple[int, int], lo: float, hi: float) -> np.ndarray:
    """ATR contact factor per pixel, smooth, in ``[lo, hi]``.

    Parameters
    ----------
    rng : numpy.random.Generator
    shape : (H, W)
    lo, hi : float
        Range of the factor (``lo == hi`` gives a constant).

    Returns
    -------
    ndarray, shape (H, W)
    """
    height, width = shape
    if hi <= lo:
        return np.full(shape, float(lo))
    field = smooth_field(rng, shape, max(height, width) / 5.0)
    ang = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:height, 0:width]
    tilt = (np.cos(ang) * (xx / max(width - 1, 1) - 0.5) + np.sin(ang) * (yy / max(height - 1, 1) - 0.5)) * 2.0
    z = field + 1.5 * tilt
    z = (z - z.min()) / max(z.max() - z.min(), 1e-12)
    return lo + (hi - lo) * z


def builtin_atmosphere(axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A simple built-in CO₂ and water-vapour absorbance model on ``axis``.

    Lines are Lorentzians of 1.5 cm⁻¹ FWHM on the fine grid, averaged over
    each band. CO₂: the ν3 P and R branches (line spacing ≈ 1.55 cm⁻¹,
    Boltzmann envelope) around 2349 cm⁻¹ and the ν2 Q branch at 667 cm⁻¹ with
    weak P/R wings. Water: lines at fixed pseudo-random positions with P/R
    envelopes around 1595 cm⁻¹ (bend) and 3756 cm⁻¹ (stretches).

    Parameters
    ----------
    axis : ndarray, shape (B,)

    Returns
    -------
    co2, water : ndarray, shape (B,)
        Positive absorbance shapes, each scaled to a maximum of 1.
    """
    x = fine_grid(axis)
    hw = 0.75

    def lines(pos: np.ndarray, amp: np.ndarray) -> np.ndarray:
        out = np.zeros_like(x)
        for p, a in zip(pos, amp):
            sel = np.abs(x - p) < 40
            out[sel] += a / (1.0 + ((x[sel] - p) / hw) ** 2)
        return out

    j = np.arange(1, 60)
    env = j * np.exp(-j * (j + 1) / 400.0)
    co2 = lines(np.concatenate([2349 - 1.55 * j, 2349 + 1.55 * j]), np.concatenate([env, 0.9 * env]))
    co2 += lines(np.array([667.4]), np.array([3.0 * env.max()]))
    co2 += lines(np.concatenate([667.4 - 1.55 * j[:30], 667.4 + 1.55 * j[:30]]), 0.15 * np.concatenate([env[:30]] * 2))
    fixed = np.random.default_rng(20240607)  # the model is the same for every scene
    water = np.zeros_like(x)
    for centre, spread, n in ((1595.0, 230.0, 160), (3756.0, 230.0, 180)):
        pos = centre + np.concatenate([-fixed.uniform(15, spread, n // 2), fixed.uniform(15, spread, n // 2)])
        lobe = np.exp(-0.5 * ((np.abs(pos - centre) - 0.35 * spread) / (0.25 * spread)) ** 2)
        water += lines(pos, lobe * fixed.uniform(0.2, 1.0, pos.size))
    co2_b, water_b = bin_to_axis(x, np.stack([co2, water]), axis)
    return co2_b / co2_b.max(), water_b / water_b.max()


def _measured_atmosphere(axis: np.ndarray, path: Path) -> tuple[np.ndarray, np.ndarray]:
    wn, val = _data.read_two_columns(str(path))
    x = fine_grid(axis)
    fine = np.interp(x, wn, val, left=0.0, right=0.0)
    on_axis = bin_to_axis(x, fine, axis)
    is_co2 = ((axis > 2250) & (axis < 2400)) | ((axis > 610) & (axis < 720))
    # The files hold over-compensated (negative) absorbance; flip to a positive shape.
    sign = -1.0 if on_axis[is_co2].sum() < 0 else 1.0
    co2 = sign * np.where(is_co2, on_axis, 0.0)
    water = sign * np.where(is_co2, 0.0, on_axis)
    return co2 / max(np.abs(co2).max(), 1e-12), water / max(np.abs(water).max(), 1e-12)


def atmosphere_templates(axis: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str]:
    """CO₂ and water templates on ``axis``: a measured file when available, else the built-in model.

    Parameters
    ----------
    axis : ndarray, shape (B,)
    rng : numpy.random.Generator
        Picks one of the measured files.

    Returns
    -------
    co2, water : ndarray, shape (B,)
        Each scaled to a maximum absolute value of 1 (positive = absorbing).
    source : str
        The file used (relative to the shared folder) or ``"built-in line model"``.
    """
    root = _data.shared_data_dir()
    files = sorted((root / "atmosphere").glob("*.dpt")) if root is not None else []
    if files:
        path = files[int(rng.integers(len(files)))]
        try:
            co2, water = _measured_atmosphere(axis, path)
            return co2, water, str(path.relative_to(root))
        except (OSError, ValueError, IndexError):
            pass
    co2, water = builtin_atmosphere(axis)
    return co2, water, "built-in line model"


def atmosphere_amounts(rng: np.random.Generator, shape: tuple[int, int], *, mode: str, tile: int = 32
                       ) -> np.ndarray:
    """Drifting amount of an atmospheric component per pixel, mostly positive, sometimes negative.

    Parameters
    ----------
    rng : numpy.random.Generator
    shape : (H, W)
    mode : {"raster", "tiles"}
        ``"raster"``: a random walk along the row-major acquisition order,
        smoothed; ``"tiles"``: one level per ``tile``×``tile`` detector tile
        plus a small within-tile gradient.
    tile : int

    Returns
    -------
    ndarray, shape (H, W)
        Around a bias in [−0.3, 0.7] with drift of standard deviation 0.5.
    """
    height, width = shape
    bias = rng.uniform(-0.3, 0.7)
    if mode == "raster":
        n = height * width
        walk = np.cumsum(rng.standard_normal(n))
        walk -= np.linspace(walk[0], walk[-1], n)  # a bridge: no runaway trend
        walk = (walk - walk.mean()) / max(walk.std(), 1e-12)
        drift = walk.reshape(height, width)
    elif mode == "tiles":
        ty, tx = -(-height // tile), -(-width // tile)
        levels = rng.standard_normal((ty, tx))
        drift = np.kron(levels, np.ones((tile, tile)))[:height, :width]
        yy, xx = np.mgrid[0:height, 0:width]
        drift = drift + 0.3 * rng.standard_normal() * ((xx % tile) / tile - 0.5)
        drift = (drift - drift.mean()) / max(drift.std(), 1e-12)
    else:
        raise ValueError(f"unknown atmosphere mode {mode!r}")
    return bias + 0.5 * drift


def baseline_cube(rng: np.random.Generator, shape: tuple[int, int], axis: np.ndarray) -> np.ndarray:
    """Smooth per-pixel baselines, unit scale: offset + scattering-like curve + broad hump.

    Parameters
    ----------
    rng : numpy.random.Generator
    shape : (H, W)
    axis : ndarray, shape (B,)

    Returns
    -------
    ndarray, shape (H, W, B), float32
        Of order one; multiply by the wanted strength.
    """
    height, width = shape
    scale = max(height, width) / 6.0
    offset = 0.25 * smooth_field(rng, shape, scale)
    slope = 0.6 + 0.4 * np.tanh(smooth_field(rng, shape, scale))
    expo = 2.5 + 1.0 * np.tanh(smooth_field(rng, shape, scale))
    hump = 0.3 * (0.5 + 0.5 * np.tanh(smooth_field(rng, shape, scale)))
    centre, wid = rng.uniform(1100, 2200), rng.uniform(500, 900)
    nu = (axis / axis[-1]).astype(np.float32)
    out = offset[..., None].astype(np.float32) + hump[..., None].astype(np.float32) * np.exp(
        -0.5 * ((axis - centre) / wid) ** 2).astype(np.float32)
    out += slope[..., None].astype(np.float32) * nu ** expo[..., None].astype(np.float32)
    return out


def add_spikes(rng: np.random.Generator, data: np.ndarray, fraction: float, amplitude: float,
               ref: float) -> np.ndarray:
    """Add single-band spikes in place at a fraction of the pixels.

    Parameters
    ----------
    rng : numpy.random.Generator
    data : ndarray, shape (H, W, B)
        Modified in place.
    fraction : float
        Share of pixels that get one spike.
    amplitude : float
        Spike size in units of ``ref``; drawn in ``[0.5, 1.5]·amplitude``,
        negative one time in five.
    ref : float
        Reference absorbance (e.g. the 99th percentile of the clean data).

    Returns
    -------
    ndarray, shape (n, 3), int
        ``(row, column, band)`` of each spike.
    """
    height, width, n_bands = data.shape
    n = int(round(fraction * height * width))
    if n <= 0 or amplitude <= 0:
        return np.zeros((0, 3), dtype=np.int64)
    flat = rng.choice(height * width, size=n, replace=False)
    rows, cols = np.divmod(flat, width)
    bands = rng.integers(0, n_bands, n)
    sign = np.where(rng.uniform(size=n) < 0.2, -1.0, 1.0)
    data[rows, cols, bands] += (sign * amplitude * ref * rng.uniform(0.5, 1.5, n)).astype(data.dtype)
    return np.stack([rows, cols, bands], axis=1).astype(np.int64)


def noise_profile(axis: np.ndarray, edge: float) -> np.ndarray:
    """Relative noise level per band, RMS 1: flat, rising towards both ends of the range.

    Parameters
    ----------
    axis : ndarray, shape (B,)
    edge : float
        How much louder the noise gets at the ends (0: white).

    Returns
    -------
    ndarray, shape (B,)
    """
    g = 1.0 + edge * (np.exp(-(axis - axis[0]) / 60.0) + 0.5 * np.exp(-(axis[-1] - axis) / 150.0))
    return g / np.sqrt(np.mean(g * g))
