"""An identification as JSON-ready data and as a text table (what ``ftir-unmix identify`` prints)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .match import Candidate, best_match

__all__ = ["format_identification", "identification_to_json", "summary"]


def identification_to_json(result: Mapping[str, Sequence[Candidate]]) -> dict[str, list[dict[str, Any]]]:
    """``{endmember name: [candidate dict, …]}``, ready for ``json.dumps``.

    Each candidate dict has at least ``name``, ``score``, ``source`` and ``markers``
    (``{"matched": [...], "missing": [...], "unchecked": [...]}``), and ``kind`` and
    ``confident`` (see :class:`~ftir_unmix.identify.Candidate`).
    """
    return {str(name): [c.to_dict() for c in cands] for name, cands in result.items()}


def summary(result: Mapping[str, Sequence[Candidate]]) -> dict[str, str]:
    """One answer per endmember: the best confident candidate's name, or ``"no confident match"``."""
    out = {}
    for name, cands in result.items():
        best = best_match(cands)
        out[str(name)] = best.name if best is not None else "no confident match"
    return out


def _bands(items: Sequence[Mapping[str, Any]], with_peak: bool) -> str:
    if not items:
        return "-"
    parts = []
    for it in items:
        band = f"{it['band']:.0f}"
        parts.append(f"{band} (at {it['peak']:.0f})" if with_peak and "peak" in it else band)
    return ", ".join(parts)


def _scores(c: Candidate) -> str:
    if c.kind == "markers":
        p = f", chance {c.p_chance:.1g}" if c.p_chance is not None else ""
        n_ok, n_missing = len(c.markers.get("matched", [])), len(c.markers.get("missing", []))
        return f"{n_ok} of {n_ok + n_missing} bands{p}"
    text = f"HQI {c.hqi:.0f}, HQI' {c.hqi_derivative:.0f}, angle {c.sad_deg:.1f} deg"
    if c.kind == "mixture" and c.components:
        text = " + ".join(f"{comp['fraction'] * 100:.0f}% {comp['name']}" for comp in c.components) + "; " + text
    return text


def _wrap(prefix: str, text: str, width: int) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width=width, initial_indent=prefix, subsequent_indent=" " * len(prefix),
                         break_long_words=False, break_on_hyphens=False) or [prefix.rstrip()]


def format_identification(result: Mapping[str, Sequence[Candidate]], *, width: int = 100) -> str:
    """A readable report: per endmember its answer, then each candidate with its evidence.

    Parameters
    ----------
    result : dict
        From :func:`~ftir_unmix.identify.identify`.
    width : int
        Lines are wrapped at this many characters.

    Returns
    -------
    str
        Lines ending in a newline. ``*`` marks a confident candidate.
    """
    lines: list[str] = []
    for name, cands in result.items():
        best = best_match(cands)
        if best is not None:
            head = f"{name}: {best.name}  [{best.kind}, score {best.score:.2f}]"
            also = [c.name for c in cands if c.confident and c is not best]
            if also:
                head += "; also confident: " + "; ".join(also)
        elif cands:
            head = f"{name}: no confident match (best: {cands[0].name}, score {cands[0].score:.2f})"
        else:
            head = f"{name}: no confident match (nothing to compare)"
        lines.extend(_wrap("", head, width))
        for i, c in enumerate(cands, start=1):
            mark = "*" if c.confident else " "
            lines.extend(_wrap(f"  {i:>2}{mark} {c.score:4.2f} {c.kind:8} ", f"{c.name} ({_scores(c)})", width))
            pad = " " * 20
            lines.extend(_wrap(pad + "matched: ", _bands(c.markers.get("matched", []), True), width))
            lines.extend(_wrap(pad + "missing: ", _bands(c.markers.get("missing", []), False), width))
            lines.extend(_wrap(pad + "source: ", c.source, width))
            for note in c.notes:
                lines.extend(_wrap(pad + "note: ", note, width))
        lines.append("")
    return "\n".join(lines)
