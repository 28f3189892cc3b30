"""The FTIR-unmixer CNN autoencoder (Pande et al. 2026).

Encoder: ``Z1 = Drop(σ(BN(Conv3×3(X))))`` with 48 filters,
``Z2 = Drop(σ(BN(Conv1×1(Z1))))`` with K filters, σ = leaky ReLU (0.01),
Drop = spatial dropout; abundances ``A = softmax(softmax_scale · Z2)`` over
the K channels. Decoder: one linear convolution with nonnegative kernel
``W = softplus(U)``, ``U ∈ R^{B×K×p×p}``: ``X̂ = W * A``; the endmembers are
``Ê = Σ_{u,v} W[:, :, u, v]``.

The network is fully convolutional, so the same weights run on 5×5 patches
(paper protocol) and on whole images or tiles (inference, fast protocol).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["FTIRUnmixer", "inverse_softplus"]


def inverse_softplus(y: torch.Tensor) -> torch.Tensor:
    """``softplus⁻¹(y) = log(expm1(y))`` for ``y > 0``, stable for large ``y``."""
    return y + torch.log(-torch.expm1(-y))


class FTIRUnmixer(nn.Module):
    """CNN autoencoder for linear unmixing of hyperspectral patches.

    Parameters
    ----------
    n_bands : int
        Number of spectral bands ``B`` (input channels).
    k : int
        Number of endmembers ``K``.
    n_filters : int
        Filters of the 3×3 encoder convolution (48 in the paper).
    patch_size : int
        Spatial size ``p`` of the decoder kernel (5 in the paper).
    softmax_scale : float
        Scale applied before the abundance softmax (3.5 in the paper); larger
        values give sparser abundances.
    dropout : float
        Spatial dropout rate (0.2).
    negative_slope : float
        Leaky ReLU slope (0.01).
    in_channels : int, optional
        Encoder input channels, ``n_bands`` by default. The fast protocol feeds
        the encoder the cube's coordinates in a band subspace instead of all
        bands (an exact reparametrisation of the first convolution for data
        inside that subspace).
    """

    def __init__(
        self,
        n_bands: int,
        k: int,
        *,
        n_filters: int = 48,
        patch_size: int = 5,
        softmax_scale: float = 3.5,
        dropout: float = 0.2,
        negative_slope: float = 0.01,
        in_channels: int | None = None,
    ) -> None:
        super().__init__()
        if k < 1 or n_bands < 1:
            raise ValueError(f"need k >= 1 and n_bands >= 1, got k={k}, n_bands={n_bands}")
        if patch_size % 2 != 1:
            raise ValueError(f"patch_size must be odd, got {patch_size}")
        self.n_bands = n_bands
        self.k = k
        self.patch_size = patch_size
        self.softmax_scale = softmax_scale
        self.conv1 = nn.Conv2d(in_channels or n_bands, n_filters, kernel_size=3, padding=1)
        self.bn1 = nn.BatchNorm2d(n_filters)
        self.conv2 = nn.Conv2d(n_filters, k, kernel_size=1)
        self.bn2 = nn.BatchNorm2d(k)
        self.act = nn.LeakyReLU(negative_slope)
        self.drop = nn.Dropout2d(dropout)
        self.decoder_logits = nn.Parameter(torch.empty(n_bands, k, patch_size, patch_size))
        nn.init.uniform_(self.decoder_logits, -2.0, 0.0)

    #: Pixels of context the encoder needs on each side (one 3×3 convolution).
    ENCODER_HALO = 1

    def abundances(self, x: torch.Tensor) -> torch.Tensor:
        """Abundance maps ``(N, K, H, W)`` of input ``(N, B, H, W)``; they sum to 1 over K."""
        z = self.drop(self.act(self.bn1(self.conv1(x))))
        z = self.drop(self.act(self.bn2(self.conv2(z))))
        return torch.softmax(self.softmax_scale * z, dim=1)

    def decoder_kernel(self) -> torch.Tensor:
        """The nonnegative decoder kernel ``W = softplus(U)``, shape ``(B, K, p, p)``."""
        return F.softplus(self.decoder_logits)

    def decode(self, a: torch.Tensor) -> torch.Tensor:
        """Reconstruction ``W * A`` of abundance maps ``(N, K, H, W)``."""
        return F.conv2d(a, self.decoder_kernel(), padding=self.patch_size // 2)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(x_hat, abundances)`` for input ``(N, B, H, W)``."""
        a = self.abundances(x)
        return self.decode(a), a

    def endmembers(self) -> torch.Tensor:
        """Endmember spectra ``Ê = Σ_{u,v} W_{u,v}``, shape ``(B, K)``."""
        return self.decoder_kernel().sum(dim=(2, 3))

    @torch.no_grad()
    def init_decoder(self, endmembers: np.ndarray | torch.Tensor, *, centre: float = 1.0,
                     floor: float = 1e-6) -> None:
        """Warm-start the decoder so that ``Ê`` equals ``endmembers`` (B, K).

        A fraction ``centre`` of each spectrum goes to the kernel centre, the
        rest is spread evenly over the other positions.
        """
        e = torch.as_tensor(np.asarray(endmembers), dtype=self.decoder_logits.dtype)
        if e.shape != (self.n_bands, self.k):
            raise ValueError(f"endmembers must be {(self.n_bands, self.k)}, got {tuple(e.shape)}")
        p = self.patch_size
        spread = torch.full((p, p), (1.0 - centre) / max(p * p - 1, 1))
        spread[p // 2, p // 2] = centre
        w = e.clamp_min(0)[:, :, None, None] * spread + floor
        self.decoder_logits.copy_(inverse_softplus(w).to(self.decoder_logits.device))
