"""One unmixing run as a generator of progress events: one loop for the GUI, the CLI and the tests.

>>> gen = iter_unmix(cube, UnmixConfig(k=6))          # doctest: +SKIP
>>> for event in gen: print(event.step, event.loss)   # doctest: +SKIP

:func:`iter_unmix` checks the input, computes the band weights, scales the
data, starts the run record, then ``yield from`` the chosen method
(:mod:`ftir_unmix.methods`) and builds the :class:`~ftir_unmix.UnmixResult`.
The generator's return value (``StopIteration.value``; napari's
``thread_worker`` emits it as ``returned``) is the result; :func:`run_to_end`
drives a generator and hands it back, :func:`unmix` is the one-call form.
"""

from __future__ import annotations

import contextlib
import platform
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import replace
from typing import Any, TypeVar

import numpy as np

from . import methods
from ._version import __version__
from .checks import check_forced_ranges, check_unmixable, checked_weights, require_cube
from .config import UnmixConfig
from .cube import Cube
from .errors import DataError
from .known_spectra import KnownSpectra
from .methods import MethodInput, Progress, StopFlag, relay, should_stop
from .metrics import spectral_angles
from .preprocess import (
    BELOW_NOISE_SIGMAS,
    ScaledPixels,
    as_seen,
    band_diagnostics,
    baseline_degree,
    below_baseline_share,
    estimate_atmosphere,
    file_mapping,
    force_ranges,
    narrow_line_share,
    polynomial_basis,
    release_pages,
    scale_pixels,
    weighted_nuisance_basis,
)
from .result import UnmixResult
from .trust import endmember_trust

__all__ = ["Progress", "StopFlag", "iter_unmix", "relay", "run_to_end", "should_stop", "unmix"]

_R = TypeVar("_R")


def run_to_end(gen: Generator[Any, None, _R], callback: Callable[[Any], Any] | None = None) -> _R:
    """Drive a progress generator (:func:`iter_unmix`, a K sweep) and return its result."""
    while True:
        try:
            event = next(gen)
        except StopIteration as done:
            return done.value
        if callback is not None:
            callback(event)


@contextlib.contextmanager
def _threads(n: int | None) -> Iterator[dict[str, int | None]]:
    """Let torch and numpy's BLAS use ``n`` CPU threads for the block (None: leave them alone).

    Both matter to a result: the warm start's and the estimates' linear algebra runs in
    BLAS, and a different thread count there changes the last digits, which training can
    grow into a different answer (docs/benchmarks.md, open lead 10). Yields the counts in
    force, for the run record.
    """
    import torch
    from threadpoolctl import threadpool_limits

    if n is None:
        yield _thread_counts()
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n, user_api="blas"):
            yield _thread_counts()
    finally:
        torch.set_num_threads(before)


def _thread_counts() -> dict[str, int | None]:
    """CPU threads torch and the BLAS libraries loaded (numpy's, scipy's) use now."""
    import torch
    from threadpoolctl import threadpool_info

    blas = [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]
    return {"torch": torch.get_num_threads(), "blas": max(blas) if blas else None}


def _versions() -> dict[str, str]:
    import sklearn
    import torch

    return {"ftir_unmix": __version__, "numpy": np.__version__, "torch": torch.__version__,
            "scikit-learn": sklearn.__version__, "python": platform.python_version()}


