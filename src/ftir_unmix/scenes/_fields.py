"""Abundance layouts of the synthetic cross-sections.

All maps are ``(K, H, W)`` arrays on the probability simplex (non-negative,
summing to one per pixel). Row 0 is the top of the image: the embedding resin
above the sample surface, then the paint layers downwards.

Building blocks
---------------
- :func:`smooth_field`: a Gaussian random field (white noise low-pass
  filtered with a Gaussian kernel, standardised).
- :func:`layer_memberships`: layered stratigraphy. Boundaries ``y_j(x)`` are
  smooth random curves (long-wavelength waviness plus short-wavelength
  roughness), kept in order (a layer may pinch out). Each boundary has its own
  diffuse width ``d_j``; the share of everything below boundary ``j`` is
  ``F_j = logistic((y − y_j)/d_j)``, made monotone over ``j`` so the layer
  memberships ``F_j − F_{j+1}`` are non-negative and sum to one.
- :func:`mix_recipes`: each layer's composition is its recipe (mean shares)
  modulated per pixel by smooth random fields through a softmax, so pigments
  form grains and clusters; the pixel's abundances are the membership-weighted
  sum of layer compositions (a convex combination: on the simplex).
- :func:`cap_simplex`: no pure pixels. Every share above its cap is cut to the
  cap (or softly compressed towards it, ``c·tanh(a/c)``) and the removed
  amount handed to the other materials in proportion to their room below
  their own caps. One pass suffices when the caps sum to at least one.
- :func:`add_spots`, :func:`add_crust`, :func:`add_aggregates`: a material
  ``m`` blended in with a fraction map ``f``: ``a ← (1 − f)·a + f·e_m``
  (stays on the simplex).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter, gaussian_filter1d

__all__ = [
    "COVERAGE_THRESHOLD",
    "smooth_field",
    "smooth_curve",
    "layer_memberships",
    "mix_recipes",
    "dirichlet_fields",
    "cap_simplex",
    "blend",
    "add_spots",
    "add_crust",
    "add_aggregates",
    "coverage",
]

#: A pixel counts as covered by a material when its abundance is at least this.
COVERAGE_THRESHOLD = 0.1


def smooth_field(rng: np.random.Generator, shape: tuple[int, int], scale: float | tuple[float, float]) -> np.ndarray:
    """A standardised Gaussian random field.

    Parameters
    ----------
    rng : numpy.random.Generator
    shape : (H, W)
    scale : float or (sy, sx)
        Correlation length in pixels (standard deviation of the Gaussian
        kernel); anisotropic when a pair.

    Returns
    -------
    ndarray, shape (H, W)
        Zero mean, unit standard deviation (over the image).

    Examples
    --------
    >>> f = smooth_field(np.random.default_rng(0), (32, 48), 4.0)
    >>> f.shape, round(float(f.mean()), 6), round(float(f.std()), 6)
    ((32, 48), 0.0, 1.0)
    """
    sy, sx = (scale, scale) if np.isscalar(scale) else scale  # type: ignore[misc]
    pad = (int(3 * sy) + 1, int(3 * sx) + 1)
    noise = rng.standard_normal((shape[0] + 2 * pad[0], shape[1] + 2 * pad[1]))
    field = gaussian_filter(noise, (max(float(sy), 1e-6), max(float(sx), 1e-6)), mode="wrap")
    field = field[pad[0]:pad[0] + shape[0], pad[1]:pad[1] + shape[1]]
    field = field - field.mean()
    sd = field.std()
    return field / sd if sd > 0 else field


def smooth_curve(rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    """A standardised 1-D Gaussian random curve of length ``n`` and correlation length ``scale``."""
    pad = int(3 * scale) + 1
    c = gaussian_filter1d(rng.standard_normal(n + 2 * pad), max(float(scale), 1e-6), mode="wrap")[pad:pad + n]
    c = c - c.mean()
    sd = c.std()
    return c / sd if sd > 0 else c


def layer_memberships(rng: np.random.Generator, height: int, width: int, thicknesses: np.ndarray, *,
                      waviness: float, roughness: float, diffuse: tuple[float, float]
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Soft layer memberships of a stratigraphy with wavy, rough, diffuse boundaries.

    Parameters
    ----------
    rng : numpy.random.Generator
    height, width : int
    thicknesses : ndarray, shape (L,)
        Relative layer thicknesses, top to bottom; scaled to fill the height.
    waviness : float
        Amplitude (pixels) of the long-wavelength undulation of each boundary.
    roughness : float
        Amplitude (pixels) of the short-wavelength roughness.
    diffuse : (lo, hi)
        Range of the interface widths (pixels, logistic scale).

    Returns
    -------
    memberships : ndarray, shape (L, H, W)
        Non-negative, summing to one over layers.
    boundaries : ndarray, shape (L - 1, W)
        Row position (pixel units, 0 = top edge) of each boundary per column.
    """
    t = np.asarray(thicknesses, dtype=np.float64)
    t = t / t.sum() * height
    n_layers = t.size
    base = np.cumsum(t)[:-1]
    bounds = np.empty((n_layers - 1, width))
    for j in range(n_layers - 1):
        wave = waviness * smooth_curve(rng, width, rng.uniform(0.12, 0.3) * width)
        rough = roughness * smooth_curve(rng, width, rng.uniform(1.0, 2.5))
        bounds[j] = base[j] + wave + rough
    bounds = np.maximum.accumulate(bounds, axis=0)  # keep the order; a layer may pinch out
    rows = np.arange(height)[:, None] + 0.5
    below = np.empty((n_layers + 1, height, width))
    below[0] = 1.0
    below[-1] = 0.0
    for j in range(n_layers - 1):
        d = rng.uniform(*diffuse)
        below[j + 1] = 0.5 * (1.0 + np.tanh((rows - bounds[j][None, :]) / (2.0 * d)))
    below[1:-1] = np.minimum.accumulate(below[1:-1], axis=0)
    return below[:-1] - below[1:], bounds


