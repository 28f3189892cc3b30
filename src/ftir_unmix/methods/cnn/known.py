"""Known spectra: reference spectra of materials the user knows are in the sample.

An image whose materials never occur pure leaves the linear model ambiguous: other
spectra, mixtures of the true ones, fit the pixels as well or better, and no prior
on the geometry of the data chose the true ones on the held-out scenes
(docs/benchmarks.md §0). What the user knows about the sample can: MCR-ALS tools
let the analyst fix the spectra of known materials. Here a known spectrum is not
fixed but held near: a lab reference differs from the material in the sample
(another instrument, contact, band shifts), and the spectrum the data ask for is
kept when the data speak clearly.

- :func:`place_known`: every warm start gets the known spectra in its first columns,
  each in place of the start's spectrum closest to it (Hungarian on the angles);
- :func:`known_angles`: the angle between each of those columns and its reference,
  as the loss sees them (band-weighted, background removed); the
  :class:`~.priors.Priors` add their sum, weighted by ``known_weight``, to the loss
  and to the objective that judges restarts and the refinement;
- the refinement never replaces a known column.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

from ...metrics import spectral_angles
from ...preprocess.background import as_seen

__all__ = ["known_angles", "place_known"]


def place_known(e: np.ndarray, known: np.ndarray, loss_w: np.ndarray, nuisance: np.ndarray | None) -> np.ndarray:
    """Endmembers (B, K) with the ``R`` known spectra in columns ``0 … R−1``.

    Each known spectrum replaces the column of ``e`` closest to it (angles as the
    loss sees them; one column per spectrum, Hungarian), scaled to that column's
    norm so the abundances keep their scale; the columns not replaced follow in
    their order.

    Parameters
    ----------
    e : ndarray (B, K)
        A warm start's endmembers (scaled units).
    known : ndarray (B, R), R ≤ K
        The known spectra in the same units.
    loss_w : ndarray (B,)
        Band weights of the loss.
    nuisance : ndarray (B, r) or None
        Orthonormal weighted background basis, projected out before the angles.
    """
    k, r = e.shape[1], known.shape[1]
    if r > k:
        raise ValueError(f"{r} known spectra for {k} endmembers: give at most K")
    angles = spectral_angles(as_seen(known, loss_w, nuisance), as_seen(e, loss_w, nuisance))
    rows, cols = linear_sum_assignment(angles)
    chosen = cols[np.argsort(rows)]
    rest = [j for j in range(k) if j not in set(chosen.tolist())]
    scale = np.linalg.norm(e[:, chosen], axis=0) / np.maximum(np.linalg.norm(known, axis=0), 1e-30)
    out = np.empty_like(e)
    out[:, :r] = np.clip(known, 0, None) * scale
    out[:, r:] = e[:, rest]
    return out


def known_angles(m: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Angles (radians, R) between the first ``R`` columns of ``m`` (B, K) and ``known`` (B, R),
    both as the loss sees them."""
    r = known.shape[1]
    head = m[:, :r]
    cos = (head * known).sum(0) / (torch.linalg.vector_norm(head, dim=0) * torch.linalg.vector_norm(known, dim=0)
                                   ).clamp_min(1e-30)
    return torch.arccos(cos.clamp(-1 + 1e-6, 1 - 1e-6))
