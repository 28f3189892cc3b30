"""What a method and the run share: progress events, the stop flag, a method's input and output."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

import numpy as np

from ..preprocess import weighted_nuisance_basis

__all__ = ["LOSSES", "Loss", "Method", "MethodInput", "MethodOutput", "Progress", "StopFlag", "relay",
           "should_stop"]

_R = TypeVar("_R")
_E = TypeVar("_E")


@dataclass(frozen=True, kw_only=True)
class Progress:
    """One progress event (built with keywords: ``Progress(phase="train", step=3, …)``).

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
    step: int = 0
    total: int = 0
    loss: float | None = None
    best_loss: float | None = None
    elapsed: float = 0.0
    eta: float | None = None
    endmembers: np.ndarray | None = None
    message: str = ""


#: What a caller may pass to stop a run early: an event, a callable returning True, or None.
StopFlag = threading.Event | Callable[[], bool] | None


def relay(gen: Generator[_E, None, _R], wrap: Callable[[_E], Any]) -> Generator[Any, None, _R]:
    """Yield ``wrap(event)`` for every event of ``gen``; return ``gen``'s value (``yield from`` with a map)."""
    while True:
        try:
            event = next(gen)
        except StopIteration as done:
            return done.value
        yield wrap(event)


def should_stop(stop: StopFlag) -> bool:
    """True once ``stop`` (an event or a callable) says the run should end."""
    if stop is None:
        return False
    if isinstance(stop, threading.Event):
        return stop.is_set()
    return bool(stop())


@dataclass(frozen=True)
class MethodInput:
    """What :func:`ftir_unmix.run.iter_unmix` hands a method.

    Attributes
    ----------
    pixels : ScaledPixels (N, B)
        The scaled pixel spectra, rows in image order (``N = H·W``), read on
        access: ``pixels[rows]`` gives float32 rows (a slice, an index array),
        ``np.asarray(pixels)`` the whole array — avoid that for images that may
        not fit in memory (:class:`ftir_unmix.preprocess.ScaledPixels`).
    shape : (int, int)
        Image height and width.
    wavenumbers : ndarray (B,)
    loss_weights : ndarray (B,)
        Band weights of the loss (the band-reliability weights for WSAD, ones for SAD).
    background : ndarray (B, d + 1) or None
        Basis of the per-pixel background (baseline) term, or None without one.
    config : UnmixConfig
        The resolved configuration (protocol defaults filled in).
    stop : StopFlag
        Check it with :func:`should_stop`; when set, return the best result so far
        with ``cancelled=True``.
    t0 : float
        ``time.perf_counter()`` when the run started (for ``Progress.elapsed``).
    known : ndarray (B, R) or None
        Spectra of materials known to be in the sample, in the units of ``pixels``;
        only methods whose ``uses`` include ``"known"`` accept them.
    """

    pixels: np.ndarray
    shape: tuple[int, int]
    wavenumbers: np.ndarray
    loss_weights: np.ndarray
    background: np.ndarray | None
    config: Any
    stop: StopFlag = None
    t0: float = 0.0
    known: np.ndarray | None = None

    @cached_property
    def nuisance(self) -> np.ndarray | None:
        """The weighted background basis (B, r) the loss removes
        (:func:`~ftir_unmix.preprocess.weighted_nuisance_basis`); None without a background term."""
        return None if self.background is None else weighted_nuisance_basis(self.background, self.loss_weights)


@dataclass
class MethodOutput:
    """What a method returns.

    Attributes
    ----------
    abundances : ndarray (K, H, W)
    endmembers : ndarray (B, K)
        In the units of :attr:`MethodInput.pixels` (the run undoes the scaling).
    history : list of float
        Loss per step or epoch (empty for non-iterative methods).
    cancelled : bool
        Stopped early by the stop flag.
    record : dict
        Entries for the run record (e.g. ``warm_start``, ``refinement``, ``device``).
    timings : dict
        Seconds per phase, added to the result's timings.
    """

    abundances: np.ndarray
    endmembers: np.ndarray
    history: list[float] = field(default_factory=list)
    cancelled: bool = False
    record: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


MethodFunction = Callable[[MethodInput], Generator[Any, None, MethodOutput]]


@dataclass(frozen=True)
class Method:
    """A registered unmixing method.

    Attributes
    ----------
    name : str
        What ``method=`` / ``--method`` / the panel's choice say.
    summary : str
        One line for help texts and the GUI.
    run : callable or str
        The generator function, or ``"module:function"`` imported on first use
        (so that listing methods does not import torch).
    uses : frozenset of str
        The configuration groups it reads besides ``"run"`` and ``"weights"``
        (``"cnn"``, ``"protocol"``, ``"background"``…); the panel disables
        the controls of the other groups.
    iterative : bool
        It reports training steps (a progress bar in steps, a loss curve).
    k_rule : {"count", "largest-clean"}
        How a K sweep of this method chooses K (:mod:`ftir_unmix.select_k`):
        ``"count"`` needs maps whose surplus endmembers cannot claim whole
        pixels (softmax abundances), ``"largest-clean"`` suits methods whose
        every endmember has pure pixels.
    """

    name: str
    summary: str
    run: MethodFunction | str
    uses: frozenset[str] = frozenset()
    iterative: bool = False
    k_rule: str = "largest-clean"

    def function(self) -> MethodFunction:
        """The generator function (imported now when given as ``"module:function"``)."""
        if callable(self.run):
            return self.run
        module, _, name = self.run.partition(":")
        return getattr(importlib.import_module(module), name)




@dataclass(frozen=True)
class Loss:
    """A spectral-angle loss, defined by the band weights it applies.

    Attributes
    ----------
    name : str
    summary : str
    weights : callable
        From the band-reliability weights (B,) to the loss's weights (B,).
    """

    name: str
    summary: str
    weights: Callable[[np.ndarray], np.ndarray]


#: The losses by name: a new band-weighted angle is one more entry here.
LOSSES: dict[str, Loss] = {
    "wsad": Loss("wsad", "weighted spectral angle (WSAD): unreliable bands count less",
                 lambda w: np.asarray(w, dtype=np.float64)),
    "sad": Loss("sad", "spectral angle (SAD): every band alike", lambda w: np.ones(len(w))),
}