def mix_recipes(rng: np.random.Generator, memberships: np.ndarray, recipes: np.ndarray, *,
                contrast: np.ndarray, grain: np.ndarray) -> np.ndarray:
    """Abundances from layer memberships and per-layer recipes with grainy heterogeneity.

    Parameters
    ----------
    rng : numpy.random.Generator
    memberships : ndarray, shape (L, H, W)
    recipes : ndarray, shape (L, K)
        Mean shares of each material in each layer (rows sum to one; zeros
        stay zero).
    contrast : ndarray, shape (L,)
        Standard deviation of the log-share fluctuations in each layer.
    grain : ndarray, shape (L,)
        Correlation length (pixels) of those fluctuations.

    Returns
    -------
    ndarray, shape (K, H, W)
        On the simplex.
    """
    n_layers, height, width = memberships.shape
    k = recipes.shape[1]
    out = np.zeros((k, height, width))
    for j in range(n_layers):
        present = np.flatnonzero(recipes[j] > 0)
        logits = np.full((k, height, width), -np.inf)
        for m in present:
            logits[m] = np.log(recipes[j, m]) + contrast[j] * smooth_field(rng, (height, width), grain[j])
        logits -= logits[present].max(axis=0, keepdims=True)
        comp = np.exp(logits)
        comp /= comp.sum(axis=0, keepdims=True)
        out += memberships[j][None] * comp
    return out / out.sum(axis=0, keepdims=True)


def dirichlet_fields(rng: np.random.Generator, k: int, height: int, width: int, *,
                     alpha: np.ndarray, contrast: float, scale: float) -> np.ndarray:
    """Smooth mixtures everywhere: softmax of ``log α_k`` plus smooth random fields.

    Parameters
    ----------
    rng : numpy.random.Generator
    k, height, width : int
    alpha : ndarray, shape (K,)
        Mean shares (a Dirichlet-like mean).
    contrast : float
        Standard deviation of the log-share fluctuations.
    scale : float
        Their correlation length (pixels).

    Returns
    -------
    ndarray, shape (K, H, W)
    """
    logits = np.stack([np.log(alpha[m]) + contrast * smooth_field(rng, (height, width), scale) for m in range(k)])
    logits -= logits.max(axis=0, keepdims=True)
    a = np.exp(logits)
    return a / a.sum(axis=0, keepdims=True)


