"""Spare endmembers: train K + s, report the K that are materials.

With K endmembers and no pure pixels the fit preferred to sacrifice one material: what the
linear model of K spectra and a polynomial baseline cannot explain (pixel-wise band shifts
and broadening, non-polynomial baselines, atmosphere of either sign) was taken by one
endmember, as a difference of spectra (a plateau with the others' bands as dips), and the
material it should have been was lost (nopure-k6 at 64×256, tuning seeds 0–2: 13.3°;
docs/benchmarks.md §0). Given a spare, the run puts that residue there: the six materials
are among the seven spectra at 8.3° (matched against the truth).

Which one is the spare is told by the whole image's cone fit (the objective that already
judges restarts and the refinement): the spare is the spectrum the image needs least
(:func:`choose_spares`). "Least" is judged where each spectrum is needed most, by the
pixels whose fit would suffer most without it: a minor material (a spot, a crust: 1–3 % of
the pixels) costs the image's mean fit little, and the mean rule dropped it in 4 of 40 tuning
runs (minor-crust and minor-spot, seeds 0–4: 18–21° instead of 4°). The 99.5th percentile of
the per-pixel cost alone was nearly tied where a material is close to another (calcite 19°
from lead white, its pure pixels 1 % of the image) and the spare a variant of a third that
only the most extreme pixels need: it dropped calcite in layered-k8-var (tuning seed 3,
13.9° instead of 4.1°; report seed 9091 at 18.21° against 18.37°). The cost is therefore
the 99.5th percentile plus the 95th (:data:`NEEDED_QUANTILES`): a spectrum needed much by a
few pixels, or somewhat by many, is kept. On 40 tuning runs (K + 1 trained, every choice
scored against the truth, ``benchmarks/spare_choice.py``) it drops the spectrum the truth
can spare in all 40, within 0.09°; on 40 fresh ones the spectra kept are 5.04° from the
truth against 5.27° with the 99.5th alone (the best choice 4.75°), still wrong by more than
0.5° on two; on 40 more (9101–9105) both rules keep 4.22° (the best 4.21°; docs/benchmarks.md,
stop 36). A spot of a few pixels is below both quantiles: a run that had found an ultramarine
spot of 13 pixels (0.08 % of the image, its largest growth 65°) dropped it for a junk mixture
(blind ground-crust seed 15). So the growth of the ninth most affected pixel
(:data:`SPOT_PIXELS`, a 3 × 3 spot) is added to the cost: it changes none of the drops on 80
K + 1 runs of the family (tuning seeds 0–4 and fresh 9156–9160) and 2 of 22 fresh blind runs
trained again, both for the better (ground-crust 28: 22.6° → 17.2°, the spot kept; glaze-stack
34, a close call: 19.3° → 15.4°; docs/benchmarks.md, stop 48). The maps of the others are
renormalised.

Trained always (``spare`` > 0) it mends images with many materials and no pure pixels and
costs the simpler ones: the material spectra lean on the spare (small-k3 seed 1: 1.9° → 6.3°).
By default (``spare_when_needed``) one spare is trained only when a first run ends with a
difference spectrum (:func:`~ftir_unmix.preprocess.background.below_baseline_share` above
:data:`~ftir_unmix.trust.BELOW_BASELINE_DOUBT`) or with an endmember of water vapour lines
(:func:`~ftir_unmix.preprocess.narrow_line_share`): :func:`ftir_unmix.methods.cnn.run_cnn`.
An endmember of atmospheric lines is always dropped first, however much the image needs it
(a vapour strong enough to outweigh a material: the toy of tests/core/test_atmosphere.py
ends at 25° with the least-needed rule and 3.5° with this one).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...metrics import WeightedPixels
from .refinement import fixed_pixels

__all__ = ["CLOSE_CALL", "NEEDED_QUANTILES", "SPOT_PIXELS", "choose_spares", "close_calls", "drop_columns",
           "leave_one_out_growth", "needed_cost", "ranked_growth", "spot_rank"]

#: A spectrum's cost is the sum of these quantiles, over the pixels, of how much each
#: pixel's fit grows without it (see :func:`choose_spares`): where a minor material is
#: needed (99.5th) and where a material covering more of the image is (95th).
NEEDED_QUANTILES = (0.995, 0.95)
#: Added to the cost: the growth at the pixel ranked this many from the most affected (0: none),
#: what a spot of 3 × 3 pixels needs, which the quantiles do not see below 0.5 % of the image.
SPOT_PIXELS = 9
#: A drop is a close call when a spectrum kept cost at most this many times as much
#: (:func:`close_calls`).
CLOSE_CALL = 1.10


def choose_spares(endmembers: np.ndarray, pixels: np.ndarray, count: int, loss_w: np.ndarray,
                  nuisance: np.ndarray | None, first: int = 0, sample: int = 16384,
                  quantiles: Sequence[float] = NEEDED_QUANTILES, atmosphere: Sequence[int] = (),
                  spot_pixels: int = SPOT_PIXELS) -> tuple[list[int], list[dict[str, Any]]]:
    """The ``count`` endmembers the image needs least, one at a time (``atmosphere`` first).

    Each pixel's fit is its cone angle (:func:`~ftir_unmix.metrics.cone_angles`: the pixel
    against the best nonnegative mix of the spectra, as the loss sees them); what a
    spectrum costs is the sum of the ``quantiles`` of how much the angles grow without it,
    over a fixed sample of at most ``sample`` pixels: small only for a spectrum that no
    pixel needs much and few pixels need at all.

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
    sample, quantiles
        See above.
    atmosphere : sequence of int
        Columns that are atmospheric lines (:func:`~ftir_unmix.preprocess.narrow_line_share`):
        chosen first, however much the image needs them, for they are not materials.
    spot_pixels : int
        Add the growth of the ``spot_pixels``-th most affected pixel to the cost (0: not),
        counted in the image: in a sample of a larger image, that share of the sample.

    Returns
    -------
    columns : list of int
        The columns chosen, in the original numbering.
    why : list of dict
        Per column: ``column`` and ``cost_deg``, the sum of the ``quantiles`` of the per-pixel
        growth (and of the spot's), and (unless it was an atmospheric column, chosen first) ``next``: the column
        the image needed least after it, with its ``cost_deg``.
    """
    rows = fixed_pixels(pixels, sample)
    x = WeightedPixels(rows, loss_w, nuisance=nuisance)
    rank = spot_rank(spot_pixels, len(rows), pixels.shape[0])
    kept = list(range(endmembers.shape[1]))
    chosen: list[int] = []
    why: list[dict[str, Any]] = []
    forced = [j for j in atmosphere if j >= first][:count]
    for i in range(count):
        growth = leave_one_out_growth(x, endmembers, kept, [j for j in kept if j >= first])
        costs = {j: needed_cost(g, quantiles, rank) for j, g in growth.items()}
        pick = forced[i] if i < len(forced) else min(costs, key=costs.__getitem__)
        kept.remove(pick)
        chosen.append(pick)
        why.append({"column": int(pick), "cost_deg": float(np.degrees(costs[pick]))})
        others = [j for j in costs if j != pick]
        if i >= len(forced) and others:  # the cheapest of the rest: how close the choice was
            runner_up = min(others, key=costs.__getitem__)
            why[-1]["next"] = {"column": int(runner_up), "cost_deg": float(np.degrees(costs[runner_up]))}
    return chosen, why


def leave_one_out_growth(x: WeightedPixels, endmembers: np.ndarray, kept: Sequence[int],
                         columns: Sequence[int]) -> dict[int, np.ndarray]:
    """Per column of ``columns``: how much each prepared pixel's cone angle (radians) grows when
    the spectra ``endmembers[:, kept]`` lose that column."""
    base = x.cone_angles(endmembers[:, list(kept)])
    return {j: x.cone_angles(endmembers[:, [c for c in kept if c != j]]) - base for j in columns}


def spot_rank(spot_pixels: int, sampled: int, total: int) -> int:
    """The rank, in a sample of ``sampled`` of ``total`` pixels, of the ``spot_pixels``-th most
    affected pixel of the image (0: none)."""
    return min(sampled, max(1, round(spot_pixels * sampled / total))) if spot_pixels else 0


def needed_cost(growth: np.ndarray, quantiles: Sequence[float] = NEEDED_QUANTILES, rank: int = 0) -> float:
    """What a spectrum costs the image (radians): the sum of the ``quantiles`` of the per-pixel
    ``growth`` without it, plus :func:`ranked_growth` at ``rank`` (0: none)."""
    return float(np.quantile(growth, quantiles).sum() + (ranked_growth(growth, rank) if rank else 0.0))


def ranked_growth(growth: np.ndarray, rank: int) -> float:
    """The growth of the ``rank``-th most affected pixel (1: the most)."""
    return float(np.partition(growth, -rank)[-rank])


def close_calls(why: Sequence[dict[str, Any]], kept: Sequence[int]) -> list[dict[str, Any]]:
    """The drops of :func:`choose_spares` (its ``why``) where a spectrum that was kept cost the
    fit at most :data:`CLOSE_CALL` times as much as the one dropped: each as ``kept_em``
    (its 1-based number among the ``kept`` columns), ``cost_deg`` and ``dropped_cost_deg``.

    Where the two costs are that close, either could be the material and the other a variant
    that only the most extreme pixels need (or a near-duplicate): on 80 fresh K + 1 runs, 6
    drops were that close, and 2 of them were the only wrong drops (stop 36)."""
    calls = []
    for w in why:
        nxt = w.get("next")
        if nxt and nxt["column"] in kept and nxt["cost_deg"] <= CLOSE_CALL * w["cost_deg"]:
            calls.append({"kept_em": list(kept).index(nxt["column"]) + 1, "cost_deg": nxt["cost_deg"],
                          "dropped_cost_deg": w["cost_deg"]})
    return calls


def drop_columns(endmembers: np.ndarray, abundances: np.ndarray, columns: list[int]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Endmembers (B, K) and abundances (K, …) without ``columns``; the maps renormalised to sum to 1."""
    keep = [j for j in range(endmembers.shape[1]) if j not in columns]
    a = np.asarray(abundances)[keep]
    total = a.sum(0, keepdims=True)
    return endmembers[:, keep], np.where(total > 0, a / np.where(total > 0, total, 1), 1.0 / len(keep))
