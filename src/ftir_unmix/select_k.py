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

:meth:`KSweep.recommend` has two rules (``SelectionCriteria.rule``):

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
>>> sweep.recommend()                                                # doctest: +SKIP
(4, 'K = 4: ...')
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from .baseline import weighted_nuisance_basis
from .config import UnmixConfig, parameter_rule
from .cube import Cube, make_cube
from .errors import ParameterError
from .metrics import map_peaks, reconstruction_angles
from .result import UnmixResult
from .train import Progress, StopFlag, _should_stop, run_to_end

__all__ = [
    "RULES",
    "KDiagnostics",
    "KSweep",
    "SelectionCriteria",
    "SweepProgress",
    "iter_sweep_k",
    "k_diagnostics",
    "sweep_k",
]


#: The rules of :meth:`KSweep.recommend`.
RULES = ("auto", "count", "largest-clean")


@dataclass(frozen=True)
class SelectionCriteria:
    """Thresholds of the diagnostics and of :meth:`KSweep.recommend`.

    Attributes
    ----------
    dup_sad_deg : float
        Two endmembers closer than this angle (degrees) are duplicates.
    dup_corr : float
        Two abundance maps whose Pearson correlation exceeds this are duplicates.
    faint_peak : float
        A map whose peak abundance is below this is faint.
    peak_fraction, peak_min_pixels : float, int
        The peak of a map is the value reached by at least
        ``max(peak_min_pixels, peak_fraction · N)`` pixels (robust to a few
        outlier pixels).
    min_gain : float
        Smallest relative reconstruction gain (over the best smaller K) that
        counts as meaningful (rule ``"largest-clean"``).
    count_min_gain : float
        Rule ``"count"``: only K values that fit better than every smaller K
        by more than this relative gain are counted (0.03: with the baseline
        term, a surplus endmember sometimes fits an artefact well enough to
        look "used" while improving the fit by 0.6–1.7 %).
    rule : {"auto", "count", "largest-clean"}
        How :meth:`KSweep.recommend` decides; ``"auto"``: ``"count"`` for the
        CNN, ``"largest-clean"`` for NMF and VCA + FCLS.
    """

    dup_sad_deg: float = 10.0
    dup_corr: float = 0.9
    faint_peak: float = 0.5
    peak_fraction: float = 0.001
    peak_min_pixels: int = 3
    min_gain: float = 0.1
    count_min_gain: float = 0.03
    rule: str = "auto"

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"rule must be one of {', '.join(RULES)}; got {self.rule!r}")

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class KDiagnostics:
    """What one unmixing with K endmembers looks like.

    Attributes
    ----------
    k : int
    min_sad_deg : float
        Smallest spectral angle between two endmembers (degrees).
    sad_pair : tuple of int
        The two endmembers (0-based) at that angle.
    max_map_corr : float
        Largest Pearson correlation between two abundance maps.
    corr_pair : tuple of int
    duplicates : tuple of (int, int)
        Every pair flagged as duplicated (angle or correlation).
    peak : ndarray (K,)
        Peak abundance of each map (see :class:`SelectionCriteria`).
    mean_abundance : ndarray (K,)
    faint : tuple of int
        Maps whose peak is below ``faint_peak``.
    recon_deg : float
        Mean band-weighted spectral angle between pixels and ``Ê a`` (degrees).
    gain : float
        Relative drop of ``recon_deg`` from the best (lowest) reconstruction
        angle of the smaller K of the sweep (NaN for the first K); negative
        when this K fits worse.
    prev_k : int or None
        The K that ``gain`` is measured from.
    seconds : float
        Time of the unmixing.
    steps : int or None
        Training steps (CNN).
    """

    k: int
    min_sad_deg: float
    sad_pair: tuple[int, int]
    max_map_corr: float
    corr_pair: tuple[int, int]
    duplicates: tuple[tuple[int, int], ...]
    peak: np.ndarray
    mean_abundance: np.ndarray
    faint: tuple[int, ...]
    recon_deg: float
    gain: float = math.nan
    prev_k: int | None = None
    seconds: float = 0.0
    steps: int | None = None
    sad_matrix: np.ndarray | None = field(default=None, repr=False)
    corr_matrix: np.ndarray | None = field(default=None, repr=False)

    def rejudged(self, criteria: SelectionCriteria) -> KDiagnostics:
        """The same measurements judged with other thresholds (duplicates and faint maps).

        The peaks themselves are kept (``peak_fraction``/``peak_min_pixels``
        apply when the diagnostics are computed).
        """
        if self.sad_matrix is None or self.corr_matrix is None:
            return self
        dups, faint = _judge(self.sad_matrix, self.corr_matrix, self.peak, criteria)
        return replace(self, duplicates=dups, faint=faint)

    @property
    def clean(self) -> bool:
        """No duplicated and no faint endmember."""
        return not self.duplicates and not self.faint

    @property
    def n_distinct(self) -> int:
        """Endmembers that are used (not faint) and distinct (a duplicated group counts once)."""
        used = [i for i in range(self.k) if i not in self.faint]
        parent = {i: i for i in used}

        def root(i: int) -> int:
            while parent[i] != i:
                i = parent[i]
            return i

        for i, j in self.duplicates:
            if i in parent and j in parent:
                parent[root(i)] = root(j)
        return len({root(i) for i in used})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (NaN becomes None)."""

        def num(v: float) -> float | None:
            return None if v is None or not np.isfinite(v) else float(v)

        return {
            "k": self.k, "min_sad_deg": num(self.min_sad_deg), "sad_pair": list(self.sad_pair),
            "max_map_corr": num(self.max_map_corr), "corr_pair": list(self.corr_pair),
            "duplicates": [list(p) for p in self.duplicates],
            "peak": [float(v) for v in self.peak],
            "mean_abundance": [float(v) for v in self.mean_abundance],
            "faint": list(self.faint), "n_distinct": self.n_distinct,
            "recon_deg": num(self.recon_deg), "gain": num(self.gain),
            "prev_k": self.prev_k, "seconds": float(self.seconds), "steps": self.steps,
            "clean": self.clean,
        }


def _pairwise_sad(e: np.ndarray) -> np.ndarray:
    e = np.asarray(e, dtype=np.float64)
    n = np.linalg.norm(e, axis=0)
    u = np.divide(e, n, out=np.zeros_like(e), where=n > 0)
    return np.degrees(np.arccos(np.clip(u.T @ u, -1.0, 1.0)))


def _map_corr(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64).reshape(a.shape[0], -1)
    a = a - a.mean(axis=1, keepdims=True)
    sd = np.linalg.norm(a, axis=1)
    u = np.divide(a, sd[:, None], out=np.zeros_like(a), where=sd[:, None] > 0)
    return u @ u.T  # a constant map correlates with nothing (0)


def weighted_recon_angle(
    pixels: np.ndarray, endmembers: np.ndarray, abundances: np.ndarray,
    weights: np.ndarray | None = None, *, nuisance: np.ndarray | None = None, chunk: int = 16_384,
) -> float:
    """Mean band-weighted spectral angle (degrees) between pixels and ``Ê a``.

    The mean of :func:`ftir_unmix.metrics.reconstruction_angles` (same parameters), in degrees.
    """
    return float(np.degrees(reconstruction_angles(pixels, endmembers, abundances, weights,
                                                  nuisance=nuisance, chunk=chunk)).mean())


def k_diagnostics(
    result: UnmixResult,
    pixels: np.ndarray,
    *,
    criteria: SelectionCriteria | None = None,
    prev: KDiagnostics | None = None,
    seconds: float = 0.0,
) -> KDiagnostics:
    """Diagnostics of one unmixing (see the module docstring).

    Parameters
    ----------
    result : UnmixResult
    pixels : ndarray (N, B)
        The cube's pixels, for the reconstruction angle.
    criteria : SelectionCriteria, optional
    prev : KDiagnostics, optional
        The reference for the gain: the smaller K of the sweep with the
        lowest reconstruction angle (:func:`iter_sweep_k` passes it).
    seconds : float
        Time of the run (recorded).
    """
    c = criteria or SelectionCriteria()
    e = np.asarray(result.endmembers, dtype=np.float64)
    a = np.asarray(result.abundances, dtype=np.float64).reshape(e.shape[1], -1)
    k = a.shape[0]
    iu = np.triu_indices(k, 1)
    sad_m, corr_m = _pairwise_sad(e), _map_corr(a)
    sad, corr = sad_m[iu], corr_m[iu]
    i_s, i_c = int(np.argmin(sad)), int(np.argmax(corr))
    peak = map_peaks(a, fraction=c.peak_fraction, min_pixels=c.peak_min_pixels)
    dups, faint = _judge(sad_m, corr_m, peak, c)
    basis = result.baseline_basis()
    nuisance = None if basis is None else weighted_nuisance_basis(basis, result.weights)
    recon = weighted_recon_angle(pixels, e, a, result.weights, nuisance=nuisance)
    gain = math.nan
    if prev is not None and prev.recon_deg > 0:
        gain = (prev.recon_deg - recon) / prev.recon_deg
    steps = result.parameters.get("steps_run")
    return KDiagnostics(
        k=k, min_sad_deg=float(sad[i_s]), sad_pair=(int(iu[0][i_s]), int(iu[1][i_s])),
        max_map_corr=float(corr[i_c]), corr_pair=(int(iu[0][i_c]), int(iu[1][i_c])),
        duplicates=dups, peak=peak, mean_abundance=a.mean(axis=1), faint=faint,
        recon_deg=recon, gain=gain, prev_k=None if prev is None else prev.k,
        seconds=float(seconds), steps=None if steps is None else int(steps),
        sad_matrix=sad_m, corr_matrix=corr_m,
    )


def _judge(sad_m: np.ndarray, corr_m: np.ndarray, peak: np.ndarray,
           c: SelectionCriteria) -> tuple[tuple[tuple[int, int], ...], tuple[int, ...]]:
    """Duplicated pairs and faint maps under the thresholds ``c``."""
    iu = np.triu_indices(sad_m.shape[0], 1)
    dups = tuple((int(i), int(j)) for i, j in zip(*iu)
                 if sad_m[i, j] < c.dup_sad_deg or corr_m[i, j] > c.dup_corr)
    faint = tuple(int(i) for i in np.flatnonzero(np.asarray(peak) < c.faint_peak))
    return dups, faint


@dataclass(frozen=True)
class SweepProgress:
    """One progress event of :func:`iter_sweep_k`.

    Attributes
    ----------
    k : int
        The K being run (or just finished).
    index, total : int
        Position of that K in the sweep (0-based) and the number of K values.
    event : Progress or None
        The unmixing's own progress event, when there is one.
    done : KDiagnostics or None
        Set once, when the run for ``k`` has finished.
    elapsed : float
        Seconds since the sweep started.
    """

    k: int
    index: int
    total: int
    event: Progress | None
    done: KDiagnostics | None
    elapsed: float

    @property
    def fraction(self) -> float:
        """Overall progress in [0, 1] (by K, refined by the current run's steps)."""
        inner = 0.0
        if self.done is not None:
            inner = 1.0
        elif self.event is not None and self.event.total:
            inner = min(1.0, self.event.step / self.event.total)
        return (self.index + inner) / max(1, self.total)


@dataclass
class KSweep:
    """The outcome of a sweep over K: diagnostics per K and the unmixings themselves.

    Attributes
    ----------
    diagnostics : list of KDiagnostics
        One per completed K, in sweep order (ascending K).
    results : dict of int to UnmixResult
        The unmixing for each completed K (maps and spectra for a closer look).
    method : str
    parameters : dict
        Options passed to every unmixing.
    criteria : SelectionCriteria
    cancelled : bool
        True when the sweep was stopped before its last K.
    """

    diagnostics: list[KDiagnostics]
    results: dict[int, UnmixResult]
    method: str
    parameters: dict[str, Any] = field(default_factory=dict)
    criteria: SelectionCriteria = field(default_factory=SelectionCriteria)
    cancelled: bool = False

    def __post_init__(self) -> None:
        # Duplicates and faint maps are judged with this sweep's criteria.
        self.diagnostics = [d.rejudged(self.criteria) for d in self.diagnostics]

    def with_criteria(self, criteria: SelectionCriteria) -> KSweep:
        """The same sweep judged with other thresholds (no unmixing is rerun)."""
        return KSweep(list(self.diagnostics), self.results, self.method, dict(self.parameters),
                      criteria, self.cancelled)

    @property
    def k_values(self) -> np.ndarray:
        """The completed K values, ascending."""
        return np.array([d.k for d in self.diagnostics], dtype=int)

    def __getitem__(self, k: int) -> KDiagnostics:
        for d in self.diagnostics:
            if d.k == k:
                return d
        raise KeyError(k)

    @property
    def rule(self) -> str:
        """The rule :meth:`recommend` applies: ``criteria.rule``, with ``"auto"`` resolved."""
        if self.criteria.rule != "auto":
            return self.criteria.rule
        return "count" if self.method == "cnn" else "largest-clean"

    def recommend(self) -> tuple[int, str]:
        """The recommended K and why, in plain words.

        Two rules (``criteria.rule``; ``"auto"``: ``"count"`` for the CNN,
        ``"largest-clean"`` for NMF and VCA):

        - ``"count"``: K is the largest number of *distinct, used* endmembers
          (maps reaching ``faint_peak``, a duplicated pair counting once) that
          any K of the sweep produces, among the K values that fit better than
          every smaller K by more than ``count_min_gain``. A material the unmixing leaves faint at
          the true K is usually resolved one K later, while surplus
          endmembers stay faint: counting is robust to both. It needs an
          unmixing whose surplus endmembers cannot claim whole pixels — true
          for the CNN's softmax abundances, not for VCA, whose every
          endmember is a pixel of the image (a pure pixel by construction).
        - ``"largest-clean"``: the largest K with no duplicated and no faint
          endmember whose reconstruction gain over the best smaller K is at
          least ``min_gain`` (the first K passes on its diagnostics alone).

        Without any K passing: the K with the fewest duplicated and faint
        endmembers (the smaller on a tie).

        Raises
        ------
        ValueError
            The sweep has no completed K.
        """
        if not self.diagnostics:
            raise ValueError("the sweep has no completed K to recommend from")
        if self.rule == "count":
            return self._recommend_count()
        return self._recommend_largest_clean()

    def _recommend_count(self) -> tuple[int, str]:
        g = self.criteria.count_min_gain
        eligible = [d for d in self.diagnostics if not np.isfinite(d.gain) or d.gain > g]
        best = max(eligible, key=lambda d: (d.n_distinct, -d.k))
        n = best.n_distinct
        if n == 0:
            return self._fallback()
        text = (f"K = {n}: at most {n} distinct, used endmembers at any K of the sweep "
                f"(first at K = {best.k}, weighted angle {best.recon_deg:.2f}°)")
        if n in self.k_values:
            d = self[n]
            if d.clean:
                text += f"; K = {n} itself has every map distinct and used"
            else:
                text += f"; K = {n} itself: {self._why_not(d).split(': ', 1)[1]} — compare its maps with K = {best.k}"
        later = [d for d in self.diagnostics if d.k > best.k]
        if later:
            text += "; larger K add no distinct endmember (" + "; ".join(
                f"K = {d.k}: {d.n_distinct} distinct" + (f", fit gain only {100 * d.gain:.1f}%"
                                                       if np.isfinite(d.gain) and d.gain <= g else "")
                for d in later) + ")"
        if n == int(self.k_values.max()) and best.k == n:
            text += "; this is the largest K tried: extend the sweep to check"
        return n, text + "."

    def _recommend_largest_clean(self) -> tuple[int, str]:
        c = self.criteria
        ok = [d for d in self.diagnostics
              if d.clean and (not np.isfinite(d.gain) or d.gain >= c.min_gain)]
        if not ok:
            return self._fallback()
        best = ok[-1]
        text = (f"K = {best.k}: the largest K whose endmembers are all distinct "
                f"(closest pair {best.min_sad_deg:.1f}°, map correlation ≤ {best.max_map_corr:.2f}) "
                f"and all used (every map reaches ≥ {float(best.peak.min()):.2f}) ")
        if np.isfinite(best.gain):
            text += (f"and that still explains {100 * best.gain:.0f}% more than K = {best.prev_k} "
                     f"(weighted angle {best.recon_deg:.2f}°)")
        else:
            text += f"(weighted reconstruction angle {best.recon_deg:.2f}°; first K of the sweep)"
        later = [d for d in self.diagnostics if d.k > best.k]
        if later:
            text += "; larger K: " + "; ".join(self._why_not(d) for d in later)
        return best.k, text + "."

    def _fallback(self) -> tuple[int, str]:
        best = min(self.diagnostics, key=lambda d: (len(d.duplicates) + len(d.faint), d.k))
        return best.k, (f"K = {best.k}: no K passed every test; this one has the fewest problems "
                        f"({self._why_not(best).split(': ', 1)[1]}). Look at its maps before trusting it.")

    def _why_not(self, d: KDiagnostics) -> str:
        problems = []
        if d.duplicates:
            i, j = d.duplicates[0]
            problems.append(f"{len(d.duplicates)} duplicated pair(s) (e.g. EM{i + 1}/EM{j + 1}, "
                            f"{d.min_sad_deg:.1f}° apart, maps r = {d.max_map_corr:.2f})")
        if d.faint:
            problems.append(f"{len(d.faint)} faint map(s) (peak {float(d.peak.min()):.2f})")
        if np.isfinite(d.gain) and d.gain < self.criteria.min_gain:
            problems.append(f"only {100 * d.gain:.1f}% gain over K = {d.prev_k}")
        return f"K = {d.k}: " + (", ".join(problems) if problems else "passes")

    def table(self) -> list[dict[str, Any]]:
        """One JSON-ready row per K (see :meth:`KDiagnostics.to_dict`)."""
        return [d.to_dict() for d in self.diagnostics]

    def plot_data(self) -> dict[str, np.ndarray]:
        """Arrays for a plot against K (GUI): one value per completed K.

        Returns
        -------
        dict
            ``k``; ``recon_deg`` and ``gain`` (reconstruction curve);
            ``min_sad_deg`` and ``max_map_corr`` (duplicates);
            ``min_peak`` (faintness: the weakest map's peak); ``n_duplicates``,
            ``n_faint``, ``n_distinct`` (distinct, used endmembers); ``clean`` (bool); ``recommended`` (bool, True at the
            recommended K); and the thresholds ``dup_sad_deg``, ``dup_corr``,
            ``faint_peak``, ``min_gain`` as 0-d arrays for reference lines.
        """
        d = self.diagnostics
        rec = self.recommend()[0] if d else None
        c = self.criteria
        return {
            "k": self.k_values,
            "recon_deg": np.array([x.recon_deg for x in d], dtype=float),
            "gain": np.array([x.gain for x in d], dtype=float),
            "min_sad_deg": np.array([x.min_sad_deg for x in d], dtype=float),
            "max_map_corr": np.array([x.max_map_corr for x in d], dtype=float),
            "min_peak": np.array([float(x.peak.min()) for x in d], dtype=float),
            "n_duplicates": np.array([len(x.duplicates) for x in d], dtype=int),
            "n_faint": np.array([len(x.faint) for x in d], dtype=int),
            "n_distinct": np.array([x.n_distinct for x in d], dtype=int),
            "clean": np.array([x.clean for x in d], dtype=bool),
            "recommended": np.array([x.k == rec for x in d], dtype=bool),
            "dup_sad_deg": np.array(c.dup_sad_deg), "dup_corr": np.array(c.dup_corr),
            "faint_peak": np.array(c.faint_peak), "min_gain": np.array(c.min_gain),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: method, parameters, criteria, rows, recommendation."""
        out: dict[str, Any] = {"method": self.method, "parameters": self.parameters,
                               "criteria": self.criteria.to_dict(), "rule": self.rule, "cancelled": self.cancelled,
                               "rows": self.table()}
        if self.diagnostics:
            k, reason = self.recommend()
            out["recommended_k"], out["reason"] = k, reason
        return out

    def format_table(self) -> str:
        """A plain-text table, one line per K."""
        head = (f"{'K':>3} {'recon°':>8} {'gain':>6} {'minSAD°':>8} {'max r':>6} {'min peak':>8} "
                f"{'dup':>3} {'faint':>5} {'used':>4} {'time s':>7}")
        lines = [head]
        for d in self.diagnostics:
            gain = f"{100 * d.gain:5.1f}%" if np.isfinite(d.gain) else "     -"
            lines.append(f"{d.k:>3} {d.recon_deg:8.3f} {gain:>6} {d.min_sad_deg:8.1f} "
                         f"{d.max_map_corr:6.2f} {float(d.peak.min()):8.2f} {len(d.duplicates):>3} "
                         f"{len(d.faint):>5} {d.n_distinct:>4} {d.seconds:7.1f}")
        return "\n".join(lines)


def _as_cube(cube: Cube | np.ndarray) -> Cube:
    if isinstance(cube, Cube):
        return cube
    arr = np.asarray(cube)
    if arr.ndim != 3:
        raise ValueError(f"expected a Cube or an (H, W, B) array, got shape {arr.shape}")
    return make_cube(arr, np.arange(arr.shape[2], dtype=np.float64))


def _k_list(k_values: Iterable[int]) -> list[int]:
    rule = parameter_rule("k")
    ks = sorted({rule.check("k_values", k) for k in k_values})
    if not ks:
        raise ParameterError("k_values", "is empty")
    return ks


def iter_sweep_k(
    cube: Cube | np.ndarray,
    k_values: Iterable[int],
    *,
    method: str = "cnn",
    seed: int = 0,
    stop: StopFlag = None,
    criteria: SelectionCriteria | None = None,
    **unmix_options: Any,
) -> Generator[SweepProgress, None, KSweep]:
    """Run one unmixing per K, yielding :class:`SweepProgress`; return a :class:`KSweep`.

    Parameters are those of :func:`sweep_k`. When ``stop`` is set, the run in
    progress is abandoned and the sweep returns the K values completed so far
    with ``cancelled=True``. A GUI wraps this generator in a thread worker
    (like :func:`ftir_unmix.iter_unmix`).
    """
    from .train import iter_unmix

    cube = _as_cube(cube)
    ks = _k_list(k_values)
    weights = unmix_options.pop("weights", None)
    crit = criteria or SelectionCriteria()
    UnmixConfig(k=ks[0], method=method, seed=seed).updated(**unmix_options)  # validate once, early
    pixels = cube.pixels
    t0 = time.perf_counter()
    done: list[KDiagnostics] = []
    results: dict[int, UnmixResult] = {}
    params = {"method": method, "seed": seed, **unmix_options, "k_values": ks,
              "weights": "automatic" if weights is None else "given"}
    cancelled = False
    for i, k in enumerate(ks):
        if _should_stop(stop):
            cancelled = True
            break
        yield SweepProgress(k, i, len(ks), None, None, time.perf_counter() - t0)
        t = time.perf_counter()
        # No refinement: a faint or duplicated map is the very signal the sweep looks for.
        config = UnmixConfig(k=k, method=method, seed=seed).updated(**{**unmix_options, "refine": False})
        gen = iter_unmix(cube, config, weights=weights, stop=stop)
        while True:
            try:
                event = next(gen)
            except StopIteration as finished:
                result = finished.value
                break
            yield SweepProgress(k, i, len(ks), event, None, time.perf_counter() - t0)
        if result.cancelled or _should_stop(stop):
            cancelled = True
            break
        ref = min(done, key=lambda d: d.recon_deg) if done else None
        diag = k_diagnostics(result, pixels, criteria=crit, prev=ref, seconds=time.perf_counter() - t)
        done.append(diag)
        results[k] = result
        yield SweepProgress(k, i, len(ks), None, diag, time.perf_counter() - t0)
    return KSweep(diagnostics=done, results=results, method=method, parameters=params,
                  criteria=crit, cancelled=cancelled)


def sweep_k(
    cube: Cube | np.ndarray,
    k_values: Iterable[int],
    *,
    method: str = "cnn",
    seed: int = 0,
    callback: Callable[[SweepProgress], Any] | None = None,
    stop: StopFlag = None,
    criteria: SelectionCriteria | None = None,
    **unmix_options: Any,
) -> KSweep:
    """Unmix ``cube`` once per K and measure how well each K fits.

    Parameters
    ----------
    cube : Cube or ndarray (H, W, B)
    k_values : iterable of int
        The K values to try (sorted, duplicates removed; each ≥ 2). Gains are
        measured from one K to the next, so a contiguous range is best.
    method : {"cnn", "nmf", "vca-fcls"}
        The unmixing method. ``"vca-fcls"`` and ``"nmf"`` take seconds per K
        and give a first answer; ``"cnn"`` checks it with the method itself
        (with e.g. ``epochs=200`` to keep the sweep short).
    seed : int
        The same seed for every K.
    callback : callable, optional
        Called with every :class:`SweepProgress`.
    stop : threading.Event or callable, optional
        Cancel: returns the K values completed so far.
    criteria : SelectionCriteria, optional
        Thresholds of the diagnostics and the recommendation.
    **unmix_options
        Any other option of :func:`ftir_unmix.unmix` (``loss``, ``epochs``,
        ``protocol``, ``device``, band-weight parameters, …).

    Returns
    -------
    KSweep
        ``.diagnostics``, ``.results``, ``.recommend()``, ``.plot_data()``.
    """
    gen = iter_sweep_k(cube, k_values, method=method, seed=seed, stop=stop, criteria=criteria,
                       **unmix_options)
    return run_to_end(gen, callback)
