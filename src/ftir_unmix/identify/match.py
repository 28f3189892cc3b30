"""Name endmembers: library search, marker bands and two-reference mixtures, with the evidence.

:func:`identify` is the one entry point; docs/identification.md explains every step.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ._spectra import effective_weights, remove_baseline, resample
from .library import Library, LibraryProblem, Reference, load_library
from .markers import MarkerMatch, MarkerTable, Peaks, builtin_markers, detect_peaks, match_markers
from .scores import (
    LIBRARY_THRESHOLD,
    MIN_OVERLAP_CM,
    MIXTURE_MIN_FRACTION,
    MIXTURE_MIN_GAIN,
    MIXTURE_MIN_REDUCTION,
    compare,
    fit_pair,
)

__all__ = ["Candidate", "best_match", "identify", "incomparable_references"]

Kind = Literal["library", "markers", "mixture"]
#: The most peaks of a reference listed as its evidence (the most prominent ones).
REFERENCE_PEAKS = 12
#: Tolerance (cm⁻¹) for a reference's peak to count as present in the endmember.
REFERENCE_PEAK_TOLERANCE = 8.0
#: Libraries larger than this: mixtures pair one of the best :data:`MIXTURE_LEADS` single
#: matches with any reference (all pairs otherwise).
MIXTURE_ALL_PAIRS = 60
MIXTURE_LEADS = 15


@dataclass(frozen=True)
class Candidate:
    """One possible name for an endmember, with its evidence.

    Attributes
    ----------
    name : str
        Material (marker table), reference name (library), or ``"A + B"`` (mixture).
    kind : {"library", "markers", "mixture"}
    score : float
        In [0, 1]; library and mixture: ``max(r, 0)·max(r′, 0)``; markers: the chance-corrected
        weighted fraction of marker bands matched (docs/identification.md).
    confident : bool
        The score passes its threshold (and, for markers, no strong band is missing; for a
        mixture, both references matter and it beats the best single reference).
    source : str
        The library file(s), or the marker table (``built-in`` or a user file) and its sources.
    hqi, hqi_derivative : float or None
        Hit quality indices 0–100 (``100 r²``) of the spectra and of their first derivatives.
    sad_deg : float or None
        Weighted spectral angle, degrees.
    markers : dict
        ``{"matched": [...], "missing": [...], "unchecked": [...]}``, each item a dict with
        ``band`` (cm⁻¹), ``tolerance``, ``weight``, ``assignment``, ``source`` and, for a
        matched band, ``peak`` (the detected position) or, unchecked, ``reason``. For library
        candidates the bands are the reference's most prominent peaks.
    category : str or None
        The marker table's category (pigment, binder ...).
    components : list of dict
        Mixture: ``{"name", "source", "fraction", "coefficient"}`` of the two references.
    p_chance : float or None
        Markers: the probability that random peaks match at least as much of the table
        (``MarkerMatch.p_chance``).
    range_cm1 : (float, float) or None
        The wavenumber range on which the spectra were compared.
    notes : tuple of str
        What was done to the reference on reading (a %T conversion ...).
    """

    name: str
    kind: Kind
    score: float
    confident: bool
    source: str
    hqi: float | None = None
    hqi_derivative: float | None = None
    sad_deg: float | None = None
    markers: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {"matched": [], "missing": [], "unchecked": []})
    category: str | None = None
    components: list[dict[str, Any]] = field(default_factory=list)
    p_chance: float | None = None
    range_cm1: tuple[float, float] | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (plain floats rounded for reading, lists, no numpy types)."""

        def rnd(v: float | None, n: int) -> float | None:
            return None if v is None else round(float(v), n)

        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "score": rnd(self.score, 4),
            "confident": bool(self.confident),
            "source": self.source,
            "markers": {k: [dict(item) for item in v] for k, v in self.markers.items()},
        }
        if self.kind != "markers":
            out.update(hqi=rnd(self.hqi, 2), hqi_derivative=rnd(self.hqi_derivative, 2), sad_deg=rnd(self.sad_deg, 2))
        if self.category:
            out["category"] = self.category
        if self.p_chance is not None:
            out["p_chance"] = float(f"{self.p_chance:.3g}")
        if self.components:
            out["components"] = [dict(c) for c in self.components]
        if self.range_cm1 is not None:
            out["range_cm1"] = [round(float(self.range_cm1[0]), 1), round(float(self.range_cm1[1]), 1)]
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def best_match(candidates: Sequence[Candidate]) -> Candidate | None:
    """The first confident candidate, or None: "no confident match"."""
    for c in candidates:
        if c.confident:
            return c
    return None


