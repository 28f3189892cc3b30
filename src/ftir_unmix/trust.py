"""How much to trust each endmember of a result.

The measures below, recorded in the run record under ``trust`` (one entry per
endmember) and shown by the command line and the Spectra panel:

- **restart spread** (CNN with ``restarts ≥ 2``): the largest spectral angle
  between the endmember and its Hungarian-matched spectrum in the other
  restarts. A spectrum that comes out differently depending on where training
  started is one the data does not pin down (docs/benchmarks.md measures how
  the spread relates to the error against the truth).
- **purest pixels**: how nearly pure the endmember's purest pixels are in its map
  (:func:`purest_abundance`). A spectrum some pixels show nearly pure is held by them
  whatever the restarts did; one no pixel shows pure is an extrapolation, and restarts
  that disagree about it say that the data leave it open. A moderate spread is a doubt
  only there (:data:`PINNED_ABUNDANCE`); a large one (:data:`SPREAD_ALONE_DEG`) always.
- **found by the refinement**: the endmember the refinement put in (an
  accepted replacement, docs/method.md item 7). No restart found it, so its
  spread says that, not that the spectrum is unstable; its doubt says so.
- **found by the spot check**: the endmember the spot check put in
  (:mod:`ftir_unmix.methods.cnn.spot_check`): the spectrum of a spot of a few
  pixels that no other endmember explained, held as found (or, where its map reached
  more than a spot, fitted from there by the polish). It has no restart spread; its
  doubt says where the spot is.
- **below its baseline** (methods with a baseline term): the share of the spectrum's
  mass below its own baseline by more than its noise reaches
  (:func:`~ftir_unmix.preprocess.background.below_baseline_share`).
  A material's spectrum lies on its baseline outside its bands; one with dips where
  other materials absorb is a difference of spectra that the baseline term let through,
  not a material (docs/benchmarks.md §0).
- **atmospheric lines**: the share of the spectrum's norm in lines narrower than 4 cm⁻¹
  (:func:`~ftir_unmix.preprocess.narrow_line_share`). Above
  :data:`~ftir_unmix.preprocess.ATMOSPHERE_LINE_SHARE` it is drifting water vapour, not a
  material (with the spare on, such a run is trained again and the vapour dropped).
- **known spectrum** (runs given known spectra): the angle between the endmember and the
  known spectrum that held it, as the loss saw both. Held by a weight, an endmember
  ends far from its reference only where the data disagree with it: the reference may
  not match the material in this sample.
- **share**: the mean abundance of the endmember (its share of what the image
  contains) and the share of pixels where it is the largest abundance. An
  endmember that explains almost nothing may be noise, an artefact or a
  material split in two.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .preprocess.atmosphere import ATMOSPHERE_LINE_SHARE

__all__ = ["BELOW_BASELINE_DOUBT", "KNOWN_DOUBT_DEG", "PINNED_ABUNDANCE", "PURE_PIXELS", "SMALL_SHARE",
           "SPREAD_ALONE_DEG", "SPREAD_DOUBT_DEG", "anchor_note", "doubts", "atmosphere_note", "edge_note",
           "endmember_trust", "listed", "polish_note", "purest_abundance", "residual_spot_note", "run_notes",
           "spare_note"]

#: A restart spread above this (degrees) is reported as a doubt where the endmember's purest
#: pixels stay under :data:`PINNED_ABUNDANCE` of it; above :data:`SPREAD_ALONE_DEG`, always.
SPREAD_DOUBT_DEG = 5.0
#: A restart spread above this (degrees) is reported as a doubt however pure the endmember's pixels.
SPREAD_ALONE_DEG = 20.0
#: Purest pixels (:func:`purest_abundance`) at least this pure hold an endmember's spectrum: a
#: spread up to :data:`SPREAD_ALONE_DEG` is then not a doubt. Stop 75, fresh blind and family runs:
#: every material more than 10° off still doubted (42 of 42), the right ones 65 of 156 instead of
#: 107 (docs/benchmarks.md, "A moderate restart spread is a doubt only where no pixel is nearly pure").
PINNED_ABUNDANCE = 0.8
#: A spectrum with more than this share of its mass below its own baseline is reported as a
#: doubt (the mass deeper than its noise, :data:`~ftir_unmix.preprocess.BELOW_NOISE_SIGMAS`: true
#: spectra of the held-out scenes 0.003–0.006, the blind scenes' measured resin 0.02–0.04,
#: difference spectra 0.055–0.26) and, counting all of it, trains a run again with a spare.
BELOW_BASELINE_DOUBT = 0.05
#: An endmember held by a known spectrum that ends further than this (degrees) from it is
#: reported as a doubt.
KNOWN_DOUBT_DEG = 5.0
#: An endmember with less than this share of the abundance and of the pixels is reported as minor.
SMALL_SHARE = 0.01
#: How many of an endmember's purest pixels :func:`purest_abundance` reads: enough that one odd
#: pixel does not count as a pure one, few enough that a spot of a minor material does.
PURE_PIXELS = 5


def purest_abundance(abundances: np.ndarray) -> np.ndarray:
    """Per endmember (K,), the :data:`PURE_PIXELS`-th largest abundance of its map: how nearly
    pure its purest pixels are (all of them where the map has fewer pixels).

    Examples
    --------
    >>> purest_abundance(np.array([[0.9, 0.95, 0.97, 0.99, 1.0, 0.1], [0.1, 0.05, 0.03, 0.01, 0.0, 0.9]]))
    array([0.9 , 0.01])
    """
    a = np.asarray(abundances, dtype=np.float64).reshape(len(abundances), -1)
    n = min(PURE_PIXELS, a.shape[1])
    return np.partition(a, a.shape[1] - n, axis=1)[:, a.shape[1] - n]


def endmember_trust(abundances: np.ndarray, spread_deg: Sequence[float] | None = None,
                    refined: int | None = None,
                    below_baseline: Sequence[float] | None = None,
                    known_deg: Sequence[float] = (),
                    narrow_lines: Sequence[float] | None = None,
                    spotted: tuple[int, list[int]] | None = None) -> list[dict[str, Any]]:
    """Per endmember: ``abundance_share``, ``dominant_pixels``, ``purest_abundance``,
    ``restart_spread_deg``, ``found_by_refinement``, ``found_at_spot``, ``below_baseline``,
    ``known_angle_deg`` and ``narrow_lines``.

    Parameters
    ----------
    abundances : ndarray (K, H, W) or (K, N)
    spread_deg : sequence of float, optional
        The restart spread per endmember (None when the run had one start).
    refined : int, optional
        The endmember an accepted refinement replaced (None when there was none).
    below_baseline : sequence of float, optional
        Per endmember, the share of its spectrum below its own baseline (None without a
        baseline term).
    known_deg : sequence of float, optional
        For the first endmembers, held by known spectra: the angle to each one's spectrum.
    narrow_lines : sequence of float, optional
        Per endmember, the share of its spectrum in narrow (atmospheric) lines.
    spotted : (int, [row, col]), optional
        The endmember the spot check put in and the spot's pixel: it has no restart spread
        and was not the refinement's.

    Returns
    -------
    list of dict
        ``abundance_share`` (mean abundance over the image divided by the
        total, so the shares add up to 1), ``dominant_pixels`` (fraction of
        pixels where the endmember has the largest abundance), ``purest_abundance``
        (:func:`purest_abundance`) and
        ``restart_spread_deg`` (float or None), ``found_by_refinement`` (bool),
        ``found_at_spot`` ([row, col] or None), ``below_baseline``, ``known_angle_deg`` and
        ``narrow_lines`` (float or None).
    """
    a = np.asarray(abundances, dtype=np.float64).reshape(len(abundances), -1)
    mass = a.sum(axis=1)
    share = mass / mass.sum() if mass.sum() > 0 else np.zeros(len(a))
    dominant = np.bincount(np.argmax(a, axis=0), minlength=len(a)) / max(a.shape[1], 1)
    purest = purest_abundance(a)
    spread = [None] * len(a) if spread_deg is None else [float(v) for v in spread_deg]
    below = [None] * len(a) if below_baseline is None else [float(v) for v in below_baseline]
    known = [float(v) for v in known_deg] + [None] * (len(a) - len(known_deg))
    lines = [None] * len(a) if narrow_lines is None else [float(v) for v in narrow_lines]
    spot, pixel = (None, None) if spotted is None else spotted
    return [{"abundance_share": float(s), "dominant_pixels": float(d), "purest_abundance": float(p),
             "restart_spread_deg": None if j == spot else v,
             "found_by_refinement": j == refined and j != spot, "found_at_spot": list(pixel) if j == spot else None,
             "below_baseline": u, "known_angle_deg": g, "narrow_lines": n}
            for j, (s, d, p, v, u, g, n) in enumerate(zip(share, dominant, purest, spread, below, known, lines))]


def doubts(trust: Sequence[dict[str, Any]], names: Sequence[str]) -> dict[str, str]:
    """One sentence per endmember that deserves doubt (the others are left out).

    Examples
    --------
    >>> doubts([{"abundance_share": 0.3, "dominant_pixels": 0.4, "restart_spread_deg": 9.2,
    ...          "purest_abundance": 0.62}], ["EM4"])
    {'EM4': 'EM4 varies by 9.2° between restarts and no pixel is more than 62 % of it: doubt its spectrum and map'}

    A spread under :data:`SPREAD_ALONE_DEG` of a spectrum whose purest pixels hold it is no doubt:

    >>> doubts([{"abundance_share": 0.3, "dominant_pixels": 0.4, "restart_spread_deg": 9.2,
    ...          "purest_abundance": 0.93}], ["EM4"])
    {}
    """
    out = {}
    for name, t in zip(names, trust):
        parts = []
        spread = t.get("restart_spread_deg")
        spot = t.get("found_at_spot")  # records written before this key have no such entry
        if spot is not None:
            parts.append(f"was put in from a spot at row {spot[0]}, column {spot[1]} that no other endmember "
                         "explained, in place of the one the image needed least: check its map")
        elif t.get("found_by_refinement"):  # records written before this key have no such entry
            parts.append("was found only by the refinement (a small spot or thin layer?): "
                         "check its map")
        elif spread is not None and spread > SPREAD_DOUBT_DEG:
            purest = t.get("purest_abundance")  # records written before this key have none: the spread alone
            if spread > SPREAD_ALONE_DEG or purest is None:
                parts.append(f"varies by {spread:.1f}° between restarts: doubt its spectrum and map")
            elif purest < PINNED_ABUNDANCE:
                parts.append(f"varies by {spread:.1f}° between restarts and no pixel is more than "
                             f"{100 * purest:.0f} % of it: doubt its spectrum and map")
        below = t.get("below_baseline")  # records written before this key have no such entry
        if below is not None and below > BELOW_BASELINE_DOUBT:
            parts.append(f"dips below its own baseline where other materials absorb ({100 * below:.0f} % "
                         "of its spectrum): a difference of spectra rather than one material")
        lines = t.get("narrow_lines")  # records written before this key have no such entry
        if lines is not None and lines > ATMOSPHERE_LINE_SHARE:
            parts.append(f"is mostly narrow lines ({100 * lines:.0f} % of its spectrum): drifting water "
                         "vapour rather than a material")
        held = t.get("known_angle_deg")  # runs without known spectra have none
        if held is not None and held > KNOWN_DOUBT_DEG:
            parts.append(f"ends {held:.1f}° from the known spectrum that held it: the reference may not "
                         "match the material in this sample")
        if t["abundance_share"] < SMALL_SHARE and t["dominant_pixels"] < SMALL_SHARE:
            parts.append(f"explains {100 * t['abundance_share']:.1f} % of the image and dominates "
                         f"{100 * t['dominant_pixels']:.1f} % of the pixels: a minor material, noise or an artefact")
        if parts:
            out[name] = f"{name} " + "; ".join(parts)
    return out


def spare_note(parameters: dict[str, Any]) -> str | None:
    """The sentence that says a run was trained again with a spare endmember, and why, and whether
    the spare's choice was a close call; None when there is nothing to say.

    Examples
    --------
    >>> spare_note({"spare_endmembers": {"reason": "EM6 of the first run was 29% below its own baseline",
    ...                                  "trained_k": 7, "dropped": [{"column": 5, "cost_deg": 1.0}]}})
    'EM6 of the first run was 29% below its own baseline: trained again with 7 endmembers, the spare dropped'

    A drop nearly tied with a spectrum that was kept (``close_calls``,
    :func:`ftir_unmix.methods.cnn.spare.close_calls`) is said too, also where the spare was asked for.
    """
    spare = parameters.get("spare_endmembers")
    if not spare:
        return None
    if spare.get("second_run") == "cancelled":
        return f"{spare['reason']}: the second run, with a spare endmember, was cancelled; this is the first"
    close = "; ".join(
        f"a close call: EM{c['kept_em']} was needed nearly as little as the spectrum dropped "
        f"({c['cost_deg']:.1f}° against {c['dropped_cost_deg']:.1f}°); if a material is missing, it may have "
        "been dropped for a variant of another: compare a run with one endmember more"
        for c in spare.get("close_calls", []))  # records written before this key have none
    if spare.get("reason") == "asked for":
        return close or None
    said = f"{spare['reason']}: trained again with {spare['trained_k']} endmembers, the spare dropped"
    return f"{said}; {close}" if close else said


def atmosphere_note(parameters: dict[str, Any]) -> str | None:
    """The sentence that says which atmospheric components the run estimated and fitted; None when none.

    Examples
    --------
    >>> atmosphere_note({"preprocessing": {"atmosphere": {"found": ["water vapour", "CO2"]}}})
    'water vapour and CO2 drift across the image: estimated from it and fitted in every pixel with the baseline'
    """
    found = parameters.get("preprocessing", {}).get("atmosphere")
    names = found.get("found") if isinstance(found, dict) else None  # "off" when not looked for
    if not names:
        return None
    verb = "drifts" if len(names) == 1 else "drift"
    return (f"{' and '.join(names)} {verb} across the image: estimated from it and fitted in every pixel "
            "with the baseline")


def listed(words: Sequence[str]) -> str:
    """``"EM1"``, ``"EM1 and EM2"``, ``"EM1, EM2 and EM3"``: the words as a sentence names them."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def edge_note(parameters: dict[str, Any], names: Sequence[str]) -> str | None:
    """The sentence that names the spectra taken out to the edge of nonnegativity (``edge_below``,
    :mod:`ftir_unmix.methods.cnn.nonneg_edge`); None when none was.

    Examples
    --------
    >>> note = edge_note({"polished": {"edge": {"below": 0.7, "step": [0.0, 0.42, 0.0]}}}, ["EM1", "EM2", "EM3"])
    >>> note.split(":")[0]
    "The spectrum of EM2 held other materials' bands (no pixel shows it pure)"
    """
    edge = (parameters.get("polished") or {}).get("edge")
    moved = [name for name, step in zip(names, edge["step"]) if step > 0] if edge else []
    if not moved:
        return None
    who = listed(moved)
    spectrum, it, was, estimate = (("spectrum", "it", "it was", "an estimate") if len(moved) == 1
                                   else ("spectra", "them", "they were", "estimates"))
    return (f"The {spectrum} of {who} held other materials' bands (no pixel shows {it} pure): {was} taken away "
            f"from those materials up to where one of their bands would turn {it} negative, {estimate} beyond "
            f"what any pixel shows")


