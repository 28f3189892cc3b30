"""A minor material put back from the spot the spectra leave the most of, in images without a background term.

In a reflectance image (no baseline term: Samson, a road through fields) the cone angle ranks
pixels badly: a dark material such as water has little signal beside the noise, so its pixels'
angles are the largest of the image wherever it lies, while a minor bright material that no
spectrum holds (a road one to three pixels wide) leaves a residual many times larger but a
smaller angle. On the reflectance scenes' tuning runs the road's pixels were the 1 330th–1 400th
worst of 9 025 by angle and the 5 worst by the residual's norm; the run spent its fourth spectrum
on a second water and lost the road (44–68°; docs/benchmarks.md, stop 66). Every choice the
training, the refinement and the polish make is judged by angles, and none found it.

So, after the polish, the spot where the residual (each pixel's distance to the cone of the
spectra, ``‖w⊙x‖·sin θ``) is largest is offered as a spectrum: the 3 × 3 median of the residual
finds the spot (five of its pixels that bad, not a spike), and its spectrum is the median of the
three pixels of its 5 × 5 window that the spectra leave the most of. It takes the place where the
sample's mean squared residual is lowest (:data:`PLACE`), the spectra are fitted again at the pixels'
own scale (least squares, :func:`.cone_polish.polish_endmembers` with ``unit_pixels=False``:
fitted as angles, the noisy dark pixels pulled the road's spectrum back onto a second water),
on the polish's sample and the image's worst explained √N of its N pixels (:func:`tail`; about
as many as a road across it). The swap is kept where the sample's mean squared residual does not grow.

That bar is low on purpose, and what it keeps was measured, not derived: the refit at the
pixels' own scale lowers the least-squares mean of nearly any state the polish fitted by angles
(Samson: 8 %), so the step is in effect a second, least-squares polish started from the worst
spot. A stricter bar, the worst pixels' squared residual down by a quarter, turned down most of
the swaps that helped (on 30 reflectance runs: 7 better where 23 were with the low bar; a roof's
swap raises the worst pixels' residual while it brings the roof back), still let through the
one that hurt most, and failed its second fresh test (docs/benchmarks.md, stop 66).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ...metrics import WeightedPixels
from .refinement import window
from .spot_check import worst_spot

__all__ = ["PLACE", "SPOT_PIXELS", "residuals", "spot_spectrum", "swap_in_residual_spot", "tail"]

#: The spot's spectrum is the median of this many of its 5 × 5 window's pixels, those with the
#: largest residual (a pixel or two of noise do not make it).
SPOT_PIXELS = 3
#: How the place of the spot's spectrum is chosen: ``"squares"``, the column whose replacement
#: gives the sample the lowest mean squared residual, or ``"angle"``, the lowest mean cone angle
#: (the polish's own measure, in which a dark material's pixels count as much as a bright one's).
#: On 30 pooled seen runs least squares gave a dark water's place away twice and the angle never
#: (7.46° against 6.88°); on fresh seeds 35–39 the angle lost a roof-and-water run that least
#: squares mended (patchy-k5 38: 20.45° against 10.25°; 5.64° against 4.96° over 15 runs), so the
#: place stays least squares' (docs/benchmarks.md, stop 66).
PLACE = "squares"


def residuals(pixels: WeightedPixels, endmembers: np.ndarray) -> np.ndarray:
    """Each prepared pixel's distance to the nonnegative cone of ``endmembers`` (B, K), weighted:
    ``‖w⊙x‖·sin θ`` with θ its cone angle (the residual of its nonnegative least-squares fit)."""
    return pixels.norms * np.sin(pixels.cone_angles(endmembers))


def _worst(squares: np.ndarray) -> np.ndarray:
    """Sorted indices of the largest √N of the N ``squares`` (:func:`tail`)."""
    count = max(1, int(round(np.sqrt(squares.size))))
    return np.sort(np.argpartition(squares, squares.size - count)[-count:])


def _squares_and_angle(pixels: WeightedPixels, endmembers: np.ndarray) -> tuple[np.ndarray, float]:
    """:func:`residuals` squared and the mean cone angle (degrees), from one cone fit."""
    angle = pixels.cone_angles(endmembers)
    return (pixels.norms * np.sin(angle)) ** 2, float(np.degrees(angle.mean()))


def tail(squares: np.ndarray) -> float:
    """The mean of the largest √N of the image's N ``squares``: a minor material that no spectrum
    holds leaves its residual there. A road or a crust one or two pixels wide has about as many
    pixels as the image is wide, so the count grows with the side, not the area (a road through
    512 × 512 pixels: 0.2 % of them; a fixed 1 % of the pixels there was four-fifths other
    pixels)."""
    return float(squares[_worst(squares)].mean())


def spot_spectrum(pixels: np.ndarray, residual: np.ndarray, shape: tuple[int, int],
                  spot: tuple[int, int]) -> np.ndarray:
    """The median of the :data:`SPOT_PIXELS` pixels of the 5 × 5 window around ``spot`` (row, col)
    with the largest ``residual`` (N,): the spot's own spectrum, at the pixels' scale."""
    rows, cols = window(shape, spot, 2)
    around = rows * shape[1] + cols
    worst = np.sort(around[np.argsort(-residual[around])[:SPOT_PIXELS]])
    return np.median(np.asarray(pixels[worst], np.float64), axis=0)


def swap_in_residual_spot(pixels: np.ndarray, endmembers: np.ndarray, image: WeightedPixels, sample: WeightedPixels,
                          shape: tuple[int, int], refit: Callable[..., np.ndarray],
                          fixed: Sequence[int] = (), hold: bool = False) -> tuple[np.ndarray, dict[str, Any]]:
    """The spectrum of the spot with the largest residual, in place of one of ``endmembers`` (the
    one :data:`PLACE` chooses), the spectra refitted by least squares, where the sample's mean
    squared residual does not grow.

    Parameters
    ----------
    pixels : array (N, B)
        The image's pixels (no background term), rows in ``shape``'s order.
    endmembers : ndarray (B, K)
        The polished spectra.
    image : WeightedPixels
        All of ``pixels``, prepared with the run's band weights: the spot and the worst pixels
        (:func:`tail`) are found on them.
    sample : WeightedPixels
        The pixels the polish fits (a fixed sample on big images): the place offered and the
        mean squared residual are judged on them.
    shape : (int, int)
        The image's height and width.
    refit : callable
        ``refit(start, rows, held=())``: the spectra (B, K) fitted to the pixels at their own scale
        from a start (B, K), on the polish's sample and the image's ``rows`` (sorted indices: the
        worst explained, :func:`tail`'s, which the swap is meant to explain; a random sample of a
        big image holds few of a thin road's pixels, and fitted without them the road's spectrum
        drifted off it), the columns ``held`` (and ``fixed``) kept as they are.
    fixed : sequence of int
        Columns never replaced (known spectra, held ones).
    hold : bool
        The spot's spectrum is held while the others are refitted around it, then all are
        refitted from there (the refinement's hold and release, :func:`~ftir_unmix.methods.cnn._refine`):
        refitted at once, the spot's spectrum moved before the others had made room for it.

    Returns
    -------
    endmembers : ndarray (B, K)
        The swapped and refitted spectra where the swap was kept, else ``endmembers``.
    record : dict
        ``pixel`` (the spot, [row, col]), ``column`` (the place offered), ``residual_before`` and
        ``residual_after`` (root mean square over ``sample``, in the pixels' units), ``tail_before``
        and ``tail_after`` (the same over the image's worst pixels, :func:`tail`),
        ``angle_before_deg`` and ``angle_after_deg`` (the sample's mean cone angle) and ``kept``.
    """
    e = np.asarray(endmembers, np.float64)
    held = set(fixed)
    free = [j for j in range(e.shape[1]) if j not in held]
    residual = residuals(image, e)
    r, c = worst_spot(residual.reshape(shape))
    spectrum = np.clip(spot_spectrum(pixels, residual, shape, (r, c)), 0.0, None)
    squared = residual ** 2
    before, angle_before = _squares_and_angle(sample, e)
    record: dict[str, Any] = {"pixel": [r, c], "column": None, "residual_before": float(np.sqrt(before.mean())),
                              "residual_after": None, "tail_before": float(np.sqrt(tail(squared))), "tail_after": None,
                              "angle_before_deg": angle_before, "angle_after_deg": None, "kept": False}
    if not free or not spectrum.any():
        return e, record
    trials = []
    for j in free:
        trial = e.copy()
        trial[:, j] = spectrum  # at the spot's own scale: the maps are shares of the spectra as scaled
        squares, angle = _squares_and_angle(sample, trial)
        trials.append((angle if PLACE == "angle" else float(squares.mean()), j, trial))
    _, column, start = min(trials, key=lambda t: t[0])
    worst = _worst(squared)
    swapped = refit(refit(start, worst, [column]), worst) if hold else refit(start, worst)
    after, angle_after = _squares_and_angle(sample, swapped)
    kept = bool(after.mean() <= before.mean())
    record.update(column=column, residual_after=float(np.sqrt(after.mean())),
                  tail_after=float(np.sqrt(tail(residuals(image, swapped) ** 2))), angle_after_deg=angle_after,
                  kept=kept)
    return (swapped if kept else e), record