# ------------------------------------------------------------------ preparation


@dataclass
class _PreparedReference:
    ref: Reference
    values: np.ndarray  # (B,) baseline-free on the endmember axis, NaN outside the common range
    mask: np.ndarray
    peaks: list[tuple[float, float]]  # (position, relative prominence), most prominent first


def _prepare_library(lib: Library, wn: np.ndarray,
                     w: np.ndarray) -> tuple[list[_PreparedReference], list[tuple[str, str]]]:
    prepared: list[_PreparedReference] = []
    skipped: list[tuple[str, str]] = []
    for ref in lib.entries:
        y = resample(ref.wavenumbers, ref.values, wn)
        m = np.isfinite(y)
        if m.sum() < 10 or np.ptp(wn[m]) < MIN_OVERLAP_CM:
            skipped.append((ref.source, f"overlaps the endmembers' range on less than {MIN_OVERLAP_CM:.0f} cm-1"))
            continue
        yb = np.full(wn.shape, np.nan)
        yb[m] = remove_baseline(wn[m], y[m])
        if not np.ptp(yb[m]) > 0:
            skipped.append((ref.source, "no bands left on the common range after baseline removal"))
            continue
        pk = detect_peaks(wn[m], yb[m], w[m])
        order = np.argsort(-pk.prominences)[:REFERENCE_PEAKS]
        prepared.append(_PreparedReference(ref, yb, m, [(float(pk.positions[i]), float(pk.prominences[i]))
                                                        for i in order]))
    return prepared, skipped


def _strength(prom: float) -> str:
    return "strong" if prom >= 0.3 else "medium" if prom >= 0.1 else "weak"


def _reference_evidence(ref_peaks: list[tuple[float, float]], peaks: Peaks, source: str) -> dict[str, list]:
    matched, missing = [], []
    for pos, prom in sorted(ref_peaks):
        item = {"band": round(pos, 1), "tolerance": REFERENCE_PEAK_TOLERANCE, "weight": _strength(prom),
                "assignment": "peak of the reference", "source": source}
        if peaks.positions.size:
            k = int(np.argmin(np.abs(peaks.positions - pos)))
            if abs(peaks.positions[k] - pos) <= REFERENCE_PEAK_TOLERANCE:
                matched.append({**item, "peak": round(float(peaks.positions[k]), 1)})
                continue
        missing.append(item)
    return {"matched": matched, "missing": missing, "unchecked": []}


def _marker_candidate(m: MarkerMatch, table: MarkerTable) -> Candidate:
    bands = table.bands_of(m.material)
    origins = sorted({b.origin for b in bands})
    keys = sorted({k.strip() for b in bands for k in b.source.split(";") if k.strip()})
    where = "built-in marker table" if origins == ["built-in"] else "marker table " + ", ".join(origins)
    evidence = {
        "matched": [{**b.to_dict(), "peak": round(p, 1)} for b, p in m.matched],
        "missing": [b.to_dict() for b in m.missing],
        "unchecked": [{**b.to_dict(), "reason": why} for b, why in m.unchecked],
    }
    return Candidate(name=m.material, kind="markers", score=m.score, confident=m.confident,
                     source=f"{where} ({'; '.join(keys)})", markers=evidence,
                     category=bands[0].category or None, p_chance=m.p_chance)


def _as_library(library: Library | str | os.PathLike[str] | Iterable[Any] | None) -> Library | None:
    if library is None or isinstance(library, Library):
        return library
    return load_library(library)


