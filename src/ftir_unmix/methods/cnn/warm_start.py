"""Warm starts of the decoder: endmembers from NMF or VCA + FCLS, and the choice between them."""

from __future__ import annotations

import copy
import time
from collections.abc import Generator
from typing import Any

import numpy as np

from .. import classical
from ..base import Progress, StopFlag, should_stop
from .protocols import Trainer

__all__ = ["choose_warm_start", "initial_endmembers"]

#: Pixels (at most) from which the warm-start endmembers are estimated.
_INIT_PIXELS = 4096
#: How often (seconds) a trial yields progress.
_YIELD_EVERY = 0.25


def initial_endmembers(x: np.ndarray, w: np.ndarray, k: int, how: str, seed: int) -> np.ndarray:
    """Endmembers (B, K) for the decoder's warm start.

    Pure pixels are found on the band-weighted data (so unreliable bands do
    not steer the choice); the spectra are then fitted on all bands to the
    resulting abundances by least squares, so that bands with a low weight
    are not amplified.
    """
    if x.shape[0] > _INIT_PIXELS:  # the estimate needs the spread of spectra, not every pixel
        x = x[np.sort(np.random.default_rng(seed).choice(x.shape[0], _INIT_PIXELS, replace=False))]
    x = np.asarray(x)  # (a lazy view of a small image is read whole)
    xw = x * w
    if how == "nmf":
        _, a = classical.nmf(np.clip(xw, 0, None), k, seed=seed)
    else:
        e_w = classical.vca(xw, k, seed=seed)
        a = classical.fcls(xw, e_w)
    # x ≈ aᵀ eᵀ: least squares per band with a shared (K×K) Gram, then clip.
    gram = a @ a.T + 1e-6 * np.eye(k)
    e = np.linalg.solve(gram, a @ x).T
    return np.clip(e, 1e-6, None).astype(np.float32)


def choose_warm_start(loop: Trainer, x: np.ndarray, loss_w: np.ndarray, cfg: Any, stop: StopFlag,
                      t0: float) -> Generator[Any, None, tuple[list[float], dict[str, Any]]]:
    """Warm-start the decoder from NMF and from VCA + FCLS; keep the one the encoder fits better.

    Each candidate trains the encoder alone (decoder fixed at the candidate's
    endmembers) for half the warm-up; the one with the lower mean loss over
    its last fifth of those steps wins, and training continues from its
    state. Neither estimate is best everywhere (docs/benchmarks.md): on Samson
    the NMF start is ~24° off and VCA's ~4°; on layered synthetic sections it
    is the other way round.

    Returns
    -------
    losses : list of float
        The winner's losses (the run's first steps).
    record : dict
        ``chosen``, ``trial_steps`` and ``trial_loss`` for the run record.
    """
    model = loop.model
    start = copy.deepcopy(model.state_dict())
    n = max(cfg.warmup_steps // 2, 1)
    trials: dict[str, tuple[float, list[float], dict[str, Any]]] = {}
    for name in ("nmf", "vca"):
        yield Progress(phase="prepare", total=loop.total, elapsed=time.perf_counter() - t0,
                       message=f"warm start: trying {name.upper()}")
        model.load_state_dict(start)
        model.init_decoder(initial_endmembers(x, loss_w.astype(np.float32), cfg.k, name, cfg.seed))
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
        score = float(np.mean(losses[-max(1, n // 5):]))
        trials[name] = (score, losses, {"model": copy.deepcopy(model.state_dict()),
                                        "opt": copy.deepcopy(loop.opt.state_dict())})
        if should_stop(stop):
            break
    chosen = min(trials, key=lambda k: trials[k][0])
    _, losses, state = trials[chosen]
    model.load_state_dict(state["model"])
    loop.restart(state["opt"])
    return losses, {"chosen": chosen, "trial_steps": n, "trial_loss": {k: v[0] for k, v in trials.items()}}
