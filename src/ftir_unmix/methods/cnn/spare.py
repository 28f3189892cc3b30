"""Spare endmembers: train K + s, report the K that are materials.

With K endmembers and no pure pixels the fit preferred to sacrifice one material: what the
linear model of K spectra and a polynomial baseline cannot explain (pixel-wise band shifts
and broadening, non-polynomial baselines, atmosphere of either sign) was taken by one
endmember, as a difference of spectra (a plateau with the others' bands as dips), and the
material it should have been was lost (nopure-k6 at 64×256, tuning seeds 0–2: 13.3°;
docs/benchmarks.md §0). Given a spare, the run puts that residue there: the six materials
are among the seven spectra at 8.3° (matched against the truth).

Which one is the spare is told by the objective that already judges restarts and the
refinement, the whole image's cone fit: the spare is the spectrum whose removal costs
the least fit (:func:`choose_spares`). On the tuning seeds that was the spectrum the truth
leaves unmatched in 23 of 24 runs; a first rule by the spectrum's shape (most below its
baseline, else the smaller half of the closest pair) was right in 11 and lost calcite
next to lead white (docs/benchmarks.md, stop 25). The maps of the others are renormalised.
On fresh seeds it mended nopure-k6 (11.8 → 8.9°) and lost materials where there was no
residue to hold (nopure-k4, a minor spot; Samson 4.9 → 9.3°), so ``spare`` is 0 by default.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...metrics import cone_angles
from .refinement import fixed_pixels

__all__ = ["choose_spares", "drop_columns"]


def choose_spares(endmembers: np.ndarray, pixels: np.ndarray, count: int, loss_w: np.ndarray,
                  nuisance: np.ndarray | None, first: int = 0, sample: int = 4096
                  ) -> tuple[list[int], list[dict[str, Any]]]:
    """The ``count`` endmembers whose removal costs the whole image's fit least, one at a time.

    The fit is the mean cone angle (:func:`~ftir_unmix.metrics.cone_angles`: each pixel
    against the best nonnegative mix of the spectra, as the loss sees them) over a fixed
    sample of at most ``sample`` pixels.

    Parameters
    ----------
    endmembers : ndarray (B, K + count)
    pixels : array (N, B)
        The (scaled) pixels; rows are read by index.
    count : int
    loss_w : ndarray (B,)
    nuisance : ndarray (B, r) or None
        The weighted background basis.
    first : int
        Columns before it (known spectra) are never chosen.

    Returns
    -------
    columns : list of int
        The columns chosen, in the original numbering.
    why : list of dict
        Per column: ``column`` and ``fit_cost_deg``, how much the mean angle grew without it.
    """
    x = fixed_pixels(pixels, sample)

    def fit(columns: list[int]) -> float:
        return float(cone_angles(x, endmembers[:, columns], loss_w, nuisance=nuisance).mean())

    kept = list(range(endmembers.shape[1]))
    chosen: list[int] = []
    why: list[dict[str, Any]] = []
    for _ in range(count):
        base = fit(kept)
        costs = {j: fit([c for c in kept if c != j]) - base for j in kept if j >= first}
        pick = min(costs, key=costs.__getitem__)
        kept.remove(pick)
        chosen.append(pick)
        why.append({"column": int(pick), "fit_cost_deg": float(np.degrees(costs[pick]))})
    return chosen, why


def drop_columns(endmembers: np.ndarray, abundances: np.ndarray, columns: list[int]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Endmembers (B, K) and abundances (K, …) without ``columns``; the maps renormalised to sum to 1."""
    keep = [j for j in range(endmembers.shape[1]) if j not in columns]
    a = np.asarray(abundances)[keep]
    total = a.sum(0, keepdims=True)
    return endmembers[:, keep], np.where(total > 0, a / np.where(total > 0, total, 1), 1.0 / len(keep))