def _check_inputs(endmembers: Any, wavenumbers: Any, names: Sequence[str] | None,
                  weights: Any) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray | None]:
    e = np.asarray(endmembers, dtype=np.float64)
    if e.ndim == 1:
        e = e[:, None]
    wn = np.asarray(wavenumbers, dtype=np.float64).ravel()
    if e.ndim != 2 or e.shape[0] != wn.size:
        raise ValueError(f"endmembers must be (B, K) with B = {wn.size} bands; got shape {np.shape(endmembers)}")
    if wn.size < 10:
        raise ValueError(f"at least 10 bands are needed, got {wn.size}")
    if not (np.all(np.isfinite(e)) and np.all(np.isfinite(wn))):
        raise ValueError("endmembers and wavenumbers must be finite")
    names = [f"EM{k + 1}" for k in range(e.shape[1])] if names is None else [str(n) for n in names]
    if len(names) != e.shape[1]:
        raise ValueError(f"{len(names)} names for {e.shape[1]} endmembers")
    if len(set(names)) != len(names):
        raise ValueError("endmember names must be unique")
    w = None if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if w is not None and w.size != wn.size:
        raise ValueError(f"weights must have one value per band ({wn.size}), got {w.size}")
    order = np.argsort(wn, kind="stable")
    if np.any(np.diff(wn[order]) <= 0):
        raise ValueError("wavenumbers must be distinct")
    return wn[order], e[order], names, (None if w is None else w[order])


def identify(
    endmembers: np.ndarray,
    wavenumbers: np.ndarray,
    names: Sequence[str] | None = None,
    *,
    library: Library | str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | None = None,
    markers: MarkerTable | None | Literal[False] = None,
    weights: np.ndarray | None = None,
    top: int = 5,
    exclude_co2: bool = True,
) -> dict[str, list[Candidate]]:
    """Candidate names for each endmember, best first, with scores and evidence.

    Each endmember is compared (after its baseline is removed) with every library reference
    resampled onto its bands over their common range (correlation of the spectra and of
    their first derivatives, spectral angle), with the two-reference nonnegative mixture
    that fits it best, and with the marker bands of the materials in the marker table.

    Parameters
    ----------
    endmembers : ndarray, shape (B, K) or (B,)
        Spectra in absorbance (``UnmixResult.endmembers``, or ``endmembers.csv``).
    wavenumbers : ndarray, shape (B,)
        Their band positions, cm⁻¹ (any order).
    names : sequence of str, optional
        One per endmember (default ``EM1`` … ``EMK``).
    library : Library, path, or iterable of paths, optional
        Reference spectra (:func:`~ftir_unmix.identify.load_library`); paths are loaded.
    markers : MarkerTable, None or False
        The marker table (None: :func:`~ftir_unmix.identify.builtin_markers`; False: no markers).
    weights : ndarray, shape (B,), optional
        Band-reliability weights (:func:`ftir_unmix.band_weights`, ``UnmixResult.weights``):
        distrusted bands (CO₂, water vapour, spikes) count little in the scores, and no
        marker band is missing there.
    top : int
        How many candidates to keep per endmember (the best two-reference mixture is added
        after them when it did not make the list).
    exclude_co2 : bool
        Leave the CO₂ region (2280–2400 cm⁻¹) out of every score, whatever the weights.

    Returns
    -------
    dict
        Endmember name -> list of :class:`Candidate`, confident ones first, each group by
        score. ``best_match(candidates) is None`` means "no confident match".

    Examples
    --------
    >>> import numpy as np
    >>> wn = np.linspace(650, 4000, 1200)
    >>> band = lambda c, s: np.exp(-0.5 * ((wn - c) / s) ** 2)
    >>> whewellite = band(1620, 12) + 0.8 * band(1317, 8) + 0.6 * band(780, 6)
    >>> result = identify(whewellite, wn, ["EM1"])
    >>> best_match(result["EM1"]).name
    'calcium oxalate monohydrate (whewellite)'
    """
    if not isinstance(top, (int, np.integer)) or isinstance(top, bool) or top < 1:
        raise ValueError(f"top must be a positive integer, got {top!r}")
    wn, e, names, w_in = _check_inputs(endmembers, wavenumbers, names, weights)
    w = effective_weights(wn, w_in, exclude_co2=exclude_co2)
    lib = _as_library(library)
    table = builtin_markers() if markers is None else (markers if markers is not False else MarkerTable())
    x_all = remove_baseline(wn, e)
    prepared = _prepare_library(lib, wn, w)[0] if lib is not None else []
    refs = np.column_stack([p.values for p in prepared]) if prepared else np.zeros((wn.size, 0))

    result: dict[str, list[Candidate]] = {}
    for k, name in enumerate(names):
        x = x_all[:, k]
        peaks = detect_peaks(wn, x, w)
        lib_cands: list[Candidate] = []
        for p in prepared:
            m = p.mask
            s = compare(wn[m], x[m], p.values[m], w[m])
            lib_cands.append(Candidate(
                name=p.ref.name, kind="library", score=s.score, confident=s.score >= LIBRARY_THRESHOLD,
                source=p.ref.source, hqi=s.hqi, hqi_derivative=s.hqi_derivative, sad_deg=s.sad_deg,
                markers=_reference_evidence(p.peaks, peaks, p.ref.source),
                range_cm1=(float(wn[m][0]), float(wn[m][-1])), notes=p.ref.notes))
        mix = _mixture(wn, x, refs, w, prepared, lib_cands, peaks)
        mark_cands = [_marker_candidate(mm, table) for mm in match_markers(table, wn, w, peaks)
                      if mm.scored and mm.matched]
        ranked = sorted(lib_cands + mark_cands + ([mix] if mix is not None else []),
                        key=lambda c: (c.confident, c.score), reverse=True)
        chosen = ranked[:top]
        if mix is not None and not any(c is mix for c in chosen):
            chosen.append(mix)
        result[name] = chosen
    return result


