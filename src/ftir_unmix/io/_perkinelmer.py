"""PerkinElmer Spotlight images (``.fsm``) and single spectra (``.sp``): own parser.

Both start with ``PEPE`` and a 40-byte description, followed by blocks
``uint16 id, int32 size, payload`` (little-endian).

``.fsm``: block 5100 = image header (int16 name length, name, then float64
x step, y step, z step, z start, z end, two unused, x start, y start, z start,
and int32 n_x, n_y, n_z, then four length-prefixed (uint16) axis labels: y, x,
z (``"cm-1"``) and the ordinate, i.e. the y units of the spectra (``"%T"`` in
the sample)); block 5104 = text metadata (not decoded); each block 5105 = one
float32 pixel spectrum, pixels row by row (x fastest).

``.sp``: blocks are nested; the values needed are found by their ids and the
variable tag that opens each payload: 35698 (tag 29981) first and last x as
float64, 35701 (tag 29995) uint32 number of points, 35708 (tag 29974) uint32
byte count + float64 values, 35704 (tag 29987, a uint16-prefixed string) the
y-axis label (``"%T"`` in the sample; 35703 is the x label ``"cm-1"``).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np

from ..cube import Cube
from ..errors import CubeReadError
from ._common import PathLike, check_file, finish_cube, reading
from ._units import DeclaredUnits, parse_units_label

__all__ = ["read_fsm", "read_sp"]

_MAGIC = b"PEPE"
_MAX_POINTS = 10_000_000


def sniff_pe(head: bytes) -> bool:
    """True for the PerkinElmer ``PEPE`` signature."""
    return head.startswith(_MAGIC)


def _description(buf: bytes) -> str:
    return buf[4:44].split(b"\x00", 1)[0].decode("latin-1", errors="replace").strip()


def _label_units(label: str | None, where: str) -> DeclaredUnits | None:
    if label is None:
        return None
    text = " ".join(label.split())
    if not text:
        return None
    found = parse_units_label(text)
    source = f"{where} ({text[:40]!r})"
    if found is None:
        return DeclaredUnits("unknown", f"{source}, which names no known y unit")
    return DeclaredUnits(found[0], source, scale_known=found[1])


def read_fsm(path: PathLike, *, nonfinite: str = "raise", units: str = "auto") -> Cube:
    """Read a PerkinElmer Spotlight ``.fsm`` image.

    The y units come from the ordinate label of the image header (``"%T"``,
    ``"A"``, ...); %T and %R are converted to absorbance.

    Parameters
    ----------
    path : path-like
        The ``.fsm`` file.
    nonfinite : {"raise", "zero"}
        Refuse NaN/inf values (default) or replace them by 0.
    units : str
        One of :data:`~ftir_unmix.io.Y_UNITS` (see :func:`~ftir_unmix.io.load_cube`).

    Returns
    -------
    Cube
        ``pixel_size`` = the x step (µm).
    """
    p = check_file(path)
    buf = p.read_bytes()
    if not sniff_pe(buf):
        raise CubeReadError(p, "not a PerkinElmer file (no 'PEPE' signature)")
    repairs: list[str] = []
    with reading(p, "PerkinElmer .fsm file"):
        pos = 44
        header: dict[str, Any] | None = None
        spectra: list[np.ndarray] = []
        other: list[int] = []
        while pos < len(buf):
            if pos + 6 > len(buf):
                raise CubeReadError(
                    p, f"PerkinElmer .fsm truncated in a block header at byte {pos}"
                )
            bid, size = struct.unpack_from("<Hi", buf, pos)
            pos += 6
            if size < 0 or pos + size > len(buf):
                raise CubeReadError(
                    p,
                    f"PerkinElmer .fsm truncated: block {bid} of {size} bytes at {pos - 6}, "
                    f"file has {len(buf)} bytes",
                )
            payload = buf[pos : pos + size]
            pos += size
            if bid == 5100:
                header = _fsm_header(p, payload)
            elif bid == 5105:
                if header is None:
                    raise CubeReadError(p, "PerkinElmer .fsm: spectrum before the image header")
                if size != 4 * header["n_z"]:
                    raise CubeReadError(
                        p,
                        f"PerkinElmer .fsm: spectrum block of {size} bytes, "
                        f"header says {header['n_z']} points",
                    )
                spectra.append(np.frombuffer(payload, dtype="<f4"))
            else:
                other.append(bid)
        if header is None:
            raise CubeReadError(p, "PerkinElmer .fsm has no image header block (5100)")
        nx, ny, nz = header["n_x"], header["n_y"], header["n_z"]
        if len(spectra) != nx * ny:
            raise CubeReadError(
                p, f"PerkinElmer .fsm: {len(spectra)} spectra for a {ny}x{nx} image (truncated?)"
            )
        wn = header["z_start"] + header["z_delta"] * np.arange(nz)
        flip = header["z_delta"] < 0
        data = np.empty((ny * nx, nz), dtype=np.float32)
        for k, spec in enumerate(spectra):
            data[k] = spec[::-1] if flip else spec
        data = data.reshape(ny, nx, nz)
        if flip:
            wn = wn[::-1].copy()
            repairs.append("wavenumber axis was descending: bands reversed to ascending order")
        end = wn[0] if flip else wn[-1]
        if abs(end - header["z_end"]) > 1e-3 * max(abs(header["z_delta"]), 1e-9) + 1e-6:
            repairs.append(
                f"axis from start {header['z_start']:g} and step {header['z_delta']:g} ends at "
                f"{end:g}, header says {header['z_end']:g}"
            )
    meta = {"description": _description(buf), "fsm_header": header, "other_blocks": other}
    return finish_cube(
        p,
        "perkinelmer_fsm",
        data,
        wn,
        pixel_size=abs(header["x_delta"]),
        metadata=meta,
        repairs=repairs,
        nonfinite=nonfinite,
        declared_units=_label_units(
            header.get("ordinate_label"), "the .fsm image header's ordinate label"
        ),
        units=units,
    )


def _fsm_header(p: Path, payload: bytes) -> dict[str, Any]:
    if len(payload) < 2:
        raise CubeReadError(p, "PerkinElmer .fsm: image header block too short")
    n = int(struct.unpack_from("<h", payload, 0)[0])
    if n < 0 or 2 + n + 92 > len(payload):
        raise CubeReadError(p, "PerkinElmer .fsm: image header block too short")
    name = payload[2 : 2 + n].decode("latin-1", errors="replace")
    vals = struct.unpack_from("<10d3i", payload, 2 + n)
    keys = (
        "x_delta",
        "y_delta",
        "z_delta",
        "z_start",
        "z_end",
        "z4d_start",
        "z4d_end",
        "x_init",
        "y_init",
        "z_init",
        "n_x",
        "n_y",
        "n_z",
    )
    h: dict[str, Any] = dict(zip(keys, vals, strict=False))
    h["name"] = name
    labels: list[str] = []
    pos = 2 + n + 92
    while pos + 2 <= len(payload) and len(labels) < 4:
        m = int(struct.unpack_from("<H", payload, pos)[0])
        if pos + 2 + m > len(payload):
            break
        labels.append(payload[pos + 2 : pos + 2 + m].decode("latin-1", errors="replace"))
        pos += 2 + m
    if len(labels) == 4:
        h["y_label"], h["x_label"], h["z_label"], h["ordinate_label"] = labels
    for k in ("n_x", "n_y", "n_z"):
        if not 1 <= h[k] <= _MAX_POINTS:
            raise CubeReadError(p, f"PerkinElmer .fsm header: implausible {k} = {h[k]}")
    for k in ("x_delta", "z_delta", "z_start"):
        if not np.isfinite(h[k]):
            raise CubeReadError(p, f"PerkinElmer .fsm header: {k} is not finite")
    if h["z_delta"] == 0:
        raise CubeReadError(p, "PerkinElmer .fsm header: zero wavenumber step")
    return h


def _find_block(buf: bytes, bid: int, tag: int, min_size: int) -> tuple[int, int] | None:
    """Return (payload offset after the tag, block size) of the first matching block."""
    pat = struct.pack("<H", bid)
    start = 44
    while True:
        i = buf.find(pat, start)
        if i < 0 or i + 8 > len(buf):
            return None
        size = int(struct.unpack_from("<i", buf, i + 2)[0])
        t = int(struct.unpack_from("<H", buf, i + 6)[0])
        if t == tag and min_size <= size and i + 6 + size <= len(buf):
            return i + 8, size
        start = i + 1


def _sp_string(buf: bytes, bid: int) -> str | None:
    """The uint16-prefixed string of block ``bid`` (tag 29987), or None."""
    found = _find_block(buf, bid, 29987, 4)
    if found is None:
        return None
    off, size = found
    m = int(struct.unpack_from("<H", buf, off)[0])
    if m > size - 4 or off + 2 + m > len(buf):
        return None
    return buf[off + 2 : off + 2 + m].decode("latin-1", errors="replace")


def read_sp(path: PathLike, *, nonfinite: str = "raise", units: str = "auto") -> Cube:
    """Read a PerkinElmer ``.sp`` spectrum as a 1×1 cube.

    The y units come from the y-axis label block (35704: ``"%T"``, ``"A"``,
    ...); %T and %R are converted to absorbance.

    Parameters
    ----------
    path : path-like
        The ``.sp`` file.
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
    if not sniff_pe(buf):
        raise CubeReadError(p, "not a PerkinElmer file (no 'PEPE' signature)")
    with reading(p, "PerkinElmer .sp file"):
        rng = _find_block(buf, 35698, 29981, 18)
        npt = _find_block(buf, 35701, 29995, 6)
        dat = _find_block(buf, 35708, 29974, 6)
        if rng is None or npt is None or dat is None:
            missing = [
                n for n, b in (("x range", rng), ("point count", npt), ("data", dat)) if b is None
            ]
            raise CubeReadError(p, f"PerkinElmer .sp: no {', '.join(missing)} block (truncated?)")
        first, last = struct.unpack_from("<dd", buf, rng[0])
        n_points = int(struct.unpack_from("<I", buf, npt[0])[0])
        nbytes = int(struct.unpack_from("<I", buf, dat[0])[0])
        if not 2 <= n_points <= _MAX_POINTS:
            raise CubeReadError(p, f"PerkinElmer .sp: implausible number of points ({n_points})")
        if nbytes != 8 * n_points or dat[0] + 4 + nbytes > len(buf):
            raise CubeReadError(
                p,
                f"PerkinElmer .sp: data block of {nbytes} bytes for {n_points} points "
                "(or beyond the end of the file)",
            )
        y = np.frombuffer(buf, dtype="<f8", count=n_points, offset=dat[0] + 4)
        if not (np.isfinite(first) and np.isfinite(last)) or first == last:
            raise CubeReadError(p, f"PerkinElmer .sp: unusable x range {first!r} .. {last!r}")
        wn = np.linspace(first, last, n_points)
        y_label = _sp_string(buf, 35704)
    meta: dict[str, Any] = {"description": _description(buf), "first_x": first, "last_x": last}
    if y_label is not None:
        meta["y_label"] = y_label
    return finish_cube(
        p,
        "perkinelmer_sp",
        y[None, None, :],
        wn,
        metadata=meta,
        nonfinite=nonfinite,
        declared_units=_label_units(y_label, "the .sp y-axis label block"),
        units=units,
    )