def cap_simplex(a: np.ndarray, caps: np.ndarray, *, soft: bool = False) -> np.ndarray:
    """Cap each material's abundance and keep every pixel on the simplex.

    The part of a share above its cap is removed and given to the other
    materials in proportion to their room below their own caps. With
    ``sum(caps) ≥ 1`` one pass suffices and no share ends above its cap.

    Parameters
    ----------
    a : ndarray, shape (K, ...)
        On the simplex along axis 0.
    caps : ndarray, shape (K,)
        Upper bounds, summing to at least one.
    soft : bool
        Compress every share first with ``c·tanh(a/c)`` (which approaches the
        cap smoothly instead of leaving plateaus at it), then redistribute
        what was removed in the same way.

    Returns
    -------
    ndarray, same shape

    Examples
    --------
    >>> cap_simplex(np.array([0.9, 0.1, 0.0]), np.array([0.5, 0.5, 0.5])).round(3)
    array([0.5  , 0.278, 0.222])
    """
    caps = np.asarray(caps, dtype=np.float64).reshape((-1,) + (1,) * (a.ndim - 1))
    if caps.sum() < 1.0 - 1e-12:
        raise ValueError(f"caps sum to {caps.sum():.3f} < 1: no abundance vector satisfies them")
    out = caps * np.tanh(a / caps) if soft else np.minimum(a, caps)
    excess = (a - out).sum(axis=0, keepdims=True)
    room = caps - out
    total = room.sum(axis=0, keepdims=True)
    out = out + np.divide(excess * room, total, out=np.zeros_like(out), where=total > 0)
    return np.minimum(out, caps) / out.sum(axis=0, keepdims=True)


def blend(a: np.ndarray, m: int, f: np.ndarray) -> np.ndarray:
    """``(1 − f)·a + f·e_m``: blend material ``m`` in with fraction map ``f`` (stays on the simplex)."""
    out = a * (1.0 - f)[None]
    out[m] += f
    return out


def coverage(a_m: np.ndarray) -> float:
    """Fraction of pixels where an abundance map reaches :data:`COVERAGE_THRESHOLD`."""
    return float(np.mean(a_m >= COVERAGE_THRESHOLD))


def add_spots(rng: np.random.Generator, allowed: np.ndarray, target: tuple[float, float], *,
              radius: tuple[float, float] = (0.5, 1.1), peak: tuple[float, float] = (0.5, 0.9),
              max_tries: int = 2000) -> np.ndarray:
    """Fraction map of small round spots (a few pixels each) covering a target share of the image.

    Spots are added one at a time at random allowed centres, each a truncated
    Gaussian ``p·exp(−r²/2ρ²)``; a spot that would touch an earlier one, or
    push the covered share (fraction ≥ :data:`COVERAGE_THRESHOLD`) above
    ``target[1]``, is dropped.
    Stops once the share reaches a level drawn inside ``target``.

    Parameters
    ----------
    rng : numpy.random.Generator
    allowed : ndarray of bool, shape (H, W)
        Where spot centres may fall.
    target : (lo, hi)
        Wanted covered share of the image.
    radius, peak : (lo, hi)
        Ranges of the Gaussian radius ρ (pixels) and of the peak fraction.
    max_tries : int

    Returns
    -------
    ndarray, shape (H, W)
        Fractions in [0, peak_max].
    """
    height, width = allowed.shape
    n = height * width
    lo, hi = target
    goal = max(1, int(np.ceil(rng.uniform(lo + 0.25 * (hi - lo), hi - 0.25 * (hi - lo)) * n)))
    limit = max(goal, int(np.floor(hi * n)))
    yy, xx = np.mgrid[0:height, 0:width]
    centres = np.argwhere(allowed)
    f = np.zeros((height, width))
    if centres.size == 0:
        return f
    for _ in range(max_tries):
        if int((f >= COVERAGE_THRESHOLD).sum()) >= goal:
            break
        cy, cx = centres[rng.integers(len(centres))] + rng.uniform(-0.5, 0.5, 2)
        rho = rng.uniform(*radius)
        spot = rng.uniform(*peak) * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2.0 * rho * rho))
        spot[spot < 0.02] = 0.0
        if np.any((spot > 0) & (f > 0)):
            continue  # keep spots apart: each stays a few pixels
        trial = np.maximum(f, spot)
        if int((trial >= COVERAGE_THRESHOLD).sum()) <= limit:
            f = trial
    return f


