"""Reference libraries: the spectra a user already has, read from files and folders.

Formats: JCAMP-DX (``.jdx``, ``.dx``; the ``jcamp`` package), text tables (``.csv``,
``.txt``, ``.tsv``, ``.dpt``: two columns are one reference named after the file; more
columns, or a file named ``endmembers*.csv`` as ``ftir-unmix unmix`` writes, give one
reference per column named after the column), and every single-spectrum format the
project reads (OMNIC ``.spa``, Bruker OPUS ``.0``/``.1``…, PerkinElmer ``.sp``) through
:func:`ftir_unmix.io.load_cube`. Transmittance and reflectance become absorbance
(``A = −log10 T``), which the reference's notes say. A file that cannot be read is a
:class:`LibraryProblem` (path and one-line reason), never an exception.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import CubeReadError
from ..io import load_cube, read_text_table
from ..io._units import parse_units_label, range_suggests_transmittance, to_absorbance
from ._jcamp import JCAMP_SUFFIXES, read_jcamp

__all__ = [
    "TEXT_SUFFIXES",
    "Library",
    "LibraryProblem",
    "Reference",
    "load_library",
    "read_band_weights_csv",
    "read_endmembers_csv",
    "read_reference_file",
]

TEXT_SUFFIXES = (".csv", ".txt", ".tsv", ".dpt")
#: The fewest points a reference must have.
MIN_POINTS = 10

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class Reference:
    """One reference spectrum.

    Attributes
    ----------
    name : str
        The material's name (file stem, column name or JCAMP title).
    wavenumbers : ndarray (M,)
        Ascending cm⁻¹, float64.
    values : ndarray (M,)
        Absorbance (converted where the file held transmittance or reflectance).
    source : str
        The file (and ``[column]`` for a table of several references), or what the caller said.
    notes : tuple of str
        Every change made on reading (a unit conversion ...), in words.
    """

    name: str
    wavenumbers: np.ndarray
    values: np.ndarray
    source: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class LibraryProblem:
    """A library file (or column) that was skipped: the path and the reason, one line."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class Library:
    """Reference spectra and the files that could not be used.

    Attributes
    ----------
    entries : list of Reference
    problems : list of LibraryProblem
    """

    entries: list[Reference] = field(default_factory=list)
    problems: list[LibraryProblem] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def names(self) -> list[str]:
        """The references' names, in order."""
        return [e.name for e in self.entries]

    def add(self, name: str, wavenumbers: np.ndarray, values: np.ndarray, *, source: str = "in memory",
            notes: Sequence[str] = ()) -> Reference:
        """Add one reference given as arrays (absorbance); returns it."""
        ref = _make_reference(name, wavenumbers, values, source, list(notes))
        self.entries.append(ref)
        return ref

    def extend(self, other: Library) -> Library:
        """Add another library's entries and problems (in place); returns self."""
        self.entries.extend(other.entries)
        self.problems.extend(other.problems)
        return self


def _make_reference(name: str, wn: np.ndarray, y: np.ndarray, source: str, notes: list[str]) -> Reference:
    x = np.asarray(wn, dtype=np.float64).ravel()
    v = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != v.shape:
        raise ValueError(f"{x.size} wavenumbers but {v.size} values")
    ok = np.isfinite(x) & np.isfinite(v)
    if not ok.all():
        notes.append(f"{int((~ok).sum())} non-finite points dropped")
        x, v = x[ok], v[ok]
    order = np.argsort(x, kind="stable")
    if not np.array_equal(order, np.arange(x.size)):
        descending = bool(np.all(np.diff(x) < 0))
        x, v = x[order], v[order]
        if not descending:
            notes.append("points sorted by wavenumber")
    x, first = np.unique(x, return_index=True)
    if first.size < v.size:
        notes.append(f"{v.size - first.size} repeated wavenumbers dropped")
    v = v[first]
    if x.size < MIN_POINTS:
        raise ValueError(f"only {x.size} usable points (at least {MIN_POINTS} needed)")
    if not np.ptp(v) > 0:
        raise ValueError("constant spectrum (no bands)")
    return Reference(name=str(name), wavenumbers=x, values=v, source=source, notes=tuple(notes))


