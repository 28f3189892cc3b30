"""TIFF / OME-TIFF / ImageJ stacks through ``tifffile``, and TIFF writers.

Wavenumbers are taken, in this order, from the ``wavenumbers=`` option, a JSON
image description (``{"wavenumbers": [...]}``, as :func:`write_cube_tiff`
writes), ImageJ metadata (``Info`` JSON, or numeric slice ``Labels``), or
numeric OME channel names.  Bands may be the first axis (B, H, W) or the last
(H, W, B); when both fit, the series' axis letters decide and (B, H, W) is
the default.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..cube import Cube
from ..errors import CubeReadError
from ..jsonable import jsonable
from ._common import WAVENUMBERS_HINT, PathLike, check_file, copy_float32, finish_cube, reading, wavenumbers_option
from ._units import Y_UNITS, DeclaredUnits, parse_units_label

__all__ = ["read_abundance_tiff", "read_tiff", "write_abundance_tiff", "write_cube_tiff"]


def sniff_tiff(head: bytes) -> bool:
    """True for classic or BigTIFF magic, either byte order."""
    return head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")


def _json_descriptions(tif: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for md in getattr(tif, "shaped_metadata", None) or ():
        if isinstance(md, dict):
            out.append(md)
    page = tif.pages.first if hasattr(tif.pages, "first") else tif.pages[0]
    for desc in (getattr(page, "description", ""), getattr(page, "description1", "")):
        if desc and desc.lstrip().startswith("{"):
            try:
                md = json.loads(desc)
            except ValueError:
                continue
            if isinstance(md, dict):
                out.append(md)
    return out


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            try:
                self.messages.append(record.getMessage())
            except Exception:  # pragma: no cover - a malformed log call
                self.messages.append(str(record.msg))


@contextlib.contextmanager
def _quiet_tifffile(path: Path, what: str, notes: list[str]) -> Iterator[None]:
    """Read with tifffile without anything reaching stderr; turn failures into one line.

    Python warnings and tifffile's ``logging`` messages (which, without a
    configured handler, Python prints to stderr) are collected into
    ``notes``; an ``AssertionError`` from tifffile's structure checks becomes
    "corrupt or truncated TIFF structure".
    """
    logger = logging.getLogger("tifffile")
    handler = _Collect()
    old_propagate = logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                with reading(path, what):
                    try:
                        yield
                    except AssertionError as exc:
                        detail = " ".join(str(exc).split())
                        raise CubeReadError(
                            path,
                            f"not a readable {what}: corrupt or truncated TIFF structure"
                            + (f" ({detail[:200]})" if detail else ""),
                        ) from exc
            finally:
                msgs = [*(str(w.message) for w in caught), *handler.messages]
                for m in msgs:
                    m = " ".join(m.split())
                    if m and f"tifffile: {m[:200]}" not in notes:
                        notes.append(f"tifffile: {m[:200]}")
    finally:
        logger.removeHandler(handler)
        logger.propagate = old_propagate


def _tiff_units(descs: list[dict[str, Any]]) -> DeclaredUnits | None:
    """Y units from a JSON description: ``"units"`` (one of ``Y_UNITS`` or a label like ``"%T"``)."""
    for md in descs:
        raw = md.get("units")
        if isinstance(raw, str):
            text = raw.strip()
            if text.lower() in Y_UNITS[1:]:
                return DeclaredUnits(text.lower(), f"the TIFF's JSON description (units {text!r})")
            found = parse_units_label(text)
            if found is not None:
                return DeclaredUnits(
                    found[0], f"the TIFF's JSON description (units {text!r})", scale_known=found[1]
                )
    return None


def _floats(values: Any) -> np.ndarray | None:
    try:
        arr = np.asarray([float(v) for v in values], dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return arr if arr.size >= 2 else None


def _ome_info(xml: str) -> tuple[np.ndarray | None, float | None]:
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None, None
    wn = None
    ps = None
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1]
        if tag == "Pixels" and ps is None and "PhysicalSizeX" in el.attrib:
            unit = el.attrib.get("PhysicalSizeXUnit", "µm")
            try:
                val = float(el.attrib["PhysicalSizeX"])
            except ValueError:
                val = None
            if val is not None:
                scale = {"µm": 1.0, "um": 1.0, "nm": 1e-3, "mm": 1e3, "cm": 1e4, "m": 1e6}.get(unit)
                ps = val * scale if scale is not None else None
            names = [c.attrib.get("Name") for c in el if c.tag.rsplit("}", 1)[-1] == "Channel"]
            if names and all(n is not None for n in names):
                wn = _floats(names)
    return wn, ps


def read_tiff(
    path: PathLike,
    *,
    wavenumbers: Any = None,
    nonfinite: str = "raise",
    units: str = "auto",
    mmap: bool = False,
) -> Cube:
    """Read a multi-band TIFF (plain, ImageJ or OME) as a cube.

    The y units come from a ``"units"`` entry of a JSON description (as
    :func:`write_cube_tiff` writes it); other TIFFs state none and
    ``units="auto"`` judges them by the value range.  Messages of
    ``tifffile`` never reach stderr: they are listed in
    ``metadata["tiff_messages"]`` and in ``metadata["repairs"]``.

    Parameters
    ----------
    path : path-like
        The ``.tif``/``.tiff``/``.ome.tif`` file.
    wavenumbers : array_like or path-like, optional
        Band positions, when the file's metadata has none (or to replace
        them), or a file holding them (one number per line, a CSV column,
        ``.npy``).
    nonfinite : {"raise", "zero"}
        Refuse NaN/inf values (default) or replace them by 0.
    units : str
        One of :data:`~ftir_unmix.io.Y_UNITS` (see :func:`~ftir_unmix.io.load_cube`).
    mmap : bool
        Do not load the image: it is decoded into a temporary memory-mapped
        file (and reordered to rows × columns × bands there), for stacks
        larger than memory.

    Returns
    -------
    Cube
    """
    import tifffile

    p = check_file(path)
    meta: dict[str, Any] = {}
    wn: np.ndarray | None = None
    pixel_size: float | None = None
    source = "option"
    notes: list[str] = []
    with _quiet_tifffile(p, "TIFF file", notes), tifffile.TiffFile(p) as tif:
        series = tif.series[0]
        arr = series.asarray(out="memmap") if mmap else np.asarray(series.asarray())
        axes = str(series.axes)
        if arr.ndim > 3:
            keep = [i for i, s in enumerate(arr.shape) if s > 1]
            axes = "".join(axes[i] for i in keep) if len(axes) == arr.ndim else axes
            arr = arr.reshape([arr.shape[i] for i in keep])
        if arr.ndim != 3:
            raise CubeReadError(
                p, f"TIFF holds an image of shape {arr.shape} ({axes}), not a 3-D stack"
            )
        descs = _json_descriptions(tif)
        for md in descs:
            if wn is None and "wavenumbers" in md:
                wn = _floats(md["wavenumbers"])
                source = "JSON description"
            if pixel_size is None and "pixel_size_um" in md:
                try:
                    pixel_size = float(md["pixel_size_um"])
                except (TypeError, ValueError):
                    pixel_size = None
        ij = tif.imagej_metadata if tif.is_imagej else None
        if wn is None and ij:
            info = ij.get("Info")
            if isinstance(info, str) and info.lstrip().startswith("{"):
                try:
                    wn = _floats(json.loads(info).get("wavenumbers", []))
                except (ValueError, AttributeError):
                    wn = None
            if wn is None and "wavenumbers" in ij:
                wn = _floats(ij["wavenumbers"])
            if wn is None and isinstance(ij.get("Labels"), (list, tuple)):
                wn = _floats(ij["Labels"])
            if wn is not None:
                source = "ImageJ metadata"
        if tif.is_ome and tif.ome_metadata:
            ome_wn, ops = _ome_info(tif.ome_metadata)
            if wn is None and ome_wn is not None:
                wn, source = ome_wn, "OME channel names"
            if pixel_size is None:
                pixel_size = ops
        meta["tiff_axes"] = axes
    if wavenumbers is not None:
        wn = wavenumbers_option(p, wavenumbers, (arr.shape[0], arr.shape[2])).ravel()
        source = "option"
    if wn is None:
        raise CubeReadError(
            p,
            "TIFF metadata gives no wavenumbers (JSON description, ImageJ Info/Labels "
            f"or OME channel names): {WAVENUMBERS_HINT}",
        )
    n_b = wn.size
    first, last = arr.shape[0] == n_b, arr.shape[2] == n_b
    if first and last:
        band_first = not (axes and axes[-1] in "SC")
    elif first or last:
        band_first = first
    else:
        raise CubeReadError(
            p, f"{n_b} wavenumbers fit neither the first nor the last axis of {arr.shape}"
        )
    data = np.moveaxis(arr, 0, -1) if band_first else arr
    if mmap and not (data.flags.c_contiguous and data.dtype == np.float32):
        data = copy_float32(data, on_disk=True)  # (H, W, B) float32, still on disk
    meta["wavenumbers_from"] = source
    meta["band_axis"] = "first" if band_first else "last"
    if descs:
        meta["description"] = {
            k: v for k, v in descs[0].items() if k not in ("wavenumbers", "shape")
        }
    repairs: list[str] = []
    if notes:
        meta["tiff_messages"] = notes
        repairs.extend(f"{n} (the file was read anyway)" for n in notes[:3])
        if len(notes) > 3:
            repairs.append(f"{len(notes) - 3} more tifffile messages in metadata['tiff_messages']")
    return finish_cube(
        p,
        "tiff",
        data,
        wn,
        pixel_size=pixel_size,
        metadata=meta,
        repairs=repairs,
        nonfinite=nonfinite,
        declared_units=_tiff_units(descs),
        units=units,
    )


def _write(
    path: PathLike, data: np.ndarray, description: dict[str, Any], pixel_size: float | None
) -> Path:
    import tifffile

    out = Path(os.fspath(path))
    kwargs: dict[str, Any] = {}
    if pixel_size:
        res = 1e4 / float(pixel_size)
        kwargs.update(resolution=(res, res), resolutionunit="CENTIMETER")
    out.parent.mkdir(parents=True, exist_ok=True)
    tifffile.imwrite(
        out,
        np.ascontiguousarray(data, dtype=np.float32),
        metadata=jsonable(description),
        photometric="minisblack",
        **kwargs,
    )
    return out


def write_abundance_tiff(
    path: PathLike,
    abundances: np.ndarray,
    names: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
    *,
    pixel_size: float | None = None,
) -> Path:
    """Write a ``(K, H, W)`` abundance stack as float32 TIFF with JSON metadata.

    The image description is JSON: ``{"shape", "axes": "CYX", "kind":
    "abundances", "names": [...], "pixel_size_um", "metadata": {...}}``.

    Parameters
    ----------
    path : path-like
        Output ``.tif``.
    abundances : ndarray, shape (K, H, W)
    names : list of str, optional
        Endmember names (default ``endmember_1`` ...).
    metadata : dict, optional
        Any JSON-able information (non-JSON values are stored as strings).
    pixel_size : float, optional
        Pixel pitch in µm (also written as TIFF resolution).

    Returns
    -------
    Path

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> f = write_abundance_tiff(os.path.join(tempfile.mkdtemp(), "a.tif"),
    ...                          np.zeros((2, 3, 4)), ["resin", "oil"], {"k": 2})
    >>> read_abundance_tiff(f)[1]
    ['resin', 'oil']
    """
    ab = np.asarray(abundances)
    if ab.ndim != 3:
        raise ValueError(f"abundances must be (K, H, W), got shape {ab.shape}")
    if names is None:
        names = [f"endmember_{i + 1}" for i in range(ab.shape[0])]
    names = [str(n) for n in names]
    if len(names) != ab.shape[0]:
        raise ValueError(f"{len(names)} names for {ab.shape[0]} maps")
    desc = {
        "axes": "CYX",
        "kind": "abundances",
        "names": names,
        "pixel_size_um": pixel_size,
        "metadata": metadata or {},
    }
    return _write(path, ab, desc, pixel_size)


def read_abundance_tiff(path: PathLike) -> tuple[np.ndarray, list[str], dict[str, Any]]:
    """Read a TIFF written by :func:`write_abundance_tiff`.

    Returns
    -------
    abundances : ndarray, shape (K, H, W), float32
    names : list of str
    metadata : dict
        The stored ``metadata`` plus ``pixel_size_um``.
    """
    import tifffile

    p = check_file(path)
    notes: list[str] = []
    with _quiet_tifffile(p, "abundance TIFF", notes), tifffile.TiffFile(p) as tif:
        arr = np.asarray(tif.series[0].asarray(), dtype=np.float32)
        descs = _json_descriptions(tif)
    desc = next((d for d in descs if "names" in d), None)
    if desc is None:
        raise CubeReadError(p, "TIFF has no abundance description (names)")
    if arr.ndim == 2:
        arr = arr[None]
    names = [str(n) for n in desc.get("names", [])]
    if arr.ndim != 3 or len(names) != arr.shape[0]:
        raise CubeReadError(p, f"{len(names)} names for an image of shape {arr.shape}")
    meta = dict(desc.get("metadata") or {})
    meta["pixel_size_um"] = desc.get("pixel_size_um")
    return arr, names, meta


def write_cube_tiff(path: PathLike, cube: Cube, *, metadata: dict[str, Any] | None = None) -> Path:
    """Write a cube as a float32 (B, H, W) TIFF with ``{"wavenumbers": [...]}`` in its description.

    Parameters
    ----------
    path : path-like
        Output ``.tif``.
    cube : Cube
    metadata : dict, optional
        Extra JSON-able information.

    Returns
    -------
    Path
    """
    desc = {
        "axes": "CYX",
        "kind": "cube",
        "wavenumbers": cube.wavenumbers.tolist(),
        "pixel_size_um": cube.pixel_size,
        "metadata": metadata or {},
    }
    if cube.metadata.get("units") in Y_UNITS[1:]:
        desc["units"] = cube.metadata["units"]
    return _write(path, np.moveaxis(cube.data, -1, 0), desc, cube.pixel_size)
