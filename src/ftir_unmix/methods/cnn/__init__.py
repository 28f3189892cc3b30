"""The FTIR-unmixer method: a CNN autoencoder trained on the (weighted) spectral angle.

- :mod:`.model`: the network (encoder, softmax abundances, nonnegative decoder);
- :mod:`.losses`: SAD / WSAD, with the background (baseline) projected out;
- :mod:`.protocols`: the paper's patch protocol and the fast whole-image one;
- :mod:`.warm_start`: decoder initialisation from NMF, VCA + FCLS or a minimum-volume simplex;
- :mod:`.priors`: optional minimum-volume and sparsity terms of the loss;
- restarts: further warm starts trained to the end, the spectra that fit the image best
  kept (the cone fit of :class:`.refinement.Objective`), their disagreement recorded per
  endmember (``restart_runs``);
- :mod:`.refinement`: retry one endmember on the worst-explained spot, its matrix subtracted;
- :mod:`.spare`: K + s endmembers trained, the s that are not materials dropped; by default
  one spare, and only when a first run ends with a difference spectrum or with atmospheric
  lines;
- :mod:`.spot_check`: with ``spot_check``, before the polish, the worst spot's spectrum in place of
  the endmember the image needs least, where the spot's pixels need it more, held through the
  polish where its map stays a spot's (with ``spot_check_after`` once more after the polish,
  and the polish again where it swaps);
- :mod:`.cone_polish`: last, the spectra fitted to the whole image's cone fit directly.

:func:`run_cnn` is the method registered as ``"cnn"`` (see :mod:`ftir_unmix.methods`).
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ...metrics import log_volume, match_endmembers, spectral_angles
from ...preprocess import (
    ATMOSPHERE_LINE_SHARE,
    BELOW_NOISE_SIGMAS,
    axis_step,
    below_baseline_share,
    lower_envelope,
    narrow_line_share,
)
from ...preprocess.atmosphere import LINE_WIDTH_CM
from ...trust import BELOW_BASELINE_DOUBT, listed
from ..base import MethodInput, MethodOutput, Progress, relay, should_stop
from .cone_polish import polish
from .model import FTIRUnmixer
from .protocols import FastTrainer, PaperTrainer, Trainer
from .refinement import Objective, _prepared, objective, swap_in_spot
from .spare import choose_spares, close_calls, drop_columns
from .spot_check import REACH_SHARE, check_worst_spot
from .warm_start import WarmStart, initial_endmembers, warm_start_trials

__all__ = ["chosen_restart", "restart_spread", "resolve_device", "run_cnn"]

#: How often (seconds) training yields progress between epoch ends, so a GUI stays live
#: and a cancel is seen within well under a second.
_YIELD_EVERY = 0.25


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` → CUDA if available, else Apple MPS, else CPU; other names are checked."""
    mps = getattr(torch.backends, "mps", None)
    mps_ok = mps is not None and mps.is_available()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "mps" if mps_ok else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but no CUDA GPU is available")
    if name == "mps" and not mps_ok:
        raise ValueError("device 'mps' requested but MPS is not available")
    return torch.device(name)


@dataclass(frozen=True)
class _Best:
    """The best state seen so far: its loss, the model's weights and the step it was reached at."""

    loss: float
    state: dict[str, Any]
    step: int

    @classmethod
    def of(cls, loss: float, model: FTIRUnmixer, step: int) -> _Best:
        """The model's current state (copied) with its loss and step."""
        return cls(loss, copy.deepcopy(model.state_dict()), step)


