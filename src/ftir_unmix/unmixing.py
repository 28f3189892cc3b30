"""The one-call entry point."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .config import UnmixConfig
from .cube import Cube
from .result import UnmixResult
from .train import Progress, StopFlag, iter_unmix, run_to_end

__all__ = ["unmix"]


def unmix(
    cube: Cube,
    k: int,
    *,
    loss: str = "wsad",
    method: str = "cnn",
    weights: np.ndarray | None = None,
    stop: StopFlag = None,
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
    method : {"cnn", "nmf", "vca-fcls"}
        The CNN autoencoder (default) or a baseline.
    weights : ndarray (B,), optional
        Band weights to use instead of the automatic ones.
    stop : threading.Event or callable, optional
        Set it to stop early and get the best result so far.
    callback : callable, optional
        Called with every :class:`~ftir_unmix.Progress` event.
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
    return run_to_end(iter_unmix(cube, config, weights=weights, stop=stop), callback)