def anchor_note(parameters: dict[str, Any], names: Sequence[str]) -> str | None:
    """The sentence that names the spectra put on their pure pixels (``pure_anchor``,
    :mod:`ftir_unmix.methods.cnn.pure_anchor`) and those left as fitted because their purest
    pixels drift as they are narrowed (``anchor_graded``: a layer graded into its neighbours, no
    region pure); None when neither.

    Examples
    --------
    >>> anchor_note({"polished": {"anchor": {"share": 0.95, "pure_pixels": [2130, 0, 12],
    ...                                      "moved_deg": [14.0, 0.0, 0.0]}}}, ["EM1", "EM2", "EM3"])
    'EM1 covers a region pure (2130 pixels at 0.95 or more): its spectrum is their mean, 14.0° from the fit'
    >>> anchor_note({"polished": {"anchor": {"share": 0.95, "area": 0.33, "pure_pixels": [930, 0, 12],
    ...                                      "moved_deg": [9.6, 0.0, 0.0]}}}, ["EM1", "EM2", "EM3"])
    'EM1 covers a region nearly pure (its 930 purest pixels): its spectrum is their mean, 9.6° from the fit'
    >>> print(anchor_note({"polished": {"anchor": {"share": 0.95, "area": 0.33, "graded": 2.0, "drifted": [1],
    ...                                            "pure_pixels": [930, 0, 12], "moved_deg": [9.6, 0.0, 0.0]}}},
    ...                   ["EM1", "EM2", "EM3"]))  # doctest: +NORMALIZE_WHITESPACE
    EM1 covers a region nearly pure (its 930 purest pixels): its spectrum is their mean, 9.6° from the fit;
    EM2's purest pixels grade into other materials (their mean moves by more than 2° as they are narrowed):
    its spectrum stays as fitted
    """
    anchor = (parameters.get("polished") or {}).get("anchor")
    if not anchor:
        return None
    moved = [(name, n, d) for name, n, d in zip(names, anchor["pure_pixels"], anchor["moved_deg"]) if d > 0]
    sentences = []
    if moved:
        if anchor.get("area"):  # the purest part of each spectrum's area, not a fixed share
            parts = [f"{name} covers a region nearly pure (its {n} purest pixels)" for name, n, _ in moved]
        else:
            parts = [f"{name} covers a region pure ({n} pixels at {anchor['share']:g} or more)"
                     for name, n, _ in moved]
        degrees = ", ".join(f"{d:.1f}°" for _, _, d in moved)
        sentences.append(f"{listed(parts)}: {'its spectrum is' if len(moved) == 1 else 'each spectrum is'} "
                         f"their mean, {degrees} from the fit")
    drifted = [names[j] for j in anchor.get("drifted", [])]
    if drifted:
        whose = f"{drifted[0]}'s" if len(drifted) == 1 else f"{listed(drifted)}: their"
        sentences.append(f"{whose} purest pixels grade into other materials (their mean moves by more than "
                         f"{anchor['graded']:g}° as they are narrowed): "
                         f"{'its spectrum stays' if len(drifted) == 1 else 'the spectra stay'} as fitted")
    return "; ".join(sentences) or None


