"""ENVI raster (text ``.hdr`` header + raw binary data file).

The header parser and the binary reader are our own (a few dozen lines): the
``spectral`` package refuses real FTIR exports whose header lacks
``byte order`` (OpenSpecy's exports, for one), and a strict parser of our own
lets every defect become a one-line :class:`CubeReadError`.  ``spectral`` is
used by the tests as an independent oracle.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..cube import Cube
from ..errors import CubeReadError
from ._common import (
    WAVENUMBERS_HINT,
    PathLike,
    ascending_float32,
    check_file,
    find_sibling,
    finish_cube,
    reading,
    wavenumbers_option,
)
from ._units import DeclaredUnits, parse_units_label

__all__ = [
    "parse_envi_header",
    "read_envi",
    "read_envi_array",
    "write_abundances_envi",
    "write_envi",
]

#: ENVI ``data type`` codes → numpy dtype (without byte order).
ENVI_DTYPES: dict[int, str] = {
    1: "u1",
    2: "i2",
    3: "i4",
    4: "f4",
    5: "f8",
    12: "u2",
    13: "u4",
    14: "i8",
    15: "u8",
}
_DTYPE_CODES = {np.dtype(v).str[1:]: k for k, v in ENVI_DTYPES.items()}

#: Data file suffixes tried beside a header (in this order).
DATA_SUFFIXES = ("", ".dat", ".img", ".raw", ".bin", ".bsq", ".bil", ".bip", ".DAT", ".IMG")

_MAX_HEADER_BYTES = 16 * 1024 * 1024


def sniff_envi_header(head: bytes) -> bool:
    """True when the bytes start like an ENVI header."""
    return head.lstrip(b"\xef\xbb\xbf \t\r\n").upper().startswith(b"ENVI")


def parse_envi_header(path: PathLike) -> dict[str, Any]:
    """Parse an ENVI header into a dict of lower-case keys.

    Values in braces become lists of stripped strings; other values stay
    strings.  Raises :class:`CubeReadError` for anything that is not an
    ENVI header.

    Parameters
    ----------
    path : path-like
        The ``.hdr`` file.

    Returns
    -------
    dict
    """
    p = check_file(path)
    if p.stat().st_size > _MAX_HEADER_BYTES:
        raise CubeReadError(p, "too large for an ENVI header")
    raw = p.read_bytes()
    if b"\x00" in raw:
        raise CubeReadError(p, "not an ENVI header (binary content)")
    text = raw.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if not text[:4].upper() == "ENVI":
        raise CubeReadError(p, "not an ENVI header (first line is not 'ENVI')")
    header: dict[str, Any] = {}
    lines = text.splitlines()[1:]
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        if "=" not in line:
            raise CubeReadError(p, f"malformed ENVI header line {i + 1}: {line.strip()[:60]!r}")
        key, value = line.split("=", 1)
        key = " ".join(key.split()).lower()
        value = value.strip()
        if value.startswith("{"):
            while "}" not in value:
                if i >= len(lines):
                    raise CubeReadError(p, f"ENVI header: unclosed '{{' in '{key}'")
                value += "\n" + lines[i]
                i += 1
            inner = value[1 : value.index("}")]
            if key in ("description",):
                header[key] = inner.strip()
            else:
                header[key] = [v.strip() for v in inner.split(",")] if inner.strip() else []
        else:
            header[key] = value
    return header


def _int_field(p: Path, header: dict[str, Any], key: str, default: int | None = None) -> int:
    if key not in header:
        if default is None:
            raise CubeReadError(p, f"ENVI header has no '{key}'")
        return default
    value = header[key]
    try:
        iv = int(str(value).strip())
    except ValueError as exc:
        raise CubeReadError(p, f"ENVI header: '{key}' = {value!r} is not an integer") from exc
    return iv


def _to_wavenumbers(
    p: Path, header: dict[str, Any], n_bands: int, repairs: list[str]
) -> np.ndarray | None:
    values = header.get("wavelength")
    if values is None:
        return None
    if not isinstance(values, list):
        values = [values]
    try:
        wl = np.array([float(v) for v in values if str(v).strip() != ""], dtype=np.float64)
    except ValueError as exc:
        raise CubeReadError(p, f"ENVI header: non-numeric 'wavelength' entry ({exc})") from exc
    if wl.shape[0] != n_bands:
        raise CubeReadError(p, f"ENVI header: {wl.shape[0]} wavelengths for {n_bands} bands")
    units = str(header.get("wavelength units", "")).strip().lower()
    units_c = re.sub(r"[\s_\-^]", "", units)
    if units_c in ("", "unknown"):
        repairs.append("header gives no wavelength units: values taken as wavenumbers (cm-1)")
        return wl
    if units_c in ("wavenumber", "wavenumbers", "cm1", "1/cm", "cm⁻¹", "percm", "inversecm"):
        return wl
    if units_c in ("nm", "nanometers", "nanometer", "nanometres", "nanometre"):
        conv = 1e7
    elif units_c in (
        "um",
        "µm",
        "μm",
        "micrometers",
        "micrometer",
        "microns",
        "micron",
        "micrometres",
        "micrometre",
    ):
        conv = 1e4
    elif units_c in ("mm", "millimeters", "millimeter"):
        conv = 10.0
    else:
        raise CubeReadError(p, f"ENVI header: unsupported wavelength units {units!r}")
    if np.any(wl <= 0):
        raise CubeReadError(p, "ENVI header: wavelengths must be positive to convert to cm-1")
    repairs.append(f"wavelengths in {units} converted to wavenumbers (cm-1 = {conv:g}/wavelength)")
    return conv / wl


#: Header keys that may state the y units, in the order they are tried
#: (``z plot titles`` is ENVI's standard ``{x title, y title}`` pair).
UNITS_KEYS = ("data units", "y units", "z plot titles")


def envi_units(header: dict[str, Any]) -> DeclaredUnits | None:
    """The y units an ENVI header states, if any.

    Looks at ``data units``, ``y units`` and the second entry of
    ``z plot titles`` (e.g. ``{Wavenumbers (cm-1), Absorbance}``).  A key
    whose text names no known unit gives ``kind="unknown"``.
    """
    for key in UNITS_KEYS:
        if key not in header:
            continue
        value = header[key]
        if key == "z plot titles":
            if not isinstance(value, list) or len(value) < 2:
                continue
            text = str(value[1])
        else:
            text = ", ".join(value) if isinstance(value, list) else str(value)
        text = " ".join(text.split())
        if not text:
            continue
        source = f"the ENVI header ({key} = {text[:60]!r})"
        found = parse_units_label(text)
        if found is None:
            return DeclaredUnits("unknown", f"{source}, which names no known y unit")
        return DeclaredUnits(found[0], source, scale_known=found[1])
    return None


def _pixel_size_um(header: dict[str, Any], repairs: list[str]) -> float | None:
    ps = header.get("pixel size")
    if isinstance(ps, list) and ps:
        try:
            x = next(float(v) for v in ps if "=" not in v)
        except (ValueError, IndexError):
            return None
        units = ""
        for v in ps:
            if "=" in v and v.split("=")[0].strip().lower() == "units":
                units = v.split("=")[1].strip().lower()
        if units.startswith("micro") or units in ("um", "µm"):
            return x
        if units.startswith("milli") or units == "mm":
            return x * 1e3
        if units.startswith("met") or units == "m" or (not units and 0 < x < 1e-2):
            if not units:
                repairs.append(f"pixel size {x:g} without units read as metres ({x * 1e6:g} um)")
            return x * 1e6
        return x
    mi = header.get("map info")
    if isinstance(mi, list) and len(mi) >= 7:
        try:
            x = float(mi[5])
        except ValueError:
            return None
        units = ""
        for v in mi:
            if "=" in v and v.split("=")[0].strip().lower() == "units":
                units = v.split("=")[1].strip().lower()
        if units.startswith("micro"):
            return x
        if units.startswith("milli"):
            return x * 1e3
        if units.startswith("met"):
            return x * 1e6
    return None


def find_envi_pair(path: PathLike) -> tuple[Path, Path]:
    """Return ``(header, data_file)`` for an ENVI header or data file path."""
    p = check_file(path)
    if p.suffix.lower() == ".hdr":
        hdr = p
        explicit = None
        for suffix in DATA_SUFFIXES:
            cand = p.with_suffix(suffix) if suffix else p.with_suffix("")
            if cand != p and cand.is_file():
                explicit = cand
                break
        if explicit is None:
            found = find_sibling(p, tuple(s for s in DATA_SUFFIXES if s))
            if found is None:
                raise CubeReadError(
                    p,
                    "no ENVI data file beside the header (looked for "
                    + ", ".join(f"{p.stem}{s}" for s in DATA_SUFFIXES if s)
                    + ")",
                )
            explicit = found
        return hdr, explicit
    for cand in (p.with_name(p.name + ".hdr"), p.with_suffix(".hdr")):
        if cand.is_file():
            return cand, p
    found = find_sibling(p, (".hdr",))
    if found is None:
        raise CubeReadError(p, "no ENVI header (.hdr) beside the data file")
    return found, p


def read_envi_array(
    path: PathLike, *, mmap: bool = False
) -> tuple[np.ndarray, dict[str, Any], list[str]]:
    """Read an ENVI file as a raw ``(lines, samples, bands)`` array.

    Parameters
    ----------
    path : path-like
        The header or the data file.
    mmap : bool
        Memory-map the data instead of reading it.

    Returns
    -------
    data : ndarray, shape (H, W, B)
        In the file's dtype (native byte order unless memory-mapped).
    header : dict
        The parsed header, plus ``"_header_path"`` and ``"_data_path"``.
    repairs : list of str
        Assumptions made (e.g. a missing ``byte order``).
    """
    hdr, dat = find_envi_pair(path)
    header = parse_envi_header(hdr)
    repairs: list[str] = []
    samples = _int_field(hdr, header, "samples")
    lines = _int_field(hdr, header, "lines")
    bands = _int_field(hdr, header, "bands")
    offset = _int_field(hdr, header, "header offset", 0)
    dtype_code = _int_field(hdr, header, "data type")
    if min(samples, lines) <= 0 or bands <= 0:
        raise CubeReadError(hdr, f"ENVI header: size {lines}x{samples}x{bands} is empty")
    if offset < 0:
        raise CubeReadError(hdr, f"ENVI header: negative header offset {offset}")
    if dtype_code not in ENVI_DTYPES:
        raise CubeReadError(hdr, f"ENVI header: unsupported data type {dtype_code}")
    if "byte order" in header:
        bo = _int_field(hdr, header, "byte order")
        if bo not in (0, 1):
            raise CubeReadError(hdr, f"ENVI header: byte order must be 0 or 1, not {bo}")
    else:
        bo = 0
        repairs.append("header has no 'byte order': assumed 0 (little-endian)")
    interleave = str(header.get("interleave", "")).strip().lower()
    if not interleave:
        interleave = "bsq"
        repairs.append("header has no 'interleave': assumed bsq")
    if interleave not in ("bsq", "bil", "bip"):
        raise CubeReadError(hdr, f"ENVI header: unknown interleave {interleave!r}")
    dtype = np.dtype(("<" if bo == 0 else ">") + ENVI_DTYPES[dtype_code])
    n_values = samples * lines * bands
    expected = offset + n_values * dtype.itemsize
    actual = dat.stat().st_size
    if actual < expected:
        raise CubeReadError(
            dat,
            f"data file truncated: {actual} bytes, the header ({lines}x{samples}x{bands} "
            f"{dtype.name}, offset {offset}) needs {expected}",
        )
    if actual > expected:
        raise CubeReadError(
            dat,
            f"data file size {actual} bytes does not match the header "
            f"({lines}x{samples}x{bands} {dtype.name}, offset {offset} = {expected} bytes)",
        )
    shape = {
        "bsq": (bands, lines, samples),
        "bil": (lines, bands, samples),
        "bip": (lines, samples, bands),
    }[interleave]
    with reading(dat, "ENVI data file"):
        raw: np.ndarray
        if mmap:
            raw = np.memmap(dat, dtype=dtype, mode="r", offset=offset, shape=shape)
        else:
            with open(dat, "rb") as fh:
                fh.seek(offset)
                raw = np.fromfile(fh, dtype=dtype, count=n_values)
            if raw.size != n_values:
                raise CubeReadError(dat, "data file truncated while reading")
            raw = raw.reshape(shape)
            if not dtype.isnative:
                raw = raw.astype(dtype.newbyteorder("="))
    if interleave == "bsq":
        data = raw.transpose(1, 2, 0)
    elif interleave == "bil":
        data = raw.transpose(0, 2, 1)
    else:
        data = raw
    header["_header_path"] = os.fspath(hdr)
    header["_data_path"] = os.fspath(dat)
    header["_interleave"] = interleave
    return data, header, repairs


def read_envi(
    path: PathLike,
    *,
    wavenumbers: Any = None,
    mmap: bool = False,
    nonfinite: str = "raise",
    units: str = "auto",
) -> Cube:
    """Read an ENVI cube (header + data file) with a wavenumber axis.

    The y units come from the header's ``data units``, ``y units`` or
    ``z plot titles`` (see :func:`envi_units`); without them, ``units="auto"``
    judges the values by their range.

    Parameters
    ----------
    path : path-like
        The ``.hdr`` header or its data file (``.dat``, ``.img``, no suffix...).
    wavenumbers : array_like or path-like, optional
        Band positions to use when the header has no ``wavelength`` list, or
        a file holding them (one number per line, a CSV column, ``.npy``).
    mmap : bool
        Memory-map the data file.  The cube keeps the map (read-only, not
        loaded into RAM) when the file is band-interleaved-by-pixel float32
        with ascending wavenumbers; any other layout is converted in memory.
    nonfinite : {"raise", "zero"}
        Refuse NaN/inf values (default) or replace them by 0.
    units : str
        One of :data:`~ftir_unmix.io.Y_UNITS` (see :func:`~ftir_unmix.io.load_cube`).

    Returns
    -------
    Cube
        ``metadata["envi_header"]`` holds the header fields (the wavelength
        list left out); ``metadata["repairs"]`` lists assumptions such as a
        missing byte order.

    Raises
    ------
    CubeReadError
        Missing header or data file, malformed header, size mismatch,
        unusable wavelengths, non-finite values.
    """
    data, header, repairs = read_envi_array(path, mmap=True)
    hdr = Path(header["_header_path"])
    wn = _to_wavenumbers(hdr, header, data.shape[2], repairs)
    if wn is None:
        if wavenumbers is None:
            raise CubeReadError(
                hdr, f"ENVI header has no 'wavelength' list: {WAVENUMBERS_HINT}"
            )
        wn = wavenumbers_option(hdr, wavenumbers, data.shape[2])
    pixel_size = _pixel_size_um(header, repairs)
    if not mmap:  # one blocked pass: memmap -> float32 (H, W, B), bands ascending
        with reading(hdr, "ENVI data file"):
            data, wn = ascending_float32(data, wn, repairs)
    meta = {
        "envi_header": {k: v for k, v in header.items() if k not in ("wavelength", "fwhm")},
        "mmap": bool(mmap),
    }
    return finish_cube(
        path,
        "envi",
        data,
        wn,
        pixel_size=pixel_size,
        metadata=meta,
        repairs=repairs,
        nonfinite=nonfinite,
        declared_units=envi_units(header),
        units=units,
    )


def _clean(text: Any) -> str:
    return re.sub(r"[{},\r\n]", " ", str(text)).strip()


def _envi_paths(path: PathLike) -> tuple[Path, Path]:
    p = Path(os.fspath(path))
    if p.suffix.lower() == ".hdr":
        return p, p.with_suffix(".img")
    if p.suffix:
        return p.with_suffix(".hdr"), p
    return p.with_name(p.name + ".hdr"), p.with_name(p.name + ".img")


def write_envi(
    path: PathLike,
    data: np.ndarray,
    wavenumbers: Any = None,
    *,
    band_names: list[str] | None = None,
    layout: str = "HWB",
    pixel_size: float | None = None,
    metadata: dict[str, Any] | None = None,
    interleave: str = "bsq",
    description: str = "written by ftir_unmix",
    units: str | None = None,
) -> tuple[Path, Path]:
    """Write a float32 ENVI file (little-endian, ``byte order = 0``).

    Parameters
    ----------
    path : path-like
        ``name.hdr`` (data goes to ``name.img``), a data file name such as
        ``name.dat`` (header ``name.hdr``), or a bare stem.
    data : ndarray
        ``(H, W, B)`` with ``layout="HWB"`` (a cube) or ``(K, H, W)`` with
        ``layout="KHW"`` (a stack of maps, e.g. abundances).
    wavenumbers : array_like, optional
        Band positions in cm⁻¹, written as ``wavelength`` with
        ``wavelength units = Wavenumber``.
    band_names : list of str, optional
        Written as ``band names`` (commas and braces are replaced by spaces).
    layout : {"HWB", "KHW"}
        Axis order of ``data``.
    pixel_size : float, optional
        Pixel pitch in µm (``pixel size = {x, y, units=Micrometers}``).
    metadata : dict, optional
        Scalar entries are written as ``ftir_unmix <key> = value`` lines;
        other entries are skipped.
    interleave : {"bsq", "bil", "bip"}
        Layout on disk.
    description : str
        Header description.
    units : str, optional
        The y units of the values (e.g. ``"absorbance"``), written as
        ``z plot titles = {Wavenumber (cm-1), <units>}`` and read back by
        :func:`read_envi`.

    Returns
    -------
    (header_path, data_path) : tuple of Path

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> hdr, dat = write_envi(os.path.join(tempfile.mkdtemp(), "c.hdr"),
    ...                       np.zeros((2, 3, 4), np.float32), [1000, 1100, 1200, 1300])
    >>> read_envi(hdr).shape
    (2, 3, 4)
    """
    arr = np.asarray(data)
    if arr.ndim != 3:
        raise ValueError(f"data must be 3-D, got shape {arr.shape}")
    if layout == "KHW":
        arr = arr.transpose(1, 2, 0)
    elif layout != "HWB":
        raise ValueError(f"layout must be 'HWB' or 'KHW', not {layout!r}")
    if interleave not in ("bsq", "bil", "bip"):
        raise ValueError(f"interleave must be bsq, bil or bip, not {interleave!r}")
    lines, samples, bands = arr.shape
    if wavenumbers is not None:
        wn = np.asarray(wavenumbers, dtype=np.float64).ravel()
        if wn.shape[0] != bands:
            raise ValueError(f"{wn.shape[0]} wavenumbers for {bands} bands")
    else:
        wn = None
    if band_names is not None and len(band_names) != bands:
        raise ValueError(f"{len(band_names)} band names for {bands} bands")
    hdr, dat = _envi_paths(path)
    out = {
        "bsq": arr.transpose(2, 0, 1),
        "bil": arr.transpose(0, 2, 1),
        "bip": arr,
    }[interleave]
    out = np.ascontiguousarray(out, dtype="<f4")
    lines_out = [
        "ENVI",
        f"description = {{{_clean(description)}}}",
        f"samples = {samples}",
        f"lines = {lines}",
        f"bands = {bands}",
        "header offset = 0",
        "file type = ENVI Standard",
        f"data type = {_DTYPE_CODES['f4']}",
        f"interleave = {interleave}",
        "byte order = 0",
    ]
    if wn is not None:
        lines_out.append("wavelength units = Wavenumber")
        lines_out.append("wavelength = {" + ", ".join(f"{v:.10g}" for v in wn) + "}")
    if band_names is not None:
        lines_out.append(
            "band names = {" + ", ".join(_clean(n) or "band" for n in band_names) + "}"
        )
    if units is not None and _clean(units):
        lines_out.append(f"z plot titles = {{Wavenumber (cm-1), {_clean(units)}}}")
    if pixel_size is not None:
        ps = f"{float(pixel_size):.10g}"
        lines_out.append(f"pixel size = {{{ps}, {ps}, units=Micrometers}}")
    for key, value in (metadata or {}).items():
        if isinstance(value, (str, int, float, bool, np.generic)) and str(key).strip():
            k = re.sub(r"[^A-Za-z0-9_ .-]", "_", str(key)).strip()
            lines_out.append(f"ftir_unmix {k} = {_clean(value)}")
    hdr.parent.mkdir(parents=True, exist_ok=True)
    out.tofile(dat)
    hdr.write_text("\n".join(lines_out) + "\n", encoding="utf-8")
    return hdr, dat


def write_abundances_envi(
    path: PathLike,
    abundances: np.ndarray,
    names: list[str] | None = None,
    *,
    pixel_size: float | None = None,
    metadata: dict[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Write a ``(K, H, W)`` abundance stack as ENVI, one band per endmember.

    Parameters
    ----------
    path : path-like
        Output header or data path (see :func:`write_envi`).
    abundances : ndarray, shape (K, H, W)
    names : list of str, optional
        Endmember names (default ``endmember_1`` ...), stored as band names.
    pixel_size : float, optional
        Pixel pitch in µm.
    metadata : dict, optional
        Scalar entries written into the header.

    Returns
    -------
    (header_path, data_path) : tuple of Path
    """
    ab = np.asarray(abundances)
    if ab.ndim != 3:
        raise ValueError(f"abundances must be (K, H, W), got shape {ab.shape}")
    if names is None:
        names = [f"endmember_{i + 1}" for i in range(ab.shape[0])]
    return write_envi(
        path,
        ab,
        band_names=list(names),
        layout="KHW",
        pixel_size=pixel_size,
        metadata=metadata,
        description="abundance maps written by ftir_unmix",
    )
