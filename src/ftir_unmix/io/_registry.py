"""Reader registry: pick a reader by extension, sibling files and file signature."""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cube import Cube
from ..errors import CubeReadError
from ._common import PathLike, check_file, find_sibling, reading
from ._units import apply_units, check_units_option
from ._zarr import is_zarr_store

__all__ = [
    "Reader",
    "filename_patterns",
    "get_reader",
    "load_cube",
    "readers",
    "register_reader",
    "supported_extensions",
]

_NUMERIC_EXT = re.compile(r"^\.\d{1,4}$")
_HEAD_BYTES = 512


@dataclass(frozen=True)
class Reader:
    """One file format the package can read.

    Attributes
    ----------
    name : str
        Short format name, recorded as ``cube.metadata["format"]``.
    description : str
        Human-readable description.
    extensions : tuple of str
        Lower-case suffixes with the dot (``".npz"``).  The special entry
        ``".<digits>"`` stands for Bruker's numeric suffixes ``.0``, ``.1`` ...
    read : callable
        ``read(path, **options) -> Cube``.
    sniff : callable or None
        ``sniff(first_512_bytes) -> bool``; a positive answer is a strong
        signature (magic bytes), used when the extension is missing or wrong.
    """

    name: str
    description: str
    extensions: tuple[str, ...]
    read: Callable[..., Cube]
    sniff: Callable[[bytes], bool] | None = None
    options: tuple[str, ...] = field(default=())

    def accepted_options(self) -> tuple[str, ...]:
        """Keyword options the reader takes."""
        if self.options:
            return self.options
        params = inspect.signature(self.read).parameters.values()
        return tuple(p.name for p in params if p.kind is inspect.Parameter.KEYWORD_ONLY)


_READERS: dict[str, Reader] = {}


def register_reader(reader: Reader) -> Reader:
    """Add (or replace) a reader in the registry."""
    _READERS[reader.name] = reader
    return reader


def readers() -> dict[str, Reader]:
    """All registered readers by name."""
    return dict(_READERS)


def supported_extensions() -> list[str]:
    """Suffixes the readers accept (``.0`` ... ``.9`` stand for Bruker OPUS's numeric ones).

    Returns
    -------
    list of str
        Sorted, lower-case, with the dot.
    """
    exts: set[str] = set()
    for r in _READERS.values():
        for e in r.extensions:
            if e == ".<digits>":
                exts.update(f".{i}" for i in range(10))
            else:
                exts.add(e)
    return sorted(exts)


def filename_patterns() -> list[str]:
    """Glob patterns for the napari manifest (``*.npz``, ``*.[0-9]`` ...)."""
    pats = {f"*{e}" for e in supported_extensions() if not _NUMERIC_EXT.match(e)}
    pats.update({"*.[0-9]", "*.[0-9][0-9]", "*.[0-9][0-9][0-9]"})
    return sorted(pats)


def _head(p: Path) -> bytes:
    try:
        with open(p, "rb") as fh:
            return fh.read(_HEAD_BYTES)
    except OSError as exc:
        raise CubeReadError(p, f"cannot read file ({exc.strerror or exc})") from exc


def _by_extension(p: Path) -> list[Reader]:
    ext = p.suffix.lower()
    out = []
    for r in _READERS.values():
        if ext in r.extensions or (".<digits>" in r.extensions and _NUMERIC_EXT.match(ext)):
            out.append(r)
    return out


def _sniffed(head: bytes) -> list[Reader]:
    return [r for r in _READERS.values() if r.sniff is not None and r.sniff(head)]


def _resolve_shared_suffix(p: Path) -> str | None:
    """Resolve ``.hdr``/``.dat`` (and suffix-less files) from the files beside them."""
    ext = p.suffix.lower()
    if ext in (".seq", ".bsp"):
        return "agilent"
    if ext in (".hdr", ".dat"):
        if find_sibling(p, (".seq", ".bsp")) is not None:
            return "agilent"
        if find_sibling(p, (".dmt", ".dms")) is not None:
            return "agilent_mosaic"
        return "envi"
    if ext in (".dms", ".dmd", ".dmt"):
        return "agilent_mosaic"
    if ext == "" or ext not in {e for r in _READERS.values() for e in r.extensions}:
        if p.with_name(p.name + ".hdr").is_file() or p.with_suffix(".hdr").is_file():
            return "envi"
    return None


def get_reader(path: PathLike) -> Reader | None:
    """The reader that :func:`load_cube` would use for ``path``, or None.

    Cheap: looks at the suffix, the files beside it and the first bytes only.
    Never raises for a missing or unreadable file (returns None).
    """
    p = Path(os.fspath(path))
    if is_zarr_store(p):
        return _READERS.get("zarr")
    if not p.is_file():
        return None
    try:
        return _choose(p)
    except CubeReadError:
        return None


def _content_hint(p: Path, exclude: Reader | None = None) -> str:
    """`` (the content looks like ...)`` when a signature matches another reader."""
    try:
        sniffed = [r for r in _sniffed(_head(p)) if r is not exclude]
    except CubeReadError:
        return ""
    if not sniffed:
        return ""
    r = sniffed[0]
    return (
        f" (the content looks like a {r.description}: give format='{r.name}'"
        f" (command line: --format {r.name}))"
    )


