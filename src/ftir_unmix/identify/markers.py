"""Marker bands of heritage materials: the table, peak detection and a marker score.

The built-in table is the text file ``marker_bands.csv`` beside this module (one row per
band: material, category, band_cm1, tolerance_cm1, weight, assignment, source), its sources
``marker_sources.csv``. A user extends or corrects it with a file of the same columns
(:func:`read_marker_file`, :func:`load_markers`).

A material's marker score is the weighted fraction of its *checkable* bands that have a
detected peak within tolerance, less the fraction expected by chance at the spectrum's
peak density (a spectrum full of peaks matches any table by chance)::

    f = Σ_matched weight / Σ_checkable weight
    p_m = 1 − exp(−ρ · 2 tol_m)              (ρ: detected peaks per cm⁻¹ of trusted range)
    E = Σ_checkable weight · p_m / Σ_checkable weight
    score = max(0, f − E)

A match is *confident* when the score is at least :data:`MARKER_THRESHOLD`, the probability
that random peaks at that density match at least the matched weight (``p_chance``, exact
over the bands' independent chances) is at most :data:`MARKER_ALPHA`, no checkable strong
band is missing and at least two bands matched.

A band is not checkable (neither matched nor missing) outside the spectrum's range, in the
CO₂ region or where the band weight is below :data:`~ftir_unmix.identify._spectra.LOW_WEIGHT`.
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ._spectra import CO2_REGION, LOW_WEIGHT, SG_WIDTH_CM, derivative, noise_sigma, sg_window, smooth

__all__ = [
    "MARKER_ALPHA",
    "MARKER_THRESHOLD",
    "WEIGHTS",
    "MarkerBand",
    "MarkerFileError",
    "MarkerMatch",
    "MarkerTable",
    "Peaks",
    "builtin_markers",
    "detect_peaks",
    "load_markers",
    "match_markers",
    "read_marker_file",
]

#: Words of the ``weight`` column and their numbers.
WEIGHTS: dict[str, float] = {"strong": 3.0, "medium": 2.0, "weak": 1.0}
#: Marker score below which a material is "no confident match".
MARKER_THRESHOLD = 0.6
#: Largest chance probability (``MarkerMatch.p_chance``) of a confident marker match.
MARKER_ALPHA = 0.003
#: A material is scored only if this fraction of its band weight is checkable.
MIN_CHECKABLE = 0.5
#: Peak prominence, as a fraction of the spectrum's range on the trusted bands.
REL_PROMINENCE = 0.03

_COLUMNS = ("material", "category", "band_cm1", "tolerance_cm1", "weight", "assignment", "source")
_REQUIRED = ("material", "band_cm1", "tolerance_cm1", "weight")


class MarkerFileError(ValueError):
    """A marker-band file that cannot be used; the message is one line ``"PATH: reason"``."""


@dataclass(frozen=True)
class MarkerBand:
    """One marker band of one material.

    Attributes
    ----------
    material : str
    category : str
        "pigment", "binder", "degradation product", ... (free text).
    band : float
        Position, cm⁻¹.
    tolerance : float
        Largest distance (cm⁻¹) of a detected peak that counts as this band.
    weight : float
        Relative importance (strong 3, medium 2, weak 1).
    strength : str
        The word of the file ("strong", "medium", "weak") or "custom" for a number.
    assignment : str
        The vibration, in words.
    source : str
        Where the position comes from (keys of ``marker_sources.csv`` for the built-in table).
    origin : str
        "built-in" or the path of the user file.
    """

    material: str
    category: str
    band: float
    tolerance: float
    weight: float
    strength: str
    assignment: str
    source: str
    origin: str = "built-in"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (band and tolerance in cm⁻¹)."""
        return {"band": self.band, "tolerance": self.tolerance, "weight": self.strength,
                "assignment": self.assignment, "source": self.source}


@dataclass(frozen=True)
class MarkerTable:
    """Marker bands of many materials, and the references their sources name.

    Attributes
    ----------
    bands : tuple of MarkerBand
    sources : dict
        Source key -> full reference (built-in keys; a user file may cite free text).
    """

    bands: tuple[MarkerBand, ...] = ()
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def materials(self) -> list[str]:
        """Material names in table order."""
        return list(dict.fromkeys(b.material for b in self.bands))

    def bands_of(self, material: str) -> list[MarkerBand]:
        """The marker bands of one material (empty if unknown)."""
        return [b for b in self.bands if b.material == material]

    def merge(self, other: MarkerTable) -> MarkerTable:
        """This table with ``other``'s materials added; a material in both takes ``other``'s bands."""
        replaced = set(other.materials)
        kept = tuple(b for b in self.bands if b.material not in replaced)
        return MarkerTable(bands=kept + other.bands, sources={**self.sources, **other.sources})

    def rows(self) -> list[dict[str, Any]]:
        """One dict per band with the file's columns (for tables and the docs)."""
        return [
            {"material": b.material, "category": b.category, "band_cm1": b.band,
             "tolerance_cm1": b.tolerance, "weight": b.strength if b.strength != "custom" else b.weight,
             "assignment": b.assignment, "source": b.source}
            for b in self.bands
        ]


