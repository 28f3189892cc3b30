"""JCAMP-DX infrared spectra through the ``jcamp`` package (PyPI), made safe.

``jcamp`` decodes the common compression forms (AFFN, PAC, SQZ, DIF, DUP) but fails on some
files (see docs/identification.md): it raises, prints warnings instead of raising, or
returns x and y of different lengths. Every such case becomes one
:class:`~ftir_unmix.errors.CubeReadError` naming the file; what it printed becomes a note.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CubeReadError

__all__ = ["JCAMP_SUFFIXES", "read_jcamp"]

JCAMP_SUFFIXES = (".jdx", ".dx", ".jcamp", ".jcm")


def _blocks(data: dict[str, Any]) -> list[dict[str, Any]]:
    """The data blocks of a parsed file (a LINK file holds them as ``children``)."""
    if "x" in data or "y" in data:
        return [data]
    return [c for c in data.get("children", []) if isinstance(c, dict) and ("x" in c or "y" in c)]


def read_jcamp(path: Path) -> list[tuple[str, np.ndarray, np.ndarray, str | None, list[str]]]:
    """Read the infrared spectra of a JCAMP-DX file.

    Returns
    -------
    list of (title, x, y, y_units, notes)
        x in cm⁻¹ (converted from µm or nm where the file says so), as in the file's order;
        ``y_units`` the file's ``##YUNITS`` (None if absent); notes in words.

    Raises
    ------
    CubeReadError
        The package is missing, the file cannot be decoded, holds no infrared spectrum, or
        its decoded x and y disagree.
    """
    try:
        import jcamp
    except ImportError:  # pragma: no cover - a dependency
        raise CubeReadError(path, "JCAMP-DX needs the 'jcamp' package (pip install jcamp)") from None
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            data = jcamp.readfile(str(path))
    except Exception as exc:  # the package raises many kinds on files it cannot decode
        detail = str(exc).splitlines()[0][:120] if str(exc) else ""
        raise CubeReadError(
            path, f"not readable by the jcamp package ({exc.__class__.__name__}{': ' + detail if detail else ''})"
        ) from None
    messages = [" ".join(m.split()) for m in printed.getvalue().splitlines() if m.strip()]
    messages += [" ".join(str(c.message).split()) for c in caught]
    for msg in messages:
        if "mismatch of array lengths" in msg.lower():
            raise CubeReadError(path, f"the jcamp package could not decode the data reliably ({msg})")
    blocks = _blocks(data if isinstance(data, dict) else {})
    if not blocks:
        raise CubeReadError(path, "no ##XYDATA/##PEAK TABLE spectrum found (not a JCAMP-DX spectrum?)")
    out = []
    for block in blocks:
        dtype = str(block.get("data type", block.get("datatype", ""))).strip()
        if dtype and "INFRARED" not in dtype.upper() and "IR " not in dtype.upper() + " ":
            raise CubeReadError(path, f"not an infrared spectrum (##DATA TYPE={dtype})")
        x = np.asarray(block.get("x", []), dtype=np.float64).ravel()
        y = np.asarray(block.get("y", []), dtype=np.float64).ravel()
        if x.size != y.size:
            raise CubeReadError(path, f"decoded x ({x.size}) and y ({y.size}) lengths differ")
        if x.size < 10:
            raise CubeReadError(path, f"only {x.size} data points decoded")
        notes = [f"jcamp: {m}" for m in messages]
        xunits = str(block.get("xunits", "")).strip().upper()
        if xunits in ("MICROMETERS", "MICRONS", "UM"):
            with np.errstate(divide="ignore"):
                x = 1e4 / x
            notes.append("x axis in micrometres converted to wavenumbers (cm-1 = 10000 / um)")
        elif xunits in ("NANOMETERS", "NM"):
            with np.errstate(divide="ignore"):
                x = 1e7 / x
            notes.append("x axis in nanometres converted to wavenumbers (cm-1 = 10^7 / nm)")
        elif xunits and "CM" not in xunits:
            raise CubeReadError(path, f"x axis in {xunits!r}, not wavenumbers")
        title = str(block.get("title", "")).strip() or path.stem
        yunits = str(block["yunits"]).strip() if block.get("yunits") else None
        out.append((title, x, y, yunits, notes))
    return out
