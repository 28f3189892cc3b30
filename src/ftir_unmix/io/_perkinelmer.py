"""PerkinElmer Spotlight images (``.fsm``) and single spectra (``.sp``): own parser.

Both start with ``PEPE`` and a 40-byte description, followed by blocks
``uint16 id, int32 size, payload`` (little-endian).

``.fsm``: block 5100 = image header (int16 name length, name, then float64
x step, y step, z step, z start, z end, two unused, x start, y start, z start,
and int32 n_x, n_y, n_z); block 5104 = text metadata (not decoded); each block
5105 = one float32 pixel spectrum, pixels row by row (x fastest).

``.sp``: blocks are nested; the values needed are found by their ids and the
variable tag that opens each payload: 35698 (tag 29981) first and last x as
float64, 35701 (tag 29995) uint32 number of points, 35708 (tag 29974) uint32
byte count + float64 values.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np

from ..cube import Cube
from ..errors import CubeReadError
from ._common import PathLike, check_file, finish_cube, reading

__all__ = ["read_fsm", "read_sp"]

_MAGIC = b"PEPE"
_MAX_POINTS = 10_000_000


def sniff_pe(head: bytes) -> bool:
    """True for the PerkinElmer ``PEPE`` signature."""
    return head.startswith(_MAGIC)


def _description(buf: bytes) -> str:
    return buf[4:44].split(b"\x00", 1)[0].decode("latin-1", errors="replace").strip()


def read_fsm(path: PathLike, *, nonfinite: str = "raise") -> Cube:
    """Read a PerkinElmer Spotlight ``.fsm`` image.

    Parameters
    ----------
    path : path-like
        The ``.fsm`` file.
    nonfinite : {"raise", "zero"}
        Refuse NaN/inf values (default) or replace them by 0.

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


def read_sp(path: PathLike, *, nonfinite: str = "raise") -> Cube:
    """Read a PerkinElmer ``.sp`` spectrum as a 1×1 cube.

    Parameters
    ----------
    path : path-like
        The ``.sp`` file.
    nonfinite : {"raise", "zero"}
        Refuse NaN/inf values (default) or replace them by 0.

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
    meta = {"description": _description(buf), "first_x": first, "last_x": last}
    return finish_cube(
        p, "perkinelmer_sp", y[None, None, :], wn, metadata=meta, nonfinite=nonfinite
    )
