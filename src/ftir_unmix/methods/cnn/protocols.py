"""The two training protocols of the CNN: the paper's patches and the fast whole-image steps.

Both trainers own the model's optimiser and expose the same interface:
``steps(should_stop, start=…)`` yields the loss of every completed step or
epoch (``None`` between mini-batches, a chance to yield or stop), ``total``
is the most steps, ``stopped_by`` says how the last ``steps`` ended,
``infer()`` gives the abundance maps (K, H, W) of the whole image and
``detail`` the protocol's entries for the run record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import cached_property
from typing import Any

import numpy as np
import torch

from .losses import COS_CLAMP, wsad
from .model import FTIRUnmixer
from .neighbourhoods import neighbourhoods, quadratic_form
from .priors import Priors, misfit_floor

__all__ = ["FastTrainer", "PaperTrainer", "Trainer", "infer_tiled", "subspace"]

#: Pixels (at most) from which the fast protocol's band subspaces are estimated; the
#: captured energy is then measured on every pixel and recorded.
_BASIS_PIXELS = 8192
_MAX_SPAN = 32.0  # the most steps the judged loss averages over (huge mosaics)


def sample_rows(n: int, max_rows: int, generator: torch.Generator) -> np.ndarray | None:
    """Indices (sorted) of at most ``max_rows`` of ``n`` rows, drawn with ``generator``; None for all."""
    if n <= max_rows:
        return None
    return np.sort(torch.randperm(n, generator=generator)[:max_rows].numpy())


def subspace(rows: torch.Tensor, rank: int, *, generator: torch.Generator) -> torch.Tensor:
    """Orthonormal basis (B, r) of the dominant row space of ``rows`` (n, B)."""
    r = min(rank, *rows.shape)
    # Uncentred: the subspace holds the data themselves, not their deviations.
    # Randomised subspace iteration on the (B×B) Gram matrix (Halko et al. 2011):
    # a full eigendecomposition of a 1500×1500 matrix takes seconds on 2 cores.
    gram = (rows.T @ rows).double()
    probe = torch.randn(gram.shape[0], min(gram.shape[0], r + 16), generator=generator,
                        dtype=torch.float64).to(rows.device)
    basis = torch.linalg.qr(gram @ probe).Q
    for _ in range(4):
        basis = torch.linalg.qr(gram @ basis).Q
    vals, vecs = torch.linalg.eigh(basis.T @ gram @ basis)  # Rayleigh–Ritz, ascending
    return (basis @ vecs[:, -r:].flip(1)).to(rows.dtype).contiguous()


class Trainer:
    """What both protocols share: the model, its optimiser, and how a run ended."""

    model: FTIRUnmixer
    cfg: Any
    nuisance: torch.Tensor | None  # (B, r) weighted background basis, removed before the angle
    total: int
    stopped_by: str
    detail: dict[str, Any]
    #: The loss by which the state after the last step is compared with other states (the best
    #: state kept, patience): the step's own loss, or its running mean where a step sees a tile.
    judged: float = float("inf")
    _span: float = 1.0  # steps the running mean reaches back (1: the step's own loss)
    _mean: tuple[float, float] = (0.0, 0.0)  # the running mean's weighted sum and weight
    #: (pixels, weights, image, sample): the image prepared for the whole-image objective
    #: (:class:`~ftir_unmix.metrics.WeightedPixels`), set by its first call.
    prepared: tuple[Any, Any, Any, Any] | None = None

    def restart(self, opt_state: dict[str, Any] | None = None) -> None:
        """A fresh optimiser for the model's current parameters (or the given optimiser state);
        the running mean of the loss starts again."""
        self.opt = torch.optim.Adam(self.model.parameters(), lr=self.cfg.lr)
        if opt_state is not None:
            self.opt.load_state_dict(opt_state)
        self._mean = (0.0, 0.0)

    def _judge(self, value: float) -> float:
        """Set ``judged`` from a step's loss: an exponential mean over about ``_span`` steps,
        weighted by what it has seen (the first step counts alone)."""
        keep = 1.0 - 2.0 / (self._span + 1.0)
        total, weight = self._mean
        self._mean = (keep * total + value, keep * weight + 1.0)
        self.judged = self._mean[0] / self._mean[1]
        return self.judged

    def prior_value(self, abundances: np.ndarray) -> float:
        """The priors' part of the objective at the current state (abundances (K, N)); none here."""
        return 0.0

    @cached_property
    def nuisance_basis(self) -> np.ndarray | None:
        """``nuisance`` as float64 numpy, for the steps that work on arrays: the warm starts,
        the whole-image objective and the refinement's spot."""
        return None if self.nuisance is None else self.nuisance.detach().cpu().numpy().astype(np.float64)