class _Training:
    """One CNN run's training: the model, its trainer, the loss history and the best state."""

    def __init__(self, model: FTIRUnmixer, loop: Trainer, t0: float) -> None:
        self.model, self.loop, self.t0 = model, loop, t0
        self.history: list[float] = []
        self.best = _Best(float("inf"), {}, 0)  # set once the warm start is done

    def _snapshot(self) -> np.ndarray:
        return self.model.endmembers().detach().cpu().numpy()

    def train(self, steps: Iterator[float | None], total: int, message: str = "",
              later: int = 0) -> Generator[Progress, None, None]:
        """Run ``steps``, keeping the best state and yielding progress (at most every 0.125–0.25 s).

        ``later``: the most steps of the phases still to come (further restarts), counted in
        the time left so that it stays an upper bound.
        """
        history = self.history
        t_phase, n_before = time.perf_counter(), len(history)
        last_yield = t_phase
        if history:
            yield Progress(phase="train", step=len(history), total=total, loss=history[-1],
                           best_loss=self.best.loss, elapsed=t_phase - self.t0,
                           endmembers=self._snapshot(), message=message)
        for step_loss in steps:
            now = time.perf_counter()
            if step_loss is None:  # a mini-batch inside an epoch: only a chance to yield / stop
                if now - last_yield > _YIELD_EVERY:
                    last_yield = now
                    yield Progress(phase="train", step=len(history), total=total,
                                   loss=history[-1] if history else None,
                                   best_loss=self.best.loss if history else None,
                                   elapsed=now - self.t0, message=message)
                continue
            history.append(step_loss)
            if self.loop.judged < self.best.loss:  # judged: over several tiles on a big image
                self.best = _Best.of(self.loop.judged, self.model, len(history))
            per_step = (now - t_phase) / (len(history) - n_before)
            if now - last_yield > _YIELD_EVERY / 2 or len(history) == total:
                last_yield = now
                yield Progress(phase="train", step=len(history), total=total, loss=step_loss,
                               best_loss=self.best.loss, elapsed=now - self.t0,
                               eta=per_step * (total - len(history) + later), endmembers=self._snapshot(),
                               message=message)


def run_cnn(inp: MethodInput) -> Generator[Progress, None, MethodOutput]:
    """Train the autoencoder on the prepared data; return maps, spectra and the run-record entries.

    With ``spare`` > 0 it trains K + spare endmembers and drops the spares (:mod:`.spare`).
    Otherwise, with ``spare_when_needed`` and a baseline term, a run that ends with an
    endmember spent on what is not a material, a material lost for it, is trained again
    with one spare, and that run is kept. Two signs tell such an endmember: it is mostly
    narrow atmospheric lines (:func:`~ftir_unmix.preprocess.narrow_line_share` above
    :data:`~ftir_unmix.preprocess.ATMOSPHERE_LINE_SHARE`: drifting water vapour), or it is
    a difference spectrum (more than :data:`~ftir_unmix.trust.BELOW_BASELINE_DOUBT` of it
    below its own baseline, deeper than :data:`~ftir_unmix.preprocess.BELOW_NOISE_SIGMAS` of its
    noise: what the model cannot explain otherwise). Last, with ``polish``,
    the spectra are fitted to the whole image's cone fit and the maps are that fit's
    (:mod:`.cone_polish`); in a run trained again, after the spare is dropped, under a guard
    (``polish_guard``; :func:`_polished`): there the image holds what K spectra and the
    background cannot explain, and fitted harder to it the spectra can take it in (a test
    scene with drifting water vapour left unmodelled: an endmember of 29 % vapour lines).
    ``spare`` > 0 (asked for) is not polished.
    """
    cfg = inp.config
    if cfg.spare:
        return (yield from _with_spares(inp, cfg.spare, "asked for"))
    out = yield from _train_and_infer(inp)
    if not cfg.spare_when_needed or inp.background is None or out.cancelled or cfg.protocol != "fast":
        return (yield from _polished(inp, out))
    below, lines = _signs(inp, out.endmembers, noise_sigmas=BELOW_NOISE_SIGMAS)
    worst, vapour = int(np.argmax(below)), int(np.argmax(lines))
    if lines[vapour] > ATMOSPHERE_LINE_SHARE:
        why = (f"EM{vapour + 1} of the first run was atmospheric lines ({lines[vapour]:.0%} of it narrower than "
               f"{LINE_WIDTH_CM:g} cm⁻¹)")
    elif below[worst] > BELOW_BASELINE_DOUBT:
        why = f"EM{worst + 1} of the first run was {below[worst]:.0%} below its own baseline, deeper than its noise"
    else:
        return (yield from _polished(inp, out))
    offset = out.record["steps_run"]
    again = yield from relay(
        _with_spares(inp, 1, why), lambda ev: dataclasses.replace(
            ev, step=ev.step + offset, total=ev.total + offset,
            message=f"a material lost: training again with a spare endmember. {ev.message}".strip()))
    if again.cancelled:  # the first run is complete: keep it rather than a part of the second
        out.record["spare_endmembers"] = {"reason": why, "second_run": "cancelled"}
        out.record["stopped_by"] = "cancel"
        return dataclasses.replace(out, cancelled=True)
    again.record["spare_endmembers"]["first_run"] = {
        "below_baseline": [float(v) for v in below], "narrow_line_share": [float(v) for v in lines],
        "steps_run": offset}
    again.record["steps_run"] += offset
    timings = {**again.timings, "first_run_s": sum(out.timings.values())}
    again = dataclasses.replace(again, history=out.history + again.history, timings=timings)
    return (yield from _polished(inp, again, checked=True))


