"""Training as a generator of progress events: one loop for the GUI, the CLI and the tests.

>>> gen = iter_unmix(cube, UnmixConfig(k=6))          # doctest: +SKIP
>>> for event in gen: print(event.step, event.loss)   # doctest: +SKIP

The generator's return value (``StopIteration.value``; napari's
``thread_worker`` emits it as ``returned``) is the :class:`UnmixResult`.
:func:`run_to_end` drives a generator and hands back the result.
"""

from __future__ import annotations

import copy
import platform
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
from torch.nn import functional as F

from ._version import __version__
from .baseline import (
    baseline_degree,
    lower_envelope,
    polynomial_basis,
    weighted_nuisance_basis,
)
from .checks import check_forced_ranges, check_unmixable, checked_weights, require_cube
from .config import UnmixConfig
from .cube import Cube
from .errors import DataError
from .losses import COS_CLAMP, wsad
from .metrics import map_peaks, reconstruction_angles
from .model import FTIRUnmixer
from .result import UnmixResult
from .weights import band_diagnostics, force_ranges

__all__ = ["Progress", "iter_unmix", "run_to_end", "resolve_device", "StopFlag"]

StopFlag = threading.Event | Callable[[], bool] | None
_R = TypeVar("_R")

#: How often (seconds) the loop yields between epoch ends, so a GUI stays live
#: and a cancel is seen within well under a second.
_YIELD_EVERY = 0.25
#: Pixels (at most) from which the warm-start endmembers are estimated.
_INIT_PIXELS = 4096
#: Pixels (at most) from which the fast protocol's band subspaces are estimated; the
#: captured energy is then measured on every pixel and recorded.
_BASIS_PIXELS = 8192


