"""Spectra of materials that cover a region pure, put on that region's pixels.

In an image without a background term (a reflectance image such as Samson: a lake, a field,
bare ground) a material may cover a whole region nearly pure. The noise spreads that region's
pixels over a cone of directions around the material's spectrum, and the whole image's cone fit
is better where the spectrum encloses that spread: the polish moves it out of the region's
pixels, the further the noisier the region (a dark material such as water, its signal small
beside the noise). On Samson the polished water lay 4.7° from the nearest pixel and 10° from
the truth, while the mean of the pixels the run's own maps gave to water at 0.95 or more lay
2.1° from the truth (docs/benchmarks.md, stop 65). The mean of many pure pixels averages their
noise away, where the fit that encloses it does not.

So each spectrum that at least :data:`MIN_PIXEL_SHARE` of the pixels hold at ``share`` or more
(the cone fit's maps, scaled to sum to one) is replaced by the mean of those pixels, the maps
are fitted again, and this is repeated while the pure pixels change (at most :data:`ROUNDS`
times): once the spectrum sits in its region, more of the region's pixels read as pure. A
spectrum whose region no longer reads pure at the end is put back.

With ``area`` (the library's default, ``anchor_area=0.33``, since stop 68) the pure pixels are
not those at a fixed share but each spectrum's purest: its pixels of largest share, as many as
that part of its area (its shares summed over the image), if all of them hold it at
:data:`AREA_FLOOR` or more. A share of 0.95 depends on the other spectra's scales and places:
on Samson a polished soil and tree sat outside their pixels, so that none read 0.95 pure, while
the anchored water read 0.95 on twice its true region (2151 pixels against 995), mixtures
included. A mean so chosen that is much nearer the other spectra's cone than the spectrum it
would replace (:data:`NOVELTY_KEPT`) is a mixture's and is not taken.

With ``tight`` (the library's default, ``anchor_tight=3``, since stop 69) purest pixels that agree
with one another (nine in ten within that many degrees of their mean) are taken although they
hold the spectrum at less than :data:`AREA_FLOOR` (down to :data:`TIGHT_FLOOR`), or although
their mean is that much nearer the others' cone, as long as the mean stands further from the
cone than the pixels spread. Training can leave a spectrum far out beyond its material's pixels
(Samson's soil, 17–26° off on 2 of 10 seeds), where they read it at a third and their mean, 2°
from the truth, looks like a mixture beside it; a duplicate or a mixture of the other spectra lies
inside their cone and stays refused.

With ``graded`` (the library's default, ``anchor_graded=2``, since stop 70), purest pixels
whose mean moves by more than that many degrees when only their purer half is taken, and which
are not all held at ``share`` or more, are no region's pure pixels: a layer of a cross-section
graded into its neighbours, whose purest third takes in interface pixels the maps read at 0.8
(the mean then 7–11° off, docs/benchmarks.md, stop 70). The spectrum stays where it is. A
region pure throughout drifts too where the material varies (Samson's water, the deep lake
against its edge, 3°), but its maps read it at 0.95 or more over the whole third, and it is
taken.

Images with a background term are left alone: their pixels hold the background too, and their
materials are the absorbance spectra over it (:mod:`.nonneg_edge` takes those that never occur
pure out to the edge of nonnegativity instead).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy.optimize import nnls

from ...metrics import spectral_angles

__all__ = ["AREA_FLOOR", "MIN_PIXEL_SHARE", "NOVELTY_KEPT", "ROUNDS", "anchor_to_pure"]

#: A spectrum is put on its pure pixels only where at least this share of the image's pixels
#: are pure: a region, not a spot of a few pixels whose mean is mostly noise.
MIN_PIXEL_SHARE = 0.01
#: The pure pixels are found again after each move, at most this many times.
ROUNDS = 3
#: With ``area``: the purest pixels chosen must each hold the spectrum at least at this share
#: (0.3 and 0.5 chose the same on Samson; 0.7 left its soil and tree unmoved).
AREA_FLOOR = 0.5
#: With ``area``: a mean whose angle to the other spectra's cone is less than this share of the
#: spectrum's own is a mixture of them, not the material's pure pixels (on the reflectance tuning
#: scenes such moves took a water spectrum 52–57° onto a mixture; the moves kept lost at most a
#: quarter of their angle).
NOVELTY_KEPT = 0.5
#: With ``tight``: the purest pixels that agree with one another may hold the spectrum at this
#: share or more, in place of :data:`AREA_FLOOR`.
TIGHT_FLOOR = 0.2
_BLOCK = 65536  # pixels summed at a time (the pixels may be read from disk)


def _mean_of(pixels: np.ndarray, rows: np.ndarray) -> np.ndarray:
    total = np.zeros(pixels.shape[1])
    for start in range(0, rows.size, _BLOCK):
        total += np.asarray(pixels[rows[start:start + _BLOCK]], np.float64).sum(axis=0)
    return total / rows.size


def _pure_rows(shares: np.ndarray, share: float, area: float, least: int,
               jitter: np.ndarray | None, floor: float | None = None) -> np.ndarray | None:
    """The pixels (indices) pure for one spectrum, from its shares (N,); None: too few to be a
    region. With ``area``, ``jitter`` (N,) breaks ties among equal shares and the purest pixels
    must hold the spectrum at ``floor`` (default :data:`AREA_FLOOR`) or more."""
    if not area:
        rows = np.flatnonzero(shares >= share)
        return rows if rows.size >= least else None
    n = int(area * shares.sum())
    if n < least:
        return None
    rows = np.sort(np.argpartition(-(shares + jitter), n - 1)[:n])  # a partition, not a sort: big images
    return rows if shares[rows].min() >= (AREA_FLOOR if floor is None else floor) else None


def _spread(pixels: np.ndarray, rows: np.ndarray, mean: np.ndarray) -> float:
    """The 90th percentile of the angles (degrees) between the ``rows`` of ``pixels`` and ``mean``."""
    unit = mean / np.linalg.norm(mean)
    cos = np.empty(rows.size)
    for start in range(0, rows.size, _BLOCK):
        block = np.asarray(pixels[rows[start:start + _BLOCK]], np.float64)
        cos[start:start + _BLOCK] = block @ unit / np.maximum(np.linalg.norm(block, axis=1), 1e-30)
    return float(np.degrees(np.arccos(np.clip(np.percentile(cos, 10), -1.0, 1.0))))


def _drift(pixels: np.ndarray, rows: np.ndarray, shares: np.ndarray, mean: np.ndarray) -> float:
    """The angle (degrees) between ``mean`` (of ``rows``) and the mean of the purer half of ``rows``
    by ``shares`` (N,; ties already broken)."""
    half = rows[np.argsort(-shares[rows], kind="stable")[:max(1, rows.size // 2)]]
    return float(spectral_angles(_mean_of(pixels, np.sort(half))[:, None], mean[:, None])[0, 0])


def _cone_angle(v: np.ndarray, others: np.ndarray) -> float:
    """The angle (degrees) between ``v`` (B,) and the cone of the columns of ``others`` (B, K')."""
    if not others.shape[1]:
        return 90.0
    fit = others @ nnls(others, v)[0]
    if not fit.any():
        return 90.0
    return float(np.degrees(np.arccos(np.clip(fit @ v / (np.linalg.norm(fit) * np.linalg.norm(v)), -1.0, 1.0))))


def anchor_to_pure(pixels: np.ndarray, endmembers: np.ndarray, maps: np.ndarray,
                   refit: Callable[[np.ndarray], np.ndarray], *, share: float, area: float = 0.0,
                   tight: float = 0.0, graded: float = 0.0, fixed: Sequence[int] = ()
                   ) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """``endmembers`` whose pure pixels cover a region, each replaced by those pixels' mean.

    Parameters
    ----------
    pixels : array (N, B)
        The image's pixels as the spectra are fitted to them (no background term).
    endmembers : ndarray (B, K)
    maps : ndarray (K, N)
        The cone fit's maps of ``endmembers`` (each pixel's shares, summing to one).
    refit : callable
        The maps (K, N) of other spectra (B, K), fitted as ``maps`` were.
    share : float
        A pixel is pure for a spectrum where its share is at least this (without ``area``).
    area : float
        0: as ``share`` says. Else a spectrum's pure pixels are its purest, as many as this part
        of its summed shares, all at :data:`AREA_FLOOR` or more; and a mean nearer the other
        spectra's cone than :data:`NOVELTY_KEPT` times the spectrum's own angle to it is not taken.
    tight : float
        With ``area``, degrees (0: off): purest pixels that agree with one another, 90 % of them
        within this angle of their mean, are taken even where they hold the spectrum at less than
        :data:`AREA_FLOOR` (down to :data:`TIGHT_FLOOR`) or their mean is nearer the other
        spectra's cone than the novelty rule allows, if the mean lies further from that cone than
        that 90th-percentile angle: a spectrum trained out beyond its material's pixels (so that
        they read it at a third) is put on them.
    graded : float
        With ``area``, degrees (0: off): purest pixels not all held at ``share`` or more, whose
        purer half's mean lies further than this from their mean, are not taken (a region graded
        into its neighbours, whose purest part takes in mixed pixels).
    fixed : sequence of int
        Columns never moved (known spectra).

    Returns
    -------
    endmembers : ndarray (B, K)
        Each moved spectrum is its pixels' mean at their scale: a pure pixel is one of it. (Keeping
        the spectrum's norm instead gave the same angles on the tuning scenes and maps further
        from the truth: abundance RMSE 0.158 against 0.136, docs/benchmarks.md, stop 65.)
    maps : ndarray (K, N)
    record : dict
        ``share``, ``area``, ``tight``, ``graded``, ``drifted`` (the columns left because their
        purest pixels drifted as ``graded`` says),
        ``pure_pixels`` (per endmember, its pure pixels in the maps returned;
        with ``area``, 0 where they are no region), ``refused`` (with ``area``: the columns never
        moved because their pixels' mean was a mixture of the others),
        ``moved_deg`` (per endmember, the angle between the spectrum before and after),
        ``rounds`` and ``undone`` (the spectra moved and put back, see below).

    Notes
    -----
    A spectrum moved whose region then holds fewer than :data:`MIN_PIXEL_SHARE` of the pixels
    at ``share`` (with ``area``: whose purest pixels are then no region) is put back as it was:
    its pure pixels were a mixture's, which read pure only beside a spectrum outside them (stop
    65: on fresh reflectance scenes such moves traded a water spectrum's map with a dark
    variant's).
    """
    e0 = np.asarray(endmembers, np.float64)
    e = e0.copy()
    k = e.shape[1]
    least = max(1, int(np.ceil(MIN_PIXEL_SHARE * maps.shape[1])))
    held = set(fixed)
    movable = [j for j in range(k) if j not in held]
    chosen: list[np.ndarray | None] = [None] * k
    refused: set[int] = set()
    drifted: set[int] = set()
    # Ties (a region read 1.0 pure throughout) broken by a fixed shuffle, not by the pixels'
    # order, which would take the region's first rows; drawn once for every spectrum and round.
    jitter = 1e-9 * np.random.default_rng(0).random(maps.shape[1]) if area else None
    rounds = 0
    while rounds < ROUNDS:
        rounds += 1
        changed = False
        for j in movable:
            # one partition: the purest pixels down to the lower floor, those below AREA_FLOOR only if tight
            rows = _pure_rows(maps[j], share, area, least, jitter, TIGHT_FLOOR if area and tight else None)
            if rows is None or (chosen[j] is not None and np.array_equal(rows, chosen[j])):
                continue
            least_share = maps[j][rows].min()
            low = bool(area and tight) and least_share < AREA_FLOOR
            mean = _mean_of(pixels, rows)
            if not mean.any():
                continue
            if area and graded and least_share < share and _drift(pixels, rows, maps[j] + jitter, mean) > graded:
                # an interface's mixed pixels among the purest (taking only those at share moved
                # spectra onto odd pixels in images with artefacts, stop 70)
                drifted.add(j)
                continue
            spread = _spread(pixels, rows, mean) if area and tight else np.inf
            if low and spread > tight:
                continue
            if area:
                others = np.delete(e, j, axis=1)
                novelty = _cone_angle(mean, others)
                # pixels that agree with one another are one material's where their mean stands
                # further from the other spectra than they spread; other pixels as the mean's novelty says
                if novelty < (spread if spread <= tight else NOVELTY_KEPT * _cone_angle(e[:, j], others)):
                    refused.add(j)
                    continue
            e[:, j] = mean
            chosen[j] = rows
            changed = True
        if not changed:
            break
        maps = refit(e)

    def counts() -> list[int]:
        if not area:
            return [int(v) for v in (maps >= share).sum(axis=1)]
        return [0 if (rows := _pure_rows(m, share, area, least, jitter)) is None else int(rows.size) for m in maps]

    pure = counts()
    # a spectrum whose region no longer reads pure once it sits there was put on a mixture
    undone = [j for j in movable if chosen[j] is not None and pure[j] < least]
    if undone:
        e[:, undone] = e0[:, undone]
        maps = refit(e)
        pure = counts()
    moved = {j for j in movable if chosen[j] is not None}
    record = {"share": float(share), "area": float(area), "tight": float(tight), "graded": float(graded),
              "drifted": sorted(drifted - moved), "pure_pixels": pure,
              "rounds": rounds, "undone": undone, "refused": sorted(refused - moved),
              "moved_deg": [round(float(v), 3) for v in np.diag(spectral_angles(e0, e))]}
    return e, maps, record