def _with_spares(inp: MethodInput, count: int, reason: str) -> Generator[Progress, None, MethodOutput]:
    """Train K + ``count`` endmembers and drop the ``count`` the image needs least."""
    cfg = inp.config
    out = yield from _train_and_infer(dataclasses.replace(inp, config=dataclasses.replace(cfg, k=cfg.k + count)))
    h, w_img = inp.shape
    n_known = 0 if inp.known is None else inp.known.shape[1]
    lines = narrow_line_share(out.endmembers, inp.wavenumbers)
    columns, why = choose_spares(out.endmembers, inp.pixels, count, inp.loss_weights, inp.nuisance, first=n_known,
                                 atmosphere=[int(j) for j in np.argsort(-lines) if lines[j] > ATMOSPHERE_LINE_SHARE])
    endmembers, abundances = drop_columns(out.endmembers, out.abundances.reshape(cfg.k + count, -1), columns)
    kept = [j for j in range(cfg.k + count) if j not in columns]
    record = out.record
    record["spare_endmembers"] = {"reason": reason, "trained_k": cfg.k + count, "dropped": why}
    calls = close_calls(why, kept)
    if calls:
        record["spare_endmembers"]["close_calls"] = calls
    spread = record.get("restart_runs", {}).get("spread_deg")
    if spread is not None:
        record["restart_runs"]["spread_deg"] = [spread[j] for j in kept]
    refinement = record.get("refinement")
    if refinement is not None:  # the column it replaced, in the numbering of the kept ones (None: dropped)
        replaced = refinement["replaced"]
        refinement["replaced"] = kept.index(replaced) if replaced in kept else None
        refinement["accepted"] = bool(refinement["accepted"] and replaced in kept)
    return dataclasses.replace(out, abundances=abundances.reshape(cfg.k, h, w_img), endmembers=endmembers)


