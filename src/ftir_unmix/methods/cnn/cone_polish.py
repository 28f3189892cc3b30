"""A last polish of the spectra on the whole image's cone fit.

The autoencoder learns its spectra through the encoder's maps, an approximation trained
on random tiles; where it stops, the spectra are often not where the whole image's cone
fit (each pixel's angle to the best nonnegative combination of the spectra, the measure
restarts and the refinement are judged by) has its nearest minimum. On the held-out
family's failed runs that fit was 0.1–1.3° worse than the one the spectra reach when they
are fitted to the image directly (docs/benchmarks.md, stop 34). This module does that:
alternating nonnegative least squares, as in NMF (Kim & Park 2008), on the pixels scaled
to unit weighted norm (so every pixel counts as in the angle), with the run's band
weights and its background term (baseline polynomials, atmosphere) fitted per pixel:

- the maps: each pixel's nonnegative coefficients on the spectra as the loss sees them
  (:meth:`~ftir_unmix.metrics.WeightedPixels.cone_fit`);
- the background: per pixel, the weighted projection of what the spectra leave;
- the spectra: per band, the nonnegative least-squares fit to what the background leaves.

Both steps lower ``Σ_n ‖W(x̂_n − E a_n − P c_n)‖²``; the spectra keep their norms
(the loss is blind to an endmember's scale, the maps are not).

Band shifts: where a material's bands move from pixel to pixel by a few cm⁻¹ (its
surroundings, contact), the plain cone fit can follow them only by bending the spectra
into each other (on the held-out family's layered case the polish made the spectra worse
by that). A spectrum moved by δ is, to first order, the spectrum minus δ times its slope;
with ``shifts`` the slopes of the current spectra join the background as terms fitted
freely per pixel (:func:`with_slopes`), so such a shift costs nothing. In the spectra step
they are held at the previous iteration's slopes: it stays one nonnegative least-squares
problem per band.

With ``bounded`` (δ bands) a pixel may instead move each spectrum by at most δ: its columns
are the spectrum and the spectrum moved by ±δ (to first order ``e ± δ·slope``), all with
nonnegative coefficients, so the move is at most δ times the material's share. Any freedom
to move also takes up the small residuals of pixels just outside the cone, which are what
push spectra started inside the data outwards (with the slopes free, or a bounded move
alone, noise-free mixtures stop 1–1.5° short of the truth). So a moved column has a price
(:func:`move_dead_zone`): a pixel moves a spectrum only where its residual along the move is
more than a small share of its norm, and more than the image's noise along it. In the
spectra step the slopes are held, as above. The 3K nearly collinear columns give pixels many
passive sets: each solve starts from the last iteration's (:func:`~ftir_unmix._nnls.nnls_gram`).

What it cannot tell: that fit is lowest when the spectra enclose every pixel, so where the
pure pixels of a material vary otherwise (contact; a real scene's soil and water) the
polished spectrum moves past the middle of their cloud, and with an artefact the model
does not hold (drifting vapour left unmodelled) the spectra take it in. A run trained again
with a spare therefore keeps the polish only if no spectrum became vapour lines or a
difference spectrum (:func:`.run_cnn`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..._nnls import nnls_gram
from ...metrics import WeightedPixels
from ...preprocess.background import as_seen, lower_envelope
from ...preprocess.noise import difference_noise
from .nonneg_edge import to_nonneg_edge
from .pure_anchor import anchor_to_pure
from .refinement import fixed_sample
from .residual_spot import swap_in_residual_spot

__all__ = ["DEAD_ZONE_PER_NOISE", "MOVE_DEAD_ZONE", "NO_PURE_PERCENTILE", "NO_PURE_SHARE", "POLISH_PIXELS",
           "Polished", "cone_maps", "edge_step", "move_dead_zone", "moved_columns", "noise_level", "polish",
           "polish_endmembers", "purest_shares", "with_slopes"]

#: The spectra are fitted to a fixed sample of this many pixels (all of a smaller image): each
#: iteration reads them twice. On six tuning runs at 64×256 px, 8192 ended within 0.02° of all 16 384.
POLISH_PIXELS = 8192


#: With a bounded move, a pixel moves a spectrum only where its residual along the moved
#: spectrum exceeds this share of its norm (about 0.06°). Without it the moves also take up
#: the small residuals that push spectra started inside the data outwards: on noise-free
#: mixtures without moves they then stop 1.1° short of the truth (0.001° with it), and the
#: five in-repository synthetic cases lost 0.12–0.56° (docs/benchmarks.md, stop 38). Chosen
#: on the family's tuning seeds (0.0005 / 0.001 / 0.002 within 0.04° of each other).
MOVE_DEAD_ZONE = 1e-3

#: ... and at least this many times the image's noise per band (:func:`noise_level`): noise
#: projects onto a unit direction with that spread, and moves that follow it bend the spectra.
DEAD_ZONE_PER_NOISE = 1.0

#: An image in which no endmember has nearly pure pixels: after the polish's first iterations the
#: :data:`NO_PURE_PERCENTILE`-th percentile of every endmember's share of the cone fit's maps is
#: below this. There the data stop short of every spectrum, the fit is nearly flat between the
#: estimates and the truth, and each further iteration still moves the spectra a little outwards,
#: towards the truth; where a material's pure pixels vary (contact, band shifts, noise) the same
#: iterations move its spectrum past their middle (docs/benchmarks.md, stop 41). On the tuning seeds
#: the no-pure scenes' highest such share was 0.67 and every other image's at least 0.85.
NO_PURE_SHARE = 0.75
#: ... the percentile of each endmember's shares that is compared with :data:`NO_PURE_SHARE`
#: (a few stray pixels do not make a material pure).
NO_PURE_PERCENTILE = 99.0


def noise_level(unit_pixels: np.ndarray, weights: np.ndarray) -> float:
    """The noise per band of pixels scaled to unit weighted norm (N, B), weighted: the median
    over pixels of the robust spread of their second differences (a band's shape is smooth
    over three bands, the noise is not) times each band's weight (after differencing: the
    weights need not be smooth; :func:`~ftir_unmix.preprocess.noise.difference_noise`)."""
    return float(np.median(difference_noise(np.asarray(unit_pixels, np.float32), 2, weights=weights, axis=1)))


def move_dead_zone(noise: float) -> float:
    """The dead zone of a bounded move for an image with this :func:`noise_level`:
    :data:`MOVE_DEAD_ZONE`, or :data:`DEAD_ZONE_PER_NOISE` times the noise where that is more."""
    return float(max(MOVE_DEAD_ZONE, DEAD_ZONE_PER_NOISE * noise))


def moved_columns(endmembers: np.ndarray, bounded: float, zone: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The columns of a bounded move (B, 3K): each spectrum, and it plus and minus ``bounded``
    times its slope (a move by ± ``bounded`` bands, to first order); the slopes (B, K); and each
    column's cost for :meth:`~ftir_unmix.metrics.WeightedPixels.cone_fit` (the moved ones ``zone``,
    :func:`move_dead_zone`)."""
    e = np.asarray(endmembers, np.float64)
    g = bounded * np.gradient(e, axis=0)
    k = e.shape[1]
    return np.hstack([e, e + g, e - g]), g, np.repeat([0.0, zone, zone], k)