def _data_lines(text: str) -> str:
    return "\n".join(ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#"))


def _number(where: str, name: str, text: str, lo: float, hi: float) -> float:
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise MarkerFileError(f"{where}: {name} {text!r} is not a number") from None
    if not (math.isfinite(value) and lo < value <= hi):
        raise MarkerFileError(f"{where}: {name} {text!r} must be in ({lo:g}, {hi:g}]")
    return value


def _parse(text: str, origin: str) -> tuple[MarkerBand, ...]:
    reader = csv.DictReader(io.StringIO(_data_lines(text)))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in _REQUIRED if c not in header]
    if missing:
        raise MarkerFileError(f"{origin}: missing column(s) {', '.join(missing)} "
                              f"(expected {', '.join(_COLUMNS)})")
    bands = []
    for n, raw in enumerate(reader, start=1):
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
        where = f"{origin}: data row {n}"
        material = row.get("material", "")
        if not material:
            raise MarkerFileError(f"{where}: empty material")
        band = _number(where, "band_cm1", row.get("band_cm1", ""), 0.0, 15000.0)
        tol = _number(where, "tolerance_cm1", row.get("tolerance_cm1", ""), 0.0, 500.0)
        wtext = row.get("weight", "").lower()
        if wtext in WEIGHTS:
            weight, strength = WEIGHTS[wtext], wtext
        else:
            weight, strength = _number(where, "weight", wtext, 0.0, 1e6), "custom"
        source = row.get("source", "") or f"user file {Path(origin).name}"
        bands.append(MarkerBand(material=material, category=row.get("category", ""), band=band,
                                tolerance=tol, weight=weight, strength=strength,
                                assignment=row.get("assignment", ""), source=source, origin=origin))
    if not bands:
        raise MarkerFileError(f"{origin}: no marker rows")
    return tuple(bands)


def _read_sources(text: str) -> dict[str, str]:
    reader = csv.DictReader(io.StringIO(_data_lines(text)))
    return {row["key"].strip(): row["reference"].strip() for row in reader}


_BUILTIN: MarkerTable | None = None


def builtin_markers() -> MarkerTable:
    """The built-in marker-band table (``identify/marker_bands.csv``) and its sources.

    Examples
    --------
    >>> table = builtin_markers()
    >>> [b.band for b in table.bands_of("calcium oxalate monohydrate (whewellite)")]
    [3340.0, 1620.0, 1317.0, 780.0]
    """
    global _BUILTIN
    if _BUILTIN is None:
        pkg = resources.files("ftir_unmix.identify")
        bands = _parse(pkg.joinpath("marker_bands.csv").read_text(encoding="utf-8"), "built-in")
        sources = _read_sources(pkg.joinpath("marker_sources.csv").read_text(encoding="utf-8"))
        _BUILTIN = MarkerTable(bands=bands, sources=sources)
    return _BUILTIN


def read_marker_file(path: str | os.PathLike[str]) -> MarkerTable:
    """Read a user's marker-band file (CSV with the built-in table's columns).

    Columns ``material``, ``band_cm1``, ``tolerance_cm1`` and ``weight`` are required;
    ``category``, ``assignment`` and ``source`` are optional. Lines starting with ``#`` are
    comments.

    Raises
    ------
    MarkerFileError
        One line ``"PATH: reason"`` (a missing column, a row whose number is not valid ...).
    """
    p = Path(os.fspath(path))
    try:
        text = p.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise MarkerFileError(f"{p}: cannot be read as a UTF-8 text file ({exc.__class__.__name__})") from None
    return MarkerTable(bands=_parse(text, str(p)))


def load_markers(*paths: str | os.PathLike[str], builtin: bool = True) -> MarkerTable:
    """The built-in table merged with user files (later files win for a material they name).

    Parameters
    ----------
    *paths : path-like
        User marker files (:func:`read_marker_file`).
    builtin : bool
        Start from the built-in table (False: the user files alone).
    """
    table = builtin_markers() if builtin else MarkerTable()
    for p in paths:
        table = table.merge(read_marker_file(p))
    return table


# ------------------------------------------------------------------ peaks