def add_crust(rng: np.random.Generator, surface: np.ndarray, height: int, target: tuple[float, float], *,
              thickness: tuple[float, float] = (1.0, 2.0), peak: tuple[float, float] = (0.55, 0.9)
              ) -> np.ndarray:
    """Fraction map of a thin crust just below the sample surface, in segments.

    The crust occupies depths ``[0, t(x)]`` below the surface row ``s(x)``
    with ``t`` a smooth curve in ``thickness``; a pixel's fraction is the
    crust's peak fraction ``p(x)`` times the share of the pixel's row interval
    the crust covers. Segments of random length are laid along the surface
    until the covered share reaches a level drawn inside ``target``; the last
    segment is trimmed if it overshoots.

    Parameters
    ----------
    rng : numpy.random.Generator
    surface : ndarray, shape (W,)
        Row position of the surface (pixel units, 0 = top edge) per column.
    height : int
    target : (lo, hi)
        Wanted covered share of the image.
    thickness : (lo, hi)
        Crust thickness range (pixels).
    peak : (lo, hi)
        Range of the crust's fraction where it is whole.

    Returns
    -------
    ndarray, shape (H, W)
    """
    width = surface.size
    t = thickness[0] + (thickness[1] - thickness[0]) * (0.5 + 0.5 * np.tanh(smooth_curve(rng, width, 6.0)))
    p = peak[0] + (peak[1] - peak[0]) * (0.5 + 0.5 * np.tanh(smooth_curve(rng, width, 10.0)))
    top = surface[None, :]
    rows = np.arange(height)[:, None]
    overlap = np.clip(np.minimum(rows + 1.0, top + t[None, :]) - np.maximum(rows, top), 0.0, 1.0)
    full = p[None, :] * overlap
    per_col = (full >= COVERAGE_THRESHOLD).sum(axis=0)
    n = height * width
    lo, hi = target
    goal = max(1, int(np.ceil(rng.uniform(lo + 0.25 * (hi - lo), hi - 0.25 * (hi - lo)) * n)))
    use = np.zeros(width, dtype=bool)
    count = 0
    for _ in range(10 * width):
        if count >= goal or use.all():
            break
        start = int(rng.integers(width))
        length = int(rng.integers(max(3, width // 16), max(4, width // 4)))
        for x in range(start, min(width, start + length)):
            if use[x]:
                continue
            if count + per_col[x] > max(goal, int(np.floor(hi * n))):
                break
            use[x] = True
            count += int(per_col[x])
            if count >= goal:
                break
    return full * use[None, :]


def add_aggregates(rng: np.random.Generator, allowed: np.ndarray, count: int, *,
                   radius: tuple[float, float], core: tuple[float, float], rim_width: float = 1.0
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Fraction maps of irregular round aggregates and of their rims.

    Each aggregate has a radius that varies with the angle (a few random
    harmonics, like the lobed metal-soap masses of aged paint); its fraction
    is ``c·(1 − smoothstep)`` with a core fraction ``c < 1`` (the aggregate
    stays mixed with the surrounding paint) and a soft edge. The rim map is a
    ring of width ``rim_width`` around each aggregate (for a remineralised or
    enriched shell).

    Parameters
    ----------
    rng : numpy.random.Generator
    allowed : ndarray of bool, shape (H, W)
        Where centres may fall.
    count : int
    radius : (lo, hi)
        Mean radius range (pixels).
    core : (lo, hi)
        Range of the core fraction.
    rim_width : float

    Returns
    -------
    body, rim : ndarray, shape (H, W)
    """
    height, width = allowed.shape
    yy, xx = np.mgrid[0:height, 0:width] + 0.5
    centres = np.argwhere(allowed)
    body = np.zeros((height, width))
    rim = np.zeros((height, width))
    if centres.size == 0:
        return body, rim
    for _ in range(count):
        cy, cx = centres[rng.integers(len(centres))] + 0.5
        r0 = rng.uniform(*radius)
        c = rng.uniform(*core)
        theta = np.arctan2(yy - cy, xx - cx)
        r_theta = r0 * (1.0 + sum(rng.uniform(0.0, 0.15) * np.cos(h * theta + rng.uniform(0, 2 * np.pi))
                                  for h in (2, 3, 5)))
        rad = np.hypot(yy - cy, xx - cx)
        edge = 0.5 * (1.0 - np.tanh((rad - r_theta) / 0.6))
        body = np.maximum(body, c * edge)
        ring = np.exp(-0.5 * ((rad - r_theta - 0.5 * rim_width) / (0.5 * rim_width)) ** 2)
        rim = np.maximum(rim, ring)
    rim = rim * (1.0 - body / max(core[1], 1e-9))
    return body, np.clip(rim, 0.0, 1.0)
