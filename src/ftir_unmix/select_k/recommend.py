"""Choosing K from the diagnostics of a sweep: the rules, and the reasons as data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .diagnostics import KDiagnostics, SelectionCriteria

__all__ = ["Recommendation", "problems", "recommend"]


@dataclass(frozen=True)
class Recommendation:
    """The recommended K, the rule that chose it and why.

    Attributes
    ----------
    k : int
    rule : {"count", "largest-clean", "fallback"}
        ``"fallback"``: no K passed the rule; the K with the fewest problems.
    reasons : tuple of str
        The reasons, one clause each, in plain words (the first is the main one).
    """

    k: int
    rule: str
    reasons: tuple[str, ...]

    @property
    def why(self) -> str:
        """The reasons as one sentence."""
        return "; ".join(self.reasons) + "."

    @property
    def text(self) -> str:
        """``"K = k: why"``, as the command line prints it."""
        return f"K = {self.k}: {self.why}"


def problems(d: KDiagnostics, criteria: SelectionCriteria) -> list[str]:
    """What keeps one K from passing, one clause each (empty when it passes)."""
    out = []
    if d.duplicates:
        i, j = d.duplicates[0]
        out.append(f"{len(d.duplicates)} duplicated pair(s) (e.g. EM{i + 1}/EM{j + 1}, "
                   f"{d.min_sad_deg:.1f}° apart, maps r = {d.max_map_corr:.2f})")
    if d.faint:
        out.append(f"{len(d.faint)} faint map(s) (peak {float(d.peak.min()):.2f})")
    if np.isfinite(d.gain) and d.gain < criteria.min_gain:
        out.append(f"only {100 * d.gain:.1f}% gain over K = {d.prev_k}")
    return out


def _describe(d: KDiagnostics, criteria: SelectionCriteria) -> str:
    return f"K = {d.k}: " + (", ".join(problems(d, criteria)) or "passes")


def recommend(diagnostics: Sequence[KDiagnostics], criteria: SelectionCriteria, rule: str) -> Recommendation:
    """Apply ``rule`` (``"count"`` or ``"largest-clean"``) to the diagnostics of a sweep.

    See :meth:`ftir_unmix.select_k.KSweep.recommend` for the rules.
    """
    if not diagnostics:
        raise ValueError("the sweep has no completed K to recommend from")
    found = _count(diagnostics, criteria) if rule == "count" else _largest_clean(diagnostics, criteria)
    return found or _fallback(diagnostics, criteria)


def _count(diagnostics: Sequence[KDiagnostics], c: SelectionCriteria) -> Recommendation | None:
    g = c.count_min_gain
    eligible = [d for d in diagnostics if not np.isfinite(d.gain) or d.gain > g]
    best = max(eligible, key=lambda d: (d.n_distinct, -d.k))
    n = best.n_distinct
    if n == 0:
        return None
    reasons = [f"at most {n} distinct, used endmembers at any K of the sweep "
               f"(first at K = {best.k}, weighted angle {best.recon_deg:.2f}°)"]
    same = [d for d in diagnostics if d.k == n]
    if same:
        if same[0].clean:
            reasons.append(f"K = {n} itself has every map distinct and used")
        else:
            reasons.append(f"K = {n} itself: {', '.join(problems(same[0], c))} — compare its maps "
                           f"with K = {best.k}")
    later = [d for d in diagnostics if d.k > best.k]
    if later:
        reasons.append("larger K add no distinct endmember (" + "; ".join(
            f"K = {d.k}: {d.n_distinct} distinct" + (f", fit gain only {100 * d.gain:.1f}%"
                                                   if np.isfinite(d.gain) and d.gain <= g else "")
            for d in later) + ")")
    if n == max(d.k for d in diagnostics) and best.k == n:
        reasons.append("this is the largest K tried: extend the sweep to check")
    return Recommendation(n, "count", tuple(reasons))


def _largest_clean(diagnostics: Sequence[KDiagnostics], c: SelectionCriteria) -> Recommendation | None:
    ok = [d for d in diagnostics if d.clean and (not np.isfinite(d.gain) or d.gain >= c.min_gain)]
    if not ok:
        return None
    best = ok[-1]
    main = (f"the largest K whose endmembers are all distinct (closest pair {best.min_sad_deg:.1f}°, "
            f"map correlation ≤ {best.max_map_corr:.2f}) and all used (every map reaches "
            f"≥ {float(best.peak.min()):.2f}) ")
    if np.isfinite(best.gain):
        main += (f"and that still explains {100 * best.gain:.0f}% more than K = {best.prev_k} "
                 f"(weighted angle {best.recon_deg:.2f}°)")
    else:
        main += f"(weighted reconstruction angle {best.recon_deg:.2f}°; first K of the sweep)"
    reasons = [main]
    later = [d for d in diagnostics if d.k > best.k]
    if later:
        reasons.append("larger K: " + "; ".join(_describe(d, c) for d in later))
    return Recommendation(best.k, "largest-clean", tuple(reasons))


def _fallback(diagnostics: Sequence[KDiagnostics], c: SelectionCriteria) -> Recommendation:
    best = min(diagnostics, key=lambda d: (len(d.duplicates) + len(d.faint), d.k))
    return Recommendation(best.k, "fallback", (
        f"no K passed every test; this one has the fewest problems "
        f"({', '.join(problems(best, c)) or 'none of duplicates, faint maps or low gain'})",
        "look at its maps before trusting it"))
