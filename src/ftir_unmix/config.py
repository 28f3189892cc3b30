"""Every parameter of an unmixing run, in one validated dataclass."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from .baseline import BASELINES
from .weights import DEFAULT_GAMMA_FLAT

__all__ = ["UnmixConfig", "METHODS", "LOSSES", "PROTOCOLS", "SCALINGS", "INITS", "DEVICES", "BASELINES"]

METHODS = ("cnn", "nmf", "vca-fcls")
LOSSES = ("wsad", "sad")
PROTOCOLS = ("fast", "paper")
SCALINGS = ("global", "none", "minmax")
INITS = ("auto", "nmf", "vca", "random")
DEVICES = ("auto", "cpu", "cuda", "mps")


@dataclass(frozen=True)
class UnmixConfig:
    """Parameters of :func:`ftir_unmix.unmix`; all of them go into the run record.

    Attributes
    ----------
    k : int
        Number of endmembers (materials).
    method : {"cnn", "nmf", "vca-fcls"}
        The CNN autoencoder or a baseline.
    loss : {"wsad", "sad"}
        Band-weighted or plain spectral angle.
    protocol : {"fast", "paper"}
        ``"paper"``: random ``patch_size``² patches, ``n_patches`` per epoch,
        mini-batches of ``batch_size``, ``epochs`` epochs, full-band loss.
        ``"fast"``: whole image (or large random tiles) per step, the loss
        computed exactly in a reduced band space, warm start, stop on
        convergence (docs/method.md).
    epochs : int or None
        Paper protocol: epochs (default 500). Fast protocol: the maximum
        number of steps (default 300).
    n_patches, batch_size : int
        Paper protocol sampling.
    lr : float
        Adam learning rate (paper: 0.005; the authors' code: 0.001).
    patch_size : int
        Decoder kernel and patch size ``p``.
    n_filters, softmax_scale : model hyper-parameters (48, 3.5).
    dropout : float or None
        Spatial dropout rate; ``None`` takes the protocol's default: 0.2 for
        ``"paper"`` (the paper's), 0 for ``"fast"`` (dropout on the abundance
        logits made the maps about four times less accurate there, see
        docs/method.md).
    gamma_rough, gamma_flat, tau, sharpness, w_min, eps : band-weight parameters.
        As in the paper except ``gamma_rough``: 0 here (the paper: 0.75). The
        roughness score flags genuine sharp absorption bands of FTIR spectra
        (CH stretches, carboxylates) as unreliable and made WSAD worse than
        SAD in our measurements (docs/method.md); :func:`ftir_unmix.band_weights`
        keeps the paper's 0.75.
    forced_ranges : tuple of (lo, hi)
        Wavenumber ranges (cm⁻¹) whose weights are forced to ``w_min``.
    scaling : {"global", "none", "minmax"}
        ``"global"`` divides the cube by one robust scale (shape-preserving);
        ``"minmax"`` scales every band to [0, 1] as the authors' code does
        (this changes spectral shapes; endmembers are mapped back by the band
        ranges only, without the offsets).
    baseline : {"none", "offset", "linear", "quadratic"}
        CNN only: a smooth per-pixel baseline (polynomial in wavenumber of
        degree 0, 1, 2) as a nuisance term of the model. The loss ignores the
        best-fitting polynomial of each pixel and the reported endmembers are
        zero where the material is transparent (:mod:`ftir_unmix.baseline`).
        Default ``"quadratic"``: ATR spectra always carry such a baseline;
        use ``"none"`` for data without one (e.g. reflectance images).
    init : {"auto", "nmf", "vca", "random"}
        Decoder initialisation: from a fast endmember estimate (NMF or
        VCA + FCLS of the band-weighted data), or random as in the paper.
        ``"auto"``: for the fast protocol, both NMF and VCA + FCLS, each
        followed by the warm-up; the one the encoder fits with the lower
        loss is kept (recorded under ``warm_start`` in the run record).
        For the paper protocol, ``"random"``.
    seed : int
        Seeds every random choice; same seed, same device, same result.
    device : {"auto", "cpu", "cuda", "mps"}
        ``"auto"`` takes CUDA, then MPS, then the CPU.
    reduced_rank : int
        Fast protocol: dimension of the band subspace for encoder input and loss.
    tol, patience : float, int
        Fast protocol: stop when the best loss has not improved by a relative
        ``tol`` for ``patience`` steps.
    warmup_steps : int
        Fast protocol with a warm start: steps during which only the encoder
        trains (the decoder keeps the initial endmembers).
    max_pixels_per_step : int
        Fast protocol: images larger than this train on random tiles of about
        this many pixels (a stochastic step, like the paper's mini-batches, at
        a cost independent of the image size).
    refine : bool
        Fast protocol: after training, give the least-used endmember the
        spectrum of the worst-explained spot of the image and train again
        for half the steps; keep the result only if the whole-image objective
        improved (recorded under ``refinement``). This recovers a rare
        material that the warm start missed while a common one took two
        endmembers (docs/benchmarks.md); it costs about half a run.
    """

    k: int = 6
    method: str = "cnn"
    loss: str = "wsad"
    protocol: str = "fast"
    epochs: int | None = None
    n_patches: int = 20_000
    batch_size: int = 64
    lr: float = 0.005
    patch_size: int = 5
    n_filters: int = 48
    dropout: float | None = None
    softmax_scale: float = 3.5
    gamma_rough: float = 0.0
    gamma_flat: float = DEFAULT_GAMMA_FLAT
    tau: float = 3.0
    sharpness: float = 2.0
    w_min: float = 0.05
    eps: float = 1e-8
    forced_ranges: tuple[tuple[float, float], ...] = field(default_factory=tuple)
    scaling: str = "global"
    baseline: str = "quadratic"
    init: str = "auto"
    seed: int = 0
    device: str = "auto"
    reduced_rank: int = 48
    tol: float = 1e-4
    patience: int = 60
    warmup_steps: int = 100
    max_pixels_per_step: int = 8192
    refine: bool = True

    def __post_init__(self) -> None:
        for name, allowed in (("method", METHODS), ("loss", LOSSES), ("protocol", PROTOCOLS),
                              ("scaling", SCALINGS), ("baseline", tuple(BASELINES)), ("init", INITS), ("device", DEVICES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}")
        positive_ints = ("k", "n_patches", "batch_size", "patch_size", "n_filters",
                         "reduced_rank", "patience", "max_pixels_per_step")
        for name in positive_ints:
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be at least 1; got {getattr(self, name)}")
        if self.patch_size % 2 != 1:
            raise ValueError(f"patch_size must be odd; got {self.patch_size}")
        if self.epochs is not None and self.epochs < 1:
            raise ValueError(f"epochs must be at least 1; got {self.epochs}")
        if self.dropout is not None and not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1); got {self.dropout}")
        if not 0.0 <= self.w_min <= 1.0:
            raise ValueError(f"w_min must be in [0, 1]; got {self.w_min}")
        if self.lr <= 0 or self.softmax_scale <= 0 or self.sharpness <= 0:
            raise ValueError("lr, softmax_scale and sharpness must be positive")
        object.__setattr__(self, "forced_ranges",
                           tuple((float(lo), float(hi)) for lo, hi in self.forced_ranges))

    def updated(self, **changes: Any) -> UnmixConfig:
        """A copy with some parameters changed (unknown names are refused)."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise TypeError(f"unknown unmixing parameter(s): {', '.join(sorted(unknown))}")
        return replace(self, **changes)

    def resolved(self) -> UnmixConfig:
        """A copy with the protocol-dependent defaults (``init``, ``dropout``, ``epochs``) filled in.

        ``init="auto"`` becomes ``"random"`` for the paper protocol and stays
        ``"auto"`` (the better of two warm starts) for the fast one.
        """
        paper = self.protocol == "paper"
        return replace(
            self,
            init="random" if paper and self.init == "auto" else self.init,
            dropout=(0.2 if paper else 0.0) if self.dropout is None else self.dropout,
            epochs=(500 if paper else 300) if self.epochs is None else self.epochs,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters."""
        d = asdict(self)
        d["forced_ranges"] = [list(r) for r in self.forced_ranges]
        return d

    def weight_params(self) -> dict[str, float]:
        """The keyword arguments of :func:`ftir_unmix.band_weights`."""
        return dict(gamma_rough=self.gamma_rough, gamma_flat=self.gamma_flat, tau=self.tau,
                    sharpness=self.sharpness, w_min=self.w_min, eps=self.eps)