def iter_unmix(
    cube: Cube,
    config: UnmixConfig | None = None,
    *,
    weights: np.ndarray | None = None,
    stop: StopFlag = None,
    known: KnownSpectra | None = None,
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
        Checked during training; when set, training ends and the result of
        the best step so far is returned with ``cancelled=True``.
    known : KnownSpectra, optional
        Spectra of materials known to be in the sample (at most K): each holds one
        endmember near itself (weight ``known_weight``); those endmembers come first
        and are named after them. Only methods that take them (``cnn``, fast protocol).
    """
    require_cube(cube)
    if config is not None and not isinstance(config, UnmixConfig):
        raise TypeError(f"config must be an UnmixConfig; got {type(config).__name__}")
    cfg = (config or UnmixConfig()).updated(**changes).resolved()
    method = methods.get(cfg.method)
    if cube.n_bands < 3:
        raise DataError(f"unmixing needs at least 3 bands; the cube has {cube.n_bands}")
    check_forced_ranges(cfg.forced_ranges, cube.wavenumbers)
    if known is not None and not len(known):
        known = None
    if known is not None:
        if "known" not in method.uses:
            raise ValueError(f"method {cfg.method!r} does not take known spectra")
        if len(known) > cfg.k:
            raise ValueError(f"{len(known)} known spectra for K = {cfg.k}: give at most K")
        if cfg.protocol == "paper":  # refused before the band weights are spent
            raise ValueError("known spectra need the fast protocol (protocol='fast')")
    with _threads(cfg.threads) as threads_used:
        result = yield from _unmix_checked(cube, cfg, method, weights, stop, known)
    result.parameters["threads_used"] = threads_used
    return result


def _unmix_checked(cube: Cube, cfg: UnmixConfig, method: methods.Method, weights: np.ndarray | None,
                   stop: StopFlag, known: KnownSpectra | None) -> Generator[Progress, None, UnmixResult]:
    """The body of :func:`iter_unmix`, once its arguments are checked."""
    known_values = None if known is None else known.on(cube.wavenumbers)
    t0 = time.perf_counter()
    h, w_img, n_bands = cube.shape
    yield Progress(phase="prepare", total=cfg.epochs, message="band weights")

    diag = band_diagnostics(cube.data, **cfg.weight_params())
    if weights is not None:
        band_w, weight_source = checked_weights(weights, n_bands), "given"
    else:
        band_w, weight_source = diag.weights, "automatic"
    if cfg.forced_ranges:
        band_w = force_ranges(band_w, cube.wavenumbers, cfg.forced_ranges, cfg.w_min)
    loss_w = methods.LOSSES[cfg.loss].weights(band_w)
    degree = baseline_degree(cfg.baseline) if "background" in method.uses else None
    background = None if degree is None else polynomial_basis(cube.wavenumbers, degree)
    atmosphere = None if background is None or not cfg.atmosphere else (
        estimate_atmosphere(cube.data, cube.wavenumbers, cfg.k))
    if atmosphere is not None and atmosphere.names:  # fitted per pixel, like the baseline
        background = np.column_stack([background, atmosphere.spectra])
    nuisance = None if background is None else weighted_nuisance_basis(background, loss_w)
    warnings = check_unmixable(cube, cfg.k, weights=loss_w, baseline=cfg.baseline, seed=cfg.seed, nuisance=nuisance)
    timings = {"weights_s": time.perf_counter() - t0}
    scaling = scale_pixels(cube.pixels, cfg.scaling)
    release_pages(file_mapping(cube.data))  # the statistics above read a memory-mapped cube: let its pages go

    out = yield from relay(
        method.function()(MethodInput(
            pixels=ScaledPixels(cube.pixels, scaling), shape=(h, w_img), wavenumbers=cube.wavenumbers,
            loss_weights=loss_w, background=background, config=cfg, stop=stop, t0=t0,
            known=None if known_values is None else known_values / scaling.factor[:, None])),
        # snapshots of the spectra in the cube's units
        lambda ev: ev if ev.endmembers is None
        else replace(ev, endmembers=ev.endmembers * scaling.factor[:, None]),
    )
    timings.update(out.timings)
    timings["total_s"] = time.perf_counter() - t0
    parameters: dict[str, Any] = {
        **cfg.to_dict(),
        "preprocessing": {
            "scaling": scaling.note,
            "baseline": cfg.baseline if background is not None
            else f"none (method {cfg.method} has no baseline term)",
            "atmosphere": atmosphere.record() if atmosphere is not None
            else "off" if not cfg.atmosphere else "off (no baseline term)",
            "band_weights": weight_source + (", forced ranges to w_min" if cfg.forced_ranges else ""),
            "band_weight_pixels": diag.pixels_used,
            "cube_repairs": list(cube.metadata.get("repairs", [])),
        },
        "source": {**{k: cube.metadata.get(k) for k in ("path", "format", "units") if k in cube.metadata},
                   "pixel_size_um": cube.pixel_size},
        "warnings": warnings,
        **out.record,
    }
    abundances = np.asarray(out.abundances, np.float32).reshape(cfg.k, h, w_img)
    refinement = out.record.get("refinement", {})
    # as the loss saw the spectra: scaled, band-weighted
    # deeper than the spectrum's noise: a measured spectrum's noise is not a difference of spectra
    below = None if nuisance is None else below_baseline_share(np.asarray(out.endmembers) * loss_w[:, None], nuisance,
                                                               noise_sigmas=BELOW_NOISE_SIGMAS)
    names: list[str] = []
    known_deg: list[float] = []
    if known is not None:
        # the angle each named endmember ended at from its reference, as the loss saw both
        seen = as_seen(np.asarray(out.endmembers)[:, :len(known)] * scaling.factor[:, None], loss_w, nuisance)
        known_deg = [float(v) for v in np.diag(spectral_angles(as_seen(known_values, loss_w, nuisance), seen))]
        parameters["known_spectra"] = {
            "names": list(known.names), "sources": list(known.sources), "weight": cfg.known_weight,
            "angle_deg": known_deg,
        }
        names = [*known.names, *(f"EM{i + 1}" for i in range(len(known), cfg.k))]
    spot = next((c for c in (out.record.get("spot_checked"), out.record.get("spot_checked_after"))
                 if c and c.get("swapped")), {})
    parameters["trust"] = endmember_trust(abundances, out.record.get("restart_runs", {}).get("spread_deg"),
                                          refinement["replaced"] if refinement.get("accepted") else None, below,
                                          known_deg, narrow_line_share(out.endmembers, cube.wavenumbers),
                                          (spot["weakest"]["em"] - 1, spot["pixel"]) if spot.get("swapped") else None)
    return UnmixResult(
        abundances=abundances,
        endmembers=(np.asarray(out.endmembers) * scaling.factor[:, None]).astype(np.float32),
        weights=loss_w.astype(np.float64), wavenumbers=cube.wavenumbers.copy(),
        loss_history=np.asarray(out.history, dtype=np.float64), parameters=parameters,
        versions=_versions(), timings=timings,
        diagnostics={**diag.columns(), "weight": band_w, "auto_weight": diag.weights,
                     "median_spectrum": diag.median_spectrum,
                     **({} if atmosphere is None else atmosphere.columns())},
        cancelled=out.cancelled, names=names,
    )


def unmix(
    cube: Cube,
    k: int,
    *,
    loss: str = "wsad",
    method: str = "cnn",
    weights: np.ndarray | None = None,
    stop: StopFlag = None,
    known: KnownSpectra | None = None,
    callback: Callable[[Progress], Any] | None = None,
    **options: Any,
) -> UnmixResult:
    """Unmix ``cube`` into ``k`` endmembers and their abundance maps.

    Parameters
    ----------
    cube : Cube
        The FTIR image, e.g. from :func:`ftir_unmix.load_cube`.
    k : int
        Number of endmembers.
    loss : {"wsad", "sad"}
        Band-weighted (default) or plain spectral-angle loss.
    method : str
        One of :func:`ftir_unmix.methods.available` (``"cnn"``, the default;
        ``"nmf"``, ``"vca-fcls"``, …).
    weights : ndarray (B,), optional
        Band weights to use instead of the automatic ones.
    stop : threading.Event or callable, optional
        Set it to stop early and get the best result so far.
    callback : callable, optional
        Called with every :class:`Progress` event.
    known : KnownSpectra, optional
        Spectra of materials known to be in the sample (:func:`ftir_unmix.load_known`):
        the first endmembers are held near them and named after them.
    **options
        Any other field of :class:`~ftir_unmix.UnmixConfig` (``epochs``,
        ``protocol``, ``lr``, ``seed``, ``device``, ``gamma_rough``, …).

    Returns
    -------
    UnmixResult
        ``.abundances`` (K, H, W), ``.endmembers`` (B, K), ``.weights`` (B,),
        ``.wavenumbers`` (B,), and the run record.

    Examples
    --------
    >>> from ftir_unmix.synthetic import cross_section
    >>> truth = cross_section(16, 16, seed=0)           # doctest: +SKIP
    >>> result = unmix(truth.cube, 6, epochs=50)        # doctest: +SKIP
    >>> result.abundances.shape                          # doctest: +SKIP
    (6, 16, 16)
    """
    config = UnmixConfig(k=k, loss=loss, method=method).updated(**options)
    return run_to_end(iter_unmix(cube, config, weights=weights, stop=stop, known=known), callback)