def _units_to_absorbance(values: np.ndarray, label: str | None, where: str) -> tuple[np.ndarray, list[str]]:
    """Values in absorbance, with a note when they were converted (or could not be)."""
    parsed = parse_units_label(label) if label else None
    v = np.asarray(values, dtype=np.float64)
    if parsed is not None:
        kind, scale_known = parsed
        if kind in ("absorbance", "log(1/R)"):
            return v, []
        if kind in ("transmittance", "reflectance", "percent-transmittance", "percent-reflectance"):
            if not scale_known:
                p99 = float(np.percentile(v[np.isfinite(v)], 99))
                kind = f"percent-{kind}" if p99 > 1.5 else kind
            return _convert(v, kind, f"{where} says {label!r}")
        return v, [f"{where} says {label!r}: taken as absorbance as it is (no conversion exists)"]
    guess = range_suggests_transmittance(v)
    if guess is not None:
        kind = "percent-transmittance" if guess == "percent" else "transmittance"
        return _convert(v, kind, "judged by the value range (units not stated)")
    return v, []


def _convert(v: np.ndarray, kind: str, why: str) -> tuple[np.ndarray, list[str]]:
    out, n, floor = to_absorbance(v, kind)
    sym = "R" if "reflectance" in kind else "T"
    arg = f"{sym}/100" if kind.startswith("percent") else sym
    words = kind.replace("-", " ")
    note = f"converted from {words} to absorbance A = -log10({arg}) ({why})"
    if n:
        note += f"; {n} values at or below {floor:g} clipped before the log"
    return out.astype(np.float64), [note]


def _read_table_file(p: Path, problems: list[LibraryProblem]) -> list[Reference]:
    table, names, _info = read_text_table(p)
    if table.shape[1] < 2:
        raise CubeReadError(p, "a table needs a wavenumber column and at least one spectrum column")
    per_column = table.shape[1] > 2 or p.stem.lower().startswith("endmembers")
    if not per_column:
        cube = load_cube(p)  # the project's reader: units from the header or the value range
        notes = [str(r) for r in cube.metadata.get("repairs", [])]
        return [_make_reference(p.stem, cube.wavenumbers, cube.data[0, 0], str(p), notes)]
    refs = []
    for k in range(1, table.shape[1]):
        col = names[k] if names is not None and names[k] else f"{p.stem} #{k}"
        source = f"{p} [{col}]"
        try:
            values, notes = _units_to_absorbance(
                table[:, k], names[k] if names is not None else None,
                f"the column name {col!r}" if names is not None else "the file")
            refs.append(_make_reference(col, table[:, 0], values, source, notes))
        except ValueError as exc:
            problems.append(LibraryProblem(source, str(exc)))
    return refs


def _read_jcamp_file(p: Path, problems: list[LibraryProblem]) -> list[Reference]:
    refs = []
    for title, x, y, yunits, notes in read_jcamp(p):
        values, more = _units_to_absorbance(y, yunits, "##YUNITS")
        refs.append(_make_reference(title, x, values, str(p), notes + more))
    return refs


def _read_other(p: Path, problems: list[LibraryProblem]) -> list[Reference]:
    cube = load_cube(p)
    if cube.height * cube.width != 1:
        raise CubeReadError(p, f"holds a {cube.height}x{cube.width} image, not a single reference spectrum")
    notes = [str(r) for r in cube.metadata.get("repairs", [])]
    return [_make_reference(p.stem, cube.wavenumbers, cube.data[0, 0], str(p), notes)]


