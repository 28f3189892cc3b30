"""Helpers shared by the readers: path checks, error wrapping, cube assembly."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..cube import Cube, make_cube
from ..errors import CubeError, CubeReadError
from ._units import DeclaredUnits, apply_units, check_units_option

__all__ = [
    "PathLike",
    "ascending_float32",
    "check_file",
    "copy_float32",
    "find_sibling",
    "finish_cube",
    "reading",
    "read_wavenumbers_file",
    "spectrum_to_arrays",
    "wavenumbers_option",
]

PathLike = str | os.PathLike[str]



def check_file(path: PathLike) -> Path:
    """Return ``path`` as a :class:`Path` after checking it is a non-empty file.

    Raises
    ------
    CubeReadError
        The path does not exist (a dangling symbolic link and a loop of
        symbolic links are named as such), is a directory, cannot be
        accessed, or the file is empty.
    """
    p = Path(path)
    try:
        st = os.stat(p)
    except OSError as exc:
        raise CubeReadError(p, _stat_failure(p, exc)) from exc
    except ValueError as exc:  # embedded NUL byte
        raise CubeReadError(p, f"invalid file name ({exc})") from exc
    if os.path.isdir(p):
        raise CubeReadError(p, "is a directory, not a file")
    if st.st_size == 0:
        raise CubeReadError(p, "file is empty")
    return p


def _stat_failure(p: Path, exc: OSError) -> str:
    """Why ``os.stat`` failed, in words (file not found, broken link, link loop...)."""
    code = exc.errno
    if code == errno.ELOOP:
        return "symbolic link loop (the link points, directly or not, back to itself)"
    if code == errno.ENOENT:
        if p.is_symlink():
            try:
                target = os.readlink(p)
            except OSError:
                target = "?"
            return f"broken symbolic link to {target!r} (the target does not exist)"
        try:
            parent_link = next(
                (a for a in p.parents if a.is_symlink() and not a.exists()), None
            )
        except OSError:
            parent_link = None
        if parent_link is not None:
            return f"file not found (the folder {parent_link} is a broken symbolic link)"
        return "file not found"
    if code == errno.ENOTDIR:
        return "file not found (a part of the path is a file, not a folder)"
    if code in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if code == errno.ENAMETOOLONG:
        return "file name too long"
    return f"cannot access the file ({exc.strerror or exc})"


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    name = type(exc).__name__
    if isinstance(exc, AssertionError):
        # a library's internal consistency check failed on the file's bytes
        return "corrupt or truncated file structure" + (f" ({text})" if text else "")
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
    except Exception as exc:  # any library's own exception (MemoryError of a corrupt header too)
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
    declared_units: DeclaredUnits | None = None,
    units: str = "auto",
    settle_units: bool = True,
) -> Cube:
    """Build the final :class:`Cube` with ``format``/``path`` metadata.

    Every :class:`CubeError` from :func:`make_cube` becomes a
    :class:`CubeReadError` naming ``path``.  The y units are then settled by
    :func:`~ftir_unmix.io._units.apply_units`: ``declared_units`` is what the
    file says, ``units`` the caller's choice (one of
    :data:`~ftir_unmix.io.Y_UNITS`); ``settle_units=False`` leaves the values
    and metadata alone.
    """
    check_units_option(units)
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
            cube = make_cube(
                data, wavenumbers, pixel_size=pixel_size, metadata=meta, nonfinite=nonfinite
            )
        if not settle_units:
            return cube
        values = cube.data
        own = (
            values.flags.writeable
            and not isinstance(values, np.memmap)
            and not isinstance(values.base, np.memmap)
        )
        out = apply_units(
            values,
            cube.metadata,
            cube.metadata["repairs"],
            declared_units,
            units,
            in_place=own,
        )
    except CubeReadError:
        raise
    except CubeError as exc:
        raise CubeReadError(path, str(exc)) from exc
    except MemoryError as exc:
        raise CubeReadError(path, "not enough memory to load the cube") from exc
    if out is values:
        return cube
    return Cube(
        data=out, wavenumbers=cube.wavenumbers, pixel_size=cube.pixel_size, metadata=cube.metadata
    )


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
    cube = finish_cube(path, "spectrum", y.astype(np.float32), wn, settle_units=False)
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
            f"{n} pixel spectra but the image size is unknown: pass width= (or height=; "
            "command line: --width N)"
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
    view: np.ndarray, *, reverse_bands: bool = False, block_bytes: int = 64 * 1024**2,
    on_disk: bool = False,
) -> np.ndarray:
    """Copy an ``(H, W, B)`` view (often a strided memmap) into a new float32 array.

    Works in blocks of rows, so a band-sequential file is transposed without a
    second full-size temporary; ``reverse_bands`` flips the band order in the
    same pass. With ``on_disk`` the copy is a temporary memory-mapped file
    (removed when the array is gone): for cubes that must not be loaded.
    """
    h, w, b = view.shape
    out = temporary_memmap((h, w, b)) if on_disk else np.empty((h, w, b), dtype=np.float32)
    rows = max(1, block_bytes // max(1, w * b * view.dtype.itemsize))
    src = view[:, :, ::-1] if reverse_bands else view
    for i in range(0, h, rows):
        out[i : i + rows] = src[i : i + rows]
    return out


def temporary_memmap(shape: tuple[int, ...]) -> np.ndarray:
    """A float32 array backed by an unlinked temporary file: paged by the system, nothing left behind."""
    import tempfile

    fd, name = tempfile.mkstemp(prefix="ftir-unmix-", suffix=".f32")
    os.close(fd)
    out = np.memmap(name, dtype=np.float32, mode="w+", shape=shape)
    os.unlink(name)
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


#: How a command-line user gives wavenumbers (named in messages).
WAVENUMBERS_HINT = "give them with wavenumbers= (command line: --wavenumbers FILE)"


def read_wavenumbers_file(path: PathLike, n_bands: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Read band positions from a file: ``.npy``, or text with one number per line / a CSV column.

    Text files may start with non-numeric header lines and may hold several
    columns (comma, semicolon, tab or space separated): the first column is
    used.  Empty lines and lines starting with ``#`` are skipped.

    Parameters
    ----------
    path : path-like
        The file.
    n_bands : int or tuple of int, optional
        The number(s) of bands the cube may have; another length is an error.

    Returns
    -------
    ndarray, shape (B,), float64

    Raises
    ------
    CubeReadError
        Naming ``path``: missing or empty file, non-numeric entries, not
        1-D, or the wrong number of values.

    Examples
    --------
    >>> import tempfile, os
    >>> f = os.path.join(tempfile.mkdtemp(), "wn.txt")
    >>> _ = open(f, "w").write("wavenumber\\n1000\\n1002\\n1004\\n")
    >>> read_wavenumbers_file(f).tolist()
    [1000.0, 1002.0, 1004.0]
    """
    p = check_file(path)
    if p.suffix.lower() == ".npy":
        with reading(p, "NumPy .npy file of wavenumbers"):
            wn = np.load(p, allow_pickle=False)
        if not np.issubdtype(wn.dtype, np.number) or np.issubdtype(wn.dtype, np.complexfloating):
            raise CubeReadError(p, f"wavenumbers must be real numbers, got dtype {wn.dtype}")
        wn = np.asarray(wn, dtype=np.float64)
        if sum(1 for s in wn.shape if s > 1) > 1:
            raise CubeReadError(p, f"wavenumbers must be a 1-D array, got shape {wn.shape}")
        wn = wn.ravel()
    else:
        if p.stat().st_size > 64 * 1024**2:
            raise CubeReadError(p, "too large for a list of wavenumbers")
        raw = p.read_bytes()
        if b"\x00" in raw[:65536]:
            raise CubeReadError(p, "binary content, not a list of wavenumbers (one number per line)")
        text = raw.decode("utf-8-sig", errors="replace")
        values: list[float] = []
        started = False
        for i, line in enumerate(text.splitlines(), start=1):
            item = line.strip()
            if not item or item.startswith("#"):
                continue
            first = item.replace(";", ",").replace("\t", ",").split(",")[0].strip()
            first = first.split()[0] if first.split() else ""
            try:
                values.append(float(first))
            except ValueError:
                if not started and not values:
                    continue  # a header line
                raise CubeReadError(
                    p, f"not a list of numbers: line {i} reads {item[:40]!r}"
                ) from None
            started = True
        if not values:
            raise CubeReadError(p, "no numbers found (expected one wavenumber per line)")
        wn = np.asarray(values, dtype=np.float64)
    if wn.size < 2:
        raise CubeReadError(p, f"holds {wn.size} wavenumber(s); a cube needs at least 2")
    if not np.all(np.isfinite(wn)):
        raise CubeReadError(p, "the wavenumbers contain NaN or inf")
    if n_bands is not None:
        allowed = (n_bands,) if isinstance(n_bands, int) else tuple(n_bands)
        if wn.size not in allowed:
            want = " or ".join(str(n) for n in sorted(set(allowed)))
            raise CubeReadError(p, f"holds {wn.size} wavenumbers, the cube has {want} bands")
    return wn


def wavenumbers_option(
    path: PathLike, value: Any, n_bands: int | tuple[int, ...] | None = None
) -> np.ndarray:
    """The ``wavenumbers=`` option as an array: values, or a file of values.

    Parameters
    ----------
    path : path-like
        The cube file (named in errors about an array option).
    value : array_like or path-like
        The band positions, or a file holding them (see
        :func:`read_wavenumbers_file`).
    n_bands : int or tuple of int, optional
        Checked against the length of a file's list (an array's length is
        checked by the reader, with its own message).

    Returns
    -------
    ndarray, shape (B,), float64
    """
    if isinstance(value, (str, os.PathLike)):
        return read_wavenumbers_file(value, n_bands)
    try:
        wn = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CubeReadError(path, f"option wavenumbers is not numeric: {exc}") from exc
    if wn.ndim != 1:
        raise CubeReadError(path, f"option wavenumbers must be 1-D, got shape {wn.shape}")
    return wn