@dataclass(frozen=True)
class Peaks:
    """Peaks detected in a spectrum.

    Attributes
    ----------
    positions : ndarray (n,)
        cm⁻¹, ascending.
    prominences : ndarray (n,)
        Relative to the spectrum's range on the trusted bands (second-derivative peaks:
        the height of the spectrum there, relative to the range).
    density : float
        Peaks per cm⁻¹ of trusted range (for the chance correction).
    trusted_span : float
        cm⁻¹ of trusted bands.
    """

    positions: np.ndarray
    prominences: np.ndarray
    density: float
    trusted_span: float


def _refine(wn: np.ndarray, y: np.ndarray, i: int) -> float:
    """Sub-band position of a maximum at index ``i`` (parabola through 3 points)."""
    if 0 < i < y.size - 1:
        a, b, c = y[i - 1], y[i], y[i + 1]
        den = a - 2 * b + c
        if den < 0:
            off = 0.5 * (a - c) / den
            if abs(off) <= 1:
                return float(np.interp(i + off, np.arange(wn.size), wn))
    return float(wn[i])


def detect_peaks(
    wavenumbers: np.ndarray, values: np.ndarray, weights: np.ndarray, *,
    rel_prominence: float = REL_PROMINENCE,
) -> Peaks:
    """Peaks of a baseline-free spectrum, on the trusted bands only.

    Maxima of the Savitzky–Golay-smoothed spectrum with a prominence of at least
    ``rel_prominence`` of its range (and 4 noise standard deviations), plus shoulders:
    maxima of the negative second derivative where the spectrum stands at least
    ``2·rel_prominence`` of its range and no maximum lies within the smoothing window.
    Peaks on bands of weight below ``LOW_WEIGHT`` (the CO₂ region included) are dropped.

    Parameters
    ----------
    wavenumbers : ndarray, shape (B,)
        Ascending.
    values : ndarray, shape (B,)
        Baseline removed.
    weights : ndarray, shape (B,)
        Effective band weights (:func:`~ftir_unmix.identify._spectra.effective_weights`).
    rel_prominence : float
        Smallest prominence, fraction of the range.

    Returns
    -------
    Peaks
    """
    from scipy.signal import find_peaks, savgol_coeffs

    wn = np.asarray(wavenumbers, dtype=np.float64)
    x = np.asarray(values, dtype=np.float64)
    trusted = np.asarray(weights, dtype=np.float64) >= LOW_WEIGHT
    step = float(np.median(np.diff(wn))) if wn.size > 1 else 1.0
    span_cm = float(trusted.sum()) * step
    empty = Peaks(np.zeros(0), np.zeros(0), 0.0, span_cm)
    if trusted.sum() < 5:
        return empty
    xs = smooth(wn, x)
    lo, hi = float(xs[trusted].min()), float(xs[trusted].max())
    rng = hi - lo
    if not rng > 0:
        return empty
    sigma = noise_sigma(x[trusted])
    win = sg_window(wn)
    # noise standard deviations of the smoothed spectrum and of its second derivative
    s0, s2 = (sigma * float(np.linalg.norm(savgol_coeffs(win, p, deriv=d))) for p, d in ((2, 0), (3, 2)))
    idx, props = find_peaks(xs, prominence=max(rel_prominence * rng, 4.0 * sigma, 6.0 * s0))
    keep = trusted[idx]
    idx, prom = idx[keep], props["prominences"][keep] / rng
    positions = [_refine(wn, xs, i) for i in idx]
    proms = list(prom)
    # shoulders: maxima of -d2 on a clearly absorbing band, away from the maxima found
    d2 = -derivative(wn, x, 2)
    d2_rng = float(np.ptp(d2[trusted]))
    if d2_rng > 0:
        jdx, _ = find_peaks(d2, prominence=max(0.05 * d2_rng, 6.0 * s2))
        level = max(2 * rel_prominence * rng, 4.0 * sigma)
        for j in jdx:
            if not trusted[j] or xs[j] - lo < level:
                continue
            pos = _refine(wn, d2, j)
            if positions and min(abs(pos - q) for q in positions) <= max(0.5 * SG_WIDTH_CM, 2 * step):
                continue
            positions.append(pos)
            proms.append((xs[j] - lo) / rng)
    order = np.argsort(positions)
    pos_arr = np.asarray(positions, dtype=np.float64)[order]
    prom_arr = np.asarray(proms, dtype=np.float64)[order]
    density = pos_arr.size / span_cm if span_cm > 0 else 0.0
    return Peaks(pos_arr, prom_arr, density, span_cm)


# ------------------------------------------------------------------ marker score


