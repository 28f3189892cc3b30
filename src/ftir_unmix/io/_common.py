"""Helpers shared by the readers: path checks, error wrapping, cube assembly."""

from __future__ import annotations

import contextlib
import os
import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..cube import Cube, make_cube
from ..errors import CubeError, CubeReadError

__all__ = [
    "PathLike",
    "ascending_float32",
    "check_file",
    "copy_float32",
    "find_sibling",
    "finish_cube",
    "reading",
    "spectrum_to_arrays",
]

PathLike = str | os.PathLike[str]

#: Exceptions that third-party readers raise on bad input and that we turn into
#: :class:`CubeReadError`.  ``MemoryError`` is included: a corrupted header that
#: asks for terabytes must not crash the caller.
_WRAPPED: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    LookupError,
    ArithmeticError,
    OSError,
    EOFError,
    struct.error,
    zipfile.BadZipFile,
    MemoryError,
    UnicodeError,
    AssertionError,
    RuntimeError,
    NotImplementedError,
)


def check_file(path: PathLike) -> Path:
    """Return ``path`` as a :class:`Path` after checking it is a non-empty file.

    Raises
    ------
    CubeReadError
        The path does not exist, is a directory, or the file is empty.
    """
    p = Path(path)
    if not p.exists():
        raise CubeReadError(p, "file not found")
    if p.is_dir():
        raise CubeReadError(p, "is a directory, not a file")
    try:
        size = p.stat().st_size
    except OSError as exc:  # pragma: no cover - permissions, races
        raise CubeReadError(p, f"cannot read file ({exc.strerror or exc})") from exc
    if size == 0:
        raise CubeReadError(p, "file is empty")
    return p


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    name = type(exc).__name__
    if not text:
        return name
    if len(text) > 300:
        text = text[:297] + "..."
    return f"{text} ({name})"


@contextlib.contextmanager
def reading(path: PathLike, what: str) -> Iterator[None]:
    """Turn any library exception raised inside the block into a :class:`CubeReadError`.

    Parameters
    ----------
    path : path-like
        The file being read, named in the error.
    what : str
        A short description of the format, e.g. ``"ENVI file"``.
    """
    try:
        yield
    except CubeReadError:
        raise
    except CubeError as exc:
        raise CubeReadError(path, str(exc)) from exc
    except _WRAPPED as exc:
        raise CubeReadError(path, f"not a readable {what}: {_describe(exc)}") from exc
    except Exception as exc:
        raise CubeReadError(path, f"not a readable {what}: {_describe(exc)}") from exc


def finish_cube(
    path: PathLike,
    fmt: str,
    data: np.ndarray,
    wavenumbers: np.ndarray,
    *,
    pixel_size: float | None = None,
    metadata: dict[str, Any] | None = None,
    repairs: list[str] | None = None,
    nonfinite: str = "raise",
) -> Cube:
    """Build the final :class:`Cube` with ``format``/``path`` metadata.

    Every :class:`CubeError` from :func:`make_cube` becomes a
    :class:`CubeReadError` naming ``path``.
    """
    meta: dict[str, Any] = dict(metadata or {})
    meta["format"] = fmt
    meta["path"] = os.fspath(path)
    meta["repairs"] = list(repairs or []) + list(meta.get("repairs", []))
    if pixel_size is not None:
        try:
            pixel_size = float(pixel_size)
        except (TypeError, ValueError):
            pixel_size = None
        else:
            if not np.isfinite(pixel_size) or pixel_size <= 0:
                meta["repairs"].append(f"ignored invalid pixel size {pixel_size!r}")
                pixel_size = None
    if nonfinite not in ("raise", "zero"):
        raise ValueError(f"nonfinite must be 'raise' or 'zero', not {nonfinite!r}")
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # overflow -> inf, reported below
            return make_cube(
                data, wavenumbers, pixel_size=pixel_size, metadata=meta, nonfinite=nonfinite
            )
    except CubeReadError:
        raise
    except CubeError as exc:
        raise CubeReadError(path, str(exc)) from exc
    except MemoryError as exc:
        raise CubeReadError(path, "not enough memory to load the cube") from exc


