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
three pixels of its 5 × 5 window that the spectra leave the most of. It takes the place where it
fits the image best, the spectra are fitted again at the pixels' own scale (least squares,
:func:`.cone_polish.polish_endmembers` with ``unit_pixels=False``: fitted as angles, the noisy
dark pixels pulled the road's spectrum back onto a second water), and the swap is kept only where
it explains what the spectra left: where the mean squared residual of the worst 1 % of the
polish's sample of pixels falls by a quarter or more (:data:`TAIL_DROP`), and the mean over all
of them does not grow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ...metrics import WeightedPixels
from .refinement import spot_score

__all__ = ["SPOT_PIXELS", "TAIL_DROP", "TAIL_SHARE", "residuals", "spot_spectrum", "swap_in_residual_spot", "tail"]

#: The spot's spectrum is the median of this many of its 5 × 5 window's pixels, those with the
#: largest residual (a pixel or two of noise do not make it).
SPOT_PIXELS = 3
#: The swap is judged on this share of the pixels, those with the largest residual: a minor
#: material that no spectrum holds leaves its residual there (a road: 1–2 % of the pixels).
TAIL_SHARE = 0.01
#: The swap is kept where the mean squared residual of that tail falls by at least this share,
#: and the whole image's does not grow. Refitted at the pixels' own scale, any set of spectra
#: lowers the whole image's mean a little (Samson: 8 %, with or without a material gained); the
#: tail fell by 48–93 % where the road came back and by at most 4 % where nothing did
#: (reflectance tuning seeds 0–4, Samson; docs/benchmarks.md, stop 66).
TAIL_DROP = 0.25


def residuals(pixels: WeightedPixels, endmembers: np.ndarray) -> np.ndarray:
    """Each prepared pixel's distance to the nonnegative cone of ``endmembers`` (B, K), weighted:
    ``‖w⊙x‖·sin θ`` with θ its cone angle (the residual of its nonnegative least-squares fit)."""
    return pixels.norms * np.sin(pixels.cone_angles(endmembers))


def tail(squares: np.ndarray) -> float:
    """The mean of the largest :data:`TAIL_SHARE` of ``squares`` (at least one)."""
    count = max(1, int(round(TAIL_SHARE * squares.size)))
    return float(np.partition(squares, squares.size - count)[-count:].mean())


def spot_spectrum(pixels: np.ndarray, residual: np.ndarray, shape: tuple[int, int],
                  spot: tuple[int, int]) -> np.ndarray:
    """The median of the :data:`SPOT_PIXELS` pixels of the 5 × 5 window around ``spot`` (row, col)
    with the largest ``residual`` (N,): the spot's own spectrum, at the pixels' scale."""
    h, w = shape
    r, c = spot
    rows, cols = np.meshgrid(np.arange(max(0, r - 2), min(h, r + 3)), np.arange(max(0, c - 2), min(w, c + 3)),
                             indexing="ij")
    window = (rows * w + cols).ravel()
    worst = np.sort(window[np.argsort(-residual[window])[:SPOT_PIXELS]])
    return np.median(np.asarray(pixels[worst], np.float64), axis=0)


def swap_in_residual_spot(pixels: np.ndarray, endmembers: np.ndarray, image: WeightedPixels, sample: WeightedPixels,
                          shape: tuple[int, int], refit: Callable[[np.ndarray], np.ndarray],
                          fixed: Sequence[int] = ()) -> tuple[np.ndarray, dict[str, Any]]:
    """The spectrum of the spot with the largest residual, in place of one of ``endmembers``,
    where that explains what the spectra left: the mean squared residual of the sample's worst
    :data:`TAIL_SHARE` falls by :data:`TAIL_DROP` or more, and the whole sample's does not grow.

    Parameters
    ----------
    pixels : array (N, B)
        The image's pixels (no background term), rows in ``shape``'s order.
    endmembers : ndarray (B, K)
        The polished spectra.
    image : WeightedPixels
        All of ``pixels``, prepared with the run's band weights: the spot is found on them.
    sample : WeightedPixels
        The pixels the polish fits (a fixed sample on big images): the place and the swap are
        judged on them.
    shape : (int, int)
        The image's height and width.
    refit : callable
        The spectra (B, K) fitted to the pixels at their own scale from a start (B, K).
    fixed : sequence of int
        Columns never replaced (known spectra, held ones).

    Returns
    -------
    endmembers : ndarray (B, K)
        The swapped and refitted spectra where the swap was kept, else ``endmembers``.
    record : dict
        ``pixel`` (the spot, [row, col]), ``column`` (the place offered), ``residual_before`` and
        ``residual_after`` (root mean square over ``sample``, in the pixels' units), ``tail_before``
        and ``tail_after`` (the same over its worst :data:`TAIL_SHARE`) and ``kept``.
    """
    e = np.asarray(endmembers, np.float64)
    free = [j for j in range(e.shape[1]) if j not in set(fixed)]
    residual = residuals(image, e)
    r, c = (int(v) for v in np.unravel_index(int(np.argmax(spot_score(residual.reshape(shape)))), shape))
    spectrum = np.clip(spot_spectrum(pixels, residual, shape, (r, c)), 0.0, None)

    def squares(spectra: np.ndarray) -> np.ndarray:
        return residuals(sample, spectra) ** 2

    before = squares(e)
    record: dict[str, Any] = {"pixel": [r, c], "column": None, "residual_before": float(np.sqrt(before.mean())),
                              "residual_after": None, "tail_before": float(np.sqrt(tail(before))), "tail_after": None,
                              "kept": False}
    if not free or not spectrum.any():
        return e, record
    trials = []
    for j in free:
        trial = e.copy()
        trial[:, j] = spectrum  # at the spot's own scale: the maps are shares of the spectra as scaled
        trials.append((float(squares(trial).mean()), j, trial))
    _, column, start = min(trials, key=lambda t: t[0])
    swapped = refit(start)
    after = squares(swapped)
    kept = bool(tail(after) <= (1.0 - TAIL_DROP) * tail(before) and after.mean() <= before.mean())
    record.update(column=column, residual_after=float(np.sqrt(after.mean())), tail_after=float(np.sqrt(tail(after))),
                  kept=kept)
    return (swapped if kept else e), record
