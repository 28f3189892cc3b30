"""Running one unmixing per K: the sweep generator, its progress events and its outcome."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import methods
from ..config import UnmixConfig, parameter_rule
from ..cube import Cube, make_cube
from ..errors import ParameterError
from ..result import UnmixResult
from ..run import Progress, StopFlag, iter_unmix, relay, run_to_end, should_stop
from .diagnostics import KDiagnostics, SelectionCriteria, k_diagnostics
from .recommend import Recommendation, recommend

__all__ = ["SWEEP_STEPS", "KSweep", "SweepProgress", "iter_sweep_k", "sweep_k"]

#: Training steps per K of the command line's and the GUI's sweep (enough to tell K apart).
SWEEP_STEPS = 200


@dataclass(frozen=True, kw_only=True)
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
    event: Progress | None = None
    done: KDiagnostics | None = None
    elapsed: float = 0.0

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
        return methods.get(self.method).k_rule

    def recommend(self) -> Recommendation:
        """The recommended K, the rule and the reasons (:class:`Recommendation`).

        Two rules (``criteria.rule``; ``"auto"``: ``"count"`` for the CNN,
        ``"largest-clean"`` for the other methods):

        - ``"count"``: K is the largest number of *distinct, used* endmembers
          (maps reaching ``faint_peak``, a duplicated pair counting once) that
          any K of the sweep produces, among the K values that fit better than
          every smaller K by more than ``count_min_gain``. A material the unmixing
          leaves faint at the true K is usually resolved one K later, while
          surplus endmembers stay faint: counting is robust to both. It needs an
          unmixing whose surplus endmembers cannot claim whole pixels — true
          for the CNN's softmax abundances, not for VCA, whose every
          endmember is a pixel of the image (a pure pixel by construction).
        - ``"largest-clean"``: the largest K with no duplicated and no faint
          endmember whose reconstruction gain over the best smaller K is at
          least ``min_gain`` (the first K passes on its diagnostics alone).

        Without any K passing: the K with the fewest duplicated and faint
        endmembers (the smaller on a tie), ``rule="fallback"``.

        Raises
        ------
        ValueError
            The sweep has no completed K.
        """
        return recommend(self.diagnostics, self.criteria, self.rule)

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
            ``n_faint``, ``n_distinct`` (distinct, used endmembers); ``clean`` (bool);
            ``recommended`` (bool, True at the
            recommended K); and the thresholds ``dup_sad_deg``, ``dup_corr``,
            ``faint_peak``, ``min_gain`` as 0-d arrays for reference lines.
        """
        d = self.diagnostics
        rec = self.recommend().k if d else None
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
            rec = self.recommend()
            out["recommended_k"], out["reason"], out["recommended_by"] = rec.k, rec.text, rec.rule
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
        if should_stop(stop):
            cancelled = True
            break
        yield SweepProgress(k=k, index=i, total=len(ks), elapsed=time.perf_counter() - t0)
        t = time.perf_counter()
        # No refinement and no second run with a spare: a faint or duplicated map, a
        # difference spectrum at too high a K, is the very signal the sweep looks for. One
        # start: restarts double each K's cost, and the K criteria were set without them.
        config = UnmixConfig(k=k, method=method, seed=seed).updated(
            **{**unmix_options, "refine": False, "restarts": 1, "spare_when_needed": False})
        result = yield from relay(
            iter_unmix(cube, config, weights=weights, stop=stop),
            lambda ev, k=k, i=i: SweepProgress(k=k, index=i, total=len(ks), event=ev,
                                               elapsed=time.perf_counter() - t0))
        if result.cancelled or should_stop(stop):
            cancelled = True
            break
        ref = min(done, key=lambda d: d.recon_deg) if done else None
        diag = k_diagnostics(result, pixels, criteria=crit, prev=ref, seconds=time.perf_counter() - t)
        done.append(diag)
        results[k] = result
        yield SweepProgress(k=k, index=i, total=len(ks), done=diag, elapsed=time.perf_counter() - t0)
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
    method : str
        The unmixing method (:func:`ftir_unmix.methods.available`). ``"vca-fcls"`` and ``"nmf"`` take seconds per K
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
