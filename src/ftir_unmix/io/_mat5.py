"""A small, defensive reader for the numeric variables of MATLAB v5/v7 MAT-files.

``scipy.io.loadmat`` crashes the interpreter (segmentation fault) on some
damaged v5 files whose element sizes disagree with the array dimensions, so
v5/v7 files are parsed here, checking every size against its container.
Only real numeric and logical arrays are returned; cells, structs, objects,
strings, sparse and complex arrays are skipped (listed in ``skipped``).
"""

from __future__ import annotations

import struct
import zlib
from math import prod
from pathlib import Path

import numpy as np

from ..errors import CubeReadError

__all__ = ["read_mat5"]

# miTYPE → numpy dtype character code (without byte order)
_MI_DTYPES = {
    1: "i1",
    2: "u1",
    3: "i2",
    4: "u2",
    5: "i4",
    6: "u4",
    7: "f4",
    9: "f8",
    12: "i8",
    13: "u8",
}
# mxCLASS → numpy dtype of the variable
_MX_DTYPES = {
    6: "f8",
    7: "f4",
    8: "i1",
    9: "u1",
    10: "i2",
    11: "u2",
    12: "i4",
    13: "u4",
    14: "i8",
    15: "u8",
}
_MI_MATRIX = 14
_MI_COMPRESSED = 15
_MAX_DECOMPRESSED = 64 * 1024**3


class _Bad(Exception):
    """Structural error inside the file (turned into CubeReadError)."""


def _tag(buf: bytes, pos: int, end: int, bo: str) -> tuple[int, int, int, int]:
    """Return (type, nbytes, data_start, next_pos) of the element at ``pos``."""
    if pos + 8 > end:
        raise _Bad(f"element tag beyond the end of its container at byte {pos}")
    first, second = struct.unpack_from(bo + "II", buf, pos)
    if first >> 16:  # small data element: 2-byte size, 2-byte type, 4 bytes of data
        nbytes, typ = first >> 16, first & 0xFFFF
        if nbytes > 4:
            raise _Bad(f"small data element of {nbytes} bytes at byte {pos}")
        return typ, nbytes, pos + 4, pos + 8
    typ, nbytes = first, second
    start = pos + 8
    if start + nbytes > end:
        raise _Bad(f"element of {nbytes} bytes at byte {pos} overruns its container (truncated?)")
    if typ == _MI_COMPRESSED:
        return typ, nbytes, start, start + nbytes
    return typ, nbytes, start, start + ((nbytes + 7) // 8) * 8


def _matrix(buf: bytes, start: int, end: int, bo: str) -> tuple[str, np.ndarray | None, str]:
    """Parse a miMATRIX body; return (name, array or None, why skipped)."""
    typ, n, s, pos = _tag(buf, start, end, bo)
    if typ != 6 or n != 8:
        raise _Bad("array flags sub-element missing")
    flags = struct.unpack_from(bo + "I", buf, s)[0]
    mx_class = flags & 0xFF
    is_complex = bool(flags & 0x0800)
    typ, n, s, pos = _tag(buf, pos, end, bo)
    if typ != 5 or n % 4 or n < 8:
        raise _Bad("dimensions sub-element missing or malformed")
    dims = struct.unpack_from(f"{bo}{n // 4}i", buf, s)
    if any(d < 0 for d in dims):
        raise _Bad(f"negative dimension in {dims}")
    typ, n, s, pos = _tag(buf, pos, end, bo)
    if typ not in (1, 2, 16):
        raise _Bad("array name sub-element missing")
    name = buf[s : s + n].decode("latin-1")
    if mx_class not in _MX_DTYPES:
        return name, None, f"class {mx_class}"
    if is_complex:
        return name, None, "complex"
    count = prod(dims)
    typ, n, s, pos = _tag(buf, pos, end, bo)
    if typ not in _MI_DTYPES:
        raise _Bad(f"variable {name!r}: unknown data type {typ}")
    dt = np.dtype(bo + _MI_DTYPES[typ])
    if n != count * dt.itemsize:
        raise _Bad(f"variable {name!r}: {n} data bytes for dimensions {dims} of {dt.name}")
    arr = np.frombuffer(buf, dtype=dt, count=count, offset=s).reshape(dims, order="F")
    return name, arr.astype(_MX_DTYPES[mx_class]), ""


def read_mat5(path: Path, raw: bytes) -> tuple[dict[str, np.ndarray], list[str]]:
    """Parse the numeric variables of a MAT v5/v7 file held in ``raw``.

    Returns
    -------
    arrays : dict
        Name → array in MATLAB's shape and class.
    skipped : list of str
        ``"name (reason)"`` for variables that are not real numeric arrays.
    """
    if len(raw) < 128:
        raise CubeReadError(path, "MAT-file truncated in its 128-byte header")
    endian = raw[126:128]
    if endian == b"IM":
        bo = "<"
    elif endian == b"MI":
        bo = ">"
    else:
        raise CubeReadError(path, "not a MATLAB v5/v7 file (no endian indicator)")
    arrays: dict[str, np.ndarray] = {}
    skipped: list[str] = []
    try:
        pos = 128
        while pos + 8 <= len(raw):
            typ, n, s, nxt = _tag(raw, pos, len(raw), bo)
            if typ == _MI_COMPRESSED:
                d = zlib.decompressobj()
                inner = d.decompress(raw[s : s + n], _MAX_DECOMPRESSED)
                if d.unconsumed_tail:
                    raise _Bad("compressed variable too large")
                ityp, inb, istart, _ = _tag(inner, 0, len(inner), bo)
                body, bstart, bend = inner, istart, istart + inb
                if ityp != _MI_MATRIX:
                    pos = nxt
                    continue
            elif typ == _MI_MATRIX:
                body, bstart, bend = raw, s, s + n
            else:
                pos = nxt
                continue
            if bend > bstart:
                name, arr, why = _matrix(body, bstart, bend, bo)
                if arr is None:
                    skipped.append(f"{name} ({why})")
                else:
                    arrays[name] = arr
            pos = nxt
    except _Bad as exc:
        raise CubeReadError(path, f"damaged MAT-file: {exc}") from exc
    except (struct.error, zlib.error, ValueError, UnicodeError) as exc:
        raise CubeReadError(path, f"damaged MAT-file: {exc}") from exc
    return arrays, skipped
