"""File readers and writers.

``load_cube(path, *, format=None, units="auto", **options)`` reads any
supported file into a :class:`~ftir_unmix.cube.Cube` of absorbance
(transmittance and reflectance are converted; :data:`Y_UNITS` lists the
``units`` choices); every failure is a one-line
:class:`~ftir_unmix.errors.CubeReadError`.  See ``docs/formats.md``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..cube import Cube
from ..errors import CubeReadError
from . import _envi, _matlab, _npz, _omnic, _opus, _perkinelmer, _tiff
from ._agilent import read_agilent_image, read_agilent_mosaic
from ._common import PathLike, read_wavenumbers_file
from ._envi import parse_envi_header, read_envi, read_envi_array, write_abundances_envi, write_envi
from ._matlab import load_mat_arrays, read_mat
from ._npz import read_npy, read_npz, write_npz
from ._omnic import read_omnic_map, read_spa
from ._opus import read_opus
from ._perkinelmer import read_fsm, read_sp
from ._registry import (
    Reader,
    filename_patterns,
    get_reader,
    load_cube,
    readers,
    register_reader,
    supported_extensions,
)
from ._text import read_dpt, read_table, read_text_table
from ._tiff import read_abundance_tiff, read_tiff, write_abundance_tiff, write_cube_tiff
from ._units import Y_UNITS, parse_units_label, range_suggests_transmittance, to_absorbance
from ._zarr import is_maps_omezarr, is_zarr_store, read_maps_omezarr, read_zarr, write_maps_omezarr

__all__ = [
    "Y_UNITS",
    "Reader",
    "filename_patterns",
    "get_reader",
    "load_cube",
    "load_mat_arrays",
    "load_spectrum",
    "parse_envi_header",
    "parse_units_label",
    "range_suggests_transmittance",
    "read_abundance_tiff",
    "read_agilent_image",
    "read_agilent_mosaic",
    "read_dpt",
    "read_envi",
    "read_envi_array",
    "read_fsm",
    "read_mat",
    "read_npy",
    "read_npz",
    "read_omnic_map",
    "read_opus",
    "read_sp",
    "read_spa",
    "read_table",
    "read_text_table",
    "read_tiff",
    "read_wavenumbers_file",
    "readers",
    "register_reader",
    "save_cube",
    "supported_extensions",
    "to_absorbance",
    "write_abundance_tiff",
    "write_abundances_envi",
    "write_cube_tiff",
    "write_envi",
    "write_npz",
    "is_zarr_store",
    "is_maps_omezarr",
    "read_maps_omezarr",
    "read_zarr",
    "write_maps_omezarr",
]

for _reader in (
    Reader("npz", "NumPy .npz archive", (".npz",), read_npz, _npz.sniff_npz),
    Reader("npy", "NumPy .npy array", (".npy",), read_npy, _npz.sniff_npy),
    Reader(
        "envi",
        "ENVI file (.hdr + data)",
        (".hdr", ".dat", ".img"),
        read_envi,
        _envi.sniff_envi_header,
    ),
    Reader("agilent", "Agilent FPA tile", (".seq", ".bsp"), read_agilent_image),
    Reader("agilent_mosaic", "Agilent FPA mosaic", (".dmt", ".dms", ".dmd"), read_agilent_mosaic),
    Reader("opus", "Bruker OPUS file", (".<digits>",), read_opus, _opus.sniff_opus),
    Reader("opus_dpt", "OPUS data-point table", (".dpt",), read_dpt),
    Reader("omnic_spa", "Thermo OMNIC .spa spectrum", (".spa",), read_spa, _omnic.sniff_spa),
    Reader("omnic_map", "Thermo OMNIC .map", (".map",), read_omnic_map, _omnic.sniff_map),
    Reader("perkinelmer_fsm", "PerkinElmer .fsm image", (".fsm",), read_fsm, _perkinelmer.sniff_pe),
    Reader("perkinelmer_sp", "PerkinElmer .sp spectrum", (".sp",), read_sp, _perkinelmer.sniff_pe),
    Reader("matlab", "MATLAB .mat file", (".mat",), read_mat, _matlab.sniff_mat),
    Reader("tiff", "TIFF stack", (".tif", ".tiff"), read_tiff, _tiff.sniff_tiff),
    Reader("text", "text table", (".csv", ".txt", ".tsv"), read_table),
    Reader("zarr", "zarr store (a folder)", (".zarr",), read_zarr),
):
    register_reader(_reader)
del _reader


def load_spectrum(path: PathLike, **options: Any) -> tuple[np.ndarray, np.ndarray]:
    """Read a file holding one spectrum (OPUS, ``.sp``, ``.spa``, 2-column CSV, ...).

    Parameters
    ----------
    path : path-like
        Any file :func:`load_cube` reads that holds a single spectrum.
    **options
        Passed to :func:`load_cube` (``units=``, ``block=``, ...).

    Returns
    -------
    wavenumbers : ndarray, shape (B,), float64, ascending
    values : ndarray, shape (B,), float64
        Absorbance where the file's transmittance/reflectance was converted
        (see ``units`` of :func:`load_cube`).

    Raises
    ------
    CubeReadError
        The file cannot be read or holds more than one spectrum.
    """
    cube = load_cube(path, **options)
    if cube.height * cube.width != 1:
        raise CubeReadError(
            path,
            f"holds a {cube.height}x{cube.width} image, not a single spectrum",
        )
    return cube.wavenumbers.astype(np.float64), cube.data[0, 0].astype(np.float64)


def save_cube(path: PathLike, cube: Cube, **options: Any) -> Path:
    """Write a cube; the format follows the suffix (``.npz``, ``.hdr``/``.img``, ``.tif``).

    Parameters
    ----------
    path : path-like
        Output file.
    cube : Cube
        The cube to write.
    **options
        Passed to the writer.

    Returns
    -------
    Path
        The main file written (the header for ENVI).
    """
    p = Path(os.fspath(path))
    ext = p.suffix.lower()
    if ext == ".npz":
        return write_npz(p, cube, **options)
    if ext in (".hdr", ".img", ""):
        meta = {k: v for k, v in cube.metadata.items() if k in ("format", "path")}
        options.setdefault(
            "units", cube.metadata["units"] if cube.metadata.get("units") in Y_UNITS[1:] else None
        )
        hdr, _ = write_envi(
            p,
            cube.data,
            cube.wavenumbers,
            pixel_size=cube.pixel_size,
            metadata={"source_" + k: v for k, v in meta.items()},
            **options,
        )
        return hdr
    if ext in (".tif", ".tiff"):
        from ._tiff import write_cube_tiff

        return write_cube_tiff(p, cube, **options)
    raise ValueError(f"cannot write {p.name}: use .npz, .hdr/.img or .tif")
