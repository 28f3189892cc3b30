"""Spectra of materials that never occur pure, taken out to the edge of nonnegativity.

Where a material is always mixed (a binder with its pigment, a glaze pigment at a third of a
pixel), the data stop short of its spectrum: the estimate sits at the purest mixture the image
holds and carries its partners' bands. Every spectrum further out along the line away from the
partners explains the image as well (the cone only grows), so the fit cannot say where the
material lies; the rotational ambiguity of curve resolution (MCR-ALS's feasible bands, Tauler
2001). What can say it is nonnegativity: the true spectrum has (near) zero absorbance where
only a partner absorbs, so the partners can be taken off until one of their bands would
turn negative, the outer edge of the feasible band. This module does that, per spectrum
whose purest pixels are clearly mixed:

    maximise  Σ_j t_j  over t ≥ 0,  subject to  dilate(ê_k) − Σ_{j≠k} t_j · erode(ê_j) ≥ −tol,

with every spectrum scaled to a maximum of 1, a linear programme per spectrum; the new
spectrum is ê_k − Σ t_j ê_j, clipped at zero. The step is set on the partners' bands after a
grey erosion over ±:data:`EDGE_SHIFT_CM` (the lowest value within that shift): the same band
sits a few cm⁻¹ apart in two estimates (band shifts between pixels), and without the erosion
that offset, not the material, would stop the step. (Subtracting the eroded partners as
well would leave their bands' wings behind.) The spectrum itself is read after a grey dilation
over ±:data:`EDGE_FILL_CM` (the highest value within it): a dip narrower than the instruments'
usual resolution is the estimate's ripple, not a band, and it stopped the step where a
partner's band crossed it (a binder's estimate dipping to zero at 1512 cm⁻¹ held its pigment's
carbonate band at half its height; stop 45).

It assumes that each partner has a band of its own, where the material absorbs (nearly)
nothing. A partner whose bands all lie under the material's is taken off whole, bands the
material has too: a spectrum with nearly pure pixels must therefore not be moved, hence the
gate.

It is gated by each spectrum's purest share in the run's maps (the 99th percentile, as in
:func:`~ftir_unmix.methods.cnn.cone_polish.purest_shares`): a spectrum with nearly pure pixels
is the data's and stays. What the gate reads is how far the spectrum lies outside its purest
pixels: the polish pushes the spectra of materials that never occur pure out past the data
(stop 41) without reaching the edge, and that is where the step takes them on. A spectrum
lying on a mixed pixel itself reads as pure, though; it is moved all the same where the
partners it holds add up to :data:`EDGE_LARGE` of its maximum or more: a spectrum with nearly
pure pixels that still holds half its height of other spectra's own bands is a mixture
(a glue always with its ground's gypsum or calcite), while the real spectra of pure materials
yielded at most 0.30 on the tuning runs (stop 45). And it needs spectra whose zero is
absorbance zero: a run with a background term reports them so (their lower envelope taken
off); without one (a reflectance image such as Samson, whose spectra are nowhere near zero:
22.3° instead of 5.5° there) the step is not taken.

A partner is taken off as the run estimated it, and an estimate may hold a third material
(a drying oil's estimate with a tenth of lead white): taking it off takes that material off
too, and the step stops at the third material's bands, short of the edge. With ``add_back``
the programme may add spectra back, each in proportion to what the partners taken off can hold
of it (:func:`holdings`) and at :data:`EDGE_ADD_COST` times the price; unbounded, a strong band
of an unrelated spectrum filled a partner's one weak band of its own and let a binder's
partner be taken off past the binder's edge (stop 54).

An estimate also keeps small leftovers where no material absorbs (noise, baseline, the
atmosphere's remains at the ends of the spectrum); the spectrum moved is transparent there
too, so such a leftover alone stopped the step (a drying oil's estimate kept a third of its
lead white because the lead white's estimate held 1.5 % of its height at 3911 cm⁻¹). With
``partner_floor`` a partner's values below that share of its maximum do not count (stop 55).
It also lets through a partner's small share of a third material's band, so it may take that
band off the spectrum a little; on the family's no-pure scenes that cost 0.06° on the tuning
seeds and nothing on fresh ones.

Organic materials break the step's assumption against one another: a drying oil, a natural
resin, a metal soap or an embedding resin all absorb at the C–H stretch (2800–3000 cm⁻¹) and
share most of their other bands, so neither has a band of its own where the other is transparent,
and taking one off the other cuts into its own bands (a drying oil 1.9° from its truth moved to
5.5° by 0.09 of a natural resin; over 111 fresh family runs the step made the oils and resins
0.58° worse on the mean while it made the other materials 0.62° better, stop 78). With
``organic_purest``, a C–H-rich spectrum (its C–H stretch at :data:`EDGE_CH_SHARE` of its maximum
or more) whose purest share reaches that value, and that the plain step would leave C–H-rich,
keeps its C–H-rich partners: it is nearly pure and mostly mixed with its own kind. A C–H-rich
estimate that is a pigment's holding its binder or resin (a glaze's ultramarine holding the natural
resin reads C–H-rich too, and at times more than 0.6 pure) loses its C–H with the resin, so its
partners are taken off as before (the purity bar alone lost such an ultramarine, 4.9° → 24.4°, on
fresh blind seeds; stop 78).

Chosen on the held-out family's and the blind generator's tuning seeds, measured on fresh
seeds of both (docs/benchmarks.md, stops 44, 54, 55 and 78).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.ndimage import grey_dilation, grey_erosion
from scipy.optimize import linprog

__all__ = ["EDGE_ADD_COST", "EDGE_CH_BAND", "EDGE_CH_SHARE", "EDGE_FILL_CM", "EDGE_LARGE", "EDGE_SHIFT_CM", "EDGE_TOL",
           "holdings", "to_nonneg_edge"]

#: How far below zero (share of the spectrum's maximum) a band may go before it stops the step:
#: the estimates' own ripple.
EDGE_TOL = 0.003
#: Band offset between two estimates (cm⁻¹) that does not stop the step (the partners' erosion).
EDGE_SHIFT_CM = 2.0
#: A dip in the spectrum narrower than ± this (cm⁻¹) does not stop the step (its dilation).
EDGE_FILL_CM = 4.0
#: A step this large (Σ t, partners in units of their maximum) is taken whatever the purest share.
EDGE_LARGE = 0.5
#: With ``add_back``: what adding one unit of a partner back costs, in units taken off.
EDGE_ADD_COST = 4.0
#: The C–H stretch region (cm⁻¹) that every organic material absorbs in (``organic_purest``).
EDGE_CH_BAND = (2800.0, 3000.0)
#: A spectrum whose C–H stretch reaches this share of its maximum is C–H-rich (``organic_purest``).
EDGE_CH_SHARE = 0.3


def holdings(filled: np.ndarray, eroded: np.ndarray, tol: float = EDGE_TOL) -> np.ndarray:
    """``h[j, i]``: the most of spectrum ``i`` that spectrum ``j`` can hold, the largest ``c``
    with ``filled_j − c · eroded_i ≥ −tol`` on every band (0 on the diagonal). It bounds what
    taking ``j`` off can take of ``i`` with it, hence what may be added back."""
    k = filled.shape[1]
    h = np.zeros((k, k))
    for i in range(k):
        bands = eroded[:, i] > 1e-6
        if bands.any():
            h[:, i] = np.min((filled[bands] + tol) / eroded[bands, i][:, None], axis=0)
    np.fill_diagonal(h, 0.0)
    return np.maximum(h, 0.0)


def _taken_and_moved(unit: np.ndarray, j: int, others: list[int], x: np.ndarray,
                     add_back: float) -> tuple[np.ndarray, np.ndarray]:
    """The programme's solution ``x`` as the partners' net amounts taken off spectrum ``j`` (those
    added back subtracted) and the spectrum so moved (unit scale, clipped at zero)."""
    taken = x[:len(others)] - x[len(others):] if add_back > 0 else x
    return taken, np.maximum(unit[:, j] - unit[:, others] @ taken, 0.0)


def to_nonneg_edge(endmembers: np.ndarray, purest: np.ndarray, wavenumbers: np.ndarray, *,
                   below: float, tol: float = EDGE_TOL, shift_cm: float = EDGE_SHIFT_CM,
                   fill_cm: float = EDGE_FILL_CM, large: float = EDGE_LARGE, add_back: float = 0.0,
                   partner_floor: float = 0.0, keep_peak: float = 0.0, organic_purest: float = 0.0,
                   fixed: Sequence[int] = ()) -> tuple[np.ndarray, dict[str, Any]]:
    """Each spectrum whose purest share is below ``below``, or whose partners add up to
    ``large`` or more, with its partners taken off up to the edge of nonnegativity (module
    docstring).

    Parameters
    ----------
    endmembers : ndarray, shape (B, K)
        Spectra, baseline-free (their lower envelope at zero).
    purest : ndarray, shape (K,)
        Each spectrum's purest share in the maps.
    wavenumbers : ndarray, shape (B,)
        The band axis (for the erosion's width in bands).
    below : float
        The gate (the run's ``edge_below``); 0 moves nothing.
    tol : float
        How far a band may go below zero, as a share of the spectrum's maximum.
    shift_cm : float
        The partners' erosion, ± cm⁻¹.
    fill_cm : float
        The spectrum's own dilation, ± cm⁻¹ (0: none).
    large : float
        A step at least this large is taken at any purest share (``inf``: only below the gate).
    add_back : float
        0: partners are only taken off. Above 0, a partner estimate that holds a third
        spectrum's bands no longer stops the step where those bands would turn negative: that
        third spectrum may be added back, up to ``add_back`` times what the partners taken off
        can hold of it (:func:`holdings`), each unit added back costing
        :data:`EDGE_ADD_COST` units taken off.
    partner_floor : float
        A partner's (eroded) values below this share of its maximum do not stop the step: an
        estimate's ripple and leftovers where no material absorbs (0: every value counts).
    keep_peak : float
        The partners taken off may take at most ``1 − keep_peak`` of the spectrum's own
        strongest band (0: no bound). Where a partner's band lies under it (a lead white's
        under a calcite's carbonate band), the step otherwise takes the partner off whole and
        the material's own band with it.
    organic_purest : float
        A C–H-rich spectrum (:data:`EDGE_CH_SHARE` of its maximum or more in
        :data:`EDGE_CH_BAND`) whose purest share is at least this, and that the plain step would
        leave C–H-rich, keeps its C–H-rich partners: they are not taken off it (0: off; a
        wavenumber axis that misses the band: no spectrum is C–H-rich).
    fixed : sequence of int
        Columns never moved (known spectra, held ones); they still count as partners.

    Returns
    -------
    endmembers : ndarray, shape (B, K)
        The spectra, each moved one with its former maximum.
    record : dict
        ``below``, ``tol``, ``shift_cm``, ``fill_cm``, ``large`` and per spectrum the ``step``
        taken (Σ t, 0 where unmoved).
    """
    e = np.asarray(endmembers, dtype=np.float64)
    k = e.shape[1]
    peak = e.max(axis=0)
    unit = e / np.where(peak > 0, peak, 1.0)
    spacing = float(np.median(np.abs(np.diff(wavenumbers)))) if len(wavenumbers) > 1 else 1.0

    def widened(cm: float, grey: Any) -> np.ndarray:
        half = int(round(cm / spacing)) if spacing > 0 else 0
        return grey(unit, size=(2 * half + 1, 1)) if half > 0 else unit

    eroded, filled = widened(shift_cm, grey_erosion), widened(fill_cm, grey_dilation)
    if partner_floor > 0:
        eroded = np.where(eroded >= partner_floor, eroded, 0.0)
    out = e.copy()
    steps = np.zeros(k)
    kept = {int(j) for j in fixed}
    holds = holdings(filled, eroded, tol) if add_back > 0 else None
    ch = (wavenumbers >= EDGE_CH_BAND[0]) & (wavenumbers <= EDGE_CH_BAND[1])
    organic = unit[ch].max(axis=0) >= EDGE_CH_SHARE if organic_purest > 0 and ch.any() else np.zeros(k, bool)
    for j in range(k):
        if not below or peak[j] <= 0 or j in kept:
            continue
        others = [i for i in range(k) if i != j]
        part = eroded[:, others]
        cost, a_ub, b_ub = -np.ones(k - 1), part, filled[:, j] + tol  # maximise Σ t, t taken off
        if add_back > 0:  # and s added back: maximise Σ t − EDGE_ADD_COST · Σ s, s_i ≤ add_back · Σ_m t_m h_mi
            cost = np.r_[cost, np.full(k - 1, EDGE_ADD_COST)]
            a_ub = np.block([[part, -part], [-add_back * holds[np.ix_(others, others)].T, np.eye(k - 1)]])
            b_ub = np.r_[b_ub, np.zeros(k - 1)]
        if keep_peak > 0:  # the spectrum's own strongest band keeps keep_peak of its height
            top = unit[int(np.argmax(unit[:, j])), others]
            a_ub = np.vstack([a_ub, np.r_[top, -top] if add_back > 0 else top])
            b_ub = np.r_[b_ub, 1.0 - keep_peak]
        res = linprog(cost, A_ub=a_ub, b_ub=b_ub, bounds=(0.0, None), method="highs")
        if res.status != 0:  # infeasible or unbounded: kept
            continue
        taken, moved = _taken_and_moved(unit, j, others, res.x, add_back)
        if (organic[j] and purest[j] >= organic_purest and moved.max() > 0
                and moved[ch].max() >= EDGE_CH_SHARE * moved.max()):
            # a nearly pure organic that the step leaves organic keeps its own kind
            bounds = [(0.0, 0.0 if organic[i] else None) for i in others] + [(0.0, None)] * (len(cost) - (k - 1))
            res = linprog(cost, A_ub=a_ub, b_ub=b_ub, bounds=bounds, method="highs")
            if res.status != 0:
                continue
            taken, moved = _taken_and_moved(unit, j, others, res.x, add_back)
        if purest[j] >= below and taken.sum() < large:  # nearly pure pixels, little of any partner: kept
            continue
        if moved.max() <= 0:
            continue
        out[:, j] = moved * (peak[j] / moved.max())
        steps[j] = float(taken.sum())
    record = {"below": float(below), "tol": float(tol), "shift_cm": float(shift_cm), "fill_cm": float(fill_cm),
              "large": float(large), "step": [round(float(s), 4) for s in steps]}
    if add_back > 0:
        record["add_back"] = float(add_back)
    if partner_floor > 0:
        record["partner_floor"] = float(partner_floor)
    if keep_peak > 0:
        record["keep_peak"] = float(keep_peak)
    if organic_purest > 0:
        record["organic_purest"] = float(organic_purest)
    return out.astype(endmembers.dtype, copy=False), record
