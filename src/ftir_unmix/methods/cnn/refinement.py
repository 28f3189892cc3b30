"""The refinement pass: retry the least-used endmember on the worst-explained spot of the image."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...metrics import cone_angles, map_peaks, reconstruction_angles
from .model import FTIRUnmixer
from .protocols import Trainer

__all__ = ["FIT_PIXELS", "Objective", "objective", "replace_weakest", "worst_cluster"]

#: The cone fit of a bigger image is the mean over this many of its pixels: one exact
#: NNLS per pixel costs about 40 µs, ten seconds per state at 512×512. The sample is
#: fixed (seeded), so every state compared is judged on the same pixels.
FIT_PIXELS = 32768


@dataclass(frozen=True)
class Objective:
    """The training objective on the whole image at one state of the model.

    Attributes
    ----------
    mean : float
        Mean (W)SAD over the pixels (radians), plus the priors when the run has any
        (``minvol``, ``sparsity``).
    angle : ndarray (H, W)
        The angle of every pixel.
    abundances : ndarray (K, N)
    fit : float
        Mean angle from each pixel to the nonnegative cone of the endmembers
        (:func:`~ftir_unmix.metrics.cone_angles`), plus the same priors: the spectra
        judged without the encoder's maps. States are compared by it.
    """

    mean: float
    angle: np.ndarray
    abundances: np.ndarray
    fit: float


def objective(loop: Trainer, x: np.ndarray, loss_w: np.ndarray, shape: tuple[int, int],
              chunk: int | None = None) -> Objective:
    """The whole-image objective of the model's current state.

    Computed with the 1×1 part of the model (``Ê a``); the fast protocol's
    warm-started decoder keeps its mass at the kernel centre, so this is the
    loss it trains. ``fit`` scores the spectra alone: the encoder's maps are a
    trained approximation whose error differs from run to run, and choosing runs
    by the loss of those maps picked wrong spectra on images without pure pixels
    (docs/benchmarks.md §0). On images of more than :data:`FIT_PIXELS` pixels it is
    the mean over a fixed sample of them.
    """
    model = loop.model
    model.eval()
    a = loop.infer().reshape(model.k, -1)
    e = model.endmembers().detach().cpu().numpy()
    angle = reconstruction_angles(x, e, a, loss_w, nuisance=loop.nuisance_basis, chunk=chunk)
    prior = loop.prior_value(a)
    fit = _mean_cone_angle(x, e, loss_w, loop.nuisance_basis, chunk)
    return Objective(float(angle.mean()) + prior, angle.reshape(shape), a, fit + prior)


def _mean_cone_angle(x: np.ndarray, e: np.ndarray, loss_w: np.ndarray, nuisance: np.ndarray | None,
                     chunk: int | None) -> float:
    """Mean of :func:`cone_angles` over the image, or over a fixed sample of :data:`FIT_PIXELS`
    of its pixels; read a block of rows at a time (a lazy cube stays on disk)."""
    n, b = x.shape
    index = None if n <= FIT_PIXELS else np.sort(np.random.default_rng(0).choice(n, FIT_PIXELS, replace=False))
    m = n if index is None else len(index)
    block = chunk or max(256, (1 << 21) // b)
    total = 0.0
    for s in range(0, m, block):
        rows = slice(s, s + block) if index is None else index[s:s + block]
        total += float(cone_angles(x[rows], e, loss_w, nuisance=nuisance).sum())
    return total / m


def replace_weakest(model: FTIRUnmixer, x: np.ndarray, before: Objective, shape: tuple[int, int],
                    spot: str = "median", loss_w: np.ndarray | None = None,
                    nuisance: np.ndarray | None = None) -> tuple[int, list[int]]:
    """Give the least-used endmember the spectrum of the worst-explained spot of the image.

    The least-used endmember is the one whose map has the lowest peak (the value
    reached by its top 0.1 % of pixels, at least 3). The spot:

    - ``"median"``: the maximum of the 3×3 median of the per-pixel angle (so a
      single spike does not win); its spectrum is the band-wise median of that
      3×3 neighbourhood;
    - ``"cluster"``: the largest group of badly explained pixels whose residuals
      point the same way (:func:`worst_cluster`); its mean spectrum.

    Returns
    -------
    column : int
        The endmember replaced.
    pixel : [row, col]
        The centre (or seed) of the spot.
    """
    from scipy.ndimage import median_filter

    column = int(np.argmin(map_peaks(before.abundances)))
    e = model.endmembers().detach().cpu().numpy()
    if spot == "cluster":
        spectrum, (r, c) = worst_cluster(x, e, before, shape, loss_w, nuisance)
    else:
        r, c = np.unravel_index(int(np.argmax(median_filter(before.angle, size=3, mode="nearest"))), shape)
        rows, cols = np.meshgrid(np.arange(max(0, r - 1), min(shape[0], r + 2)),
                                 np.arange(max(0, c - 1), min(shape[1], c + 2)), indexing="ij")
        spectrum = np.median(x[(rows * shape[1] + cols).ravel()], axis=0)  # the 3×3 spot's rows
    e[:, column] = spectrum
    model.init_decoder(e)
    return column, [int(r), int(c)]


def worst_cluster(x: np.ndarray, e: np.ndarray, before: Objective, shape: tuple[int, int],
                  loss_w: np.ndarray | None, nuisance: np.ndarray | None) -> tuple[np.ndarray, tuple[int, int]]:
    """Mean spectrum of the largest group of badly explained pixels sharing one residual direction.

    Candidates: the worst-explained 1 % of the pixels (at least 20), each scored by
    the second-largest angle of its 3×3 neighbourhood, so a line one pixel thick
    or a spot of two pixels counts and an isolated spike does not. Their weighted
    residuals (background projected out, reconstruction at its best scale) are
    compared by cosine; the pixel with the most residuals within cos 0.8 seeds
    the group. A missing material (a crust, scattered spots of one pigment)
    forms one group; spikes and noise do not.
    """
    from scipy.ndimage import maximum_filter

    ring = np.ones((3, 3), bool)
    ring[1, 1] = False
    score = np.minimum(before.angle, maximum_filter(before.angle, footprint=ring, mode="nearest")).ravel()
    top = np.sort(np.argsort(-score)[:min(score.size, max(20, score.size // 100))])
    w = np.ones(e.shape[0]) if loss_w is None else np.asarray(loss_w, np.float64)
    xw = np.asarray(x[top], np.float64) * w
    rw = (before.abundances[:, top].T @ e.T).astype(np.float64) * w
    if nuisance is not None:
        xw -= (xw @ nuisance) @ nuisance.T
        rw -= (rw @ nuisance) @ nuisance.T
    scale = np.einsum("nb,nb->n", xw, rw) / np.maximum(np.einsum("nb,nb->n", rw, rw), 1e-30)
    res = xw - scale[:, None] * rw
    res /= np.maximum(np.linalg.norm(res, axis=1, keepdims=True), 1e-30)
    members = (res @ res.T) > 0.8
    seed = int(np.argmax(members.sum(axis=1)))
    r, c = np.unravel_index(int(top[seed]), shape)
    return np.asarray(x[top[members[seed]]], np.float64).mean(axis=0), (int(r), int(c))
