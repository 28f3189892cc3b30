"""What one unmixing with K endmembers looks like: duplicated and faint maps, fit angle, gain."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..metrics import map_peaks, reconstruction_angles, spectral_angles
from ..preprocess import weighted_nuisance_basis
from ..result import UnmixResult

__all__ = ["RULES", "KDiagnostics", "SelectionCriteria", "k_diagnostics", "weighted_recon_angle"]


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
        How :meth:`KSweep.recommend` decides; ``"auto"``: the method's own
        rule (``Method.k_rule``: ``"count"`` for the CNN, ``"largest-clean"``
        for NMF and VCA + FCLS).
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


def _map_corr(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64).reshape(a.shape[0], -1)
    a = a - a.mean(axis=1, keepdims=True)
    sd = np.linalg.norm(a, axis=1)
    u = np.divide(a, sd[:, None], out=np.zeros_like(a), where=sd[:, None] > 0)
    return u @ u.T  # a constant map correlates with nothing (0)


def weighted_recon_angle(
    pixels: np.ndarray, endmembers: np.ndarray, abundances: np.ndarray,
    weights: np.ndarray | None = None, *, nuisance: np.ndarray | None = None, chunk: int | None = None,
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
    sad_m, corr_m = spectral_angles(e, e), _map_corr(a)
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