def _train_and_infer(inp: MethodInput) -> Generator[Progress, None, MethodOutput]:
    """:func:`run_cnn` for ``inp.config.k`` endmembers."""
    cfg, x, (h, w_img), loss_w = inp.config, inp.pixels, inp.shape, inp.loss_weights
    n_bands = x.shape[1]
    stop = inp.stop
    record: dict[str, Any] = {}
    timings: dict[str, float] = {}

    t = time.perf_counter()
    device = resolve_device(cfg.device)
    record["device"] = str(device)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    model = FTIRUnmixer(
        n_bands, cfg.k, n_filters=cfg.n_filters, patch_size=cfg.patch_size,
        softmax_scale=cfg.softmax_scale, dropout=cfg.dropout,
        in_channels=min(cfg.reduced_rank, n_bands, h * w_img) if cfg.protocol == "fast" else None,
    ).to(device)
    nuisance = None if inp.nuisance is None else torch.as_tensor(inp.nuisance, dtype=torch.float32, device=device)
    n_known = 0 if inp.known is None else inp.known.shape[1]
    if cfg.protocol == "paper":
        loop: Trainer = PaperTrainer(model, x, (h, w_img), loss_w, cfg, device, gen, nuisance)
    else:
        loop = FastTrainer(model, x, (h, w_img), loss_w, cfg, device, gen, nuisance, inp.known)
    record["protocol_detail"] = loop.detail
    timings["setup_s"] = time.perf_counter() - t

    t = time.perf_counter()
    run = _Training(model, loop, inp.t0)
    starts: list[WarmStart] = []
    if cfg.init == "auto":  # fast protocol: the best of the warm starts
        starts, record["warm_start"] = yield from warm_start_trials(loop, x, loss_w, cfg, stop, inp.t0, inp.known)
        run.history = list(starts[0].losses)
    elif cfg.init != "random":
        model.init_decoder(initial_endmembers(x, loss_w.astype(np.float32), cfg.k, cfg.init, cfg.seed,
                                              loop.nuisance_basis, inp.known))
    timings["init_s"] = time.perf_counter() - t
    # The chosen warm start's warm-up steps are the run's first steps.
    run.best = _Best.of(run.history[-1] if run.history else float("inf"), model, len(run.history))

    t_train = time.perf_counter()
    refine_steps = cfg.step_budget()[1]
    n_restarts = max(1, min(cfg.restarts, len(starts)))  # the warm starts trained to the end
    yield from run.train(loop.steps(lambda: should_stop(stop), start=len(run.history)), cfg.epochs,
                         later=(n_restarts - 1) * loop.total)
    cancelled = loop.stopped_by == "cancel"
    record["stopped_by"] = loop.stopped_by
    kept: Objective | None = None  # the whole-image objective of the state kept, once computed
    others: dict[str, np.ndarray] = {}  # the other restarts' endmembers, by restart
    if n_restarts > 1 and not cancelled:
        kept, others = yield from _restarts(run, inp, starts[:n_restarts], record)
        cancelled = record["stopped_by"] == "cancel"
    if refine_steps and not cancelled and n_known < cfg.k:  # known columns are never replaced
        kept = yield from _refine(run, inp, refine_steps, record, kept, others if cfg.refine_restarts else None)
        cancelled = record["stopped_by"] == "cancel"
    timings["train_s"] = time.perf_counter() - t_train
    record["steps_run"] = len(run.history)  # the warm-up of the chosen warm start included
    record["best_step"] = run.best.step

    yield Progress(phase="infer", step=len(run.history), total=len(run.history),
                   loss=run.history[-1] if run.history else None,
                   best_loss=run.best.loss if run.history else None,
                   elapsed=time.perf_counter() - inp.t0, message="abundance maps")
    t = time.perf_counter()
    model.load_state_dict(run.best.state)
    model.eval()
    abundances = loop.infer() if kept is None else kept.abundances
    endmembers = _final_endmembers(model, inp.background)
    if others:
        record["restart_runs"]["spread_deg"] = [float(v) for v in restart_spread(endmembers, list(others.values()))]
    timings["infer_s"] = time.perf_counter() - t
    return MethodOutput(abundances=abundances.reshape(cfg.k, h, w_img), endmembers=endmembers,
                        history=run.history, cancelled=cancelled, record=record, timings=timings)


def _polished(inp: MethodInput, out: MethodOutput, checked: bool = False) -> Generator[Progress, None, MethodOutput]:
    """With ``polish`` (fast protocol), the run's spectra fitted to the whole image's cone fit
    (:mod:`.cone_polish`) and that fit's maps; the known spectra are kept. A stop
    keeps the spectra so far, as cancelled. A cancelled run, or one with a prior (``minvol``,
    ``sparsity``, ``transparency``), is returned as it is.

    ``checked`` (a run trained again with a spare: the image held what the model could not
    explain): a spectrum that the polish turned into what sent the run back (vapour lines; with
    ``polish_guard="vapour+difference"`` also a difference spectrum, with the default
    ``"vapour+deepened"`` one the polish took deeper below its baseline) is held as trained and the
    others are polished again around it (``polished.held``), for up to ``polish_holds`` rounds;
    if one still turns, the run is returned unpolished (``polished.kept`` false, ``why_not``
    says which). Where the spot check (``spot_check``) had swapped a spectrum in, that swap is
    undone first (``spot_checked.undone``) and the trained spectra are polished as if it had
    not swapped: the same run as with the check off."""
    cfg = inp.config
    priors = cfg.minvol or cfg.sparsity or cfg.transparency  # the polish fits without them: it would undo them
    if not cfg.polish or cfg.protocol != "fast" or out.cancelled or priors:
        return out
    yield Progress(phase="infer", step=len(out.history), total=len(out.history),
                   loss=out.history[-1] if out.history else None, elapsed=time.perf_counter() - inp.t0,
                   message="the spectra fitted to the whole image")
    t = time.perf_counter()
    known = 0 if inp.known is None else inp.known.shape[1]
    if cfg.spot_check and known < cfg.k:
        polished = _polished_around_spot(inp, out.endmembers, out.record, "spot_checked", known, checked)
        if polished is not None:
            return _with_polish(inp, out, polished, t)
        # no swap, or one undone: the trained spectra are polished as if the check had not swapped
    polished = _checked_polish(inp, out.endmembers, out.record, list(range(known)), checked)
    if polished is None:  # a polish not kept: the run as trained (its maps are the trained spectra's)
        return out
    if cfg.spot_check_after and known < cfg.k and not polished[2]["stopped"]:
        again = _polished_around_spot(inp, polished[0], out.record, "spot_checked_after", known, checked)
        polished = polished if again is None else again  # no swap, or its polish not kept: the first stands
    return _with_polish(inp, out, polished, t)


