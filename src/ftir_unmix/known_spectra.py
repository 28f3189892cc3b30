"""Spectra of materials the user knows are in the sample, handed to a run.

A lab has reference spectra of what it expects (the binder, the ground, a
degradation product it found before). Given to :func:`ftir_unmix.unmix` as
``known=``, each one holds one endmember near itself
(:mod:`ftir_unmix.methods.cnn.known` says how and why); the result names those
endmembers after the references.

>>> ks = KnownSpectra.from_arrays(["lead white"], np.array([1000.0, 2000.0]), np.array([[0.1], [0.3]]))
>>> ks.on(np.array([1000.0, 1500.0, 2000.0])).round(2).ravel().tolist()
[0.1, 0.2, 0.3]
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .errors import DataError
from .identify import Library, load_library, resample

__all__ = ["MIN_COVERAGE", "KnownSpectra", "load_known"]

#: A known spectrum must cover at least this share of the cube's wavenumber range.
MIN_COVERAGE = 0.8


@dataclass(frozen=True)
class KnownSpectra:
    """Named reference spectra, each on its own wavenumber axis.

    Attributes
    ----------
    names : tuple of str
    wavenumbers : tuple of ndarray
        Ascending cm⁻¹, one array per spectrum.
    values : tuple of ndarray
        Absorbance, one array per spectrum.
    sources : tuple of str
        Where each came from (file, column), for the run record.
    """

    names: tuple[str, ...]
    wavenumbers: tuple[np.ndarray, ...]
    values: tuple[np.ndarray, ...]
    sources: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.names)

    @classmethod
    def from_arrays(cls, names: Sequence[str], wavenumbers: np.ndarray, values: np.ndarray,
                    source: str = "in memory") -> KnownSpectra:
        """Spectra in the columns of ``values`` (B, R) on one axis ``wavenumbers`` (B,)."""
        wn = np.asarray(wavenumbers, np.float64)
        v = np.asarray(values, np.float64).reshape(wn.size, -1)
        if v.shape[1] != len(names):
            raise ValueError(f"{len(names)} names for {v.shape[1]} known spectra")
        order = np.argsort(wn)
        return cls(tuple(str(n) for n in names), tuple(wn[order] for _ in names),
                   tuple(v[order, i] for i in range(v.shape[1])), tuple(source for _ in names))

    @classmethod
    def from_library(cls, library: Library) -> KnownSpectra:
        """Every reference of a library (:func:`ftir_unmix.identify.load_library`)."""
        e = library.entries
        return cls(tuple(r.name for r in e), tuple(r.wavenumbers for r in e), tuple(r.values for r in e),
                   tuple(r.source for r in e))

    def on(self, wavenumbers: np.ndarray) -> np.ndarray:
        """The spectra (B, R) at the cube's band positions.

        Outside a spectrum's own range its edge values are held (a constant, which a
        baseline term does not see). A spectrum covering less than :data:`MIN_COVERAGE`
        of the cube's range, or holding no signal, is refused (:class:`DataError`).
        """
        wn = np.asarray(wavenumbers, np.float64)
        order = np.argsort(wn)
        span = float(wn[order[-1]] - wn[order[0]]) or 1.0
        out = np.empty((wn.size, len(self)))
        for i, (name, x, y, src) in enumerate(zip(self.names, self.wavenumbers, self.values, self.sources)):
            covered = (min(x[-1], wn[order[-1]]) - max(x[0], wn[order[0]])) / span
            if covered < MIN_COVERAGE:
                raise DataError(f"{src}: known spectrum {name!r} covers {100 * max(covered, 0):.0f} % of the "
                                f"cube's wavenumber range (at least {100 * MIN_COVERAGE:.0f} % needed)")
            col = np.empty(wn.size)
            col[order] = resample(x, y, wn[order])
            inside = np.isfinite(col)
            col[~inside] = np.interp(wn[~inside], x[np.isfinite(y)], y[np.isfinite(y)])
            if not np.isfinite(col).all() or np.ptp(col) <= 0:
                raise DataError(f"{src}: known spectrum {name!r} holds no usable signal on the cube's bands")
            out[:, i] = col
        return out


def load_known(paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]]) -> KnownSpectra:
    """Known spectra from reference files or folders (the formats :func:`~ftir_unmix.identify.load_library`
    reads: CSV/TSV tables, JCAMP-DX, …).

    Raises
    ------
    DataError
        When a file cannot be used (one line naming it and the reason) or nothing was read.
    """
    lib = load_library(paths)
    if lib.problems:
        raise DataError(str(lib.problems[0]))
    if not len(lib):
        where = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths)
        raise DataError(f"{', '.join(map(os.fspath, where))}: no known spectra found")
    return KnownSpectra.from_library(lib)
