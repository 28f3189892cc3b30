"""Priors the fast protocol may add to its loss: minimum volume and abundance sparsity.

Both are off by default (``minvol=0``, ``sparsity=0``); on the held-out scene
family neither lowered the error (docs/benchmarks.md §0), but they are the
standard remedies of the unmixing literature for images without pure pixels,
so a user can try them.

Their weights are in units of the image's **unavoidable misfit**: the mean
angle between each (band-weighted, background-free) pixel and its projection
on the K dominant directions of the data, which no K-endmember linear model
can beat. ``minvol=0.3`` therefore asks for the same trade-off on a clean
and on a noisy image; in raw radians a clean image would need a weight ten
times smaller than a noisy one.
"""

from __future__ import annotations

import math

import torch

__all__ = ["Priors", "abundance_sparsity", "dispersion", "misfit_floor"]

#: The misfit floor used as the unit is at least this (radians): a noise-free image
#: would otherwise make any prior weight infinite.
_MIN_FLOOR = math.radians(0.5)


def misfit_floor(c: torch.Tensor, xnorm: torch.Tensor, k: int) -> float:
    """Mean angle (radians) between the pixels and their best rank-``k`` approximation.

    Parameters
    ----------
    c : Tensor (r, N)
        Pixel coordinates in an orthonormal band subspace (``VᵀDx``).
    xnorm : Tensor (N,)
        The pixels' norms on all bands (``‖Dx‖``), so the part outside the
        subspace counts as misfit too.
    k : int
        Number of endmembers.
    """
    u = torch.linalg.svd(c @ c.T).U[:, :k]
    fit = torch.linalg.vector_norm(u.T @ c, dim=0) / xnorm.clamp_min(1e-30)
    return float(torch.arccos(fit.clamp(0, 1)).mean())


def dispersion(m: torch.Tensor) -> torch.Tensor:
    """Spread of the endmember directions: ``mean_k ‖m̂_k − m̄‖² = 1 − ‖m̄‖²``.

    ``m`` (B, K) holds the endmembers as the loss sees them (weighted, background
    removed); each column is scaled to unit length because the loss is blind to
    an endmember's scale. 0 when all point the same way; it grows as the simplex
    of endmembers grows (the dispersion form of min-vol NMF, MiSiCNet).
    """
    u = m / torch.linalg.vector_norm(m, dim=0, keepdim=True).clamp_min(1e-30)
    return 1.0 - u.mean(1).square().sum()


def abundance_sparsity(a: torch.Tensor) -> torch.Tensor:
    """Normalised L1/2 norm of abundances (K, N) that sum to 1 per pixel.

    0 when every pixel is pure, 1 when every pixel is an equal mixture of all K.
    """
    k = a.shape[0]
    return ((a.clamp_min(0) + 1e-6).sqrt().sum(0).mean() - 1.0) / (math.sqrt(k) - 1.0)


class Priors:
    """The weighted priors of one run: ``minvol · floor · dispersion + sparsity · floor · L½``.

    Parameters
    ----------
    minvol, sparsity : float
        The weights in units of the misfit floor (0: off).
    floor : float
        The image's misfit floor (radians, :func:`misfit_floor`).
    """

    def __init__(self, minvol: float, sparsity: float, floor: float) -> None:
        unit = max(floor, _MIN_FLOOR)
        self.lam, self.mu = minvol * unit, sparsity * unit

    def __bool__(self) -> bool:
        return bool(self.lam or self.mu)

    def penalty(self, m: torch.Tensor, a: torch.Tensor) -> torch.Tensor | float:
        """The priors' part of the loss for endmembers ``m`` (B, K) and abundances ``a`` (K, N)."""
        out: torch.Tensor | float = 0.0
        if self.lam:
            out = out + self.lam * dispersion(m)
        if self.mu:
            out = out + self.mu * abundance_sparsity(a)
        return out