class PaperTrainer(Trainer):
    """The paper protocol: random p×p patches, mini-batches, full-band (W)SAD."""

    def __init__(self, model: FTIRUnmixer, x: Any, shape: tuple[int, int], loss_w: np.ndarray, cfg: Any,
                 device: torch.device, gen: torch.Generator, nuisance: torch.Tensor | None = None) -> None:
        self.model, self.cfg, self.device = model, cfg, device
        self.nuisance = nuisance
        self.total = cfg.step_budget()[0]
        self.stopped_by = "epochs"
        h, w = shape
        x = np.asarray(x, dtype=np.float32).reshape(h, w, -1)  # patches are drawn anywhere: all in memory
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
        self.detail = {"patches": cfg.n_patches, "batch_size": cfg.batch_size}

    def _batch(self, idx: torch.Tensor) -> torch.Tensor:
        r = (self.rows[idx, None] + self.offsets)[:, :, None]  # (n, p, 1)
        c = (self.cols[idx, None] + self.offsets)[:, None, :]  # (n, 1, p)
        return self.x[:, r.to(self.device), c.to(self.device)].permute(1, 0, 2, 3)  # (n, B, p, p)

    def steps(self, should_stop: Callable[[], bool], start: int = 0) -> Iterator[float | None]:
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
            yield self._judge(total / count)  # span 1: the epoch's mean itself

    @torch.no_grad()
    def infer(self) -> np.ndarray:
        return infer_tiled(self.model, self.x)


