"""Thermo Fisher OMNIC files: ``.spa`` single spectra and ``.map`` maps (own parser).

Layout (little-endian), as far as it is used here:

- bytes 0-17: ``"Spectral Data File"`` (``.spa``) or ``"Spectral Exte File"`` (``.map``);
- uint16 at 294: number of entries in a section directory starting at 304.
  ``.spa`` entries are 16 bytes, ``.map`` entries 22 bytes: uint16 key, uint32
  offset at +2, uint32 size at +6 (``.spa``) or +10 (``.map``);
- key 2: spectrum header: uint32 number of points at +4, uint32 x-unit code at
  +8 (1 = cm⁻¹), uint32 y-unit code at +12, float32 first and last x at +16
  and +20.  The y-unit codes (:data:`OMNIC_Y_UNITS`) are those SpectroChemPy's
  OMNIC reader documents: 17 absorbance, 16 %T, 11 %R, 12 log(1/R),
  20 Kubelka-Munk, 22 detector signal (V), 26 photoacoustic, 31 Raman;
  the ``.spa`` sample says 17 (absorbance); the ``.map`` sample says 15, a
  code not in that list (its values, 3.3-4.2, are taken as they are).  The values run from the first
  to the last x (the ``.spa`` sample
  spectrum checks this: its saturated detector cut-off is at the 650 cm⁻¹ end);
- key 3 (``.spa``): the float32 intensities;
- ``.map``: a run of records, each a 100-byte header whose title at +16 reads
  ``"Spectrum i of N"`` followed by the float32 spectrum; the grid
  (first/last stage position and step, µm) sits 90 bytes before a pair of
  ``"Position (micrometers)"`` labels 66 bytes apart, as six float32 values
  ``y0, y1, dy, x0, x1, dx``.  Spectra run along x first.

Orange-spectroscopy (via PyMca) reads the same ``.map`` with the wavenumber
axis the other way round and the map as one row; see ``docs/formats.md``.
"""

from __future__ import annotations

import itertools
import re
import struct
from pathlib import Path
from typing import Any

import numpy as np

from ..cube import Cube
from ..errors import CubeReadError
from ._common import (
    PathLike,
    ascending_float32,
    check_file,
    finish_cube,
    parse_int_option,
    reading,
    reshape_pixels,
)
from ._units import DeclaredUnits

__all__ = ["OMNIC_Y_UNITS", "read_omnic_map", "read_spa"]

#: OMNIC y-unit code (spectrum header +12) -> (kind, label).
OMNIC_Y_UNITS: dict[int, tuple[str, str]] = {
    17: ("absorbance", "absorbance"),
    16: ("percent-transmittance", "%transmittance"),
    11: ("percent-reflectance", "%reflectance"),
    12: ("log(1/R)", "log(1/R)"),
    20: ("kubelka-munk", "Kubelka-Munk"),
    22: ("detector-signal", "detector signal (V)"),
    26: ("photoacoustic", "photoacoustic"),
    31: ("raman", "Raman intensity"),
}

_SPA_MAGIC = b"Spectral Data File"
_MAP_MAGIC = b"Spectral Exte File"
_TITLE = re.compile(rb"Spectrum (\d+) of (\d+)\x00")
_RECORD_HEADER = 100
_MAX_SPECTRA = 50_000_000


def sniff_spa(head: bytes) -> bool:
    """True for an OMNIC ``.spa`` signature."""
    return head.startswith(_SPA_MAGIC)


def sniff_map(head: bytes) -> bool:
    """True for an OMNIC ``.map`` signature."""
    return head.startswith(_MAP_MAGIC)


def _u32(buf: bytes, off: int) -> int:
    return int(struct.unpack_from("<I", buf, off)[0])


def _directory(p: Path, buf: bytes, stride: int, size_at: int) -> dict[int, list[tuple[int, int]]]:
    if len(buf) < 304:
        raise CubeReadError(p, "OMNIC file truncated in its header")
    n = int(struct.unpack_from("<H", buf, 294)[0])
    if n == 0 or n > 4096:
        raise CubeReadError(p, f"OMNIC header: implausible number of sections ({n})")
    out: dict[int, list[tuple[int, int]]] = {}
    for i in range(n):
        pos = 304 + i * stride
        if pos + stride > len(buf):
            raise CubeReadError(p, "OMNIC file truncated in its section directory")
        key = int(struct.unpack_from("<H", buf, pos)[0])
        off = _u32(buf, pos + 2)
        size = _u32(buf, pos + size_at)
        out.setdefault(key, []).append((off, size))
    return out


