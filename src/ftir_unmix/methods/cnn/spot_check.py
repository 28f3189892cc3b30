"""The spot check: a last look for a spot of a few pixels that no endmember explains.

A pigment grain of 3 × 3 pixels (blind ground-crust's ultramarine: 8–27 pixels of 16 384,
at most 0.5–0.6 of any pixel) is invisible to every mean over the image: the restarts, the
refinement and its acceptance judge states by the mean cone fit, and on a sample of a few
thousand pixels the spot may not be drawn at all. At the end of such runs its pixels are the
worst explained of the image (ranks 0–50 of 16 384, 25–69° off), and the run holds instead a
variant of a layer's material (a second or third gypsum spectrum) that no pixel needs much.

The worst spot is the maximum of the 3 × 3 median of the cone angle, so at least five of its
pixels are that badly explained; its spectrum is the refinement's
:func:`~.refinement.spot_candidate` (the spot less the matrix around it). The endmember that
could give way is the one the spare's rule would drop (:func:`~.spare.needed_cost`: the 99.5th
plus the 95th percentile of the per-pixel growth of the cone angle without it, plus the growth
at its ninth most affected pixel). The spot's spectrum takes its place (:func:`swaps`) when the
spot's pixels need it more than that, the growth at the :data:`SPOT_NEED_PIXELS`-th pixel most
affected by leaving it out exceeding the weakest endmember's whole cost, and when it is a
material the run lacks: at least :data:`NOVEL_DEG` from the cone of the endmembers that would
stay. On blind tuning scenes a looser bar (that growth against the weakest's own fifth pixel)
swapped a lead-soap aggregate's core, a variant of a material the run had, for calcite
(soap-paint 101: 8.4° → 24.8°); the whole cost kept both such runs and took the ultramarine
grains of four of five ground-crust runs; on fresh blind seeds 65–69 it still swapped one such
core (soap-paint 69: 11.8° → 20.7°, the spot's spectrum 23° from the others' cone), which the
novelty bar keeps (docs/benchmarks.md, stop 53). A grain of a few pixels at half of each may be
needed less than that whole cost and still be worth more than what it replaces (blind
ground-crust 105: the grain's fifth pixel grew by 9.1°, the weakest's own fifth by 12.0°, its
whole cost 31.3°; swapped 20.8° → 9.4°), so since stop 57 the spot's spectrum also takes the
place where its pixels need it at least :data:`SPOT_NEED_SHARE` of what the weakest's own pixels
need that one and no pixel holds more than :data:`WEAKEST_TOP_SHARE` of the weakest: a mixture
or a variant (that gypsum variant at most 0.49 of a pixel), not a material some pixels show
nearly pure (a family layer's calcite, 0.83, whose swap cost 11.6°; a lead soap's aggregates,
0.82). The polish that follows holds the spot's spectrum as it is (fitted to the few pixels of
a sample, it drifted back to the matrix: 87.5° → 73.7° where held it ended at 8.6°) and fits the
others and the maps around it; the check runs only where the run is polished.

Since stop 61 the novelty is measured on the spectra broadened by :data:`FORM_WIDTH_CM` (a
Gaussian, all of them alike): a material's second form, its bands narrower or wider where it
grows than around it, then lies close to the first, while a material the run lacks stays far. On
blind soap-paint 1023 the worst spot was a soap aggregate's core (its bands sharp, the paint's
soap 1.9× wider): 47.2° from the others' cone as measured, 30.8° broadened; the swap merged the
two carbonates and lost calcite (61.4° against 5.1° unswapped). The pigment grains and the
oxalate crust the check put back lost 2–3° (67–80° → 64–77°).

Since stop 62 the spot's spectrum is held through the polish only where its map stays a spot's:
where after that polish it holds :data:`REACH_SHARE` or more on over ``spot_hold_reach`` (1 %)
of the pixels, the spot was a layer's material (blind ground-crust 1028: an oil-rich spot on the
image's border, 7.5 % of the pixels), and held rough there its spectrum stayed rough (the oil
27.7° where the polish alone reached 11.0°) and the oxalate crust was given away; the swapped
spectra are then polished again with it free (``cnn._polished_around_spot``).

Since stop 64 a spot far from what stays (:data:`FAR_DEG`) needs only :data:`VARIANT_NEED_SHARE`
of the weakest's need where the weakest is itself a variant of what stays (:data:`VARIANT_DEG`):
the run then loses a form of a material it keeps, and gains a material it lacks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...metrics import WeightedPixels, cone_angles
from .refinement import fixed_sample, spot_candidate, spot_score, window
from .spare import SPOT_PIXELS, leave_one_out_growth, needed_cost, ranked_growth, spot_rank

__all__ = ["FAR_DEG", "FORM_WIDTH_CM", "NOVEL_DEG", "REACH_SHARE", "SPOT_NEED_PIXELS", "SPOT_NEED_SHARE",
           "VARIANT_DEG", "VARIANT_NEED_SHARE", "WEAKEST_TOP_SHARE", "check_worst_spot", "swaps", "worst_spot"]

#: A spectrum's need is the growth of the cone angle at this pixel, counted from the most
#: affected: the 3 × 3 median that finds the spot is high only where five of its nine pixels are.
SPOT_NEED_PIXELS = 5
#: The spot's spectrum must lie at least this far (degrees, its cone angle to the endmembers
#: that would stay) from what the run has: a material the run lacks, not a variant of one it
#: has. On blind soap-paint runs the worst spot was a lead-soap aggregate's core, 23–30° from
#: that cone; the ultramarine grains were 72–81° from it, a glaze's pigment 68°.
NOVEL_DEG = 45.0
#: The novelty is measured on spectra broadened by a Gaussian of this standard deviation
#: (cm⁻¹): about a band's own width, by which a material's bands may narrow or widen with
#: where it lies (a metal soap's in an aggregate's core and in the paint around it).
FORM_WIDTH_CM = 8.0
#: Or the spot's pixels need its spectrum at least this share of what the weakest endmember's own
#: pixels need that one (the growth at the same rank) ...
SPOT_NEED_SHARE = 0.75
#: ... and no pixel holds more than this share of the weakest (its 99.5th percentile): a mixture
#: or a variant of what the others hold, not a material some pixels show nearly pure.
WEAKEST_TOP_SHARE = 0.75
#: Where the weakest lies at most :data:`VARIANT_DEG` from the endmembers that stay (broadened:
#: a variant of one of them) and the spot at least :data:`FAR_DEG` from them, a spot needed
#: :data:`VARIANT_NEED_SHARE` of the weakest's need takes its place (under the same
#: :data:`WEAKEST_TOP_SHARE`): fresh blind ground-crust 1040 lost its grain (87.9°) to a gypsum
#: variant 15–23° from the rest where the grain's pixels needed it 0.44–0.66 as much; a soap
#: spot only 50.5° away but needed 0.41 as much cost soap-paint 1045 3.2° (docs/benchmarks.md,
#: stops 63 and 64).
VARIANT_DEG = 30.0
FAR_DEG = 60.0
VARIANT_NEED_SHARE = 0.4
#: The quantile of the weakest's per-pixel share read as how pure it gets.
TOP_QUANTILE = 0.995
#: A pixel the spot's map reaches holds at least this share of it after the polish; where more
#: than ``spot_hold_reach`` of the pixels do, the spot was a layer's material and its spectrum is
#: polished free (the pigment grains and crust pieces put back reached at most 0.79 % of the
#: pixels, a soap paint's soap spot 17.6 %, an oil spot at a ground's border 7.5 %;
#: docs/benchmarks.md, stop 62).
REACH_SHARE = 0.3
#: The needs and costs are judged on a fixed sample of this many pixels plus the spot's window.
CHECK_PIXELS = 16384


def worst_spot(angle: np.ndarray) -> tuple[int, int]:
    """The pixel [row, col] whose 3 × 3 window's median of ``angle`` (H, W), each pixel's cone
    angle (≥ 0), is highest: at least five of the image's pixels are that badly explained.

    A window's places outside the image count as well explained. Until stop 62 the window
    repeated the border's pixels there, so three bad pixels along the border, or two at a
    corner, made a spot (97 of 462 recorded spots lay on the outermost row or column, 3.9 % of
    the pixels); the blind scenes' border spots were two columns wide, so no measured run
    changed (docs/benchmarks.md, stop 63)."""
    r, c = np.unravel_index(int(np.argmax(spot_score(angle))), angle.shape)
    return int(r), int(c)


def swaps(record: dict[str, Any]) -> bool:
    """Whether the spot's spectrum replaces the weakest endmember, from the check's ``record``.

    The spot's spectrum must lie at least :data:`NOVEL_DEG` from the cone of the endmembers that
    would stay, all broadened by :data:`FORM_WIDTH_CM` (``novel_broad_deg``), and either its
    pixels need it more than the image needs the weakest endmember by the spare's rule, or they
    need it at least :data:`SPOT_NEED_SHARE` of what the weakest's own pixels need that one while
    no pixel holds more than :data:`WEAKEST_TOP_SHARE` of the weakest (a mixture or a variant);
    :data:`VARIANT_NEED_SHARE` of it where the weakest is a variant of what stays and the spot far
    from that (:data:`VARIANT_DEG`, :data:`FAR_DEG`)."""
    need, weakest, novel = record["spot_need_deg"], record["weakest"], record["novel_broad_deg"]
    if novel < NOVEL_DEG:
        return False
    if need > weakest["cost_deg"]:
        return True
    variant = weakest["novel_broad_deg"] <= VARIANT_DEG and novel >= FAR_DEG
    share = VARIANT_NEED_SHARE if variant else SPOT_NEED_SHARE
    return need > share * weakest["need_deg"] and weakest["top_share"] <= WEAKEST_TOP_SHARE


def check_worst_spot(endmembers: np.ndarray, pixels: np.ndarray, shape: tuple[int, int], loss_w: np.ndarray,
                     nuisance: np.ndarray | None, background: np.ndarray | None, first: int = 0,
                     band_step: float = 1.0) -> tuple[np.ndarray, dict[str, Any]]:
    """The run's spectra with the worst spot's spectrum in place of the endmember it needs least,
    where the spot needs its spectrum more (see the module docstring).

    Parameters
    ----------
    endmembers : ndarray (B, K)
    pixels : array (N, B)
        The (scaled) pixels of the image, ``N = H·W``.
    shape : (H, W)
    loss_w : ndarray (B,)
    nuisance : ndarray (B, r) or None
        The weighted background basis.
    background : ndarray (B, d) or None
        The background basis (for the spot's baseline).
    first : int
        Columns before it (known spectra) are never replaced.
    band_step : float
        The spectral axis' step (cm⁻¹ a band), for :data:`FORM_WIDTH_CM`.

    Returns
    -------
    endmembers : ndarray (B, K)
        The same array when nothing was swapped, else a copy with one column replaced.
    record : dict
        ``pixel`` [row, col] of the spot, ``spot_need_deg`` (what its pixels need its spectrum),
        ``novel_deg`` (the cone angle of its spectrum to the endmembers that would stay),
        ``novel_broad_deg`` (the same, all broadened by :data:`FORM_WIDTH_CM`), ``weakest`` (the
        endmember the spare's rule would drop, 1-based as ``EMj``, its ``need_deg``, ``cost_deg``,
        ``novel_deg`` and ``novel_broad_deg``, its own cone angles to the others, and ``top_share``,
        the 99.5th percentile of its share of the pixels) and ``swapped``. (Where a run trained
        again does not keep its checked polish, the swap is undone and the trained spectra are
        polished as with the check off; the record says so, ``undone``.)
    """
    # here, not at import: a run under a memory cap imports less
    from scipy.ndimage import gaussian_filter1d

    h, w = shape
    e = np.asarray(endmembers, np.float64)
    k = e.shape[1]
    image = WeightedPixels(pixels, loss_w, nuisance=nuisance)  # read block by block: may be on disk
    angle = image.cone_angles(e).reshape(shape)
    r, c = worst_spot(angle)
    spectrum = np.clip(spot_candidate(pixels, e, angle, shape, (r, c), loss_w, nuisance, background), 0.0, None)
    sample = fixed_sample(h * w, CHECK_PIXELS)
    rr, cc = window(shape, (r, c), 4)
    # the sample and always the spot's window; their norms are the image's, already computed
    x = image if sample is None else image.sample(np.union1d(sample, rr * w + cc))
    trial = np.column_stack([e, spectrum])
    growth = leave_one_out_growth(x, trial, range(k + 1), range(first, k + 1))
    rank = spot_rank(SPOT_PIXELS, x.size, h * w)
    costs = {j: needed_cost(growth[j], rank=rank) for j in range(first, k)}
    weakest = min(costs, key=costs.__getitem__)
    needs = {j: ranked_growth(growth[j], SPOT_NEED_PIXELS) for j in (weakest, k)}
    kept = np.delete(e, weakest, axis=1)
    # how pure the weakest gets: its share of each pixel's fitted spectra (each column at its
    # weighted norm), at the 99.5th percentile
    part = x.cone_fit(e)[1] * x.column_norms(e)
    top_share = float(np.quantile(part[:, weakest] / np.maximum(part.sum(axis=1), 1e-300), TOP_QUANTILE))
    # the spot's spectrum and the weakest, each to the cone of the endmembers that would stay
    pair = np.column_stack([spectrum, e[:, weakest]])
    novel = np.degrees(cone_angles(pair.T, kept, loss_w, nuisance=nuisance))
    sigma = FORM_WIDTH_CM / band_step
    broad = np.degrees(cone_angles(gaussian_filter1d(pair, sigma, axis=0, mode="nearest").T,
                                   gaussian_filter1d(kept, sigma, axis=0, mode="nearest"), loss_w, nuisance=nuisance))
    record: dict[str, Any] = {
        "pixel": [r, c], "spot_need_deg": float(np.degrees(needs[k])), "novel_deg": float(novel[0]),
        "novel_broad_deg": float(broad[0]),
        "weakest": {"em": weakest + 1, "need_deg": float(np.degrees(needs[weakest])),
                    "cost_deg": float(np.degrees(costs[weakest])), "novel_deg": float(novel[1]),
                    "novel_broad_deg": float(broad[1]), "top_share": top_share}}
    record["swapped"] = swaps(record)
    if not record["swapped"]:
        return endmembers, record
    out = np.array(endmembers, copy=True)
    scale = np.linalg.norm(e[:, weakest]) / max(float(np.linalg.norm(spectrum)), 1e-300)
    out[:, weakest] = spectrum * scale
    return out, record