def _polished_around_spot(inp: MethodInput, endmembers: np.ndarray, run_record: dict[str, Any], key: str,
                          known: int, checked: bool) -> tuple[np.ndarray, np.ndarray, dict[str, Any]] | None:
    """The spot check on ``endmembers`` (its record under ``run_record[key]``) and, where it
    swaps, :func:`_checked_polish` of the swapped spectra with the spot's spectrum held as it is
    (a few pixels cannot fit it). ``None`` where it swaps nothing, or where that polish is not
    kept: the swap is then undone (``undone``), since the spot's spectrum has no map of its own
    without the polish.

    Where the spot's map after that polish holds at least :data:`~.spot_check.REACH_SHARE` on
    more than ``spot_hold_reach`` of the pixels (``reach``), the spot is a layer's material,
    not a grain's: the swapped spectra are polished once more with the spot's spectrum free
    (``held`` false), since held as it is, rough, it kept its roughness and gave other
    materials away (docs/benchmarks.md, stop 62). Where that polish is not kept
    (``free_not_kept``), the held one stands.

    A polish not kept leaves ``run_record["polished"]`` as it was before it."""
    entry = run_record.get("polished")
    swapped, check = check_worst_spot(endmembers, inp.pixels, inp.shape, inp.loss_weights, inp.nuisance,
                                      inp.background, first=known, band_step=axis_step(inp.wavenumbers))
    run_record[key] = check
    if not check["swapped"]:
        return None
    spot = check["weakest"]["em"] - 1
    polished = _checked_polish(inp, swapped, run_record, [*range(known), spot], checked)
    if polished is None:
        check.update(swapped=False, undone="the polish was not kept")
        if entry is None:
            run_record.pop("polished")
        else:
            run_record["polished"] = entry
        return None
    check["reach"] = float(np.mean(polished[1][spot] >= REACH_SHARE))
    check["held"] = bool(polished[2]["stopped"] or check["reach"] <= inp.config.spot_hold_reach)
    if check["held"]:
        return polished
    free = _checked_polish(inp, swapped, run_record, list(range(known)), checked)
    if free is None:  # the free polish not kept: the held one stands, with its record
        check.update(held=True, free_not_kept=run_record["polished"]["why_not"])
        run_record["polished"] = polished[2]
        return polished
    return free


def _checked_polish(inp: MethodInput, endmembers: np.ndarray, run_record: dict[str, Any], fixed: list[int],
                    checked: bool) -> tuple[np.ndarray, np.ndarray, dict[str, Any]] | None:
    """:func:`_polished`'s polish of ``endmembers`` (``fixed`` columns kept as they are), its
    record written to ``run_record["polished"]``; ``None`` where a run trained again turns a
    spectrum into what sent it back even after the holds (the polish is then not kept)."""
    cfg = inp.config

    def polished_holding(held: list[int]) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        return polish(
            inp.pixels, endmembers, inp.loss_weights, inp.nuisance, inp.background,
            iterations=cfg.polish, no_pure_iterations=cfg.polish_no_pure, fixed=[*fixed, *held],
            shifts=cfg.polish_shifts,
            bounded=0.0 if cfg.polish_shifts else cfg.polish_band_shift / axis_step(inp.wavenumbers),
            edge_below=cfg.edge_below, edge_add_back=cfg.edge_add_back,
            edge_partner_floor=cfg.edge_partner_floor, edge_keep_peak=cfg.edge_keep_peak,
            edge_organic_purest=cfg.edge_organic_purest,
            wavenumbers=inp.wavenumbers, pure_anchor=cfg.pure_anchor, anchor_area=cfg.anchor_area,
            anchor_tight=cfg.anchor_tight, anchor_graded=cfg.anchor_graded, residual_spot=cfg.residual_spot,
            residual_spot_hold=cfg.residual_spot_hold,
            shape=inp.shape, stop=lambda: should_stop(inp.stop))

    polished, abundances, record = polished_holding([])
    run_record["polished"] = record
    if not checked:
        return polished, abundances, record
    difference = cfg.polish_guard == "vapour+difference"
    said = cfg.polish_guard != "vapour"  # what the record says a held spectrum became
    trained = _not_materials(inp, endmembers, difference)
    below = _signs(inp, endmembers)[0] if cfg.polish_guard == "vapour+deepened" else None  # as trained, once

    def turned_by(polished: np.ndarray) -> np.ndarray:
        turned = _not_materials(inp, polished, difference) & ~trained
        if below is not None:
            turned |= _deepened(below, _signs(inp, polished)[0])
        return turned

    turned = turned_by(polished)
    held: list[int] = []
    for _ in range(cfg.polish_holds):  # each round holds what the last one turned
        if not turned.any() or record["stopped"] or len(fixed) + len(held) + turned.sum() >= cfg.k:
            break
        held += [int(j) for j in np.flatnonzero(turned)]
        polished, abundances, record = polished_holding(held)
        record["held"] = {"columns": held, "why": _became(np.isin(np.arange(cfg.k), held), said)}
        run_record["polished"] = record
        turned = turned_by(polished)
    record["kept"] = not turned.any()
    if turned.any():
        record["why_not"] = _became(turned, said)
        return None
    return polished, abundances, record