def find_sibling(path: Path, suffixes: tuple[str, ...], stem: str | None = None) -> Path | None:
    """Find a file beside ``path`` with the same stem and one of ``suffixes``.

    The match on stem and suffix is case-insensitive (instrument software and
    file copies across systems do not keep case consistently).
    """
    raw_stem = stem if stem is not None else path.stem
    for s in suffixes:  # fast path: exact case
        cand = path.with_name(f"{raw_stem}{s}")
        if cand != path and cand.is_file():
            return cand
    stem = raw_stem.lower()
    wanted = {s.lower() for s in suffixes}
    try:
        entries = list(path.parent.iterdir())
    except OSError:
        return None
    for cand in sorted(entries):
        if cand == path or not cand.is_file():
            continue
        if cand.stem.lower() == stem and cand.suffix.lower() in wanted:
            return cand
    return None


def spectrum_to_arrays(
    path: PathLike, wavenumbers: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Validate a single spectrum and return it with ascending wavenumbers."""
    wn = np.asarray(wavenumbers, dtype=np.float64).ravel()
    y = np.asarray(values, dtype=np.float64).ravel()
    cube = finish_cube(path, "spectrum", y.astype(np.float32), wn)
    return cube.wavenumbers.copy(), cube.data[0, 0].astype(np.float64)


def parse_int_option(path: PathLike, name: str, value: Any) -> int | None:
    """Check an optional positive integer option such as ``width``."""
    if value is None:
        return None
    try:
        iv = int(value)
    except (TypeError, ValueError) as exc:
        raise CubeReadError(path, f"option {name}={value!r} is not an integer") from exc
    if iv != value and not (isinstance(value, str) and value.strip().isdigit()):
        raise CubeReadError(path, f"option {name}={value!r} is not an integer")
    if iv <= 0:
        raise CubeReadError(path, f"option {name}={value!r} must be positive")
    return iv


def reshape_pixels(
    path: PathLike,
    pixels: np.ndarray,
    *,
    height: int | None,
    width: int | None,
    order: str = "C",
    hint: str = "",
) -> np.ndarray:
    """Reshape an ``(N, B)`` pixel matrix to ``(H, W, B)``.

    Parameters
    ----------
    path : path-like
        Named in errors.
    pixels : ndarray, shape (N, B)
    height, width : int or None
        At least one must be given unless ``N == 1``.
    order : {"C", "F"}
        ``"C"``: pixels run along rows (x fastest); ``"F"``: down columns.
    hint : str
        Appended to the error when the size is unknown.
    """
    n, b = pixels.shape
    if height is None and width is None:
        if n == 1:
            return pixels.reshape(1, 1, b)
        raise CubeReadError(
            path,
            f"{n} pixel spectra but the image size is unknown: pass width= (or height=)"
            + (f" {hint}" if hint else ""),
        )
    if width is None:
        assert height is not None
        if n % height:
            raise CubeReadError(path, f"{n} pixels cannot form an image of height {height}")
        width = n // height
    if height is None:
        if n % width:
            raise CubeReadError(path, f"{n} pixels cannot form an image of width {width}")
        height = n // width
    if height * width != n:
        raise CubeReadError(
            path, f"height {height} x width {width} = {height * width} pixels, file has {n}"
        )
    if order == "F":
        return pixels.reshape(width, height, b).transpose(1, 0, 2)
    return pixels.reshape(height, width, b)


def copy_float32(
    view: np.ndarray, *, reverse_bands: bool = False, block_bytes: int = 64 * 1024**2
) -> np.ndarray:
    """Copy an ``(H, W, B)`` view (often a strided memmap) into a new float32 array.

    Works in blocks of rows, so a band-sequential file is transposed without a
    second full-size temporary; ``reverse_bands`` flips the band order in the
    same pass.
    """
    h, w, b = view.shape
    out = np.empty((h, w, b), dtype=np.float32)
    rows = max(1, block_bytes // max(1, w * b * view.dtype.itemsize))
    src = view[:, :, ::-1] if reverse_bands else view
    for i in range(0, h, rows):
        out[i : i + rows] = src[i : i + rows]
    return out


def ascending_float32(
    view: np.ndarray, wavenumbers: np.ndarray, repairs: list[str]
) -> tuple[np.ndarray, np.ndarray]:
    """Copy ``view`` (H, W, B) to float32 with the bands in ascending wavenumber order.

    A strictly descending axis is reversed in the same pass as the copy (and
    the reversal recorded in ``repairs``), so no second full-size copy is
    made later; any other axis is left for :func:`make_cube` to judge.
    """
    wn = np.asarray(wavenumbers, dtype=np.float64).ravel()
    flip = wn.size > 1 and wn.size == view.shape[-1] and bool(np.all(np.diff(wn) < 0))
    out = copy_float32(view, reverse_bands=flip)
    if flip:
        wn = wn[::-1].copy()
        repairs.append("wavenumber axis was descending: bands reversed to ascending order")
    return out, wn