def _summed(a3: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """A bounded move's coefficients (N, 3K) as each spectrum's (N, K) and its move's (N, K)."""
    return a3[:, :k] + a3[:, k:2 * k] + a3[:, 2 * k:], a3[:, k:2 * k] - a3[:, 2 * k:]


@dataclass(frozen=True)
class Polished:
    """Spectra after :func:`polish_endmembers`.

    Attributes
    ----------
    endmembers : ndarray (B, K)
    fit_before, fit_after : float
        Mean cone angle (radians; the plain fit, without the slopes) of the sampled pixels before and after.
    iterations : int
    dead_zone : float
        The bounded move's dead zone (:func:`move_dead_zone`; 0 without a bounded move).
    """

    endmembers: np.ndarray
    fit_before: float
    fit_after: float
    iterations: int
    dead_zone: float = 0.0


def with_slopes(nuisance: np.ndarray | None, weights: np.ndarray, endmembers: np.ndarray) -> np.ndarray:
    """The background's orthonormal columns (weighted coordinates, (B, r); ``None``: none) with
    those of the spectra's slopes (B, K) added, less what the background already spans: the
    terms a pixel may use freely, so that each material's bands may move by a little."""
    w = np.asarray(weights, np.float64)
    slopes = w[:, None] * np.gradient(np.asarray(endmembers, np.float64), axis=0)
    if nuisance is not None:
        slopes -= nuisance @ (nuisance.T @ slopes)
    u, s, _ = np.linalg.svd(slopes, full_matrices=False)
    u = u[:, s > 1e-9 * max(float(s.max(initial=0.0)), 1e-300)]
    return u if nuisance is None else np.hstack([nuisance, u])


def polish_endmembers(pixels: np.ndarray, endmembers: np.ndarray, weights: np.ndarray,
                      nuisance: np.ndarray | None, *, iterations: int, fixed: Sequence[int] = (),
                      rows: np.ndarray | None = None, shifts: bool = False, bounded: float = 0.0,
                      unit_pixels: bool = True, stop: Callable[[], bool] = lambda: False) -> Polished:
    """Fit the spectra to the image's cone fit by alternating nonnegative least squares.

    Parameters
    ----------
    pixels : ndarray (N, B)
        The image as the run sees it (scaled); may be memory-mapped.
    endmembers : ndarray (B, K)
        The starting spectra (nonnegative).
    weights : ndarray (B,)
        The loss's band weights (all positive).
    nuisance : ndarray (B, r) or None
        The run's background as the loss removes it: orthonormal columns spanning the
        weighted background basis (:func:`~ftir_unmix.preprocess.weighted_nuisance_basis`).
    iterations : int
        Alternations; each lowers the fitted residual.
    fixed : sequence of int
        Columns of the spectra kept as they are (known spectra, held ones).
    rows : ndarray of int, optional
        Sorted rows of ``pixels`` to fit (default all).
    shifts : bool
        Fit the spectra's slopes freely per pixel with the background (:func:`with_slopes`):
        band shifts from pixel to pixel are not bent into the spectra.
    bounded : float
        With ``shifts`` off: each spectrum may move by up to this many bands per pixel (a
        nonnegative mix of ``e ± bounded·slope``); 0: not.
    unit_pixels : bool
        Fit the pixels scaled to unit weighted norm, so that each counts as in the angle
        (default); False: at their own scale, the least-squares fit in which a bright pixel
        counts more than a dark one (:mod:`.residual_spot`).
    stop : callable
        Checked before each iteration; when true, the spectra so far are returned.

    Returns
    -------
    Polished
    """
    w = np.asarray(weights, np.float64)
    q = None if nuisance is None else np.asarray(nuisance, np.float64)
    prepared = WeightedPixels(pixels, w, nuisance=q, rows=rows)
    ok = prepared.norms > 0
    # float32 like the pixels (two products per iteration read them; the sums after are float64),
    # read a block of rows at a time: a lazy image's rows come with float64 temporaries.
    index = (np.arange(pixels.shape[0]) if rows is None else rows)[ok]
    x = np.empty((len(index), pixels.shape[1]), np.float32)
    step = max(256, (1 << 21) // pixels.shape[1])
    for start in range(0, len(index), step):
        x[start:start + step] = pixels[index[start:start + step]]
    if unit_pixels:
        x /= prepared.norms[ok, None].astype(np.float32)
    e = np.clip(np.asarray(endmembers, np.float64), 0.0, None)
    scale = np.linalg.norm(e, axis=0)
    fit_before = prepared.mean_cone_angle(e)
    done = 0
    passive = None  # each pixel's nonzero coefficients at the last iteration: where its solve starts
    k = e.shape[1]
    free = np.setdiff1d(np.arange(k), np.asarray(fixed, dtype=int))
    held = np.setdiff1d(np.arange(k), free)
    bounded = 0.0 if shifts else bounded
    zone = move_dead_zone(noise_level(x[::4], w)) if bounded else 0.0
    while done < iterations and not stop():
        if shifts or done == 0:  # the background's columns: with the slopes, new each iteration
            qi = with_slopes(q, w, e) if shifts else q
            wq = np.zeros((len(w), 0)) if qi is None else w[:, None] * qi
            xwq = (x @ wq.astype(np.float32)).astype(np.float64)  # (N, r): the pixels' weighted background
        cols, slopes, cost = moved_columns(e, bounded, zone) if bounded else (e, None, 0.0)
        m = as_seen(cols, w, qi)
        gram = m.T @ m
        c_x = (x @ (w[:, None] * m).astype(np.float32)).astype(np.float64)
        c_x -= cost * np.sqrt(np.diag(gram))
        coef = nnls_gram(gram + 1e-12 * np.trace(gram) * np.eye(len(gram)), c_x, passive=passive)
        passive = coef > 0
        a, moves = _summed(coef, k) if bounded else (coef, None)
        # What the background takes of the residual, per pixel, in weighted coordinates.
        c = xwq - coef @ (cols.T @ wq)
        gram_a = a.T @ a
        target = (a.T.astype(np.float32) @ x).astype(np.float64) - ((a.T @ c) @ wq.T) / (w * w)  # aᵀ(x − P c)
        if bounded:  # less the moves' part, at this iteration's slopes
            target -= (a.T @ moves) @ slopes.T
        target = target[free] - gram_a[np.ix_(free, held)] @ e[:, held].T  # the fixed spectra's part
        g = gram_a[np.ix_(free, free)]
        fitted = nnls_gram(g + 1e-12 * np.trace(g) * np.eye(len(g)), target.T)
        norm = np.linalg.norm(fitted, axis=0)
        used = norm > 0  # a spectrum no pixel uses stays as it was
        e[:, free[used]] = fitted[:, used] * (scale[free[used]] / norm[used])
        done += 1
    return Polished(e, float(fit_before), float(prepared.mean_cone_angle(e)), done, zone)


def cone_maps(pixels: WeightedPixels, endmembers: np.ndarray, bounded: float = 0.0,
              zone: float | None = None) -> np.ndarray:
    """Abundance maps (K, N) from the cone fit: each pixel's nonnegative coefficients on the
    spectra, scaled to sum to one (the per-pixel scale is the model's); 1/K where a pixel
    is zero or explained by none. (With shifts, ``pixels`` is prepared with :func:`with_slopes`;
    with ``bounded``, each spectrum's coefficient is the sum of its two moved copies', with the
    dead zone ``zone``; default :data:`MOVE_DEAD_ZONE`.)"""
    if bounded:
        cols, _, cost = moved_columns(endmembers, bounded, move_dead_zone(0.0) if zone is None else zone)
        a = _summed(pixels.cone_fit(cols, cost)[1], endmembers.shape[1])[0]
    else:
        _, a = pixels.cone_fit(endmembers)
    total = a.sum(axis=1, keepdims=True)
    out = np.full_like(a, 1.0 / a.shape[1])
    np.divide(a, total, out=out, where=total > 0)
    return out.T


def _as_fitted(pixels: np.ndarray, weights: np.ndarray, nuisance: np.ndarray | None, endmembers: np.ndarray,
               shifts: bool, rows: np.ndarray | None = None) -> WeightedPixels:
    """The pixels prepared for the cone fit's maps (with ``shifts``, the spectra's slopes free)."""
    return WeightedPixels(pixels, weights, nuisance=with_slopes(nuisance, weights, endmembers) if shifts else nuisance,
                          rows=rows)


def purest_shares(pixels: WeightedPixels, endmembers: np.ndarray, bounded: float = 0.0,
                  zone: float | None = None) -> np.ndarray:
    """Per endmember (K,), the :data:`NO_PURE_PERCENTILE`-th percentile of its share in the
    cone fit's maps (:func:`cone_maps`, same arguments): how nearly pure its purest pixels are."""
    return np.percentile(cone_maps(pixels, endmembers, bounded, zone), NO_PURE_PERCENTILE, axis=1)


def polish(pixels: np.ndarray, endmembers: np.ndarray, weights: np.ndarray, nuisance: np.ndarray | None,
           background: np.ndarray | None, *, iterations: int, no_pure_iterations: int = 0, fixed: Sequence[int] = (),
           shifts: bool = False, bounded: float = 0.0, edge_below: float = 0.0, edge_add_back: float = 0.0,
           edge_partner_floor: float = 0.0, edge_keep_peak: float = 0.0, edge_organic_purest: float = 0.0,
           wavenumbers: np.ndarray | None = None,
           pure_anchor: float = 0.0, anchor_area: float = 0.0, anchor_tight: float = 0.0, anchor_graded: float = 0.0,
           residual_spot: bool = False, residual_spot_hold: bool = False,
           shape: tuple[int, int] | None = None,
           stop: Callable[[], bool] = lambda: False) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """A run's last step: its spectra polished on a fixed sample of :data:`POLISH_PIXELS` pixels,
    the background's lower envelope taken off again (as the run reports spectra), and the maps
    of the whole image's cone fit (with ``shifts`` or ``bounded``, the moves allowed as in the
    polish). Where after ``iterations`` no endmember has nearly pure pixels (:func:`purest_shares`
    below :data:`NO_PURE_SHARE`), the polish goes on to ``no_pure_iterations`` in all. With
    ``edge_below`` (and ``wavenumbers``), each spectrum whose purest share in the maps is below it
    is then taken out to the edge of nonnegativity (:mod:`.nonneg_edge`, its ``add_back``,
    ``partner_floor``, ``keep_peak`` and ``organic_purest`` set to ``edge_add_back``,
    ``edge_partner_floor``, ``edge_keep_peak`` and ``edge_organic_purest``) and the maps fitted again;
    only with a ``background``, whose lower envelope makes the spectra's zero absorbance zero.
    Without one, with ``residual_spot`` (and the image's ``shape``), the spot the spectra leave the
    most of is offered in place of one of them (:mod:`.residual_spot`; with ``residual_spot_hold``
    held while the others are refitted first), and with ``pure_anchor``,
    each spectrum that a region's pixels hold at that share or more is put on those pixels' mean
    (:mod:`.pure_anchor`; with ``anchor_area``, its purest pixels, as many as that part of its
    area, with ``anchor_tight`` those that agree within that angle at a lower share, and with
    ``anchor_graded`` none where they drift as their purer half is taken); the maps
    are fitted again after each.
    Returns the spectra (B, K), the maps (K, N) and the run record's ``polished`` entry
    (``stopped``: by ``stop``; ``edge``: the steps taken).
    """
    rows = fixed_sample(pixels.shape[0], POLISH_PIXELS)
    p = polish_endmembers(pixels, endmembers, weights, nuisance, iterations=iterations, fixed=fixed,
                          rows=rows, shifts=shifts, bounded=bounded, stop=stop)
    stopped = p.iterations < iterations
    purest = purest_shares(_as_fitted(pixels, weights, nuisance, p.endmembers, shifts, rows), p.endmembers,
                           bounded, p.dead_zone)
    no_pure = bool(purest.max(initial=0.0) < NO_PURE_SHARE)
    if no_pure and not stopped and no_pure_iterations > iterations:
        more = polish_endmembers(pixels, p.endmembers, weights, nuisance, iterations=no_pure_iterations - iterations,
                                 fixed=fixed, rows=rows, shifts=shifts, bounded=bounded, stop=stop)
        stopped = p.iterations + more.iterations < no_pure_iterations
        p = Polished(more.endmembers, p.fit_before, more.fit_after, p.iterations + more.iterations, p.dead_zone)
    e = p.endmembers if background is None else lower_envelope(p.endmembers, background)[0]
    image = _as_fitted(pixels, weights, nuisance, e, shifts)
    record = {"iterations": p.iterations, "pixels": int(image.size if rows is None else len(rows)),
              "shifts": bool(shifts), "band_shift_bands": float(bounded), "dead_zone": p.dead_zone,
              "fit_before_deg": float(np.degrees(p.fit_before)), "fit_after_deg": float(np.degrees(p.fit_after)),
              "purest_share": [round(float(v), 4) for v in purest], "no_pure": no_pure, "stopped": stopped}
    maps = cone_maps(image, e, bounded, p.dead_zone)
    if edge_below and background is not None and wavenumbers is not None and not stopped:
        e, maps, record["edge"] = edge_step(pixels, weights, nuisance, e, maps, wavenumbers, below=edge_below,
                                            fixed=fixed, shifts=shifts, bounded=bounded, zone=p.dead_zone,
                                            add_back=edge_add_back, partner_floor=edge_partner_floor,
                                            keep_peak=edge_keep_peak, organic_purest=edge_organic_purest)
    if residual_spot and background is None and shape is not None and not stopped:
        e, record["residual_spot"] = swap_in_residual_spot(
            pixels, e, image, image if rows is None else image.sample(rows), shape,
            lambda start, worst, held=(): polish_endmembers(
                pixels, start, weights, nuisance, iterations=iterations, fixed=[*fixed, *held],
                rows=None if rows is None else np.union1d(rows, worst), shifts=shifts, bounded=bounded,
                unit_pixels=False, stop=stop).endmembers, fixed=fixed, hold=residual_spot_hold)
        stopped = record["stopped"] = stop()
        if record["residual_spot"]["kept"]:
            image = _as_fitted(pixels, weights, nuisance, e, shifts)
            maps = cone_maps(image, e, bounded, p.dead_zone)
    if pure_anchor and background is None and not stopped:
        e, maps, record["anchor"] = anchor_to_pure(
            pixels, e, maps, lambda moved: cone_maps(_as_fitted(pixels, weights, nuisance, moved, shifts), moved,
                                                     bounded, p.dead_zone), share=pure_anchor, area=anchor_area,
            tight=anchor_tight, graded=anchor_graded, fixed=fixed)
    return e, maps, record


def edge_step(pixels: np.ndarray, weights: np.ndarray, nuisance: np.ndarray | None, endmembers: np.ndarray,
              maps: np.ndarray, wavenumbers: np.ndarray, *, below: float, fixed: Sequence[int] = (),
              shifts: bool = False, bounded: float = 0.0, zone: float | None = None, **edge: float
              ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """The spectra whose purest share in ``maps`` (K, N) is below ``below`` (or that hold much of
    their partners) taken out to the edge of nonnegativity (:func:`.nonneg_edge.to_nonneg_edge`,
    with its options ``edge``), and the whole image's maps fitted again where one moved (the
    other arguments as for :func:`polish`). Returns the spectra, the maps and the record's
    ``edge`` entry."""
    e, record = to_nonneg_edge(endmembers, np.percentile(maps, NO_PURE_PERCENTILE, axis=1), wavenumbers,
                               below=below, fixed=fixed, **edge)
    if any(record["step"]):
        maps = cone_maps(_as_fitted(pixels, weights, nuisance, e, shifts), e, bounded, zone)
    return e, maps, record
