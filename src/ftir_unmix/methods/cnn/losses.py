"""Spectral-angle losses: SAD and the band-weighted WSAD.

``WSAD(x, x̂; w) = arccos( (w⊙x)ᵀ(w⊙x̂) / (‖w⊙x‖‖w⊙x̂‖ + ε) )``, averaged over
pixels; SAD is WSAD with ``w = 1``. Both are invariant to positive scaling of
``x`` and of ``x̂`` (up to ``ε``), which makes them blind to ATR contact
variation.
"""

from __future__ import annotations

import torch

__all__ = ["sad", "wsad", "COS_CLAMP"]

#: The cosine is clamped to ``[-1 + δ, 1 - δ]`` before ``arccos``: the derivative
#: of ``arccos`` is infinite at 1, i.e. at a perfect reconstruction.
COS_CLAMP = 1e-7


def wsad(
    x: torch.Tensor,
    x_hat: torch.Tensor,
    weights: torch.Tensor | None = None,
    *,
    dim: int = 1,
    eps: float = 1e-8,
    reduction: str = "mean",
    project_out: torch.Tensor | None = None,
) -> torch.Tensor:
    """Weighted spectral angle (radians) between ``x`` and ``x_hat``.

    Parameters
    ----------
    x, x_hat : Tensor
        Observed and reconstructed spectra, same shape; bands along ``dim``
        (e.g. ``(N, B)`` with ``dim=1`` or ``(batch, B, H, W)`` with ``dim=1``).
    weights : Tensor (B,), optional
        Band weights; ``None`` means all ones (plain SAD).
    dim : int
        The band axis.
    eps : float
        Added to the norm product.
    reduction : {"mean", "none"}
        Mean over all pixels, or the per-pixel angles.
    project_out : Tensor (B, r), optional
        Orthonormal columns removed from the weighted spectra before the
        angle is taken (the baseline term, :mod:`ftir_unmix.preprocess.background`).
    """
    if weights is not None:
        shape = [1] * x.dim()
        shape[dim] = -1
        w = weights.reshape(shape).to(dtype=x.dtype, device=x.device)
        x = x * w
        x_hat = x_hat * w
    if project_out is not None:
        x, x_hat = (_remove(t, project_out.to(dtype=x.dtype, device=x.device), dim) for t in (x, x_hat))
    dot = (x * x_hat).sum(dim)
    norm = torch.linalg.vector_norm(x, dim=dim) * torch.linalg.vector_norm(x_hat, dim=dim)
    cos = (dot / (norm + eps)).clamp(-1.0 + COS_CLAMP, 1.0 - COS_CLAMP)
    angle = torch.arccos(cos)
    if reduction == "mean":
        return angle.mean()
    if reduction == "none":
        return angle
    raise ValueError(f"unknown reduction {reduction!r}")


def _remove(t: torch.Tensor, q: torch.Tensor, dim: int) -> torch.Tensor:
    """``t − Q Qᵀ t`` along axis ``dim``."""
    t = t.movedim(dim, -1)
    return (t - (t @ q) @ q.T).movedim(-1, dim)


def sad(x: torch.Tensor, x_hat: torch.Tensor, *, dim: int = 1, eps: float = 1e-8,
        reduction: str = "mean") -> torch.Tensor:
    """Spectral angle (radians): :func:`wsad` with unit weights."""
    return wsad(x, x_hat, None, dim=dim, eps=eps, reduction=reduction)
