"""npe2 reader hook: any file :func:`ftir_unmix.load_cube` reads, as a ``(B, H, W)`` image layer."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from ..io import get_reader, load_cube
from ._layers import cube_layer_tuple

__all__ = ["napari_get_reader", "read_ftir"]

PathOrPaths = str | Sequence[str]
LayerDataTuple = tuple[Any, dict[str, Any], str]


def napari_get_reader(path: PathOrPaths) -> Callable[[PathOrPaths], list[LayerDataTuple]] | None:
    """Return :func:`read_ftir` when ``path`` looks like a file this package reads, else None.

    Cheap: only the suffix, the files beside it and the first bytes are
    looked at. Never raises.

    Parameters
    ----------
    path : str or list of str
        What napari asks to open.

    Returns
    -------
    callable or None
    """
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    if not paths:
        return None
    try:
        if all(get_reader(p) is not None for p in paths):
            return read_ftir
    except Exception:  # a reader hook must not break napari's open dialog
        return None
    return None


def read_ftir(path: PathOrPaths) -> list[LayerDataTuple]:
    """Read one or more FTIR files, one image layer each.

    Parameters
    ----------
    path : str or list of str

    Returns
    -------
    list of LayerDataTuple
        ``(data (B, H, W), kwargs, "image")`` with ``metadata["wavenumbers"]``,
        ``metadata["pixel_size"]`` and ``metadata["source_metadata"]``.

    Raises
    ------
    ftir_unmix.errors.CubeReadError
        A file that cannot be read; the message is one line naming the file
        and the reason (napari shows it as a notification).
    """
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    return [cube_layer_tuple(load_cube(p)) for p in paths]