@dataclass(frozen=True)
class MarkerMatch:
    """How one material's marker bands fit a spectrum's peaks.

    Attributes
    ----------
    material : str
    score : float
        Weighted fraction matched less the fraction expected by chance (module
        description); 0 if not scored.
    fraction : float
        Weighted fraction of the checkable bands matched (before the chance correction).
    matched : list of (MarkerBand, peak position)
    missing : list of MarkerBand
    unchecked : list of (MarkerBand, reason)
    scored : bool
        False when less than half the material's band weight is checkable.
    p_chance : float
        Probability that peaks placed at random at the spectrum's peak density match bands of
        at least the matched weight (1 when not scored).
    explained : float
        Sum of the relative prominences of the distinct peaks its bands matched (a tie-break:
        the material that accounts for the spectrum's main peaks ranks first).
    confident : bool
        ``score ≥ MARKER_THRESHOLD``, ``p_chance ≤ MARKER_ALPHA``, no checkable strong band
        missing, at least two bands matched.
    """

    material: str
    score: float
    fraction: float
    matched: list[tuple[MarkerBand, float]]
    missing: list[MarkerBand]
    unchecked: list[tuple[MarkerBand, str]]
    scored: bool
    confident: bool
    p_chance: float = 1.0
    explained: float = 0.0


def _why_unchecked(wn: np.ndarray, w: np.ndarray, band: float) -> str | None:
    if band < wn[0] or band > wn[-1]:
        return f"outside the measured range {wn[0]:.0f}-{wn[-1]:.0f} cm-1"
    if CO2_REGION[0] <= band <= CO2_REGION[1]:
        return "in the atmospheric CO2 region"
    wb = float(np.interp(band, wn, w))
    if wb < LOW_WEIGHT:
        return f"band weight {wb:.2f} (distrusted band)"
    return None


def _tail_probability(chances: list[tuple[float, float]], observed: float) -> float:
    """P(Σ weight·X ≥ observed) for independent X ~ Bernoulli(p): the weight distribution by
    convolution (sums rounded to 0.01, so the table stays small even for many bands)."""
    dist: dict[float, float] = {0.0: 1.0}
    for weight, p in chances:
        nxt: dict[float, float] = {}
        for total, prob in dist.items():
            for add, q in ((0.0, 1.0 - p), (weight, p)):
                key = round(total + add, 2)
                nxt[key] = nxt.get(key, 0.0) + prob * q
        dist = nxt
    return float(min(1.0, sum(prob for total, prob in dist.items() if total >= round(observed, 2) - 1e-9)))


def match_markers(
    table: MarkerTable, wavenumbers: np.ndarray, weights: np.ndarray, peaks: Peaks, *,
    threshold: float = MARKER_THRESHOLD, alpha: float = MARKER_ALPHA,
) -> list[MarkerMatch]:
    """Score every material of ``table`` against detected ``peaks`` (best first).

    Parameters
    ----------
    table : MarkerTable
    wavenumbers : ndarray, shape (B,)
    weights : ndarray, shape (B,)
        Effective band weights.
    peaks : Peaks
        From :func:`detect_peaks`.
    threshold : float
        Marker score of a confident match.
    alpha : float
        Largest chance probability of a confident match.

    Returns
    -------
    list of MarkerMatch
        Confident first, then by score, then by ``explained``.
    """
    wn = np.asarray(wavenumbers, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    out = []
    for material in table.materials:
        bands = table.bands_of(material)
        matched: list[tuple[MarkerBand, float]] = []
        used: set[int] = set()
        missing: list[MarkerBand] = []
        unchecked: list[tuple[MarkerBand, str]] = []
        got = total = expected = 0.0
        chances: list[tuple[float, float]] = []
        for b in bands:
            why = _why_unchecked(wn, w, b.band)
            if why is not None:
                unchecked.append((b, why))
                continue
            total += b.weight
            p_m = 1.0 - math.exp(-peaks.density * 2.0 * b.tolerance)
            chances.append((b.weight, p_m))
            expected += b.weight * p_m
            if peaks.positions.size:
                k = int(np.argmin(np.abs(peaks.positions - b.band)))
                if abs(peaks.positions[k] - b.band) <= b.tolerance:
                    matched.append((b, float(peaks.positions[k])))
                    used.add(k)
                    got += b.weight
                    continue
            missing.append(b)
        all_weight = sum(b.weight for b in bands)
        scored = total > 0 and total >= MIN_CHECKABLE * all_weight
        fraction = got / total if total > 0 else 0.0
        chance = expected / total if total > 0 else 0.0
        score = max(0.0, fraction - chance) if scored else 0.0
        strong_missing = any(b.weight >= WEIGHTS["strong"] for b in missing)
        p_chance = _tail_probability(chances, got) if scored else 1.0
        confident = (scored and score >= threshold and p_chance <= alpha and not strong_missing
                     and len(matched) >= 2)
        explained = float(sum(peaks.prominences[k] for k in used))
        out.append(MarkerMatch(material, score, fraction, matched, missing, unchecked, scored, confident,
                               p_chance, explained))
    out.sort(key=lambda m: (m.confident, round(m.score, 6), m.explained), reverse=True)
    return out