def incomparable_references(library: Library, wavenumbers: np.ndarray) -> list[LibraryProblem]:
    """The references of ``library`` that :func:`identify` leaves out for these wavenumbers.

    A reference is compared only on its common range with the endmembers; one that overlaps
    them on less than ``MIN_OVERLAP_CM`` cm⁻¹ (or is flat there) is left out.

    Returns
    -------
    list of LibraryProblem
        Source and reason, one per reference left out.
    """
    wn = np.sort(np.asarray(wavenumbers, dtype=np.float64).ravel())
    _, skipped = _prepare_library(library, wn, np.ones_like(wn))
    return [LibraryProblem(src, reason) for src, reason in skipped]


def _mixture(wn: np.ndarray, x: np.ndarray, refs: np.ndarray, w: np.ndarray,
             prepared: list[_PreparedReference], singles: list[Candidate], peaks: Peaks) -> Candidate | None:
    first = None
    if refs.shape[1] > MIXTURE_ALL_PAIRS:
        first = list(np.argsort([-c.score for c in singles])[:MIXTURE_LEADS])
    fit = fit_pair(wn, x, refs, w, first=first)
    if fit is None:
        return None
    i, j = fit.indices
    m = prepared[i].mask & prepared[j].mask
    s = compare(wn[m], x[m], fit.fitted[m], w[m])
    best_single = max((c.score for c in singles), default=0.0)
    gain = s.score - best_single
    confident = (s.score >= LIBRARY_THRESHOLD and min(fit.fractions) >= MIXTURE_MIN_FRACTION
                 and gain >= MIXTURE_MIN_GAIN and gain >= MIXTURE_MIN_REDUCTION * (1.0 - best_single))
    a, b = prepared[i].ref, prepared[j].ref
    components = [
        {"name": r.name, "source": r.source, "fraction": round(f, 4), "coefficient": round(c, 6)}
        for r, f, c in ((a, fit.fractions[0], fit.coefficients[0]), (b, fit.fractions[1], fit.coefficients[1]))
    ]
    evidence = _reference_evidence(sorted(prepared[i].peaks + prepared[j].peaks, key=lambda t: -t[1])[:REFERENCE_PEAKS],
                                   peaks, f"{a.source}; {b.source}")
    return Candidate(name=f"{a.name} + {b.name}", kind="mixture", score=s.score, confident=confident,
                     source=f"{a.source}; {b.source}", hqi=s.hqi, hqi_derivative=s.hqi_derivative,
                     sad_deg=s.sad_deg, markers=evidence, components=components,
                     range_cm1=(float(wn[m][0]), float(wn[m][-1])), notes=a.notes + b.notes)