def _header(p: Path, buf: bytes, sections: dict[int, list[tuple[int, int]]]) -> dict[str, Any]:
    if 2 not in sections:
        raise CubeReadError(p, "OMNIC file has no spectrum header section")
    off, _size = sections[2][0]
    if off + 24 > len(buf):
        raise CubeReadError(p, "OMNIC spectrum header lies beyond the end of the file (truncated?)")
    n_points = _u32(buf, off + 4)
    x_unit = _u32(buf, off + 8)
    y_unit = _u32(buf, off + 12)
    first, last = struct.unpack_from("<ff", buf, off + 16)
    if not 2 <= n_points <= 10_000_000:
        raise CubeReadError(p, f"OMNIC header: implausible number of points ({n_points})")
    if not (np.isfinite(first) and np.isfinite(last)) or first == last:
        raise CubeReadError(p, f"OMNIC header: unusable x range {first!r} .. {last!r}")
    return {
        "n_points": n_points,
        "x_unit": x_unit,
        "y_unit": y_unit,
        "first_x": float(first),
        "last_x": float(last),
    }


def _axis(h: dict[str, Any], repairs: list[str]) -> np.ndarray:
    if h["x_unit"] != 1:
        repairs.append(f"OMNIC x-unit code {h['x_unit']} is not cm-1 (1): values taken as cm-1")
    return np.linspace(h["first_x"], h["last_x"], h["n_points"])


def _units(h: dict[str, Any]) -> DeclaredUnits:
    code = int(h["y_unit"])
    if code in OMNIC_Y_UNITS:
        kind, label = OMNIC_Y_UNITS[code]
        return DeclaredUnits(kind, f"the OMNIC header (y-unit code {code}, {label})")
    return DeclaredUnits("unknown", f"the OMNIC header's y-unit code {code} is not a known code")


def _title(buf: bytes) -> str:
    raw = buf[30:286].split(b"\x00", 1)[0]
    return raw.decode("latin-1", errors="replace").strip()


def read_spa(path: PathLike, *, nonfinite: str = "raise", units: str = "auto") -> Cube:
    """Read an OMNIC ``.spa`` spectrum as a 1×1 cube.

    The y units come from the header's y-unit code (:data:`OMNIC_Y_UNITS`);
    %T and %R are converted to absorbance.

    Parameters
    ----------
    path : path-like
        The ``.spa`` file.
    nonfinite : {"raise", "zero"}
        Refuse NaN/inf values (default) or replace them by 0.
    units : str
        One of :data:`~ftir_unmix.io.Y_UNITS` (see :func:`~ftir_unmix.io.load_cube`).

    Returns
    -------
    Cube
    """
    p = check_file(path)
    buf = p.read_bytes()
    if not sniff_spa(buf):
        raise CubeReadError(p, "not an OMNIC .spa file (no 'Spectral Data File' signature)")
    repairs: list[str] = []
    with reading(p, "OMNIC .spa file"):
        sections = _directory(p, buf, 16, 6)
        h = _header(p, buf, sections)
        if 3 not in sections:
            raise CubeReadError(p, "OMNIC .spa has no intensity section")
        off, size = sections[3][0]
        need = 4 * h["n_points"]
        if size < need or off + need > len(buf):
            raise CubeReadError(
                p,
                f"OMNIC .spa truncated: {h['n_points']} points need {need} bytes at {off}, "
                f"file has {max(len(buf) - off, 0)}",
            )
        y = np.frombuffer(buf, dtype="<f4", count=h["n_points"], offset=off)
        wn = _axis(h, repairs)
    meta = {"title": _title(buf), "omnic_header": h}
    return finish_cube(
        p,
        "omnic_spa",
        y[None, None, :],
        wn,
        metadata=meta,
        repairs=repairs,
        nonfinite=nonfinite,
        declared_units=_units(h),
        units=units,
    )


def _map_grid(buf: bytes) -> dict[str, float] | None:
    label = b"Position (micrometers)"
    start = 0
    hits: list[int] = []
    while True:
        i = buf.find(label, start)
        if i < 0:
            break
        hits.append(i)
        start = i + 1
    for a, b in itertools.pairwise(hits):
        if b - a == 66 and a >= 90:
            y0, y1, dy, x0, x1, dx = struct.unpack_from("<6f", buf, a - 90)
            vals = (y0, y1, dy, x0, x1, dx)
            if all(np.isfinite(v) for v in vals) and dx != 0 and dy != 0:
                return {"x0": x0, "x1": x1, "dx": dx, "y0": y0, "y1": y1, "dy": dy}
    return None