def _with_polish(inp: MethodInput, out: MethodOutput, polished: tuple[np.ndarray, np.ndarray, dict[str, Any]],
                 t0: float) -> MethodOutput:
    """The run's output with the polish's spectra and maps (``t0``: when the polish began)."""
    endmembers, abundances, record = polished
    cancelled = record["stopped"]
    if cancelled:
        out.record["stopped_by"] = "cancel"
    return dataclasses.replace(out, endmembers=endmembers, abundances=abundances.reshape(inp.config.k, *inp.shape),
                               cancelled=cancelled, timings={**out.timings, "polish_s": time.perf_counter() - t0})


def _became(turned: np.ndarray, difference: bool) -> str:
    """``"EM3 became …"``: the spectra the polish turned into what is not a material (atmospheric
    lines, or with ``difference`` those or a difference spectrum)."""
    what = "atmospheric lines or a difference spectrum" if difference else "atmospheric lines"
    return f"{listed([f'EM{j + 1}' for j in np.flatnonzero(turned)])} became {what}"


def _signs(inp: MethodInput, endmembers: np.ndarray, noise_sigmas: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Per endmember, its share below its own baseline (the mass deeper than ``noise_sigmas`` of its
    own noise: :func:`~ftir_unmix.preprocess.below_baseline_share`) and its share of narrow
    atmospheric lines."""
    below = below_baseline_share(endmembers * inp.loss_weights[:, None], inp.nuisance, noise_sigmas=noise_sigmas)
    return below, narrow_line_share(endmembers, inp.wavenumbers)


def _not_materials(inp: MethodInput, endmembers: np.ndarray, difference: bool) -> np.ndarray:
    """Per endmember, whether it is mostly narrow atmospheric lines or (``difference``) a
    difference spectrum: the signs that send a run back to train with a spare."""
    below, lines = _signs(inp, endmembers)
    return (lines > ATMOSPHERE_LINE_SHARE) | (difference & (below > BELOW_BASELINE_DOUBT))


#: With ``polish_guard="vapour+deepened"``, a difference spectrum counts as the polish's work
#: where this much more of it lies below its baseline than as trained (stop 67: the spectra
#: the polish lost on the 2.5× in-repository cases rose by 0.03–0.24; those it moved towards
#: the truth there and on the blind scenes fell or stayed; docs/benchmarks.md).
DEEPENED = 0.025


def _deepened(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Per endmember, whether the polish made it a difference spectrum, from its share below its
    own baseline (:func:`_signs`) as trained (``before``) and polished (``after``): more than
    :data:`~ftir_unmix.trust.BELOW_BASELINE_DOUBT` below, and at least :data:`DEEPENED` more
    than as trained."""
    return (after > BELOW_BASELINE_DOUBT) & (after - before >= DEEPENED)


def _final_endmembers(model: FTIRUnmixer, background: np.ndarray | None) -> np.ndarray:
    """The decoder's spectra (B, K) as reported: with a background term the loss fixed each
    one only up to a polynomial, so the lower envelope is taken off."""
    endmembers = model.endmembers().detach().cpu().numpy()
    if background is not None:
        endmembers, _ = lower_envelope(endmembers, background)
    return endmembers


def restart_spread(endmembers: np.ndarray, others: list[np.ndarray]) -> np.ndarray:
    """Per endmember, the largest angle (degrees) to its Hungarian-matched spectrum in the
    other restarts: how much the answer depends on where training started."""
    spread = np.zeros(endmembers.shape[1])
    for e in others:
        perm = match_endmembers(endmembers, e)
        spread = np.maximum(spread, spectral_angles(endmembers, e)[np.arange(len(perm)), perm])
    return spread


def chosen_restart(fit: dict[str, float], volume: dict[str, float], margin: float = 0.0) -> str:
    """The restart kept: of those whose ``fit`` is within ``margin`` (a share) of the best, the
    one with the largest ``volume`` (:func:`~ftir_unmix.metrics.log_volume`); the best fit
    alone where no other is that close."""
    best = min(fit.values())
    tied = [name for name in fit if fit[name] <= best * (1.0 + margin)]
    return max(tied, key=volume.__getitem__)


@dataclass
class _Finished:
    """A restart trained to the end: its objective, best state, history and spectra."""

    name: str
    objective: Objective
    best: _Best
    history: list[float]
    stopped_by: str
    endmembers: np.ndarray


def _restarts(run: _Training, inp: MethodInput, starts: list[WarmStart],
              record: dict[str, Any]) -> Generator[Progress, None, tuple[Objective, dict[str, np.ndarray]]]:
    """Train the other ``starts`` to the end too and keep the spectra that fit the image best.

    The per-step loss on random tiles is too noisy to compare runs. Runs are compared by
    the whole image's cone fit (``Objective.fit``: each pixel's angle to the best
    nonnegative combination of the spectra), not by the angle of the encoder's maps: that
    map error differs from run to run and made a third restart pick wrong spectra on
    images without pure pixels (docs/benchmarks.md §0). With ``restart_margin`` > 0 the
    restarts within that share of the best fit count as tied and the one whose spectra are
    most distinct (:func:`~ftir_unmix.metrics.log_volume`) is kept: a run that spent two
    endmembers on variants of one material can fit a little better than one that kept
    every material. Each restart's ``log_volume`` is recorded either way.

    Returns
    -------
    kept : Objective
        The objective of the state kept (its maps are reused).
    others : dict of str to ndarray (B, K)
        The other restarts' spectra by warm start, for :func:`restart_spread` and the refinement.
    """
    cfg, loop, model = inp.config, run.loop, run.model

    def finish(name: str) -> _Finished:
        model.load_state_dict(run.best.state)
        obj = objective(loop, inp.pixels, inp.loss_weights, inp.shape)
        return _Finished(name, obj, run.best, run.history, loop.stopped_by,
                         _final_endmembers(model, inp.background))

    done = [finish(starts[0].name)]
    n = len(starts)
    for i, start in enumerate(starts[1:], start=2):
        model.load_state_dict(start.state["model"])
        loop.restart(start.state["opt"])
        run.history = list(start.losses)
        run.best = _Best.of(run.history[-1], model, len(run.history))
        yield from run.train(loop.steps(lambda: should_stop(inp.stop), start=len(run.history)), cfg.epochs,
                             message=f"restart {i}/{n}: from {start.name.upper()}", later=(n - i) * loop.total)
        if loop.stopped_by == "cancel":  # keep the best of the restarts that finished
            break
        done.append(finish(start.name))
    volume = {f.name: log_volume(f.endmembers, inp.loss_weights, nuisance=inp.nuisance) for f in done}
    chosen = chosen_restart({f.name: f.objective.fit for f in done}, volume, cfg.restart_margin)
    win = next(f for f in done if f.name == chosen)
    run.best, run.history = win.best, win.history
    model.load_state_dict(win.best.state)
    record["restart_runs"] = {"objective_deg": {f.name: float(np.degrees(f.objective.mean)) for f in done},
                              "fit_deg": {f.name: float(np.degrees(f.objective.fit)) for f in done},
                              "log_volume": {n: v if np.isfinite(v) else None for n, v in volume.items()},
                              "chosen": win.name}
    record["stopped_by"] = "cancel" if loop.stopped_by == "cancel" else win.stopped_by
    return win.objective, {f.name: f.endmembers for f in done if f is not win}


def _refine(run: _Training, inp: MethodInput, refine_steps: int, record: dict[str, Any],
            before: Objective | None, others: dict[str, np.ndarray] | None = None
            ) -> Generator[Progress, None, Objective]:
    """The refinement pass (docs/method.md): kept only if the whole image's cone fit improves.

    ``before`` is the objective of the state trained so far, when already computed; ``others``
    the other restarts' spectra, offered too where the run lacks them.
    Returns the objective of the state kept (its maps are reused).
    """
    cfg, loop, model = inp.config, run.loop, run.model
    model.load_state_dict(run.best.state)
    if before is None:
        before = objective(loop, inp.pixels, inp.loss_weights, inp.shape)
    kept = run.best
    proposal = swap_in_spot(model, inp.pixels, before, inp.shape, cfg.refine_spot, inp.loss_weights,
                            loop.nuisance_basis, inp.background,
                            fixed=0 if inp.known is None else inp.known.shape[1], peaks=cfg.refine_peaks,
                            others=others, spots=cfg.refine_spots,
                            image=_prepared(loop, inp.pixels, inp.loss_weights, None)[0])
    column = proposal.column
    run.best = _Best(float("inf"), kept.state, kept.step)  # any refinement step beats it
    loop.restart()
    start = loop.total - refine_steps
    # The proposed spectrum is held as it is while the encoder learns its map and the
    # other spectra adapt around it: trained freely from the start, a spot's spectrum
    # drifted away from its minor material (minor-spot, tuning seeds 0 and 3: 28° and 42°
    # off). Held to the end it is only as exact as the subtraction that made it, so for
    # the last steps it is released and the better-fitting of the two states is kept
    # (docs/benchmarks.md §0).
    warmup = start + refine_steps // 3
    release = warmup + (refine_steps - refine_steps // 3) // 2
    steps = loop.steps(lambda: should_stop(inp.stop), start=start, warmup=warmup)
    message = f"refining: EM{column + 1} replaced"
    model.decoder_logits.requires_grad_(True)  # a hook needs it; the steps set it per step
    hold = model.decoder_logits.register_hook(lambda g: g.index_fill(1, torch.tensor([column], device=g.device), 0.0))
    try:
        # islice takes the held steps and leaves the rest of the generator for the release.
        yield from run.train(itertools.islice(steps, release - start), cfg.epochs, message=message)
    finally:
        hold.remove()
    held = run.best
    after = _objective_of(run, inp, held)
    fit_held, released = after.fit, None
    if loop.stopped_by != "cancel":
        run.best = _Best(float("inf"), held.state, held.step)
        yield from run.train(steps, cfg.epochs, message=message)
        if run.best.loss < float("inf"):  # a released step was taken
            released = _objective_of(run, inp, run.best)
    if released is not None and released.fit < after.fit:
        after = released
    else:
        run.best = held
    if loop.stopped_by == "cancel":
        record["stopped_by"] = "cancel"
    model.load_state_dict(run.best.state)
    accepted = after.fit < before.fit and loop.stopped_by != "cancel"
    record["refinement"] = {
        "replaced": column, "pixel": proposal.pixel, "proposal": proposal.source,
        "steps": len(run.history) - kept.step if accepted else 0,
        "objective_before_deg": float(np.degrees(before.mean)),
        "objective_after_deg": float(np.degrees(after.mean)),
        "fit_before_deg": float(np.degrees(before.fit)), "fit_after_deg": float(np.degrees(after.fit)),
        "fit_held_deg": float(np.degrees(fit_held)),
        "fit_released_deg": None if released is None else float(np.degrees(released.fit)),
        "released": run.best is not held,
        "accepted": bool(accepted),
    }
    if not accepted:
        run.best = kept
    return after if accepted else before


def _objective_of(run: _Training, inp: MethodInput, best: _Best) -> Objective:
    """The whole-image objective of the state ``best``; the model is put back as it was
    (training may go on from there)."""
    current = copy.deepcopy(run.model.state_dict())
    run.model.load_state_dict(best.state)
    obj = objective(run.loop, inp.pixels, inp.loss_weights, inp.shape)
    run.model.load_state_dict(current)
    return obj
