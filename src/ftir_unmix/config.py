"""Every parameter of an unmixing run, in one validated dataclass."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from .baseline import BASELINES
from .errors import ParameterError
from .parameters import PAPER_WEIGHT_DEFAULTS, WEIGHT_RULES, Rule

__all__ = ["UnmixConfig", "METHODS", "LOSSES", "PROTOCOLS", "SCALINGS", "INITS", "DEVICES", "BASELINES",
           "MAX_EPOCHS", "parameter_rule"]

METHODS = ("cnn", "nmf", "vca-fcls")
LOSSES = ("wsad", "sad")
PROTOCOLS = ("fast", "paper")
SCALINGS = ("global", "none", "minmax")
INITS = ("auto", "nmf", "vca", "random")
DEVICES = ("auto", "cpu", "cuda", "mps")
#: The most epochs (paper protocol) or steps (fast protocol) a run may be asked for.
MAX_EPOCHS = 100_000


def _check_ranges(ranges: object) -> tuple[tuple[float, float], ...]:
    """Forced wavenumber ranges as sorted ``(lo, hi)`` pairs of finite numbers."""
    try:
        pairs = [tuple(r) for r in ranges]  # type: ignore[union-attr]
    except TypeError:
        raise TypeError(f"forced_ranges must be a sequence of (lo, hi) pairs; got {ranges!r}") from None
    out = []
    for pair in pairs:
        if len(pair) != 2:
            raise ParameterError("forced_ranges", f"each range is a (lo, hi) pair in cm-1; got {pair!r}")
        lo, hi = (Rule("float").check("forced_ranges", v) for v in pair)
        if lo == hi:
            raise ParameterError("forced_ranges", f"{lo:g}:{hi:g} is an empty range")
        out.append((min(lo, hi), max(lo, hi)))
    return tuple(out)


def parameter_rule(name: str) -> Rule:
    """The :class:`~ftir_unmix.parameters.Rule` of an :class:`UnmixConfig` field."""
    for f in fields(UnmixConfig):
        if f.name == name and "rule" in f.metadata:
            return f.metadata["rule"]
    raise KeyError(name)


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
        Paper protocol: epochs (default 500). Fast protocol: the most steps
        the run takes in all, the refinement included (default 450: at most
        300 steps of training, then at most 150 of refinement; with
        ``refine=False``, default 300). A run with ``refine=True`` trains for
        at most ``epochs - epochs // 3`` steps and refines for at most
        ``epochs // 3``. The warm-start trial of the losing candidate is not
        counted (recorded under ``warm_start``).
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

    k: int = field(default=6, metadata={"rule": Rule("int", 2, 256)})
    method: str = field(default="cnn", metadata={"rule": Rule("choice", choices=METHODS)})
    loss: str = field(default="wsad", metadata={"rule": Rule("choice", choices=LOSSES)})
    protocol: str = field(default="fast", metadata={"rule": Rule("choice", choices=PROTOCOLS)})
    epochs: int | None = field(default=None, metadata={"rule": Rule("int", 1, MAX_EPOCHS, optional=True)})
    n_patches: int = field(default=20_000, metadata={"rule": Rule("int", 1, 10_000_000)})
    batch_size: int = field(default=64, metadata={"rule": Rule("int", 1, 1_000_000)})
    lr: float = field(default=0.005, metadata={"rule": Rule("float", 0.0, 1.0, low_open=True)})
    patch_size: int = field(default=5, metadata={"rule": Rule("int", 1, 15, odd=True)})
    n_filters: int = field(default=48, metadata={"rule": Rule("int", 1, 1024)})
    dropout: float | None = field(default=None, metadata={
        "rule": Rule("float", 0.0, 1.0, high_open=True, optional=True)})
    softmax_scale: float = field(default=3.5, metadata={"rule": Rule("float", 0.0, 100.0, low_open=True)})
    gamma_rough: float = field(default=0.0, metadata={"rule": WEIGHT_RULES["gamma_rough"]})
    gamma_flat: float = field(default=PAPER_WEIGHT_DEFAULTS["gamma_flat"],
                              metadata={"rule": WEIGHT_RULES["gamma_flat"]})
    tau: float = field(default=PAPER_WEIGHT_DEFAULTS["tau"], metadata={"rule": WEIGHT_RULES["tau"]})
    sharpness: float = field(default=PAPER_WEIGHT_DEFAULTS["sharpness"],
                             metadata={"rule": WEIGHT_RULES["sharpness"]})
    w_min: float = field(default=PAPER_WEIGHT_DEFAULTS["w_min"], metadata={"rule": WEIGHT_RULES["w_min"]})
    eps: float = field(default=PAPER_WEIGHT_DEFAULTS["eps"], metadata={"rule": WEIGHT_RULES["eps"]})
    forced_ranges: tuple[tuple[float, float], ...] = field(default_factory=tuple)
    scaling: str = field(default="global", metadata={"rule": Rule("choice", choices=SCALINGS)})
    baseline: str = field(default="quadratic", metadata={"rule": Rule("choice", choices=tuple(BASELINES))})
    init: str = field(default="auto", metadata={"rule": Rule("choice", choices=INITS)})
    seed: int = field(default=0, metadata={"rule": Rule("int", 0, 2**32 - 1)})
    device: str = field(default="auto", metadata={"rule": Rule("choice", choices=DEVICES)})
    reduced_rank: int = field(default=48, metadata={"rule": Rule("int", 1, 4096)})
    tol: float = field(default=1e-4, metadata={"rule": Rule("float", 0.0, 1.0, high_open=True)})
    patience: int = field(default=60, metadata={"rule": Rule("int", 1, MAX_EPOCHS)})
    warmup_steps: int = field(default=100, metadata={"rule": Rule("int", 0, MAX_EPOCHS)})
    max_pixels_per_step: int = field(default=8192, metadata={"rule": Rule("int", 64, 100_000_000)})
    refine: bool = field(default=True, metadata={"rule": Rule("bool")})

    def __post_init__(self) -> None:
        # One place for every range: the API, the CLI and the GUI all end up here.
        for f in fields(self):
            rule = f.metadata.get("rule")
            if rule is not None:
                object.__setattr__(self, f.name, rule.check(f.name, getattr(self, f.name)))
        object.__setattr__(self, "forced_ranges", _check_ranges(self.forced_ranges))

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
        default_epochs = 500 if paper else (450 if self.refine else 300)
        return replace(
            self,
            init="random" if paper and self.init == "auto" else self.init,
            dropout=(0.2 if paper else 0.0) if self.dropout is None else self.dropout,
            epochs=default_epochs if self.epochs is None else self.epochs,
        )

    def step_budget(self) -> tuple[int, int]:
        """Most steps of training and of refinement (fast protocol), which add up to ``epochs``.

        The paper protocol does not refine: ``(epochs, 0)``.
        """
        epochs = self.resolved().epochs
        if self.protocol != "fast" or not self.refine:
            return epochs, 0
        return epochs - epochs // 3, epochs // 3

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters."""
        d = asdict(self)
        d["forced_ranges"] = [list(r) for r in self.forced_ranges]
        return d

    def weight_params(self) -> dict[str, float]:
        """The keyword arguments of :func:`ftir_unmix.band_weights`."""
        return dict(gamma_rough=self.gamma_rough, gamma_flat=self.gamma_flat, tau=self.tau,
                    sharpness=self.sharpness, w_min=self.w_min, eps=self.eps)
