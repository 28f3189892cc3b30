"""Synthetic reflectance hyperspectral scenes with known truth.

The scenes imitate airborne reflectance images such as the public Samson and
Jasper Ridge benchmarks: materials occur *pure* over large contiguous regions
(a lake, a field, bare ground), mixed pixels appear only along soft boundaries
a few pixels wide, one material (water) is dark with almost no signal beyond
the visible, and some scenes hold a minor material (a thin road, small ponds or
roofs) covering only a few percent of the image.

Spectra are smooth, positive reflectance curves shaped like real materials
(vegetation red edge and leaf-water dips, dark water, rising soil with clay and
hydration features, flat man-made surfaces), randomised per seed. The observed
cube is ``illumination * (E @ a) + noise`` with a smooth per-pixel shading
factor and band-wise Gaussian noise.

This generator was written from scratch without reading the project's other
scene generators, so that it checks the unmixing engine on data it was not
tuned against.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter
from scipy.ndimage import label as label_regions
from scipy.spatial import cKDTree

from ftir_unmix import make_cube

CASES: tuple[str, ...] = ("shore-k3", "road-k4", "patchy-k5")


@dataclass(frozen=True, eq=False)
class ReflectanceScene:
    """A synthetic scene and its ground truth.

    Attributes
    ----------
    cube : Cube
        Observed data, shape (H, W, B); the axis is wavelength in nm.
    endmembers : ndarray, shape (B, K)
        Noise-free true reflectance spectra.
    abundances : ndarray, shape (K, H, W)
        True fractions, non-negative, summing to one per pixel.
    names : list of str
        Material names, in the order of ``endmembers`` columns.
    case, seed
        What produced the scene.
    minor : list of str
        Materials designed to cover only a small share of the image.
    """

    cube: object
    endmembers: np.ndarray
    abundances: np.ndarray
    names: list[str]
    case: str
    seed: int
    minor: list[str]


# ---------------------------------------------------------------- spectra


def _g(lam: np.ndarray, centre: float, width: float) -> np.ndarray:
    """Gaussian profile of unit height, used for bumps and absorption dips."""
    return np.exp(-0.5 * ((lam - centre) / width) ** 2)


def _sig(lam: np.ndarray, centre: float, width: float) -> np.ndarray:
    """Logistic step from 0 to 1, used for edges such as the red edge."""
    return 1.0 / (1.0 + np.exp(-(lam - centre) / width))


def _dips(lam: np.ndarray, rng: np.random.Generator, spec: list[tuple[float, float, float, float]]) -> np.ndarray:
    """Multiplicative absorption factor; each dip is (centre, width, depth_lo, depth_hi)."""
    out = np.ones_like(lam)
    for c, w, lo, hi in spec:
        out *= 1.0 - rng.uniform(lo, hi) * _g(lam, c + rng.uniform(-10, 10), w)
    return out


def _vegetation(lam: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Green leaves: dark visible with a green bump, red edge, NIR plateau, leaf-water dips."""
    vis = rng.uniform(0.03, 0.05) + rng.uniform(0.03, 0.06) * _g(lam, rng.uniform(540, 560), 35)
    edge = _sig(lam, rng.uniform(700, 725), rng.uniform(9, 15))
    # The plateau declines into the SWIR because leaf water absorbs more there.
    nir = rng.uniform(0.35, 0.55) * (1 - rng.uniform(0.5, 0.7) * np.clip((lam - 750) / 1750, 0, 1))
    water = _dips(lam, rng, [(970, 25, 0.03, 0.08), (1190, 40, 0.08, 0.15), (1450, 55, 0.45, 0.65),
                             (1940, 70, 0.6, 0.8)])
    return vis * (1 - edge) + nir * water * edge


