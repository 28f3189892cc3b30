"""Text tables: CSV/TXT spectra and Bruker OPUS data-point tables (``.dpt``).

Layout: column 0 holds the wavenumbers, each further column one pixel
spectrum (pixels in row-major order: x runs fastest).  Two columns are a
single spectrum; more need the image size (``width=`` or ``height=``, or a
side file ``<name>.json`` / ``<stem>.json`` with ``{"width": W}``).  A
1-pixel-high image is never assumed.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..cube import Cube
from ..errors import CubeReadError
from ._common import PathLike, check_file, finish_cube, parse_int_option, reading, reshape_pixels
from ._units import DeclaredUnits, parse_units_label

__all__ = ["read_table", "read_text_table"]

_NUM = re.compile(r"^[\s]*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_MAX_TEXT_BYTES = 4 * 1024**3


def _decode(p: Path, raw: bytes) -> str:
    if b"\x00" in raw[:65536]:
        raise CubeReadError(p, "binary content, not a text table")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _delimiter(line: str) -> str | None:
    if "\t" in line:
        return "\t"
    if ";" in line:
        return ";"
    if "," in line:
        return ","
    return None  # whitespace


def read_text_table(path: PathLike) -> tuple[np.ndarray, list[str] | None, dict[str, Any]]:
    """Parse a numeric text table; leading non-numeric lines are a header.

    Returns
    -------
    table : ndarray, shape (rows, columns), float64
    names : list of str or None
        Column names from the last header line, when it has one per column.
    info : dict
        ``delimiter``, ``header_lines``, ``decimal_comma``.
    """
    p = check_file(path)
    if p.stat().st_size > _MAX_TEXT_BYTES:
        raise CubeReadError(p, "text table larger than 4 GB: convert it to ENVI or .npz")
    text = _decode(p, p.read_bytes())
    lines = text.splitlines()
    start = 0
    while start < len(lines) and (not lines[start].strip() or not _NUM.match(lines[start])):
        start += 1
        if start > 100:
            break
    body = [ln for ln in lines[start:] if ln.strip() and not ln.lstrip().startswith("#")]
    if not body:
        raise CubeReadError(p, "no numeric rows in the text file")
    delim = _delimiter(body[0])
    decimal_comma = False
    if delim == ";" and "," in body[0]:
        body = [ln.replace(",", ".") for ln in body]
        decimal_comma = True
    with reading(p, "text table"):
        table = np.loadtxt(io.StringIO("\n".join(body)), delimiter=delim, ndmin=2, dtype=np.float64)
    names = None
    if start > 0:
        hdr = lines[start - 1]
        parts = [s.strip().strip('"') for s in (hdr.split(delim) if delim else hdr.split())]
        if len(parts) == table.shape[1]:
            names = parts
    info: dict[str, Any] = {
        "delimiter": delim or "whitespace",
        "header_lines": start,
        "decimal_comma": decimal_comma,
    }
    if start > 0:
        info["header"] = [" ".join(ln.split())[:200] for ln in lines[:start] if ln.strip()][:5]
    return table, names, info


def _header_units(info: dict[str, Any], names: list[str] | None) -> DeclaredUnits | None:
    """Y units named in the header: the spectrum columns' names, else the header lines."""
    texts: list[tuple[str, str]] = []
    if names is not None and len(names) >= 2:
        texts.append((" ".join(names[1:])[:400], "the column names"))
    for line in info.get("header", []):
        texts.append((line, "the header line"))
    for text, where in texts:
        found = parse_units_label(text)
        if found is not None:
            return DeclaredUnits(found[0], f"{where} ({text[:60]!r})", scale_known=found[1])
    return None


def _side_size(p: Path) -> tuple[int | None, int | None, Path | None]:
    for cand in (p.with_name(p.name + ".json"), p.with_suffix(".json")):
        if cand.is_file():
            try:
                meta = json.loads(cand.read_text(encoding="utf-8"))
            except (OSError, ValueError, UnicodeDecodeError) as exc:
                raise CubeReadError(cand, f"unreadable side file: {exc}") from exc
            if not isinstance(meta, dict):
                raise CubeReadError(cand, "side file must hold a JSON object")
            return meta.get("width"), meta.get("height"), cand
    return None, None, None


def read_table(
    path: PathLike,
    *,
    width: int | None = None,
    height: int | None = None,
    order: str = "C",
    nonfinite: str = "raise",
    units: str = "auto",
    _format: str = "text",
) -> Cube:
    """Read a CSV/TXT/DPT table: wavenumbers in column 0, one pixel per further column.

    Y units named in a header line (``"Absorbance"``, ``"%T"``...) are used;
    else ``units="auto"`` judges them by the value range.

    Parameters
    ----------
    path : path-like
        The text file (comma, semicolon, tab or whitespace separated; a
        semicolon file may use decimal commas).
    width, height : int, optional
        Image size in pixels; one is enough.  Required when the table has
        more than one pixel column, unless a side file ``<file>.json`` or
        ``<stem>.json`` gives ``{"width": W}`` (and/or ``height``).
    order : {"C", "F"}
        Pixel order of the columns: ``"C"`` row by row (x fastest), ``"F"``
        column by column.
    nonfinite : {"raise", "zero"}
        Refuse NaN/inf values (default) or replace them by 0.
    units : str
        One of :data:`~ftir_unmix.io.Y_UNITS` (see :func:`~ftir_unmix.io.load_cube`).

    Returns
    -------
    Cube
        ``(1, 1, B)`` for a two-column file.
    """
    p = check_file(path)
    if order not in ("C", "F"):
        raise CubeReadError(p, f"option order={order!r} must be 'C' or 'F'")
    w = parse_int_option(p, "width", width)
    h = parse_int_option(p, "height", height)
    table, names, info = read_text_table(p)
    if table.shape[1] < 2:
        raise CubeReadError(p, "a table needs a wavenumber column and at least one spectrum column")
    if table.shape[0] < 2:
        raise CubeReadError(p, f"a table needs at least 2 rows (bands), found {table.shape[0]}")
    n_pix = table.shape[1] - 1
    meta: dict[str, Any] = {"table": info}
    if n_pix > 1 and w is None and h is None:
        sw, sh, side = _side_size(p)
        if side is not None:
            w = parse_int_option(side, "width", sw)
            h = parse_int_option(side, "height", sh)
            meta["size_from"] = str(side)
    if names is not None:
        meta["column_names"] = names[1:] if n_pix <= 64 else f"{n_pix} columns"
    pixels = table[:, 1:].T
    data = reshape_pixels(
        p,
        pixels,
        height=h,
        width=w,
        order=order,
        hint="(a table of pixel columns does not say the image shape)",
    )
    return finish_cube(
        p,
        _format,
        data,
        table[:, 0],
        metadata=meta,
        nonfinite=nonfinite,
        declared_units=_header_units(info, names),
        units=units,
    )


def read_dpt(
    path: PathLike,
    *,
    width: int | None = None,
    height: int | None = None,
    order: str = "C",
    nonfinite: str = "raise",
    units: str = "auto",
) -> Cube:
    """Read a Bruker OPUS data-point table (``.dpt``); see :func:`read_table`."""
    return read_table(
        path,
        width=width,
        height=height,
        order=order,
        nonfinite=nonfinite,
        units=units,
        _format="opus_dpt",
    )
