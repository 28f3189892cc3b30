"""The refinement pass: retry one endmember on the worst-explained spot of the image, its matrix subtracted."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ...metrics import WeightedPixels, cone_angles, spectral_angles
from ...preprocess.background import as_seen, quantile_baseline, quantile_subtraction
from .model import FTIRUnmixer
from .protocols import Trainer

__all__ = ["FIT_PIXELS", "MINOR_SHARE", "Objective", "Proposal", "fixed_pixels", "fixed_sample", "minor_columns",
           "objective", "restart_proposals", "spot_candidate", "spot_score", "swap_column", "swap_in_spot",
           "window", "worst_cluster"]

#: The cone fit of a bigger image is the mean over this many of its pixels: one exact
#: NNLS per pixel costs about 40 µs, ten seconds per state at 512×512. The sample is
#: fixed (seeded), so every state compared is judged on the same pixels.
FIT_PIXELS = 32768
#: What is left of the other endmembers in the spot's spectrum is taken off down to this
#: quantile (:func:`~ftir_unmix.preprocess.background.quantile_subtraction`): a band of
#: theirs may dip below the baseline only if 32 times as much of them is removed elsewhere.
SUBTRACT_QUANTILE = 0.03
#: In that subtraction only the bands where the spectrum stands less than this share of its
#: highest band above its baseline count as gain: lowering its own strong bands is no sign
#: that another material is there (:func:`_without_others`).
OWN_BAND_SHARE = 0.2
#: Proposals for the refinement are compared by the cone fit over a fixed sample of this many pixels.
SWAP_PIXELS = 4096
#: A spectrum of another restart is proposed only when it lies at least this far (degrees, as
#: the loss sees spectra) from every endmember of the run kept: a material that run lacks,
#: not a variant of one it has (:func:`restart_proposals`).
NOVEL_DEG = 10.0
#: An endmember is minor when its map is at least half its peak on at most this share of the
#: pixels (a spot, a crust): the refinement also offers it purified at its peak.
MINOR_SHARE = 0.05


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
    image, sample = _prepared(loop, x, loss_w, chunk)
    angle = image.reconstruction_angles(e, a)
    prior = loop.prior_value(a)
    fit = sample.mean_cone_angle(e)
    return Objective(float(angle.mean()) + prior, angle.reshape(shape), a, fit + prior)


def _prepared(loop: Trainer, x: np.ndarray, loss_w: np.ndarray, chunk: int | None
              ) -> tuple[WeightedPixels, WeightedPixels]:
    """The image's pixels prepared for the objective, and the fixed sample of :data:`FIT_PIXELS`
    of them for the cone fit (the same on smaller images); prepared once per training loop."""
    cached = loop.prepared
    if cached is None or cached[0] is not x or cached[1] is not loss_w:
        image = WeightedPixels(x, loss_w, nuisance=loop.nuisance_basis, chunk=chunk)
        rows = fixed_sample(x.shape[0], FIT_PIXELS)
        sample = image if rows is None else image.sample(rows)
        loop.prepared = cached = (x, loss_w, image, sample)
    return cached[2], cached[3]


def fixed_pixels(x: np.ndarray, size: int) -> np.ndarray:
    """The rows of :func:`fixed_sample` (all when there are no more than ``size``), as float64."""
    rows = fixed_sample(x.shape[0], size)
    return np.asarray(x[slice(None) if rows is None else rows], np.float64)


def fixed_sample(n: int, size: int) -> np.ndarray | None:
    """Sorted indices of ``size`` of ``n`` rows, the same on every call (seeded); None for all
    when ``n <= size``. States compared on one sample are compared on the same pixels."""
    return None if n <= size else np.sort(np.random.default_rng(0).choice(n, size, replace=False))


def swap_in_spot(model: FTIRUnmixer, x: np.ndarray, before: Objective, shape: tuple[int, int],
                 spot: str = "median", loss_w: np.ndarray | None = None, nuisance: np.ndarray | None = None,
                 background: np.ndarray | None = None, fixed: int = 0, peaks: bool = True,
                 others: Mapping[str, np.ndarray] | None = None, spots: int = 1,
                 image: WeightedPixels | None = None) -> Proposal:
    """Put the spectrum of the worst-explained spot of the image in place of one endmember.

    The spot:

    - ``"median"``: the maximum of the 3×3 median of the per-pixel angle (so a
      single spike does not win);
    - ``"cone"``: the same maximum of each pixel's angle to the nonnegative cone of
      the endmembers (the spectra judged alone, as the fit judges states): where the
      encoder's maps are poor but the spectra explain the pixels (a layer's edge) the
      ``"median"`` spot lies there and its spectrum is a difference of the layers; the
      cone's worst spot is where a material is missing (mixed-k12 9289: calcite, 13°
      from the cone over its pixels, where the maps' worst spot was 27° off and 4°
      from the cone; docs/benchmarks.md, stop 82);
    - ``"cluster"``: the seed of the largest group of badly explained pixels whose
      residuals point the same way (:func:`worst_cluster`).

    With ``spots`` > 1 (not with ``"cluster"``) the next worst spots are offered too, each the
    maximum of the median outside the 9 × 9 windows of those before it: a crust that a
    worse but smaller spot outranks (blind ground-crust: an ultramarine spot of 13 pixels
    over an oxalate crust of hundreds).

    Its spectrum is :func:`spot_candidate`: the spot with the matrix around it
    subtracted, so that a minor material that never occurs pure (a pigment grain
    under its binder, a crust on the paint) is proposed as itself. The endmember
    replaced is the one whose replacement fits the image best (:func:`swap_column`);
    what the spectrum still holds of the other endmembers is then taken off
    (:func:`~ftir_unmix.preprocess.background.quantile_subtraction` at
    :data:`SUBTRACT_QUANTILE`): the ring around a spot is not quite the matrix
    under it. The first ``fixed`` endmembers (known spectra) are never replaced.

    With ``peaks``, each minor endmember (:func:`minor_columns`) is also offered
    purified: the same subtraction at its own map's peak, in its own place. A minor
    material with no pure pixel is otherwise learnt as the spot's mixture with its
    matrix, and the worst-explained spot is then elsewhere.

    With ``others`` (the other restarts' spectra by restart name), each of their spectra
    that the run lacks is offered too (:func:`restart_proposals`): a material that one
    restart found and the one kept lost. Of all the proposals the one whose spectra fit
    the image best (the mean cone angle over a fixed sample of :data:`SWAP_PIXELS`
    pixels) is put in.

    ``image``: ``x`` already prepared with ``loss_w`` and ``nuisance`` (the objective's,
    :func:`objective`), so that ``"cone"`` does not weight and project every pixel again.

    Returns
    -------
    Proposal
        The endmember replaced, the spot's pixel and which proposal it was.
    """
    e = model.endmembers().detach().cpu().numpy()
    angle = before.angle  # the spot's angle map, also the ring's measure in spot_candidate
    if spot == "cone":
        image = WeightedPixels(x, loss_w, nuisance=nuisance) if image is None else image
        angle = image.cone_angles(e).reshape(shape)
    if spot == "cluster":
        _, worst = worst_cluster(x, e, before, shape, loss_w, nuisance)
        places = [worst]
    else:
        places = _worst_spots(spot_score(angle), spots)
    pixels = WeightedPixels(fixed_pixels(x, SWAP_PIXELS), loss_w, nuisance=nuisance)  # each proposal: same pixels
    proposals = []
    for i, (r, c) in enumerate(places):
        spectrum = spot_candidate(x, e, angle, shape, (r, c), loss_w, nuisance, background)
        column = swap_column(pixels, e, spectrum, first=fixed)
        proposals.append((Proposal(column, [r, c], "worst spot" if i == 0 else f"spot {i + 1}"),
                          _without_others(spectrum, e, column, background)))
    if peaks:
        for j in minor_columns(before.abundances, first=fixed):
            rj, cj = np.unravel_index(int(np.argmax(spot_score(before.abundances[j].reshape(shape)))), shape)
            peak = spot_candidate(x, e, angle, shape, (int(rj), int(cj)), loss_w, nuisance, background)
            proposals.append((Proposal(j, [int(rj), int(cj)], f"EM{j + 1}'s peak"),
                              _without_others(peak, e, j, background)))
    if others:
        proposals += restart_proposals(pixels, e, others, loss_w, nuisance, first=fixed)
    if len(proposals) > 1:
        proposals.sort(key=lambda p: _fit_with(pixels, e, p[0].column, p[1]))
    chosen, spectrum = proposals[0]
    e[:, chosen.column] = spectrum
    model.init_decoder(e)
    return chosen


def spot_score(values: np.ndarray) -> np.ndarray:
    """The 3 × 3 median of ``values`` (H, W), each pixel's nonnegative badness (a cone angle, an
    abundance): where it is high, at least five of the image's pixels are that high, so a single
    spike does not make a spot. A window's places outside the image count as 0; repeating the
    border there let three border pixels, or two at a corner, make a spot (stop 63)."""
    from scipy.ndimage import median_filter

    return median_filter(values, size=3, mode="constant", cval=0.0)


def _worst_spots(score: np.ndarray, count: int, half: int = 4) -> list[tuple[int, int]]:
    """The ``count`` highest places of ``score`` (H, W), each outside the (2·half + 1)² window of
    those before it (the window :func:`spot_candidate` reads); fewer where the image has no room."""
    left = np.array(score, np.float64)
    places: list[tuple[int, int]] = []
    while len(places) < count and np.isfinite(left).any():
        r, c = (int(v) for v in np.unravel_index(int(np.argmax(left)), left.shape))
        places.append((r, c))
        left[max(0, r - half):r + half + 1, max(0, c - half):c + half + 1] = -np.inf
    return places


@dataclass(frozen=True)
class Proposal:
    """What the refinement put in: the endmember replaced, the spot's pixel [row, col] (empty
    for another restart's spectrum) and which proposal won (``"worst spot"``, ``"EMj's peak"``
    or ``"vca restart's EMj"``)."""

    column: int
    pixel: list[int]
    source: str


def restart_proposals(pixels: WeightedPixels, e: np.ndarray, others: Mapping[str, np.ndarray],
                      loss_w: np.ndarray | None, nuisance: np.ndarray | None, first: int = 0
                      ) -> list[tuple[Proposal, np.ndarray]]:
    """The other restarts' spectra that the run lacks, each in the place where it fits best.

    A spectrum counts as lacking when it lies more than :data:`NOVEL_DEG` from every
    endmember of ``e`` (B, K) as the loss sees them (band-weighted, background removed).
    Each is scaled to the endmember it would replace (:func:`swap_column` on ``pixels``).
    Restarts from different warm starts lose different materials; the fit that judges the
    proposals trades one material for another as readily, so this is an option
    (``refine_restarts``, docs/benchmarks.md, stop 42).
    """
    mine = as_seen(e, loss_w, nuisance)
    out = []
    for name, spectra in others.items():
        spectra = np.clip(np.asarray(spectra, np.float64), 0.0, None)
        nearest = spectral_angles(mine, as_seen(spectra, loss_w, nuisance)).min(axis=0)
        for j in np.flatnonzero(nearest > NOVEL_DEG):
            column = swap_column(pixels, e, spectra[:, j], first=first)
            scale = np.linalg.norm(e[:, column]) / max(float(np.linalg.norm(spectra[:, j])), 1e-300)
            out.append((Proposal(column, [], f"{name} restart's EM{j + 1}"), spectra[:, j] * scale))
    return out


def minor_columns(abundances: np.ndarray, first: int = 0) -> list[int]:
    """The endmembers (from ``first`` on) whose map is at least half its peak on at most
    :data:`MINOR_SHARE` of the pixels: a spot or a crust, not a layer."""
    a = np.asarray(abundances, np.float64)
    peak = a.max(axis=1, keepdims=True)
    share = (a >= 0.5 * peak).mean(axis=1)
    return [j for j in range(first, a.shape[0]) if peak[j, 0] > 0 and share[j] <= MINOR_SHARE]


def _without_others(spectrum: np.ndarray, e: np.ndarray, column: int, background: np.ndarray | None) -> np.ndarray:
    """``spectrum`` less what it holds of the endmembers other than ``column`` (down to
    :data:`SUBTRACT_QUANTILE`).

    Only the spectrum's weak bands (under :data:`OWN_BAND_SHARE` of its highest above the
    baseline) count as gain. Otherwise a material whose bands lie under the spectrum's own
    is taken off as far as its few other bands allow: ultramarine's broad Si–O band lost a
    fifth of kaolinite's shape from its side (11° from the truth; the spot was 13.5° before
    the subtraction, and 6.5° after it with the weak bands alone; mixed-k12 tuning seed 3).
    """
    others = np.delete(e, column, axis=1)
    height = spectrum - (0.0 if background is None else quantile_baseline(spectrum[:, None], background)[:, 0])
    weak = (height < OWN_BAND_SHARE * height.max()).astype(np.float64)
    return spectrum - others @ quantile_subtraction(spectrum, others, background, quantile=SUBTRACT_QUANTILE,
                                                    gain=weak)


def spot_candidate(x: np.ndarray, e: np.ndarray, angle: np.ndarray, shape: tuple[int, int],
                   spot: tuple[int, int], loss_w: np.ndarray | None, nuisance: np.ndarray | None,
                   background: np.ndarray | None) -> np.ndarray:
    """The spectrum of what the spot adds to its surroundings: spectral subtraction of the matrix.

    What a spectroscopist does by hand: take the spot's most unusual pixels (the
    median of the three in its 5×5 window farthest from the endmembers' cone),
    take the matrix around it (the nonnegative combination of the well-explained
    pixels of the ring between the 5×5 and the 9×9 window that fits the spot
    best) and subtract as much of that matrix as leaves the least total
    absorbance above the baseline (the multiple, 0–3 in steps of 0.1, that
    minimises the summed absolute deviation from the lower-quantile polynomial of
    :func:`~ftir_unmix.preprocess.background.quantile_baseline`). Once the
    matrix is gone its bands stop contributing; taking more leaves them negative.
    A minor material seen through its matrix (ultramarine at 80 % under lead
    white) came out 5° from the truth, where the spot's own spectrum was 27–37°
    (tuning seeds). ``angle`` (H, W) is each pixel's angle at the state proposed from (the
    objective's, or the cone fit's); the ring's well-explained pixels are those at most 1.5
    times its median.
    """
    from scipy.optimize import nnls

    w = shape[1]
    r, c = spot
    rows, cols = window(shape, spot, 2)
    window_pixels = np.asarray(x[rows * w + cols], np.float64)
    far = np.argsort(-cone_angles(window_pixels, e, loss_w, nuisance=nuisance))[:3]
    pixel = np.median(window_pixels[far], axis=0)
    rows, cols = window(shape, spot, 4)
    ring = (rows * w + cols)[np.maximum(np.abs(rows - r), np.abs(cols - c)) > 2]
    calm = ring[angle.ravel()[ring] <= 1.5 * np.median(angle)]
    matrix = np.asarray(x[calm if len(calm) >= 3 else ring], np.float64).T  # (B, n)
    share, _ = nnls(as_seen(matrix, loss_w, nuisance), as_seen(pixel[:, None], loss_w, nuisance)[:, 0])
    trials = pixel[:, None] - np.outer(matrix @ share, np.linspace(0.0, 3.0, 31))
    baseline = 0.0 if background is None else quantile_baseline(trials, background)
    return trials[:, int(np.argmin(np.abs(trials - baseline).sum(axis=0)))]


def window(shape: tuple[int, int], spot: tuple[int, int], half: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows and columns (each flat, row by row) of the (2·half + 1)² window around ``spot``
    (row, col) in an image of ``shape``, cut at its borders."""
    (h, w), (r, c) = shape, spot
    rows, cols = np.meshgrid(np.arange(max(0, r - half), min(h, r + half + 1)),
                             np.arange(max(0, c - half), min(w, c + half + 1)), indexing="ij")
    return rows.ravel(), cols.ravel()


def swap_column(pixels: WeightedPixels, e: np.ndarray, spectrum: np.ndarray, first: int = 0) -> int:
    """The endmember (from ``first`` on) whose replacement by ``spectrum`` fits ``pixels`` (a
    fixed sample of the image, :func:`fixed_pixels`, prepared) best: the lowest mean cone angle."""
    fits = [_fit_with(pixels, e, j, spectrum) for j in range(first, e.shape[1])]
    return first + int(np.argmin(fits))


def _fit_with(pixels: WeightedPixels, e: np.ndarray, column: int, spectrum: np.ndarray) -> float:
    """Mean cone angle of ``pixels`` with ``spectrum`` in place of endmember ``column``."""
    trial = e.copy()
    trial[:, column] = spectrum
    return pixels.mean_cone_angle(trial)


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
