"""Choosing the number of endmembers K from a sweep of unmixings.

The paper picks K by unmixing with K = 6 … 20 and looking at the maps: with K
too small, materials merge into one map; with K too large, a material is
split into near-identical spectra (duplicated maps) or an endmember explains
almost nothing (a faint map). :func:`sweep_k` automates that look: it runs one
unmixing per K and measures, for each K,

- **duplicates** — the smallest spectral angle between two of its endmembers
  (``min_sad_deg``) and the largest Pearson correlation between two of its
  abundance maps (``max_map_corr``). A pair is a duplicate when its angle is
  below ``dup_sad_deg`` (10°; distinct materials of the synthetic library
  are ≥ 22° apart, most ≥ 50°) or its maps correlate above ``dup_corr``
  (0.9: two maps that always go together are one mixture split in two);
- **faint maps** — the *peak* of each map, the abundance reached by at least
  ``max(3, 0.1 %)`` of the pixels. A map whose peak stays below
  ``faint_peak`` (0.5) is nowhere the main component: an endmember that only
  mops up residuals. The mean abundance is reported too but not used: real
  minor phases (metal-soap aggregates) cover 1–2 % of a section, far below a
  ``1/(4K)`` rule, yet they have pure pixels;
- **reconstruction** — the band-weighted spectral angle between each pixel
  and its linear reconstruction ``Ê a`` (degrees, mean over pixels, weights of
  the run, i.e. the automatic band weights for WSAD; with a baseline term, after
  removing each pixel's best polynomial baseline as the loss does), and its **relative
  gain** ``(err_ref − err_K) / err_ref`` over the best (lowest) angle reached
  by any smaller K of the sweep (robust to a method whose fit is not monotone
  in K, as VCA's is not).

:meth:`KSweep.recommend` has two rules (:mod:`.recommend`) (``SelectionCriteria.rule``):

- ``"count"`` (default for the CNN): K is the largest number of *distinct,
  used* endmembers (maps reaching ``faint_peak``, a duplicated pair counting
  once) that any K of the sweep produces, among the K values that fit better
  than every smaller K by more than ``count_min_gain`` (3 %);
- ``"largest-clean"`` (default for NMF and VCA + FCLS): the largest K that
  has neither duplicates nor faint maps and whose gain is at least
  ``min_gain`` (0.1: one more endmember must cut the unexplained angle by a
  tenth).

Why, as measured on synthetic cross-sections with known K
(docs/benchmarks.md):

- adding a missing material cuts the angle by 25–55 % (a minor one, such as
  small aggregates, by 7–20 %); a surplus endmember changes it by −100 to
  +15 % — it fits baseline, atmosphere or noise, so the gain alone does not
  separate the two when artefacts are present;
- with the CNN and NMF, surplus endmembers come out *faint* (peak 0.0–0.4)
  far more often than duplicated; VCA more often duplicates a spectrum;
- the CNN often leaves one true material faint at the true K (small
  aggregates in a layered section) and resolves it one or two K later,
  while surplus endmembers stay faint: "largest clean K" then answers
  K − 1, counting distinct used maps answers K (hit rates in
  docs/benchmarks.md: CNN 29/30 with counting, NMF 22/30 and VCA 16/30
  with "largest clean K");
- VCA's endmembers are pixels of the image, so every VCA map has a pure
  pixel and the count is meaningless; NMF's surplus maps are sometimes
  strong too. For those, "largest clean K" is the better rule.

When no K passes, :meth:`~KSweep.recommend` says so and returns the K with
the fewest problems. The thresholds are fields of :class:`SelectionCriteria`;
:meth:`KSweep.with_criteria` re-judges a sweep without rerunning it.

Examples
--------
>>> from ftir_unmix.synthetic import cross_section
>>> truth = cross_section(16, 20, n_bands=150, materials=4, layout="patches", seed=0)
>>> sweep = sweep_k(truth.cube, range(2, 7), method="vca-fcls")     # doctest: +SKIP
>>> sweep.recommend().k                                              # doctest: +SKIP
4
"""

from __future__ import annotations

from .diagnostics import RULES, KDiagnostics, SelectionCriteria, k_diagnostics, weighted_recon_angle
from .recommend import Recommendation
from .sweep import SWEEP_STEPS, KSweep, SweepProgress, iter_sweep_k, sweep_k

__all__ = [
    "RULES", "SWEEP_STEPS", "KDiagnostics", "KSweep", "Recommendation", "SelectionCriteria",
    "SweepProgress", "iter_sweep_k", "k_diagnostics", "sweep_k", "weighted_recon_angle",
]