def residual_spot_note(parameters: dict[str, Any], names: Sequence[str]) -> str | None:
    """The sentence that names the spectrum put in from the spot the others left the most of
    (``residual_spot``, :mod:`ftir_unmix.methods.cnn.residual_spot`); None when none was.

    Examples
    --------
    >>> residual_spot_note({"polished": {"residual_spot": {"kept": True, "column": 3, "pixel": [16, 34],
    ...                     "tail_before": 0.151, "tail_after": 0.072}}}, ["EM1", "EM2", "EM3", "EM4"])
    'EM4 is the spectrum of the spot at row 16, column 34, which the other spectra left unexplained \
(its worst-explained pixels: residual 0.151 → 0.072)'
    """
    spot = (parameters.get("polished") or {}).get("residual_spot")
    if not spot or not spot.get("kept"):
        return None
    (r, c), before, after = spot["pixel"], spot["tail_before"], spot["tail_after"]
    return (f"{names[spot['column']]} is the spectrum of the spot at row {r}, column {c}, which the other spectra "
            f"left unexplained (its worst-explained pixels: residual {before:.3g} → {after:.3g})")


def polish_note(parameters: dict[str, Any]) -> str | None:
    """The sentence that says the polish (:mod:`ftir_unmix.methods.cnn.cone_polish`) left spectra as
    trained because fitted to the whole image they became what is not a material; None otherwise.

    Examples
    --------
    >>> polish_note({"polished": {"kept": True, "held": {"columns": [5],
    ...                           "why": "EM6 became atmospheric lines"}}})
    'EM6 became atmospheric lines when fitted to the whole image: left as trained, \
the other spectra fitted around it'
    """
    polished = parameters.get("polished") or {}
    if polished.get("kept") is False:
        return f"{polished['why_not']} when fitted to the whole image: the spectra and maps are left as trained"
    held = polished.get("held")
    if not held:
        return None
    it = "it" if len(held["columns"]) == 1 else "them"
    return f"{held['why']} when fitted to the whole image: left as trained, the other spectra fitted around {it}"


def run_notes(parameters: dict[str, Any], trust: Sequence[dict[str, Any]], names: Sequence[str]
              ) -> list[tuple[str, str]]:
    """What a user is told after a run, in order: ``("note", …)`` from :func:`atmosphere_note`,
    :func:`spare_note`, :func:`polish_note`, :func:`edge_note`, :func:`residual_spot_note` and
    :func:`anchor_note`, then ``("doubt", …)`` per endmember from :func:`doubts` (the CLI prints
    them, the Spectra panel marks them ℹ and ⚠)."""
    notes = [("note", n) for n in (atmosphere_note(parameters), spare_note(parameters), polish_note(parameters),
                                   edge_note(parameters, names), residual_spot_note(parameters, names),
                                   anchor_note(parameters, names)) if n]
    return notes + [("doubt", s) for s in doubts(trust, names).values()]
