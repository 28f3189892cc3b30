"""Zarr: cubes read without loading them, and abundance maps as OME-Zarr (multiscale).

A cube store is a zarr array ``(H, W, B)`` (or a group with an array ``cube``)
whose attributes hold ``wavenumbers`` (and optionally ``pixel_size_um`` and
``units``). Zarr arrays are chunked and often compressed, so they cannot be
memory-mapped: a large one is decompressed once, chunk by chunk, into a
temporary memory-mapped file, and the run reads that (never the whole cube
in memory).

Abundance maps of large images are written as OME-Zarr (NGFF 0.4): one
image ``(c, y, x)`` with a channel per endmember (named in the ``omero``
metadata), a resolution pyramid (each level half the size, down to ≤ 512
pixels), the pixel size in µm, and the run record under ``ftir_unmix``.
napari opens it lazily (the plugin's reader, or napari-ome-zarr).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..cube import Cube
from ..errors import CubeReadError
from ._common import PathLike, finish_cube, reading, temporary_memmap, wavenumbers_option

__all__ = ["is_maps_omezarr", "is_zarr_store", "read_maps_omezarr", "read_zarr", "write_maps_omezarr"]

#: Cubes with more values than this are decompressed into a temporary memory map.
_IN_MEMORY_VALUES = 1 << 26
#: Chunk (and smallest pyramid level) size of the written maps.
_TILE = 512


def is_zarr_store(path: PathLike) -> bool:
    """A folder that is a zarr array or group (``.zarray``/``.zgroup`` or ``zarr.json`` inside)."""
    p = Path(path)
    return p.is_dir() and any((p / name).exists() for name in (".zarray", ".zgroup", "zarr.json"))


def is_maps_omezarr(path: PathLike) -> bool:
    """A zarr store holding abundance maps written by :func:`write_maps_omezarr`."""
    if not is_zarr_store(path):
        return False
    import zarr

    try:
        root = zarr.open(str(path), mode="r")
        return "multiscales" in root.attrs and "ftir_unmix" in root.attrs
    except Exception:  # unreadable: not ours
        return False


def _cube_array(root: Any, p: Path) -> Any:
    import zarr

    if isinstance(root, zarr.Array):
        return root
    if "cube" in root:
        return root["cube"]
    raise CubeReadError(p, "a zarr group without an array named 'cube'")


def read_zarr(path: PathLike, *, wavenumbers: Any = None, units: str = "auto",
              nonfinite: str = "raise") -> Cube:
    """Read a zarr cube store ``(H, W, B)`` (see the module docstring).

    Parameters
    ----------
    path : path-like
        The store (a folder).
    wavenumbers : array_like or path-like, optional
        Band positions when the store's attributes hold none.
    units, nonfinite : see :func:`ftir_unmix.io.load_cube`.
    """
    import zarr

    p = Path(path)
    if not is_zarr_store(p):
        raise CubeReadError(p, "not a zarr store (no .zarray, .zgroup or zarr.json inside)")
    with reading(p, "zarr store"):
        root = zarr.open(str(p), mode="r")
        arr = _cube_array(root, p)
        attrs = {**dict(getattr(root, "attrs", {})), **dict(arr.attrs)}
        if arr.ndim != 3:
            raise CubeReadError(p, f"the cube array has shape {arr.shape}; expected (H, W, B)")
        wn = wavenumbers if wavenumbers is not None else attrs.get("wavenumbers")
        if wn is None:
            raise CubeReadError(p, "no wavenumbers in the store's attributes; give them with wavenumbers= "
                                   "(command line: --wavenumbers FILE)")
        wn = wavenumbers_option(p, wn, arr.shape[2])
        data = _materialise(arr)
    repairs: list[str] = []
    if isinstance(data, np.memmap):
        repairs.append(f"decompressed into a temporary memory-mapped file ({data.nbytes / 2**30:.1f} GiB): "
                       "read without loading")
    return finish_cube(p, "zarr", data, wn, pixel_size=attrs.get("pixel_size_um"),
                       metadata={"zarr_attrs": {k: v for k, v in attrs.items() if k != "wavenumbers"}},
                       repairs=repairs, nonfinite=nonfinite, units=units)


def _materialise(arr: Any) -> np.ndarray:
    """The array as float32: in memory when small, else a temporary memory map filled chunk-row by chunk-row."""
    if int(np.prod(arr.shape)) <= _IN_MEMORY_VALUES:
        return np.asarray(arr[...], dtype=np.float32)
    out = temporary_memmap(tuple(arr.shape))
    rows = max(1, (arr.chunks[0] if arr.chunks else 64))
    for r0 in range(0, arr.shape[0], rows):
        out[r0:r0 + rows] = np.asarray(arr[r0:r0 + rows], dtype=np.float32)
    return out


def _pyramid(maps: np.ndarray) -> list[np.ndarray]:
    """Level 0 and halvings (2×2 means) until the larger side is at most ``_TILE``."""
    levels = [maps]
    while max(levels[-1].shape[1:]) > _TILE:
        m = levels[-1]
        h, w = (m.shape[1] // 2) * 2, (m.shape[2] // 2) * 2
        levels.append(m[:, :h, :w].reshape(m.shape[0], h // 2, 2, w // 2, 2).mean(axis=(2, 4), dtype=np.float32))
    return levels


def write_maps_omezarr(path: PathLike, abundances: np.ndarray, names: list[str], *,
                       pixel_size: float | None = None, record: dict[str, Any] | None = None) -> Path:
    """Write abundance maps ``(K, H, W)`` as an OME-Zarr image with a resolution pyramid.

    Returns
    -------
    Path
        The store (a folder ``*.ome.zarr``).
    """
    import zarr

    from ..jsonable import jsonable

    out = Path(path)
    maps = np.asarray(abundances, dtype=np.float32)
    if maps.ndim != 3 or maps.shape[0] != len(names):
        raise ValueError(f"{len(names)} names for maps of shape {maps.shape}")
    root = zarr.open_group(str(out), mode="w-", zarr_format=2)
    step = float(pixel_size) if pixel_size else 1.0
    datasets = []
    for i, level in enumerate(_pyramid(maps)):
        arr = root.create_array(str(i), shape=level.shape, chunks=(1, _TILE, _TILE), dtype="float32")
        arr[:] = level
        datasets.append({"path": str(i), "coordinateTransformations": [
            {"type": "scale", "scale": [1.0, step * 2**i, step * 2**i]}]})
    unit = {"unit": "micrometer"} if pixel_size else {}
    root.attrs["multiscales"] = [{
        "version": "0.4", "name": "abundances",
        "axes": [{"name": "c", "type": "channel"}, {"name": "y", "type": "space", **unit},
                 {"name": "x", "type": "space", **unit}],
        "datasets": datasets,
    }]
    root.attrs["omero"] = {"channels": [{"label": str(n), "window": {"start": 0.0, "end": 1.0, "min": 0.0,
                                                                      "max": 1.0}} for n in names]}
    root.attrs["ftir_unmix"] = jsonable({"names": list(names), "record": record or {}})
    return out


def read_maps_omezarr(path: PathLike) -> tuple[list[Any], list[str], float | None, dict[str, Any]]:
    """The maps written by :func:`write_maps_omezarr`, lazily.

    Returns
    -------
    levels : list of dask arrays (K, h, w)
        The resolution pyramid, finest first.
    names : list of str
    pixel_size : float or None
        µm per pixel of the finest level.
    record : dict
    """
    import dask.array as da
    import zarr

    p = Path(path)
    if not is_zarr_store(p):
        raise CubeReadError(p, "not a zarr store")
    with reading(p, "OME-Zarr image"):
        root = zarr.open_group(str(p), mode="r")
        ms = root.attrs["multiscales"][0]
        levels = [da.from_zarr(str(p), component=d["path"]) for d in ms["datasets"]]
        info = dict(root.attrs.get("ftir_unmix", {}))
        names = list(info.get("names") or [c.get("label", f"EM{i + 1}") for i, c in
                                           enumerate(root.attrs.get("omero", {}).get("channels", []))])
        scale = ms["datasets"][0]["coordinateTransformations"][0]["scale"]
        unit = ms["axes"][1].get("unit")
    return levels, names, (float(scale[-1]) if unit == "micrometer" else None), dict(info.get("record", {}))