class FastTrainer(Trainer):
    """The fast protocol: whole image (or big tiles) per step, exact loss in a band subspace.

    The WSAD needs, per pixel, ``(Dx)ᵀ(Dx̂)``, ``‖Dx‖`` and ``‖Dx̂‖`` with
    ``D = diag(w)``. With ``V`` (B×r) an orthonormal basis of the weighted
    data, ``(Dx)ᵀ(Dx̂) = (VᵀDx)ᵀ(VᵀDx̂)`` whenever ``Dx`` lies in span V
    (recorded: the captured energy), ``‖Dx‖`` is computed once on all bands,
    and ``‖Dx̂‖² = ‖VᵀDx̂‖² + aᵀ (RᵀR) a`` exactly, with ``R = (I − VVᵀ)DW`` the
    decoder's part outside the subspace and ``a`` the p×p×K neighbourhood of
    abundances. No B-sized tensor is touched per pixel during training.
    """

    def __init__(self, model: FTIRUnmixer, x: Any, shape: tuple[int, int], loss_w: np.ndarray, cfg: Any,
                 device: torch.device, gen: torch.Generator, nuisance: torch.Tensor | None = None,
                 known: np.ndarray | None = None) -> None:
        self.model, self.cfg, self.device, self.gen = model, cfg, device, gen
        self.nuisance = nuisance  # (B, r) orthonormal, removed from Dx and Dx̂ before the angle
        self.total = cfg.step_budget()[0]
        self.warmup = cfg.warmup_steps if cfg.init != "random" else 0
        self.stopped_by = "max steps"
        h, w = shape
        self.h, self.w = h, w
        n = h * w
        wt = torch.as_tensor(loss_w, dtype=torch.float32, device=device)
        self.wt = wt

        def rows(index: Any) -> torch.Tensor:  # scaled pixel rows (x may be a lazy, memory-mapped view)
            return torch.from_numpy(np.ascontiguousarray(x[index], dtype=np.float32)).to(device)

        def weighted(t: torch.Tensor) -> torch.Tensor:  # Dx, with the background removed
            t = t * wt
            if nuisance is not None:
                t -= (t @ nuisance) @ nuisance.T
            return t

        # The two band subspaces, each from a sample of rows; then one pass over the image
        # in row blocks: the whole cube is never copied (it may be larger than memory).
        r_in = model.conv1.in_channels
        idx = sample_rows(n, _BASIS_PIXELS, gen)
        q = subspace(rows(slice(None) if idx is None else idx), r_in, generator=gen)
        idx = sample_rows(n, _BASIS_PIXELS, gen)
        v = subspace(weighted(rows(slice(None) if idx is None else idx)), cfg.reduced_rank, generator=gen)
        self.v = v
        z = torch.empty(n, q.shape[1], device=device)
        c = torch.empty(n, v.shape[1], device=device)
        xnorm = torch.empty(n, device=device)
        energy = torch.zeros(4, dtype=torch.float64, device=device)  # ‖x‖², ‖xQ‖², ‖Dx‖², ‖DxV‖²
        for r0 in range(0, n, _BASIS_PIXELS):
            block = slice(r0, min(n, r0 + _BASIS_PIXELS))
            xb = rows(block)
            z[block] = xb @ q
            xwb = weighted(xb)
            c[block] = xwb @ v
            xnorm[block] = torch.linalg.vector_norm(xwb, dim=1)
            energy += torch.stack([xb.square().sum(), z[block].square().sum(), xwb.square().sum(),
                                   c[block].square().sum()]).double()
        cap_in = float(energy[1] / energy[0].clamp_min(1e-30))
        cap_loss = float(energy[3] / energy[2].clamp_min(1e-30))
        self.z = z.T.reshape(r_in, h, w).contiguous()  # encoder input: coordinates in span Q
        self.c = c.T.reshape(v.shape[1], h, w).contiguous()  # VᵀDx
        self.xnorm = xnorm.reshape(h, w)  # ‖Dx‖ on all bands
        del z, c
        held = None if known is None or not cfg.known_weight else self._as_seen(
            torch.as_tensor(known, dtype=torch.float32, device=device))
        priors = cfg.minvol or cfg.sparsity or cfg.transparency or held is not None
        floor = misfit_floor(self.c.reshape(v.shape[1], -1), xnorm, model.k) if priors else 0.0
        self.priors = Priors(cfg.minvol, cfg.sparsity, floor, cfg.transparency, nuisance, held, cfg.known_weight)
        self.restart()
        n_pix = h * w
        if n_pix <= cfg.max_pixels_per_step:
            self.tile = (h, w)
        else:
            side = int(np.sqrt(cfg.max_pixels_per_step))
            self.tile = (min(h, side), min(w, max(side, cfg.max_pixels_per_step // min(h, side))))
        # One tile's loss depends on what the tile holds as much as on the state: judged alone,
        # the best state was the one that met the easiest tile, and patience ran out early
        # (512×512, seed 0: stopped after 306 steps, one material lost, 13.5°; docs/benchmarks.md).
        # So states are judged by a running mean over about as many steps as tiles cover the image.
        self._span = min(_MAX_SPAN, n_pix / (self.tile[0] * self.tile[1]))
        self.detail = {
            "encoder_rank": int(r_in), "loss_rank": int(v.shape[1]),
            "energy_captured_encoder": cap_in, "energy_captured_loss": cap_loss,
            "tile": list(self.tile), "judged_over_steps": round(self._span, 2),
        }
        if self.priors:
            self.detail["misfit_floor_deg"] = float(np.degrees(floor))

    def _crop(self) -> tuple[slice, slice]:
        th, tw = self.tile
        r0 = int(torch.randint(0, self.h - th + 1, (1,), generator=self.gen))
        c0 = int(torch.randint(0, self.w - tw + 1, (1,), generator=self.gen))
        return slice(r0, r0 + th), slice(c0, c0 + tw)

    def _as_seen(self, m: torch.Tensor) -> torch.Tensor:
        """Spectra in columns (B, n) as the loss sees them: weighted, the background removed."""
        m = self.wt[:, None] * m
        return m if self.nuisance is None else m - self.nuisance @ (self.nuisance.T @ m)

    def loss(self, rs: slice, cs: slice) -> torch.Tensor:
        model, p = self.model, self.model.patch_size
        a = model.abundances(self.z[None, :, rs, cs])  # (1, K, h, w)
        m = self._as_seen(model.decoder_kernel().reshape(model.n_bands, -1))  # (B, K p²)
        proj_w = self.v.T @ m  # (r, K p²)
        resid = m - self.v @ proj_w  # the decoder outside span V
        gram = resid.T @ resid  # (K p², K p²)
        ap = neighbourhoods(a[0], p)  # (K p², n)
        proj = proj_w @ ap  # (r, n)
        c = self.c[:, rs, cs].reshape(proj.shape[0], -1)
        dot = (c * proj).sum(0)
        nsq = proj.square().sum(0) + quadratic_form(gram, ap)
        xnorm = self.xnorm[rs, cs].reshape(-1)
        cos = dot / (xnorm * nsq.clamp_min(0).sqrt() + self.cfg.eps)
        loss = torch.arccos(cos.clamp(-1 + COS_CLAMP, 1 - COS_CLAMP)).mean()
        if self.priors:  # on the endmembers Ê = Σ W (the kernel positions summed) and these maps
            loss = loss + self.priors.penalty(m.reshape(model.n_bands, model.k, -1).sum(-1), a[0].flatten(1))
        return loss

    @torch.no_grad()
    def prior_value(self, abundances: np.ndarray) -> float:
        if not self.priors:
            return 0.0
        m = self._as_seen(self.model.endmembers())
        return float(self.priors.penalty(m, torch.as_tensor(abundances, dtype=m.dtype, device=m.device)))

    def steps(self, should_stop: Callable[[], bool], start: int = 0,
              warmup: int | None = None) -> Iterator[float]:
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
            judged = self._judge(value)
            yield value
            if step < warmup:
                continue
            if judged < best * (1 - self.cfg.tol):
                best, since = judged, 0
            else:
                since += 1
            if since >= self.cfg.patience:
                self.stopped_by = "converged"
                return

    @torch.no_grad()
    def infer(self) -> np.ndarray:
        return infer_tiled(self.model, self.z)


@torch.no_grad()
def infer_tiled(model: FTIRUnmixer, x: torch.Tensor, max_elems: int = 64 * 2**20) -> np.ndarray:
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