def _choose(p: Path) -> Reader:
    name = _resolve_shared_suffix(p)
    if name is not None and name in _READERS:
        return _READERS[name]
    by_ext = _by_extension(p)
    if len(by_ext) == 1:
        return by_ext[0]
    if by_ext:
        head = _head(p)
        for r in by_ext:
            if r.sniff is None or r.sniff(head):
                return r
        return by_ext[0]  # the reader says what is wrong
    ext = p.suffix or "(none)"
    known = ", ".join(e for e in supported_extensions() if not _NUMERIC_EXT.match(e))
    raise CubeReadError(
        p,
        f"unsupported file type: extension {ext} is not one of {known}, .0/.1/... (OPUS)"
        + _content_hint(p),
    )


def load_cube(
    path: PathLike, *, format: str | None = None, units: str = "auto", lazy: bool = False, **options: Any
) -> Cube:
    """Read any supported file as a :class:`~ftir_unmix.cube.Cube`.

    The reader is chosen by the file's suffix, the files beside it (ENVI
    ``.hdr``/``.dat`` pairs, Agilent ``.seq``/``.bsp``/``.dmt`` sets) and its
    first bytes (magic numbers), unless ``format`` names one.

    Linear unmixing needs absorbance: transmittance and reflectance (as a
    fraction or in percent) are converted to absorbance ``A = -log10(T)``,
    and the conversion is recorded in ``metadata["repairs"]`` (see
    ``docs/formats.md``, "Y units").

    Parameters
    ----------
    path : path-like
        The file to read.
    format : str, optional
        A reader name from :func:`readers` (``"npz"``, ``"envi"``, ...).
    units : str
        What the y values are, one of :data:`~ftir_unmix.io.Y_UNITS`:
        ``"auto"`` (default: what the file says; if it says nothing, percent
        or fractional transmittance is recognised by the value range; else
        the values are taken as they are), ``"absorbance"`` (take the values
        as they are), ``"transmittance"``, ``"percent-transmittance"``,
        ``"reflectance"``, ``"percent-reflectance"`` (convert to absorbance,
        whatever the file says).
    lazy : bool
        Do not load the image where the format allows it (ENVI, ``.npy``,
        TIFF, zarr): the cube is memory-mapped, for files larger than memory.
        Other formats are read as usual.
    **options
        Reader options, e.g. ``width=`` for pixel tables, ``wavenumbers=``
        (values, or a file with one number per line / a CSV column / an
        ``.npy``) for ``.npy``, TIFF, ENVI without a wavelength list and
        MATLAB without an axis, ``mmap=True`` for ENVI/``.npy``,
        ``nonfinite="zero"``.  Options set to None are ignored; an option the
        chosen reader does not take is an error.

    Returns
    -------
    Cube
        ``metadata["format"]`` names the reader, ``metadata["path"]`` the file,
        ``metadata["units"]`` the units of the values (``"absorbance"``, or
        e.g. ``"unknown (taken as absorbance)"``), ``metadata["units_source"]``
        where they come from.

    Raises
    ------
    CubeReadError
        Any file that cannot be read, with a one-line reason.
    ValueError
        ``units`` is not one of :data:`~ftir_unmix.io.Y_UNITS`.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from ftir_unmix.io import write_npz
    >>> f = os.path.join(tempfile.mkdtemp(), "x.npz")
    >>> _ = write_npz(f, np.ones((2, 2, 3), np.float32), [1000.0, 1500.0, 2000.0])
    >>> load_cube(f).shape
    (2, 2, 3)
    """
    check_units_option(units)
    store = is_zarr_store(path)  # a folder, not a file
    p = Path(os.fspath(path)) if store else check_file(path)
    if store and format is None:
        format = "zarr"
    opts = {k: v for k, v in options.items() if v is not None}
    if format is not None:
        if format not in _READERS:
            raise CubeReadError(
                p, f"unknown format {format!r} (known: {', '.join(sorted(_READERS))})"
            )
        reader = _READERS[format]
    else:
        reader = _choose(p)
    accepted = reader.accepted_options()
    if lazy and "mmap" in accepted:
        opts.setdefault("mmap", True)
    takes_units = "units" in accepted
    if takes_units:
        opts["units"] = units
    unknown = sorted(set(opts) - set(accepted))
    if unknown:
        raise CubeReadError(
            p,
            f"option(s) {', '.join(unknown)} not used by the {reader.name} reader "
            f"(it takes: {', '.join(accepted) or 'none'})",
        )
    try:
        with reading(p, reader.description):
            cube = reader.read(p, **opts)
    except CubeReadError as exc:
        own = reader.sniff is not None and reader.sniff(_head(p))
        hint = "" if (format is not None or own) else _content_hint(p, exclude=reader)
        if hint:
            raise CubeReadError(exc.path, exc.reason + hint) from exc
        raise
    if not isinstance(cube, Cube):  # pragma: no cover - reader bug
        raise CubeReadError(p, f"reader {reader.name} returned no cube")
    if not takes_units and (units != "auto" or "units" not in cube.metadata):
        cube = _settle_units(cube, units)
    return cube


def _settle_units(cube: Cube, units: str) -> Cube:
    """Apply the ``units`` choice to a cube from a reader that does not take it."""
    meta = dict(cube.metadata)
    repairs = list(meta.get("repairs", []))
    meta["repairs"] = repairs
    data = apply_units(cube.data, meta, repairs, None, units, in_place=False)
    return Cube(data=data, wavenumbers=cube.wavenumbers, pixel_size=cube.pixel_size, metadata=meta)