def _dry_grass(lam: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Senescent grass: no sharp red edge, broad rise, cellulose/lignin and weak water features."""
    r0, r1 = rng.uniform(0.08, 0.12), rng.uniform(0.3, 0.45)
    base = r0 + (r1 - r0) * _sig(lam, rng.uniform(600, 700), rng.uniform(60, 100))
    base *= 1 - rng.uniform(0.2, 0.35) * np.clip((lam - 1100) / 1400, 0, 1)
    return base * _dips(lam, rng, [(1450, 55, 0.2, 0.35), (1940, 70, 0.3, 0.45), (1730, 30, 0.03, 0.07),
                                   (2100, 40, 0.1, 0.2)])


def _soil(lam: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Bare soil: gently rising curve with iron, hydration and clay features."""
    r0, r1 = rng.uniform(0.04, 0.1), rng.uniform(0.25, 0.45)
    base = r0 + (r1 - r0) * (1 - np.exp(-(lam - 400) / rng.uniform(250, 600)))
    base *= 1 - rng.uniform(0.05, 0.12) * _sig(lam, 2350, 60)
    return base * _dips(lam, rng, [(900, 80, 0.03, 0.08), (1410, 35, 0.05, 0.15), (1910, 45, 0.08, 0.2),
                                   (2200, 25, 0.05, 0.15)])


def _water(lam: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Open water: dark, a visible peak of 0.03-0.07 and almost nothing past 800 nm."""
    floor = rng.uniform(0.003, 0.008)  # skylight / surface reflection keeps it positive
    peak = rng.uniform(0.03, 0.07) * _g(lam, rng.uniform(480, 570), rng.uniform(90, 140))
    sediment = rng.uniform(0.0, 0.01) * _g(lam, 810, 30)  # turbid-water NIR shoulder
    return floor + peak + sediment


def _asphalt(lam: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Asphalt: dark, nearly flat, slowly rising, weak hydrocarbon dips."""
    base = rng.uniform(0.05, 0.09) + rng.uniform(0.01, 0.04) * (lam - 400) / 2100
    return base * _dips(lam, rng, [(1730, 25, 0.05, 0.1), (2310, 25, 0.05, 0.1)])


def _roof(lam: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Concrete roof: bright flat grey, slight visible rise, carbonate dip near 2340 nm."""
    level = rng.uniform(0.25, 0.38)
    base = level * (0.8 + 0.2 * _sig(lam, rng.uniform(480, 560), 40))
    base *= 1 - rng.uniform(0.03, 0.1) * np.clip((lam - 1200) / 1300, 0, 1)
    return base * _dips(lam, rng, [(1450, 50, 0.02, 0.05), (1940, 60, 0.02, 0.05), (2340, 30, 0.05, 0.1)])


_SPECTRA = {"water": _water, "vegetation": _vegetation, "soil": _soil, "asphalt": _asphalt,
            "dry-grass": _dry_grass, "roof": _roof}
_MATERIALS = {"shore-k3": ["water", "vegetation", "soil"],
              "road-k4": ["water", "vegetation", "soil", "asphalt"],
              "patchy-k5": ["vegetation", "soil", "dry-grass", "water", "roof"]}
_MINOR = {"shore-k3": [], "road-k4": ["asphalt"], "patchy-k5": ["water", "roof"]}


# ------------------------------------------------------------- abundances


def _field(rng: np.random.Generator, size: int, corr: float) -> np.ndarray:
    """Standardised smooth random field with correlation length ``corr`` pixels."""
    f = gaussian_filter(rng.standard_normal((size, size)), corr, mode="reflect")
    return (f - f.mean()) / f.std()


def _soften(labels: np.ndarray, k: int, sigma: float) -> np.ndarray:
    """Blur one-hot label maps: boundaries become a few pixels of mixing, cores stay pure."""
    onehot = np.stack([(labels == i).astype(float) for i in range(k)])
    a = np.stack([gaussian_filter(m, sigma, mode="nearest") for m in onehot])
    a = np.clip(a, 0.0, None)
    return a / a.sum(axis=0, keepdims=True)


def _lake_and_land(rng: np.random.Generator, size: int) -> np.ndarray:
    """Labels 0 = one contiguous lake, 1 = vegetation, 2 = soil."""
    yy, xx = np.mgrid[0:size, 0:size].astype(float)
    cy, cx = rng.uniform(0.15, 0.85, 2) * size
    radius = rng.uniform(0.22, 0.35) * size
    lake = np.hypot(yy - cy, xx - cx) / radius + 0.3 * _field(rng, size, size / 8) < 1.0
    parts, n = label_regions(lake)
    if n > 1:  # keep only the largest piece: one lake, no scattered puddles
        lake = parts == 1 + np.argmax(np.bincount(parts.ravel())[1:])
    veg = _field(rng, size, size / 6) + rng.uniform(-0.4, 0.4) > 0
    return np.where(lake, 0, np.where(veg, 1, 2))


def _road(rng: np.random.Generator, size: int) -> np.ndarray:
    """Fraction map of a thin curved road: triangular cross-profile, at most pure on its centre line."""
    t = np.linspace(0.0, 1.0, 1500)
    along = t * (size - 1)
    y0, y1 = rng.uniform(0.2, 0.8, 2) * size
    across = y0 + (y1 - y0) * t + rng.uniform(3, 10) * np.sin(2 * np.pi * rng.uniform(0.5, 1.5) * t
                                                               + rng.uniform(0, 2 * np.pi))
    pts = np.column_stack([across, along] if rng.random() < 0.5 else [along, across])
    yy, xx = np.mgrid[0:size, 0:size]
    dist, _ = cKDTree(pts).query(np.column_stack([yy.ravel(), xx.ravel()]))
    half = rng.uniform(1.0, 1.8)
    return (rng.uniform(0.85, 1.0) * np.clip(1 - dist / half, 0, 1)).reshape(size, size)


def _patchy(rng: np.random.Generator, size: int) -> np.ndarray:
    """Labels for 5 materials: 3 background classes of mixed patch sizes, small ponds (3), roofs (4)."""
    scores = [_field(rng, size, rng.uniform(4, 12)) + rng.normal(0, 0.4) for _ in range(3)]
    labels = np.argmax(scores, axis=0)
    yy, xx = np.mgrid[0:size, 0:size]
    for _ in range(rng.integers(1, 3)):  # ponds: blobs big enough to keep a pure core
        cy, cx = rng.uniform(0.1, 0.9, 2) * size
        labels[np.hypot(yy - cy, xx - cx) < rng.uniform(4, 7)] = 3
    for _ in range(rng.integers(3, 6)):  # roofs: axis-aligned rectangles, >= 6 px a side
        h, w = rng.integers(6, 12, 2)
        y, x = rng.integers(0, size - h), rng.integers(0, size - w)
        labels[y:y + h, x:x + w] = 4
    return labels


# ------------------------------------------------------------------ scene


def make_reflectance_scene(case: str, seed: int, *, size: int = 95, n_bands: int = 156) -> ReflectanceScene:
    """Build one synthetic reflectance scene with known endmembers and abundances.

    Parameters
    ----------
    case : {"shore-k3", "road-k4", "patchy-k5"}
        Scene layout; see :data:`CASES`.
    seed : int
        Randomness source; the same (case, seed) always gives the same scene.
    size : int
        Image height and width in pixels.
    n_bands : int
        Number of bands, evenly spaced over 400-2500 nm.

    Returns
    -------
    ReflectanceScene

    Raises
    ------
    ValueError
        Unknown ``case``.
    """
    if case not in CASES:
        raise ValueError(f"unknown case {case!r}; expected one of {CASES}")
    rng = np.random.default_rng([seed, CASES.index(case)])
    lam = np.linspace(400.0, 2500.0, n_bands)
    names = list(_MATERIALS[case])
    # A floor keeps every true spectrum strictly positive whatever the draws.
    endmembers = np.column_stack([np.maximum(_SPECTRA[n](lam, rng), 2e-3) for n in names])
    sigma = rng.uniform(0.9, 1.4)  # boundary softness: ~3-5 pixels from 5 % to 95 %

    if case == "patchy-k5":
        labels = _patchy(rng, size)
        abund = _soften(labels, 5, sigma)
        # Guard: every material must keep some pure pixels even after overpainting.
        yy, xx = np.mgrid[0:size, 0:size]
        for k in range(5):
            if np.mean(abund[k] >= 0.95) < 0.003:
                cy, cx = rng.uniform(0.1, 0.9, 2) * size
                labels[np.hypot(yy - cy, xx - cx) < 5] = k
                abund = _soften(labels, 5, sigma)
    else:
        abund = _soften(_lake_and_land(rng, size), 3, sigma)
        if case == "road-k4":
            road = _road(rng, size) * (1 - abund[0])  # the road stops at the shore
            abund = np.concatenate([abund * (1 - road), road[None]])
    abund = abund / abund.sum(axis=0, keepdims=True)

    clean = np.einsum("bk,khw->hwb", endmembers, abund)
    shade = _field(rng, size, size / 5)
    illum = 1.0 + rng.uniform(0.06, 0.15) * shade / np.abs(shade).max()  # topography: 0.85-1.15
    # Noise: 0.3-1 % of the mean reflectance, a bit larger towards the sensor's range ends,
    # and a few end bands (atmosphere / detector edges) clearly noisier.
    band_sd = rng.uniform(0.003, 0.01) * clean.mean() * (1 + 0.5 * ((lam - 1450) / 1050) ** 4)
    band_sd[:2] *= rng.uniform(2, 4)
    band_sd[-3:] *= rng.uniform(2, 4)
    data = illum[..., None] * clean + rng.standard_normal(clean.shape) * band_sd
    cube = make_cube(data, lam, metadata={"format": "synthetic", "path": f"reflectance:{case}:{seed}"})
    return ReflectanceScene(cube=cube, endmembers=endmembers, abundances=abund, names=names,
                            case=case, seed=seed, minor=list(_MINOR[case]))


if __name__ == "__main__":
    for case in CASES:
        for seed in (0, 1):
            t0 = time.perf_counter()
            sc = make_reflectance_scene(case, seed)
            dt = time.perf_counter() - t0
            print(f"{case} seed={seed} shape={sc.cube.shape} ({dt:.2f} s) minor={sc.minor}")
            for k, name in enumerate(sc.names):
                e = sc.endmembers[:, k]
                print(f"  {name:10s} pure(>=0.95)={np.mean(sc.abundances[k] >= 0.95):6.1%}"
                      f"  mean abund={sc.abundances[k].mean():6.1%}  refl min={e.min():.3f} mean={e.mean():.3f}")
