"""Names for the endmembers in the Spectra panel: candidates, overlays, trust (no Qt here).

The Spectra panel wires these into its "names" rows:

- :func:`identify_endmembers` (run in a worker thread) asks
  :func:`ftir_unmix.identify.identify` for candidates per endmember: the
  built-in marker bands always, the user's reference library when one is loaded;
- :func:`candidate_rows` turns one endmember's candidates into list rows
  (``"no confident match"`` first when the engine has none);
- :func:`reference_overlay` and :func:`marker_spans` give what the plot draws
  for a chosen candidate: its reference spectrum scaled to the endmember, and
  its marker bands;
- :func:`accepted_names` and :func:`rename_result_layers` name the maps
  (``"<name> abundance"``), the legend and the result after the accepted candidates;
- :func:`trust_labels` and :func:`doubt_text` show how much to trust each
  endmember (``parameters["trust"]`` of the run record, :mod:`ftir_unmix.trust`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..identify import Candidate, Library, Reference, best_match, identify, load_library
from ..result import UnmixResult, scale_to
from ..trust import run_notes
from ._layers import RESULT_KEY

__all__ = [
    "NO_MATCH",
    "CandidateRow",
    "accepted_names",
    "candidate_label",
    "candidate_rows",
    "doubt_text",
    "identify_endmembers",
    "library_summary",
    "marker_spans",
    "reference_overlay",
    "rename_result_layers",
    "trust_labels",
    "trust_of",
    "unique_names",
]

#: The engine's words when no candidate passes its threshold.
NO_MATCH = "no confident match"
_KINDS = {"library": "library", "markers": "marker bands", "mixture": "mixture"}


@dataclass(frozen=True)
class CandidateRow:
    """One row of the candidates list: its text and the candidate (None: keep the name)."""

    label: str
    candidate: Candidate | None


def identify_endmembers(
    endmembers: np.ndarray | None,
    wavenumbers: np.ndarray | None,
    weights: np.ndarray | None = None,
    library: Library | str | os.PathLike[str] | Iterable[str | os.PathLike[str]] | None = None,
) -> tuple[Library | None, list[list[Candidate]] | None]:
    """Load the library (when given as paths) and identify every endmember.

    Meant for a worker thread: reading a library folder and scoring take a while.

    Parameters
    ----------
    endmembers : ndarray (B, K) or None
        None: only load the library (no result to name yet).
    wavenumbers : ndarray (B,) or None
    weights : ndarray (B,), optional
        The run's band-reliability weights (distrusted bands count little).
    library : Library, path(s) or None
        None: the built-in marker bands only.

    Returns
    -------
    (Library or None, list of list of Candidate or None)
        The loaded library (its ``problems`` list the files skipped) and, per
        endmember in order, its candidates best first.
    """
    lib = library if library is None or isinstance(library, Library) else load_library(library)
    if endmembers is None or wavenumbers is None:
        return lib, None
    # Keys EM1…EMK rather than the shown names: renamed maps may repeat a name.
    found = identify(endmembers, wavenumbers, None, library=lib, weights=weights)
    return lib, [list(v) for v in found.values()]


def library_summary(library: Library | None, *, busy: bool = False) -> str:
    """One line on what the names come from (and ``identifying…`` while the worker runs)."""
    if library is None:
        text = "names from the built-in marker bands; add your reference spectra with Reference library…"
    else:
        text = f"{len(library)} reference spectra + the built-in marker bands"
        if library.problems:
            text += f" · {len(library.problems)} file(s) skipped"
    return text + (" · identifying…" if busy else "")


def candidate_label(c: Candidate) -> str:
    """``"0.93  lead white · library"`` (a ``✓`` marks a confident candidate)."""
    mark = "✓" if c.confident else "  "
    return f"{mark} {c.score:.2f}  {c.name} · {_KINDS.get(c.kind, c.kind)}"


def candidate_rows(candidates: Sequence[Candidate]) -> list[CandidateRow]:
    """The list rows for one endmember: ``NO_MATCH`` first when none is confident."""
    rows = [] if best_match(candidates) is not None else [CandidateRow(f"{NO_MATCH} (keep the name)", None)]
    rows += [CandidateRow(candidate_label(c), c) for c in candidates]
    # list widgets tell rows apart by their text: two equal labels would merge
    labels = unique_names([r.label for r in rows])
    return [CandidateRow(label, r.candidate) for label, r in zip(labels, rows, strict=True)]


def _on_grid(ref: Reference, wn: np.ndarray) -> np.ndarray:
    """``ref`` linearly interpolated onto ``wn`` (ascending), NaN outside its range."""
    y = np.interp(wn, ref.wavenumbers, ref.values)
    y[(wn < ref.wavenumbers[0]) | (wn > ref.wavenumbers[-1])] = np.nan
    return y


def _reference_named(library: Library, name: str, source: str) -> Reference | None:
    for ref in library.entries:
        if ref.name == name and ref.source == source:
            return ref
    return next((ref for ref in library.entries if ref.name == name), None)


def reference_overlay(candidate: Candidate | None, library: Library | None, wavenumbers: np.ndarray,
                      endmember: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The candidate's reference spectrum on the endmember's bands, scaled to it.

    Library candidates: the reference times its least-squares scale
    (:func:`~ftir_unmix.result.scale_to`) on the bands both cover; mixtures: the
    nonnegative least-squares combination of their two references. Marker
    candidates have no spectrum (None).

    Returns
    -------
    (wavenumbers, values) or None
        Only the bands the reference covers.
    """
    if candidate is None or library is None or candidate.kind == "markers":
        return None
    wn = np.asarray(wavenumbers, dtype=np.float64)
    em = np.asarray(endmember, dtype=np.float64)
    order = np.argsort(wn)
    wn, em = wn[order], em[order]
    parts = ([(candidate.name, candidate.source)] if candidate.kind == "library"
             else [(c["name"], c["source"]) for c in candidate.components])
    refs = [_reference_named(library, name, source) for name, source in parts]
    if not refs or any(r is None for r in refs):
        return None
    columns = np.column_stack([_on_grid(r, wn) for r in refs])
    keep = np.all(np.isfinite(columns), axis=1)
    if keep.sum() < 2:
        return None
    if columns.shape[1] == 1:
        fitted = scale_to(em[keep], columns[keep, 0])
    else:
        from scipy.optimize import nnls

        coef, _ = nnls(columns[keep], em[keep])
        fitted = columns[keep] @ coef
    return wn[keep], fitted