def read_reference_file(path: PathLike) -> tuple[list[Reference], list[LibraryProblem]]:
    """The reference spectra of one file (one, or one per column of a table).

    Returns
    -------
    references : list of Reference
    problems : list of LibraryProblem
        The file itself (nothing read) or the columns of a table that could not be used.
    """
    p = Path(os.fspath(path))
    suffix = p.suffix.lower()
    problems: list[LibraryProblem] = []
    try:
        if not p.is_file():
            raise CubeReadError(p, "not a file" if p.exists() else "file not found")
        if p.stat().st_size == 0:
            raise CubeReadError(p, "file is empty")
        if suffix in JCAMP_SUFFIXES:
            reader = _read_jcamp_file
        elif suffix in TEXT_SUFFIXES:
            reader = _read_table_file
        else:
            reader = _read_other
        return reader(p, problems), problems
    except CubeReadError as exc:
        return [], [*problems, LibraryProblem(exc.path, exc.reason)]
    except (ValueError, OSError, UnicodeDecodeError, IndexError, KeyError) as exc:
        msg = " ".join(str(exc).split()) or exc.__class__.__name__
        return [], [*problems, LibraryProblem(str(p), msg)]


def _files_of(folder: Path) -> list[Path]:
    out = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        out.extend(Path(root) / f for f in sorted(files) if not f.startswith("."))
    return out


def load_library(paths: PathLike | Iterable[PathLike]) -> Library:
    """Read reference spectra from files and folders (folders searched recursively).

    Parameters
    ----------
    paths : path-like or iterable of path-like
        Files and folders. Hidden files and folders (names starting with ``.``) are skipped.

    Returns
    -------
    Library
        ``.entries`` the references read, ``.problems`` every file (or column) that could not
        be used, with the reason. Nothing raises for a bad file.

    Examples
    --------
    >>> lib = load_library("no/such/folder")
    >>> len(lib), lib.problems[0].reason
    (0, 'file not found')
    """
    items = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
    lib = Library()
    for item in items:
        p = Path(os.fspath(item))
        files = _files_of(p) if p.is_dir() else [p]
        for f in files:
            refs, problems = read_reference_file(f)
            lib.entries.extend(refs)
            lib.problems.extend(problems)
    return lib


def read_endmembers_csv(path: PathLike) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read an ``endmembers.csv`` (header ``wavenumber,<name1>,…``) for identification.

    Parameters
    ----------
    path : path-like
        A table with the wavenumbers in the first column and one endmember per further column.

    Returns
    -------
    wavenumbers : ndarray (B,)
        Ascending.
    endmembers : ndarray (B, K)
    names : list of str
        Column names (``EM1`` … when the file has no header).

    Raises
    ------
    CubeReadError
        One line ``"PATH: reason"``.
    """
    p = Path(os.fspath(path))
    table, names, _ = read_text_table(p)
    if table.shape[1] < 2:
        raise CubeReadError(p, "needs a wavenumber column and at least one endmember column")
    if table.shape[0] < MIN_POINTS:
        raise CubeReadError(p, f"only {table.shape[0]} rows (bands)")
    if not np.all(np.isfinite(table)):
        raise CubeReadError(p, "holds non-finite values (NaN or infinity)")
    order = np.argsort(table[:, 0], kind="stable")
    table = table[order]
    if np.any(np.diff(table[:, 0]) <= 0):
        raise CubeReadError(p, "repeated wavenumbers in the first column")
    k = table.shape[1] - 1
    cols = names[1:] if names is not None else [f"EM{i + 1}" for i in range(k)]
    cols = [c or f"EM{i + 1}" for i, c in enumerate(cols)]
    return table[:, 0].copy(), table[:, 1:].copy(), cols


def read_band_weights_csv(path: PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read the ``weight`` column of a ``band_weights.csv`` (as ``ftir-unmix unmix`` writes it).

    Returns
    -------
    wavenumbers : ndarray (B,)
        Ascending.
    weights : ndarray (B,)

    Raises
    ------
    CubeReadError
        No ``weight`` column, or values that are not finite and in [0, 1].
    """
    p = Path(os.fspath(path))
    table, names, _ = read_text_table(p)
    if names is None or "weight" not in names[1:]:
        raise CubeReadError(p, "no 'weight' column (header wavenumber,weight,...)")
    col = names.index("weight")
    order = np.argsort(table[:, 0], kind="stable")
    w = table[order, col]
    if not (np.all(np.isfinite(w)) and np.all((w >= 0) & (w <= 1))):
        raise CubeReadError(p, "weights must be finite and within [0, 1]")
    return table[order, 0].copy(), w.copy()
