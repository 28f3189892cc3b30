"""Spare endmembers: train K + s, report the K that are materials.

With K endmembers and no pure pixels the fit preferred to sacrifice one material: what the
linear model of K spectra and a polynomial baseline cannot explain (pixel-wise band shifts
and broadening, non-polynomial baselines, atmosphere of either sign) was taken by one
endmember, as a difference of spectra (a plateau with the others' bands as dips), and the
material it should have been was lost (nopure-k6 at 64×256, tuning seeds 0–2: 13.3°;
docs/benchmarks.md §0). Given one spare the residue goes there: the six materials are
among the seven spectra at 8.3° (matched against the truth). But which one is the spare
must be told without the truth, and :func:`choose_spares` does not do that well enough:
on the tuning seeds a material found without a spare (< 15°) was lost (> 20°) in 8 of 24
runs (calcite in five) and a lost one found in 3 (all cases 8.7° against 5.8° without a
spare), so ``spare`` is 0 by default.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...metrics import spectral_angles
from ...preprocess.background import as_seen, below_baseline_share
from ...trust import BELOW_BASELINE_DOUBT

__all__ = ["choose_spares", "drop_columns"]


def choose_spares(endmembers: np.ndarray, abundances: np.ndarray, count: int, loss_w: np.ndarray,
                  nuisance: np.ndarray | None, first: int = 0) -> tuple[list[int], list[dict[str, Any]]]:
    """The ``count`` endmembers that are not materials, one at a time:

    1. the one most below its own baseline, if that share exceeds
       :data:`~ftir_unmix.trust.BELOW_BASELINE_DOUBT` (a difference of spectra; needs a
       background term);
    2. else, of the two closest spectra (as the loss sees them), the one with the smaller
       share of the abundance (a material split in two).

    Parameters
    ----------
    endmembers : ndarray (B, K + count)
    abundances : ndarray (K + count, N)
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
        Per column: ``column``, ``reason`` (``"below baseline"`` or ``"closest pair"``) and
        the measure (``below_baseline`` share, or ``angle_deg`` to ``twin``).
    """
    seen = as_seen(endmembers, loss_w, nuisance)
    below = np.zeros(seen.shape[1]) if nuisance is None else below_baseline_share(seen, nuisance)
    share = np.asarray(abundances, np.float64).reshape(len(below), -1).mean(1)
    angles = spectral_angles(seen, seen)
    left = list(range(first, seen.shape[1]))
    chosen: list[int] = []
    why: list[dict[str, Any]] = []
    for _ in range(count):
        worst = max(left, key=lambda j: below[j])
        if below[worst] > BELOW_BASELINE_DOUBT:
            pick, entry = worst, {"reason": "below baseline", "below_baseline": float(below[worst])}
        else:
            rest = [j for j in range(seen.shape[1]) if j not in chosen]
            pairs = [(angles[i, j], i, j) for i in rest for j in rest if i < j and (i in left or j in left)]
            angle, i, j = min(pairs)
            pick = min((c for c in (i, j) if c in left), key=lambda c: share[c])
            entry = {"reason": "closest pair", "angle_deg": float(angle), "twin": int(i + j - pick)}
        chosen.append(pick)
        left.remove(pick)
        why.append({"column": int(pick), **entry})
    return chosen, why


def drop_columns(endmembers: np.ndarray, abundances: np.ndarray, columns: list[int]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Endmembers (B, K) and abundances (K, …) without ``columns``; the maps renormalised to sum to 1."""
    keep = [j for j in range(endmembers.shape[1]) if j not in columns]
    a = np.asarray(abundances)[keep]
    total = a.sum(0, keepdims=True)
    return endmembers[:, keep], np.where(total > 0, a / np.where(total > 0, total, 1), 1.0 / len(keep))
