"""Warm starts of the decoder: endmembers from NMF, VCA + FCLS or a minimum-volume simplex, and the choice."""

from __future__ import annotations

import copy
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import classical
from ..base import Progress, StopFlag, should_stop
from ..simplex import min_volume_simplex
from .known import place_known
from .protocols import Trainer

__all__ = ["WarmStart", "candidate_starts", "initial_endmembers", "warm_start_trials"]

#: Pixels (at most) from which the warm-start endmembers are estimated.
_INIT_PIXELS = 4096
#: How often (seconds) a trial yields progress.
_YIELD_EVERY = 0.25


def initial_endmembers(x: np.ndarray, w: np.ndarray, k: int, how: str, seed: int,
                       nuisance: np.ndarray | None = None, known: np.ndarray | None = None) -> np.ndarray:
    """Endmembers (B, K) for the decoder's warm start.

    ``how``: ``"nmf"``, ``"vca"`` (VCA + FCLS) or ``"mvs"`` (the minimum-volume
    simplex, which needs no pure pixels). The abundances are found on the
    band-weighted data (so unreliable bands do not steer the choice; the
    simplex also without the weighted ``nuisance`` basis, the baseline); the
    spectra are then fitted on all bands to them by least squares, so that
    bands with a low weight are not amplified. ``known`` spectra (B, R) take
    the first columns, each in place of the estimate closest to it
    (:func:`~.known.place_known`).
    """
    if x.shape[0] > _INIT_PIXELS:  # the estimate needs the spread of spectra, not every pixel
        x = x[np.sort(np.random.default_rng(seed).choice(x.shape[0], _INIT_PIXELS, replace=False))]
    x = np.asarray(x)  # (a lazy view of a small image is read whole)
    xw = x * w
    if how == "nmf":
        _, a = classical.nmf(np.clip(xw, 0, None), k, seed=seed)
    elif how == "mvs":
        a, scale = min_volume_simplex(xw, k, seed=seed, nuisance=nuisance)
        a = a * (scale / np.median(scale[scale > 0]))  # x ≈ s·(E a): the intensity goes with a
    else:
        e_w = classical.vca(xw, k, seed=seed)
        a = classical.fcls(xw, e_w)
    # x ≈ aᵀ eᵀ: least squares per band with a shared (K×K) Gram, then clip.
    gram = a @ a.T + 1e-6 * np.eye(k)
    e = np.clip(np.linalg.solve(gram, a @ x).T, 1e-6, None)
    if known is not None:
        e = place_known(e, known, w, nuisance)
    return e.astype(np.float32)


@dataclass(frozen=True)
class WarmStart:
    """One warm start after its trial: the encoder trained on fixed candidate endmembers.

    Attributes
    ----------
    name : str
        ``"nmf"``, ``"vca"``, then ``"vca+1"``, ``"nmf+1"``, … (seed offsets) for more restarts.
    score : float
        Mean loss over the last fifth of the trial steps (lower is better).
    losses : list of float
        The trial's losses: the run's first steps when this start is trained on.
    state : dict
        ``model`` and ``opt`` state dicts at the end of the trial.
    """

    name: str
    score: float
    losses: list[float]
    state: dict[str, Any]


def candidate_starts(n: int, simplex: bool = False) -> list[tuple[str, str, int]]:
    """The warm starts tried for ``n`` restarts, as ``(name, how, seed offset)``: NMF and VCA at
    the run's seed (and the minimum-volume simplex with ``simplex``), then VCA and NMF at the
    next seeds until there are ``n``."""
    out = [("nmf", "nmf", 0), ("vca", "vca", 0)] + ([("mvs", "mvs", 0)] if simplex else [])
    i = 1
    while len(out) < n:
        out += [(f"vca+{i}", "vca", i), (f"nmf+{i}", "nmf", i)]
        i += 1
    return out[:max(n, 3 if simplex else 2)]


def warm_start_trials(loop: Trainer, x: np.ndarray, loss_w: np.ndarray, cfg: Any, stop: StopFlag,
                      t0: float, known: np.ndarray | None = None
                      ) -> Generator[Any, None, tuple[list[WarmStart], dict[str, Any]]]:
    """Try the warm starts; return them best first and leave the model at the best one.

    Each candidate (:func:`candidate_starts` of ``cfg.restarts``: NMF and VCA + FCLS,
    the minimum-volume simplex with ``cfg.simplex_start``, more for more restarts)
    trains the encoder alone (decoder fixed at the candidate's endmembers) for half
    the warm-up; the lower the mean loss over its last fifth of those steps, the
    better. Neither estimate is best everywhere (docs/benchmarks.md): on Samson the
    NMF start is ~24° off and VCA's ~4°; on layered synthetic sections it is the
    other way round. ``known`` spectra take the first columns of every candidate.

    Returns
    -------
    starts : list of WarmStart
        Best score first. The model and the optimiser are left at the first one.
    record : dict
        ``chosen``, ``trial_steps`` and ``trial_loss`` for the run record.
    """
    model = loop.model
    start = copy.deepcopy(model.state_dict())
    n = max(cfg.warmup_steps // 2, 1)
    trials: list[WarmStart] = []
    for name, how, offset in candidate_starts(cfg.restarts, cfg.simplex_start):
        yield Progress(phase="prepare", total=loop.total, elapsed=time.perf_counter() - t0,
                       message=f"warm start: trying {name.upper()}")
        model.load_state_dict(start)
        model.init_decoder(initial_endmembers(x, loss_w.astype(np.float32), cfg.k, how, cfg.seed + offset,
                                              loop.nuisance_basis, known))
        loop.restart()
        losses: list[float] = []
        last_yield = time.perf_counter()
        for value in loop.steps(lambda: should_stop(stop)):
            losses.append(value)
            if len(losses) == n:
                break
            if time.perf_counter() - last_yield > _YIELD_EVERY:
                last_yield = time.perf_counter()
                yield Progress(phase="prepare", total=loop.total, loss=value, elapsed=last_yield - t0,
                               message=f"warm start: trying {name.upper()} ({len(losses)}/{n})")
        trials.append(WarmStart(name, float(np.mean(losses[-max(1, n // 5):])), losses,
                                {"model": copy.deepcopy(model.state_dict()),
                                 "opt": copy.deepcopy(loop.opt.state_dict())}))
        if should_stop(stop):
            break
    trials.sort(key=lambda t: t.score)  # stable: ties keep the order tried
    model.load_state_dict(trials[0].state["model"])
    loop.restart(trials[0].state["opt"])
    return trials, {"chosen": trials[0].name, "trial_steps": n, "trial_loss": {t.name: t.score for t in trials}}