def read_omnic_map(
    path: PathLike,
    *,
    width: int | None = None,
    height: int | None = None,
    nonfinite: str = "raise",
    units: str = "auto",
) -> Cube:
    """Read an OMNIC ``.map`` (Thermo iN10 / Continuum point or array map).

    The y units come from the header's y-unit code (:data:`OMNIC_Y_UNITS`).

    Parameters
    ----------
    path : path-like
        The ``.map`` file.
    width, height : int, optional
        Override the grid found in the file (needed when it has none).
    nonfinite : {"raise", "zero"}
        Refuse NaN/inf values (default) or replace them by 0.
    units : str
        One of :data:`~ftir_unmix.io.Y_UNITS` (see :func:`~ftir_unmix.io.load_cube`).

    Returns
    -------
    Cube
        Rows follow the stage y axis from the first to the last position;
        ``pixel_size`` is the x step in µm.
    """
    p = check_file(path)
    buf = p.read_bytes()
    if not sniff_map(buf):
        raise CubeReadError(p, "not an OMNIC .map file (no 'Spectral Exte File' signature)")
    w_opt = parse_int_option(p, "width", width)
    h_opt = parse_int_option(p, "height", height)
    repairs: list[str] = []
    with reading(p, "OMNIC .map file"):
        sections = _directory(p, buf, 22, 10)
        h = _header(p, buf, sections)
        nb = h["n_points"]
        m = _TITLE.search(buf)
        if m is None:
            raise CubeReadError(p, "OMNIC .map holds no 'Spectrum i of N' records")
        first = m.start() - 16
        n_spectra = int(m.group(2))
        if int(m.group(1)) != 1 or first < 0:
            raise CubeReadError(p, "OMNIC .map: the first record is not 'Spectrum 1'")
        if not 1 <= n_spectra <= _MAX_SPECTRA:
            raise CubeReadError(p, f"OMNIC .map: implausible number of spectra ({n_spectra})")
        stride = _RECORD_HEADER + 4 * nb
        end = first + n_spectra * stride
        if end > len(buf):
            raise CubeReadError(
                p,
                f"OMNIC .map truncated: {n_spectra} spectra of {nb} points need "
                f"{end} bytes, file has {len(buf)}",
            )
        for i in (0, n_spectra - 1):
            title = buf[first + i * stride + 16 : first + i * stride + 56]
            tm = _TITLE.match(title)
            if tm is None or int(tm.group(1)) != i + 1:
                raise CubeReadError(
                    p, f"OMNIC .map: record {i + 1} is damaged (title {title[:20]!r})"
                )
        spectra = np.ndarray(
            (n_spectra, nb),
            dtype="<f4",
            buffer=buf,
            offset=first + _RECORD_HEADER,
            strides=(stride, 4),
        )
        grid = _map_grid(buf)
        wn = _axis(h, repairs)
    meta: dict[str, Any] = {"omnic_header": h, "n_spectra": n_spectra, "grid": grid}
    pixel_size = None
    if w_opt is None and h_opt is None:
        if grid is not None:
            nx = round(abs(grid["x1"] - grid["x0"]) / abs(grid["dx"])) + 1
            ny = round(abs(grid["y1"] - grid["y0"]) / abs(grid["dy"])) + 1
            if nx * ny == n_spectra:
                w_opt, h_opt = nx, ny
                pixel_size = abs(grid["dx"])
            else:
                raise CubeReadError(
                    p,
                    f"OMNIC .map: grid {nx}x{ny} does not match {n_spectra} spectra; "
                    "pass width= (command line: --width N)",
                )
        elif n_spectra > 1:
            raise CubeReadError(
                p,
                f"OMNIC .map: {n_spectra} spectra and no map grid; "
                "pass width= (command line: --width N)",
            )
    elif grid is not None:
        pixel_size = abs(grid["dx"])
    data, wn = ascending_float32(reshape_pixels(p, spectra, height=h_opt, width=w_opt), wn, repairs)
    return finish_cube(
        p,
        "omnic_map",
        data,
        wn,
        pixel_size=pixel_size,
        metadata=meta,
        repairs=repairs,
        nonfinite=nonfinite,
        declared_units=_units(h),
        units=units,
    )