@dataclass(frozen=True)
class Progress:
    """One progress event.

    Attributes
    ----------
    phase : {"prepare", "train", "infer"}
    step : int
        Epochs (paper protocol) or steps (fast protocol) completed.
    total : int
        The most epochs or steps the run will take.
    loss : float or None
        Mean loss of the last completed epoch/step (radians).
    best_loss : float or None
    elapsed : float
        Seconds since the run started.
    eta : float or None
        Estimated seconds left (an upper bound for the fast protocol, which
        stops on convergence).
    endmembers : ndarray (B, K) or None
        Snapshot of the current endmember spectra in the cube's units.
    message : str
    """

    phase: str
    step: int
    total: int
    loss: float | None
    best_loss: float | None
    elapsed: float
    eta: float | None
    endmembers: np.ndarray | None = None
    message: str = ""


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` → CUDA if available, else Apple MPS, else CPU; other names are checked."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' requested but no CUDA GPU is available")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("device 'mps' requested but MPS is not available")
    return torch.device(name)


def _should_stop(stop: StopFlag) -> bool:
    if stop is None:
        return False
    if isinstance(stop, threading.Event):
        return stop.is_set()
    return bool(stop())


def run_to_end(gen: Generator[Any, None, _R], callback: Callable[[Any], Any] | None = None) -> _R:
    """Drive a progress generator (:func:`iter_unmix`, a K sweep) and return its result."""
    while True:
        try:
            event = next(gen)
        except StopIteration as done:
            return done.value
        if callback is not None:
            callback(event)


def _versions() -> dict[str, str]:
    import sklearn

    return {"ftir_unmix": __version__, "numpy": np.__version__, "torch": torch.__version__,
            "scikit-learn": sklearn.__version__, "python": platform.python_version()}


def _scale(data: np.ndarray, how: str) -> tuple[np.ndarray, np.ndarray, str]:
    """Scaled copy of ``data`` (N, B), the per-band factor to undo it on spectra, and a note."""
    n_bands = data.shape[1]
    if how == "none":
        return data, np.ones(n_bands, np.float32), "none"
    if how == "minmax":
        lo, hi = data.min(0), data.max(0)
        rng = np.where(hi > lo, hi - lo, 1.0).astype(np.float32)
        return (data - lo) / rng, rng, "per-band min-max to [0, 1] (authors' code)"
    s = float(np.percentile(np.abs(data), 99.0))
    s = s if s > 0 else 1.0
    return data / np.float32(s), np.full(n_bands, s, np.float32), f"divided by 99th percentile of |data| = {s:.6g}"


def _initial_endmembers(x: np.ndarray, w: np.ndarray, k: int, how: str, seed: int) -> np.ndarray:
    """Endmembers (B, K) for the decoder's warm start.

    Pure pixels are found on the band-weighted data (so unreliable bands do
    not steer the choice); the spectra are then fitted on all bands to the
    resulting abundances by nonnegative least squares, so that bands with a
    low weight are not amplified.
    """
    from . import baselines

    if x.shape[0] > _INIT_PIXELS:  # the estimate needs the spread of spectra, not every pixel
        x = x[np.sort(np.random.default_rng(seed).choice(x.shape[0], _INIT_PIXELS, replace=False))]
    xw = x * w
    if how == "nmf":
        _, a = baselines.nmf(np.clip(xw, 0, None), k, seed=seed)
    else:
        e_w = baselines.vca(xw, k, seed=seed)
        a = baselines.fcls(xw, e_w)
    # x ≈ aᵀ eᵀ: least squares per band with a shared (K×K) Gram, then clip.
    gram = a @ a.T + 1e-6 * np.eye(k)
    e = np.linalg.solve(gram, a @ x).T
    return np.clip(e, 1e-6, None).astype(np.float32)


def _choose_warm_start(loop: _Trainer, x: np.ndarray, loss_w: np.ndarray, cfg: UnmixConfig,
                       stop: StopFlag, parameters: dict[str, Any], t0: float
                       ) -> Generator[Progress, None, list[float]]:
    """Warm-start the decoder from NMF and from VCA + FCLS; keep the one the encoder fits better.

    Each candidate trains the encoder alone (decoder fixed at the candidate's
    endmembers) for half the warm-up; the one with the lower mean loss over
    its last fifth of those steps wins, and training continues from its
    state. Neither estimate is best everywhere (docs/benchmarks.md): on Samson
    the NMF start is ~24° off and VCA's ~4°; on layered synthetic sections it
    is the other way round. Returns the winner's losses (the run's first steps).
    """
    model = loop.model
    start = copy.deepcopy(model.state_dict())
    n = max(cfg.warmup_steps // 2, 1)
    trials: dict[str, tuple[float, list[float], dict[str, Any]]] = {}
    for name in ("nmf", "vca"):
        yield Progress("prepare", 0, loop.total, None, None, time.perf_counter() - t0, None,
                       message=f"warm start: trying {name.upper()}")
        model.load_state_dict(start)
        model.init_decoder(_initial_endmembers(x, loss_w.astype(np.float32), cfg.k, name, cfg.seed))
        loop.restart()
        losses: list[float] = []
        last_yield = time.perf_counter()
        for value in loop.steps(lambda: _should_stop(stop)):
            losses.append(value)
            if len(losses) == n:
                break
            if time.perf_counter() - last_yield > _YIELD_EVERY:
                last_yield = time.perf_counter()
                yield Progress("prepare", 0, loop.total, value, None, last_yield - t0, None,
                               message=f"warm start: trying {name.upper()} ({len(losses)}/{n})")
        score = float(np.mean(losses[-max(1, n // 5):]))
        trials[name] = (score, losses, {"model": copy.deepcopy(model.state_dict()),
                                        "opt": copy.deepcopy(loop.opt.state_dict())})
        if _should_stop(stop):
            break
    chosen = min(trials, key=lambda k: trials[k][0])
    _, losses, state = trials[chosen]
    model.load_state_dict(state["model"])
    loop.restart(state["opt"])
    parameters["warm_start"] = {"chosen": chosen, "trial_steps": n,
                                "trial_loss": {k: v[0] for k, v in trials.items()}}
    return losses


def _objective(loop: _Trainer, x: np.ndarray, loss_w: np.ndarray, nuisance: torch.Tensor | None,
               shape: tuple[int, int], chunk: int = 16_384) -> tuple[float, np.ndarray, np.ndarray]:
    """The training objective on the whole image: mean (W)SAD (radians), the angle per pixel (H, W)
    and the abundances (K, N).

    Computed with the 1×1 part of the model (``Ê a``); the fast protocol's warm-started
    decoder keeps its mass at the kernel centre, so this is the loss it trains.
    """
    model = loop.model
    model.eval()
    a = loop.infer().reshape(model.k, -1)
    e = model.endmembers().detach().cpu().numpy()
    q = None if nuisance is None else nuisance.detach().cpu().numpy().astype(np.float64)
    angle = reconstruction_angles(x, e, a, loss_w, nuisance=q, chunk=chunk)
    return float(angle.mean()), angle.reshape(shape), a


def _replace_weakest(model: FTIRUnmixer, x: np.ndarray, angle: np.ndarray, a: np.ndarray,
                     shape: tuple[int, int]) -> tuple[int, list[int]]:
    """Give the least-used endmember the spectrum of the worst-explained spot of the image.

    The least-used endmember is the one whose map has the lowest peak (the value
    reached by its top 0.1 % of pixels, at least 3); the worst-explained spot is
    the maximum of the 3×3 median of the per-pixel angle (so a single spike does
    not win), and its spectrum the band-wise median of that 3×3 neighbourhood.
    """
    from scipy.ndimage import median_filter

    column = int(np.argmin(map_peaks(a)))
    r, c = np.unravel_index(int(np.argmax(median_filter(angle, size=3, mode="nearest"))), shape)
    cube = x.reshape(*shape, -1)
    spectrum = np.median(cube[max(0, r - 1):r + 2, max(0, c - 1):c + 2].reshape(-1, cube.shape[-1]), axis=0)
    e = model.endmembers().detach().cpu().numpy()
    e[:, column] = spectrum
    model.init_decoder(e)
    return column, [int(r), int(c)]


def _subspace(x: torch.Tensor, rank: int, *, max_rows: int, generator: torch.Generator) -> tuple[torch.Tensor, float]:
    """Orthonormal basis (B, r) of the dominant row space of ``x`` (N, B), and the energy it holds."""
    n = x.shape[0]
    rows = x if n <= max_rows else x[torch.randperm(n, generator=generator)[:max_rows].to(x.device)]
    r = min(rank, *rows.shape)
    # Uncentred: the subspace holds the data themselves, not their deviations.
    # Randomised subspace iteration on the (B×B) Gram matrix (Halko et al. 2011):
    # a full eigendecomposition of a 1500×1500 matrix takes seconds on 2 cores.
    gram = (rows.T @ rows).double()
    probe = torch.randn(gram.shape[0], min(gram.shape[0], r + 16), generator=generator,
                        dtype=torch.float64).to(x.device)
    basis = torch.linalg.qr(gram @ probe).Q
    for _ in range(4):
        basis = torch.linalg.qr(gram @ basis).Q
    vals, vecs = torch.linalg.eigh(basis.T @ gram @ basis)  # Rayleigh–Ritz, ascending
    basis = (basis @ vecs[:, -r:].flip(1)).to(x.dtype).contiguous()
    captured = float((x @ basis).square().sum() / torch.linalg.vector_norm(x).square().clamp_min(1e-30))
    return basis, captured


def iter_unmix(
    cube: Cube,
    config: UnmixConfig | None = None,
    *,
    weights: np.ndarray | None = None,
    stop: StopFlag = None,
    **changes: Any,
) -> Generator[Progress, None, UnmixResult]:
    """Unmix a cube, yielding :class:`Progress` events; return an :class:`UnmixResult`.

    Parameters
    ----------
    cube : Cube
        The image.
    config : UnmixConfig, optional
        Parameters (defaults if omitted); ``**changes`` override single fields.
    weights : ndarray (B,), optional
        Band weights to use instead of the automatic ones (e.g. edited by
        hand in the GUI). Recorded in the result.
    stop : threading.Event or callable, optional
        Checked after every mini-batch/step; when set, training ends and the
        result of the best epoch so far is returned with ``cancelled=True``.
    """
    require_cube(cube)
    if config is not None and not isinstance(config, UnmixConfig):
        raise TypeError(f"config must be an UnmixConfig; got {type(config).__name__}")
    cfg = (config or UnmixConfig()).updated(**changes).resolved()
    if cube.n_bands < 3:
        raise DataError(f"unmixing needs at least 3 bands; the cube has {cube.n_bands}")
    check_forced_ranges(cfg.forced_ranges, cube.wavenumbers)
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    h, w_img, n_bands = cube.shape
    yield Progress("prepare", 0, cfg.epochs, None, None, 0.0, None, message="band weights")

    diag = band_diagnostics(cube.data, **cfg.weight_params())
    auto_w = diag.weights
    if weights is not None:
        band_w, weight_source = checked_weights(weights, n_bands), "given"
    else:
        band_w, weight_source = auto_w, "automatic"
    if cfg.forced_ranges:
        band_w = force_ranges(band_w, cube.wavenumbers, cfg.forced_ranges, cfg.w_min)
    loss_w = band_w if cfg.loss == "wsad" else np.ones(n_bands)
    timings["weights_s"] = time.perf_counter() - t0

    x, unscale, scaling_note = _scale(cube.pixels, cfg.scaling)
    parameters: dict[str, Any] = cfg.to_dict()
    parameters["preprocessing"] = {
        "scaling": scaling_note,
        "baseline": cfg.baseline,
        "band_weights": weight_source + (", forced ranges to w_min" if cfg.forced_ranges else ""),
        "cube_repairs": list(cube.metadata.get("repairs", [])),
    }
    parameters["source"] = {k: cube.metadata.get(k) for k in ("path", "format") if k in cube.metadata}

    def finish(abund: np.ndarray, endm: np.ndarray, history: list[float], cancelled: bool) -> UnmixResult:
        timings["total_s"] = time.perf_counter() - t0
        return UnmixResult(
            abundances=abund.astype(np.float32), endmembers=(endm * unscale[:, None]).astype(np.float32),
            weights=loss_w.astype(np.float64), wavenumbers=cube.wavenumbers.copy(),
            loss_history=np.asarray(history, dtype=np.float64), parameters=parameters,
            versions=_versions(), timings=timings,
            diagnostics={**diag.columns(), "weight": band_w, "auto_weight": auto_w,
                         "median_spectrum": diag.median_spectrum},
            cancelled=cancelled,
        )

    degree = baseline_degree(cfg.baseline) if cfg.method == "cnn" else None
    poly = polynomial_basis(cube.wavenumbers, degree) if degree is not None else None
    nuisance_np = None if poly is None else weighted_nuisance_basis(poly, loss_w)
    parameters["warnings"] = check_unmixable(cube, cfg.k, weights=loss_w, nuisance=nuisance_np,
                                             baseline=cfg.baseline, seed=cfg.seed)

    if cfg.method != "cnn":
        from . import baselines

        t = time.perf_counter()
        if cfg.method == "nmf":
            e, a = baselines.nmf(x, cfg.k, seed=cfg.seed)
        else:
            e, a = baselines.vca_fcls(x, cfg.k, seed=cfg.seed)
        timings["fit_s"] = time.perf_counter() - t
        parameters["preprocessing"]["baseline"] = "none (the baseline term is part of the CNN model)"
        parameters["device"] = "cpu"
        return finish(a.reshape(cfg.k, h, w_img), e, [], False)

    device = resolve_device(cfg.device)
    parameters["device"] = str(device)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)

    t = time.perf_counter()
    model = FTIRUnmixer(
        n_bands, cfg.k, n_filters=cfg.n_filters, patch_size=cfg.patch_size,
        softmax_scale=cfg.softmax_scale, dropout=cfg.dropout,
        in_channels=min(cfg.reduced_rank, n_bands, h * w_img) if cfg.protocol == "fast" else None,
    ).to(device)
    trainer = _PaperTrainer if cfg.protocol == "paper" else _FastTrainer
    nuisance = None if nuisance_np is None else torch.as_tensor(nuisance_np, dtype=torch.float32, device=device)
    loop = trainer(model, x.reshape(h, w_img, n_bands), loss_w, cfg, device, gen, parameters, nuisance)
    timings["setup_s"] = time.perf_counter() - t

    t = time.perf_counter()
    history: list[float] = []
    if cfg.init == "auto":  # fast protocol: the better of two warm starts (see _choose_warm_start)
        history = yield from _choose_warm_start(loop, x, loss_w, cfg, stop, parameters, t0)
    elif cfg.init != "random":
        model.init_decoder(_initial_endmembers(x, loss_w.astype(np.float32), cfg.k, cfg.init, cfg.seed))
    timings["init_s"] = time.perf_counter() - t

    # The chosen warm start's warm-up steps are the run's first steps.
    best = (history[-1] if history else float("inf"), copy.deepcopy(model.state_dict()), len(history))
    t_train = time.perf_counter()

    def train(steps: Iterator[float | None], total: int, message: str = "") -> Generator[Progress, None, None]:
        """Run ``steps``, keeping the best state in ``best`` and yielding progress."""
        nonlocal best
        t_phase, n_before = time.perf_counter(), len(history)
        last_yield = t_phase
        if history:
            yield Progress("train", len(history), total, history[-1], best[0], t_phase - t0, None,
                           endmembers=model.endmembers().detach().cpu().numpy() * unscale[:, None],
                           message=message)
        for step_loss in steps:
            if step_loss is None:  # a mini-batch inside an epoch: only a chance to yield / stop
                now = time.perf_counter()
                if now - last_yield > _YIELD_EVERY:
                    last_yield = now
                    yield Progress("train", len(history), total, history[-1] if history else None,
                                   best[0] if history else None, now - t0, None, message=message)
                continue
            history.append(step_loss)
            if step_loss < best[0]:
                best = (step_loss, copy.deepcopy(model.state_dict()), len(history))
            now = time.perf_counter()
            per_step = (now - t_phase) / (len(history) - n_before)
            if now - last_yield > _YIELD_EVERY / 2 or len(history) == total:
                last_yield = now
                yield Progress("train", len(history), total, step_loss, best[0], now - t0,
                               per_step * (total - len(history)),
                               endmembers=model.endmembers().detach().cpu().numpy() * unscale[:, None],
                               message=message)

    refine_steps = cfg.step_budget()[1]
    yield from train(loop.steps(lambda: _should_stop(stop), start=len(history)), cfg.epochs)
    cancelled = loop.stopped_by == "cancel"
    parameters["stopped_by"] = loop.stopped_by
    abund = None  # the maps of the kept state, when the refinement already computed them
    if refine_steps and not cancelled:
        model.load_state_dict(best[1])
        before = _objective(loop, x, loss_w, nuisance, (h, w_img))
        kept = best
        column, pixel = _replace_weakest(model, x, before[1], before[2], (h, w_img))
        best = (float("inf"), best[1], best[2])
        loop.restart()
        yield from train(loop.steps(lambda: _should_stop(stop), start=loop.total - refine_steps,
                                    warmup=loop.total - refine_steps + refine_steps // 3),
                         cfg.epochs, message=f"refining: EM{column + 1} replaced")
        cancelled = loop.stopped_by == "cancel"
        if cancelled:
            parameters["stopped_by"] = "cancel"
        model.load_state_dict(best[1])
        after = _objective(loop, x, loss_w, nuisance, (h, w_img))
        accepted = after[0] < before[0] and not cancelled
        if not accepted:
            best = kept
        abund = (after if accepted else before)[2].reshape(cfg.k, h, w_img)
        parameters["refinement"] = {
            "replaced": column, "pixel": pixel, "steps": len(history) - kept[2] if accepted else 0,
            "objective_before_deg": float(np.degrees(before[0])),
            "objective_after_deg": float(np.degrees(after[0])), "accepted": bool(accepted),
        }
    timings["train_s"] = time.perf_counter() - t_train
    parameters["steps_run"] = len(history)  # the warm-up of the chosen warm start included
    parameters["best_step"] = best[2]

    yield Progress("infer", len(history), len(history), history[-1] if history else None,
                   best[0] if history else None, time.perf_counter() - t0, None, message="abundance maps")
    t = time.perf_counter()
    model.load_state_dict(best[1])
    model.eval()
    if abund is None:
        abund = loop.infer()
    endm = model.endmembers().detach().cpu().numpy()
    if poly is not None:  # the loss fixed each endmember only up to a polynomial
        endm, _ = lower_envelope(endm, poly)
    timings["infer_s"] = time.perf_counter() - t
    return finish(abund, endm, history, cancelled)


class _Trainer:
    """What both protocols share: the model, its optimiser, and how a run ended."""

    model: FTIRUnmixer
    cfg: UnmixConfig
    total: int
    stopped_by: str

    def restart(self, opt_state: dict[str, Any] | None = None) -> None:
        """A fresh optimiser for the model's current parameters (or the given optimiser state)."""
        self.opt = torch.optim.Adam(self.model.parameters(), lr=self.cfg.lr)
        if opt_state is not None:
            self.opt.load_state_dict(opt_state)


class _PaperTrainer(_Trainer):
    """The paper protocol: random p×p patches, mini-batches, full-band (W)SAD."""

    def __init__(self, model: FTIRUnmixer, x: np.ndarray, loss_w: np.ndarray, cfg: UnmixConfig,
                 device: torch.device, gen: torch.Generator, parameters: dict[str, Any],
                 nuisance: torch.Tensor | None = None) -> None:
        self.model, self.cfg, self.device = model, cfg, device
        self.nuisance = nuisance
        self.total = cfg.step_budget()[0]
        self.stopped_by = "epochs"
        h, w, _ = x.shape
        p = cfg.patch_size
        if h < p or w < p:
            raise ValueError(f"the image ({h}×{w}) is smaller than one {p}×{p} patch")
        self.x = torch.from_numpy(np.ascontiguousarray(np.moveaxis(x, -1, 0))).to(device)  # (B, H, W)
        self.w = torch.as_tensor(loss_w, dtype=torch.float32, device=device)
        self.gen = gen
        # Top-left corners of the patches, drawn once; reshuffled every epoch.
        self.rows = torch.randint(0, h - p + 1, (cfg.n_patches,), generator=gen)
        self.cols = torch.randint(0, w - p + 1, (cfg.n_patches,), generator=gen)
        self.offsets = torch.arange(p)
        self.restart()
        parameters["protocol_detail"] = {"patches": cfg.n_patches, "batch_size": cfg.batch_size}

    def _batch(self, idx: torch.Tensor) -> torch.Tensor:
        r = (self.rows[idx, None] + self.offsets)[:, :, None]  # (n, p, 1)
        c = (self.cols[idx, None] + self.offsets)[:, None, :]  # (n, 1, p)
        return self.x[:, r.to(self.device), c.to(self.device)].permute(1, 0, 2, 3)  # (n, B, p, p)

    def steps(self, should_stop: Callable[[], bool], start: int = 0):
        for _ in range(start, self.total):
            self.model.train()
            order = torch.randperm(self.cfg.n_patches, generator=self.gen)
            total, count = 0.0, 0
            for b0 in range(0, self.cfg.n_patches, self.cfg.batch_size):
                idx = order[b0:b0 + self.cfg.batch_size]
                xb = self._batch(idx)
                x_hat, _ = self.model(xb)
                loss = wsad(xb, x_hat, self.w, dim=1, eps=self.cfg.eps, project_out=self.nuisance)
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                self.opt.step()
                total += float(loss.detach()) * len(idx)
                count += len(idx)
                if should_stop():
                    self.stopped_by = "cancel"
                    return
                yield None
            yield total / count

    @torch.no_grad()
    def infer(self) -> np.ndarray:
        return _infer_tiled(self.model, self.x)


class _FastTrainer(_Trainer):
    """The fast protocol: whole image (or big tiles) per step, exact loss in a band subspace.

    The WSAD needs, per pixel, ``(Dx)ᵀ(Dx̂)``, ``‖Dx‖`` and ``‖Dx̂‖`` with
    ``D = diag(w)``. With ``V`` (B×r) an orthonormal basis of the weighted
    data, ``(Dx)ᵀ(Dx̂) = (VᵀDx)ᵀ(VᵀDx̂)`` whenever ``Dx`` lies in span V
    (recorded: the captured energy), ``‖Dx‖`` is computed once on all bands,
    and ``‖Dx̂‖² = ‖VᵀDx̂‖² + aᵀ (RᵀR) a`` exactly, with ``R = (I − VVᵀ)DW`` the
    decoder's part outside the subspace and ``a`` the p×p×K neighbourhood of
    abundances. No B-sized tensor is touched per pixel during training.
    """

    def __init__(self, model: FTIRUnmixer, x: np.ndarray, loss_w: np.ndarray, cfg: UnmixConfig,
                 device: torch.device, gen: torch.Generator, parameters: dict[str, Any],
                 nuisance: torch.Tensor | None = None) -> None:
        self.model, self.cfg, self.device, self.gen = model, cfg, device, gen
        self.nuisance = nuisance  # (B, r) orthonormal, removed from Dx and Dx̂ before the angle
        self.total = cfg.step_budget()[0]
        self.warmup = cfg.warmup_steps if cfg.init != "random" else 0
        self.stopped_by = "max steps"
        h, w, n_bands = x.shape
        self.h, self.w = h, w
        xt = torch.from_numpy(np.ascontiguousarray(x.reshape(-1, n_bands))).to(device)
        wt = torch.as_tensor(loss_w, dtype=torch.float32, device=device)
        self.wt = wt
        r_in = model.conv1.in_channels
        q, cap_in = _subspace(xt, r_in, max_rows=_BASIS_PIXELS, generator=gen)
        xw = xt * wt
        if nuisance is not None:  # in row blocks: no second image-sized temporary
            for r0 in range(0, xw.shape[0], _BASIS_PIXELS):
                blk = xw[r0:r0 + _BASIS_PIXELS]
                blk -= (blk @ nuisance) @ nuisance.T
        v, cap_loss = _subspace(xw, cfg.reduced_rank, max_rows=_BASIS_PIXELS, generator=gen)
        self.v = v
        # Encoder input: coordinates in span Q, (r_in, H, W).
        self.z = (xt @ q).T.reshape(r_in, h, w).contiguous()
        self.c = (xw @ v).T.reshape(v.shape[1], h, w).contiguous()  # VᵀDx
        self.xnorm = torch.linalg.vector_norm(xw, dim=1).reshape(h, w)  # ‖Dx‖ on all bands
        del xt, xw
        self.restart()
        n_pix = h * w
        if n_pix <= cfg.max_pixels_per_step:
            self.tile = (h, w)
        else:
            side = int(np.sqrt(cfg.max_pixels_per_step))
            self.tile = (min(h, side), min(w, max(side, cfg.max_pixels_per_step // min(h, side))))
        parameters["protocol_detail"] = {
            "encoder_rank": int(r_in), "loss_rank": int(v.shape[1]),
            "energy_captured_encoder": cap_in, "energy_captured_loss": cap_loss,
            "tile": list(self.tile),
        }

    def _crop(self) -> tuple[slice, slice]:
        th, tw = self.tile
        r0 = int(torch.randint(0, self.h - th + 1, (1,), generator=self.gen))
        c0 = int(torch.randint(0, self.w - tw + 1, (1,), generator=self.gen))
        return slice(r0, r0 + th), slice(c0, c0 + tw)

    def loss(self, rs: slice, cs: slice) -> torch.Tensor:
        model, p = self.model, self.model.patch_size
        a = model.abundances(self.z[None, :, rs, cs])  # (1, K, h, w)
        m = (self.wt[:, None] * model.decoder_kernel().reshape(model.n_bands, -1))  # (B, K p²)
        if self.nuisance is not None:
            m = m - self.nuisance @ (self.nuisance.T @ m)
        proj_w = self.v.T @ m  # (r, K p²)
        resid = m - self.v @ proj_w  # the decoder outside span V
        gram = resid.T @ resid  # (K p², K p²)
        ap = F.unfold(a, p, padding=p // 2)[0]  # (K p², n)
        proj = proj_w @ ap  # (r, n)
        c = self.c[:, rs, cs].reshape(proj.shape[0], -1)
        dot = (c * proj).sum(0)
        nsq = proj.square().sum(0) + (ap * (gram @ ap)).sum(0)
        xnorm = self.xnorm[rs, cs].reshape(-1)
        cos = dot / (xnorm * nsq.clamp_min(0).sqrt() + self.cfg.eps)
        return torch.arccos(cos.clamp(-1 + COS_CLAMP, 1 - COS_CLAMP)).mean()

    def steps(self, should_stop: Callable[[], bool], start: int = 0, warmup: int | None = None):
        best, since = float("inf"), 0
        decoder = self.model.decoder_logits
        warmup = self.warmup if warmup is None else warmup
        for step in range(start, self.total):
            if should_stop():  # checked before each step: a flag set after the last one cancels nothing
                self.stopped_by = "cancel"
                return
            # Warm-up: the encoder learns abundances for the warm-started endmembers
            # before the decoder may move; otherwise random early abundances pull
            # every endmember towards the mean spectrum.
            decoder.requires_grad_(step >= warmup)
            self.model.train()
            rs, cs = self._crop()
            loss = self.loss(rs, cs)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            value = float(loss.detach())
            yield value
            if step < warmup:
                continue
            if value < best * (1 - self.cfg.tol):
                best, since = value, 0
            else:
                since += 1
            if since >= self.cfg.patience:
                self.stopped_by = "converged"
                return

    @torch.no_grad()
    def infer(self) -> np.ndarray:
        return _infer_tiled(self.model, self.z)


@torch.no_grad()
def _infer_tiled(model: FTIRUnmixer, x: torch.Tensor, max_elems: int = 64 * 2**20) -> np.ndarray:
    """Encoder on the whole image (C, H, W) in row tiles; exact thanks to a one-pixel halo."""
    model.eval()
    c, h, w = x.shape
    halo = model.ENCODER_HALO
    rows = max(1, min(h, max_elems // max(1, c * w)))
    out = np.empty((model.k, h, w), np.float32)
    for r0 in range(0, h, rows):
        r1 = min(h, r0 + rows)
        a0, a1 = max(0, r0 - halo), min(h, r1 + halo)
        a = model.abundances(x[None, :, a0:a1])[0]
        out[:, r0:r1] = a[:, r0 - a0:r0 - a0 + (r1 - r0)].cpu().numpy()
    return out
