"""The refinement pass: retry the least-used endmember on the worst-explained spot of the image."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ...metrics import map_peaks, reconstruction_angles
from .model import FTIRUnmixer
from .protocols import Trainer

__all__ = ["Objective", "objective", "replace_weakest"]


@dataclass(frozen=True)
class Objective:
    """The training objective on the whole image at one state of the model.

    Attributes
    ----------
    mean : float
        Mean (W)SAD over the pixels (radians).
    angle : ndarray (H, W)
        The angle of every pixel.
    abundances : ndarray (K, N)
    """

    mean: float
    angle: np.ndarray
    abundances: np.ndarray


def objective(loop: Trainer, x: np.ndarray, loss_w: np.ndarray, nuisance: torch.Tensor | None,
              shape: tuple[int, int], chunk: int | None = None) -> Objective:
    """The whole-image objective of the model's current state.

    Computed with the 1×1 part of the model (``Ê a``); the fast protocol's
    warm-started decoder keeps its mass at the kernel centre, so this is the
    loss it trains.
    """
    model = loop.model
    model.eval()
    a = loop.infer().reshape(model.k, -1)
    e = model.endmembers().detach().cpu().numpy()
    q = None if nuisance is None else nuisance.detach().cpu().numpy().astype(np.float64)
    angle = reconstruction_angles(x, e, a, loss_w, nuisance=q, chunk=chunk)
    return Objective(float(angle.mean()), angle.reshape(shape), a)


def replace_weakest(model: FTIRUnmixer, x: np.ndarray, before: Objective,
                    shape: tuple[int, int]) -> tuple[int, list[int]]:
    """Give the least-used endmember the spectrum of the worst-explained spot of the image.

    The least-used endmember is the one whose map has the lowest peak (the value
    reached by its top 0.1 % of pixels, at least 3); the worst-explained spot is
    the maximum of the 3×3 median of the per-pixel angle (so a single spike does
    not win), and its spectrum the band-wise median of that 3×3 neighbourhood.

    Returns
    -------
    column : int
        The endmember replaced.
    pixel : [row, col]
        The centre of the spot.
    """
    from scipy.ndimage import median_filter

    column = int(np.argmin(map_peaks(before.abundances)))
    r, c = np.unravel_index(int(np.argmax(median_filter(before.angle, size=3, mode="nearest"))), shape)
    rows, cols = np.meshgrid(np.arange(max(0, r - 1), min(shape[0], r + 2)),
                             np.arange(max(0, c - 1), min(shape[1], c + 2)), indexing="ij")
    spectrum = np.median(x[(rows * shape[1] + cols).ravel()], axis=0)  # the 3×3 spot's rows
    e = model.endmembers().detach().cpu().numpy()
    e[:, column] = spectrum
    model.init_decoder(e)
    return column, [int(r), int(c)]