def marker_spans(candidate: Candidate | None) -> list[tuple[float, float, bool]]:
    """``(low, high, matched)`` per marker band of the candidate (band ± its tolerance).

    Matched bands were found in the endmember; the others are missing from it.
    For library candidates the bands are the reference's most prominent peaks.
    """
    if candidate is None:
        return []
    out = []
    for key, matched in (("matched", True), ("missing", False)):
        for item in candidate.markers.get(key, []):
            band, tol = float(item["band"]), float(item.get("tolerance") or 5.0)
            out.append((band - tol, band + tol, matched))
    return out


def unique_names(names: Sequence[str]) -> list[str]:
    """The names made unique: a repeated name gets `` 2``, `` 3`` … (in order)."""
    taken: set[str] = set()
    out = []
    for raw in names:
        name = str(raw).strip() or "endmember"
        if name in taken:
            n = 2
            while f"{name} {n}" in taken:
                n += 1
            name = f"{name} {n}"
        taken.add(name)
        out.append(name)
    return out


def accepted_names(current: Sequence[str], accepted: Sequence[Candidate | None]) -> list[str]:
    """The names the maps get: each accepted candidate's name, else the current name, made unique."""
    return unique_names([c.name if c is not None else n for n, c in zip(current, accepted, strict=True)])


def rename_result_layers(layers: Sequence[Any], result: UnmixResult, names: Sequence[str]) -> None:
    """Name a result's maps (``"<name> abundance"``), their metadata and the result itself.

    The result's ``names`` (what a session saves) and the run record in the
    maps' metadata change with them, so exports and a reopened session keep
    the new names.

    Parameters
    ----------
    layers : sequence of napari layers
        The result's abundance maps (``metadata[RESULT_KEY]["index"]`` says which endmember).
    result : UnmixResult
    names : sequence of str
        One unique name per endmember.
    """
    names = [str(n) for n in names]
    if len(names) != result.k or len(set(names)) != len(names):
        raise ValueError(f"{result.k} unique names needed, got {names}")
    result.names = list(names)
    for layer in layers:
        info = layer.metadata[RESULT_KEY]
        info["names"] = list(names)
        info["name"] = names[info["index"]]
        record = info.get("record")
        if isinstance(record, dict):
            record["names"] = list(names)
    # metadata first: whoever listens to the name event reads the new names
    for layer in layers:
        layer.name = f"{names[layer.metadata[RESULT_KEY]['index']]} abundance"


def trust_of(result: UnmixResult | None) -> list[dict[str, Any]] | None:
    """``parameters["trust"]`` of the result, or None (older records have none)."""
    if result is None:
        return None
    trust = result.parameters.get("trust")
    if not isinstance(trust, list) or len(trust) != result.k:
        return None
    if not all(isinstance(t, dict) and "abundance_share" in t and "dominant_pixels" in t for t in trust):
        return None
    return trust


def trust_labels(result: UnmixResult | None, names: Sequence[str]) -> list[str]:
    """Per endmember ``"EM1 · spread 2.1° · purest 93 % · share 31 %"`` (just the names without a
    trust record; each part only where the record has it)."""
    trust = trust_of(result)
    if trust is None:
        return [str(n) for n in names]
    out = []
    for name, t in zip(names, trust, strict=True):
        spread = t.get("restart_spread_deg")
        parts = [str(name)]
        if spread is not None:
            parts.append(f"spread {float(spread):.1f}°")
        purest = t.get("purest_abundance")  # records written before stop 75 have none
        if purest is not None:
            parts.append(f"purest {100 * float(purest):.0f} %")
        parts.append(f"share {100 * float(t['abundance_share']):.0f} %")
        out.append(" · ".join(parts))
    return out


def doubt_text(result: UnmixResult | None, names: Sequence[str]) -> str:
    """:func:`ftir_unmix.trust.run_notes` one a line, notes marked ℹ and doubts ⚠; empty when none."""
    trust = trust_of(result)
    if result is None or trust is None:
        return ""
    return "\n".join(f"{'ℹ' if kind == 'note' else '⚠'} {text}"
                     for kind, text in run_notes(result.parameters, trust, list(names)))
