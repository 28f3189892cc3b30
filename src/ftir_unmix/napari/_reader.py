"""npe2 reader hooks: any file :func:`ftir_unmix.load_cube` reads, as a ``(B, H, W)`` image layer;
and a session folder ``NAME.ftirproj`` (:func:`ftir_unmix.napari.save_session`)."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from ..io import get_reader, is_maps_omezarr, load_cube, read_maps_omezarr
from ._layers import cube_layer_tuple, saved_maps_layer_tuples

__all__ = ["napari_get_reader", "napari_get_session_reader", "read_ftir", "read_session"]

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
        if all(is_maps_omezarr(p) or get_reader(p) is not None for p in paths):
            return read_ftir
    except Exception:  # a reader hook must not break napari's open dialog
        return None
    return None


def read_ftir(path: PathOrPaths) -> list[LayerDataTuple]:
    """Read one or more FTIR files, one image layer each (abundance maps saved as OME-Zarr:
    one lazy multiscale layer per endmember).

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
    layers = []
    for p in paths:
        if is_maps_omezarr(p):
            layers += saved_maps_layer_tuples(*read_maps_omezarr(p))
        else:
            layers.append(cube_layer_tuple(load_cube(p)))
    return layers


def napari_get_session_reader(path: PathOrPaths) -> Callable[[PathOrPaths], list[LayerDataTuple]] | None:
    """Return :func:`read_session` for a session folder ``*.ftirproj``, else None. Never raises."""
    from ._project import is_session_folder

    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    try:
        if len(paths) == 1 and is_session_folder(paths[0]):
            return read_session
    except Exception:  # a reader hook must not break napari's open dialog
        return None
    return None


def read_session(path: PathOrPaths) -> list[LayerDataTuple]:
    """Open a session folder.

    In a running napari (File ▸ Open, drag and drop, ``viewer.open``) the whole
    session is restored into the current viewer by
    :func:`ftir_unmix.napari.load_session` — layers, links between them,
    panels and settings — and napari is told that there is nothing more to
    add (``[(None,)]``). Without a viewer, the layers alone are returned.

    Raises
    ------
    ftir_unmix.napari._project.SessionError
        Not a session, or an incomplete or altered one (one line).
    """
    from ._project import load_session, session_layer_data

    p = path if isinstance(path, (str, os.PathLike)) else list(path)[0]
    viewer = None
    try:
        import napari

        viewer = napari.current_viewer()
    except Exception:  # no napari application
        viewer = None
    if viewer is None:
        return session_layer_data(p)
    load_session(viewer, p)
    return [(None,)]  # napari's "read, nothing more to add"
