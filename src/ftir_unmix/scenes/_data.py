"""Where the shared, read-only data live, and readers for the files used here.

:data:`SHARED_DATA` names the folder, as :mod:`ftir_unmix._shared_data` finds
it (``FTIR_UNMIX_SHARED_DATA``, else ``<repository>/../shared/data``), or
``None`` (the built-in fallbacks are used). Tests change it
with ``monkeypatch.setattr(ftir_unmix.scenes._data, "SHARED_DATA", None)``.

The files are read in place and never copied into the repository (the
atmospheric spectra carry a licence that forbids shipping them).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from .._shared_data import shared_data_dir as shared_data_dir_setting

__all__ = [
    "SHARED_DATA",
    "shared_data_dir",
    "read_two_columns",
    "read_class_means",
    "rubber_band",
]


#: The shared-data folder, or ``None`` where it is absent (the one setting).
SHARED_DATA: Path | None = shared_data_dir_setting()


def shared_data_dir() -> Path | None:
    """The shared-data folder in use, or ``None`` if it is unset or missing.

    Returns
    -------
    pathlib.Path or None
        :data:`SHARED_DATA` when it names an existing folder.
    """
    if SHARED_DATA is None:
        return None
    path = Path(SHARED_DATA)
    return path if path.is_dir() else None


@lru_cache(maxsize=64)
def read_two_columns(path: str, skip_header: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Read a two-column ``wavenumber, value`` text file, sorted ascending.

    Parameters
    ----------
    path : str
        A comma-separated file (``.csv`` or ``.dpt``).
    skip_header : bool
        Skip the first line.

    Returns
    -------
    wavenumbers, values : ndarray
        Ascending wavenumbers (duplicates dropped) and the matching values.
    """
    data = np.loadtxt(path, delimiter=",", skiprows=1 if skip_header else 0, dtype=np.float64)
    wn, val = data[:, 0], data[:, 1]
    order = np.argsort(wn, kind="stable")
    wn, val = wn[order], val[order]
    keep = np.concatenate([[True], np.diff(wn) > 0])
    out = (wn[keep], val[keep])
    for arr in out:
        arr.setflags(write=False)
    return out


@lru_cache(maxsize=8)
def read_class_means(path: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Read a CSV with a wavenumber column and one column per class mean.

    Parameters
    ----------
    path : str
        Header ``wavenumber,<class1>,<class2>,...``.

    Returns
    -------
    wavenumbers : ndarray
        Ascending.
    columns : dict
        Class name (header text) -> values in the same order.
    """
    with open(path, encoding="utf-8") as fh:
        header = fh.readline().strip().split(",")
    data = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64)
    order = np.argsort(data[:, 0], kind="stable")
    data = data[order]
    cols = {name: data[:, i] for i, name in enumerate(header) if i > 0}
    return data[:, 0], cols


def rubber_band(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Lower convex hull of the points ``(x, y)``, evaluated at ``x``.

    The usual "rubber band" baseline of an absorbance spectrum: subtracting it
    leaves a non-negative spectrum touching zero at its hull points.

    Parameters
    ----------
    x : ndarray, shape (n,)
        Strictly ascending abscissae.
    y : ndarray, shape (n,)

    Returns
    -------
    ndarray, shape (n,)

    Examples
    --------
    >>> rubber_band(np.arange(5.0), np.array([1.0, 0.0, 3.0, 0.0, 1.0]))
    array([1., 0., 0., 0., 1.])
    """
    hull: list[int] = []
    for i in range(len(x)):
        while len(hull) >= 2:
            i0, i1 = hull[-2], hull[-1]
            cross = (x[i1] - x[i0]) * (y[i] - y[i0]) - (y[i1] - y[i0]) * (x[i] - x[i0])
            if cross <= 0:
                hull.pop()
            else:
                break
        hull.append(i)
    return np.interp(x, x[hull], y[hull])
