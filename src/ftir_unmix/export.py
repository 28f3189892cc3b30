"""Writing a result to files: maps (TIFF), spectra (CSV), band weights (CSV), run record (JSON).

Every writer here is atomic and refuses to replace an existing file unless
asked (:mod:`ftir_unmix.safe_write`).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from .jsonable import dumps
from .result import UnmixResult
from .safe_write import MANIFEST, atomic_file, file_digest, result_folder

__all__ = ["write_spectra_csv", "write_band_weights_csv", "write_outputs", "RESULT_FILES", "MAPS_ZARR"]

#: Maps of at least this many pixels are also written as OME-Zarr (:data:`MAPS_ZARR`).
LARGE_MAPS = 2048 * 2048
MAPS_ZARR = "abundances.ome.zarr"
#: The files of a result folder, by name; run.json (the manifest) is written last.
RESULT_FILES = {"abundances": "abundances.tif", "endmembers": "endmembers.csv",
                "band_weights": "band_weights.csv", "run": MANIFEST}


def write_spectra_csv(path: str | os.PathLike[str], wavenumbers: np.ndarray, spectra: np.ndarray,
                      names: list[str], *, overwrite: bool = False) -> Path:
    """CSV with header ``wavenumber,<name1>,…``, one row per band, ascending wavenumber.

    Used for endmember spectra, band weights and region means alike.

    Raises
    ------
    OutputError
        ``path`` exists and ``overwrite`` is false, or cannot be written.
    """
    spectra = np.asarray(spectra).reshape(len(wavenumbers), -1)
    if spectra.shape[1] != len(names):
        raise ValueError(f"{len(names)} names for {spectra.shape[1]} columns")
    order = np.argsort(wavenumbers)
    with atomic_file(path, overwrite=overwrite) as tmp, tmp.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["wavenumber", *names])
        for i in order:
            out.writerow([repr(float(wavenumbers[i])), *(repr(float(v)) for v in spectra[i])])
    return Path(path)


def write_band_weights_csv(path: str | os.PathLike[str], result: UnmixResult, *,
                           overwrite: bool = False) -> Path:
    """CSV of the weights used and every diagnostic, one row per band."""
    cols = {"weight": result.weights}
    cols.update({k: v for k, v in result.diagnostics.items() if k != "weight"})
    names = list(cols)
    table = np.column_stack([cols[n] for n in names])
    return write_spectra_csv(path, result.wavenumbers, table, names, overwrite=overwrite)


def write_outputs(result: UnmixResult, out_dir: str | os.PathLike[str], *,
                  overwrite: bool = False, maps_zarr: bool | None = None) -> dict[str, Path]:
    """Write ``abundances.tif``, ``endmembers.csv``, ``band_weights.csv`` and ``run.json``.

    Maps of large images (``maps_zarr=None``: at least 2048 × 2048 pixels) are
    also written as ``abundances.ome.zarr``, an OME-Zarr image with a
    resolution pyramid that napari opens lazily.

    The folder appears complete or not at all: the files are written into a
    temporary folder beside ``out_dir``, ``run.json`` last with the SHA-256 of
    every other file, and the folder is then renamed into place
    (:func:`ftir_unmix.safe_write.result_folder`). An earlier result there is
    replaced only with ``overwrite``; a folder with anything else in it is
    never written into.

    Returns
    -------
    dict of str to Path
        The written paths by name (see :data:`RESULT_FILES`).

    Raises
    ------
    OutputError
        The folder holds other files, an earlier result (without
        ``overwrite``), or cannot be written.
    """
    from .io import write_abundance_tiff, write_maps_omezarr

    out = Path(out_dir)
    with result_folder(out, overwrite=overwrite) as tmp:
        # Timings vary from run to run; keeping them out of the TIFF keeps same-seed
        # runs byte-identical there (run.json holds them).
        tiff_record = {k: v for k, v in result.run_record().items() if k != "timings"}
        pixel_size = result.parameters.get("source", {}).get("pixel_size_um")
        write_abundance_tiff(tmp / RESULT_FILES["abundances"], result.abundances, result.names, tiff_record,
                             pixel_size=pixel_size)
        write_spectra_csv(tmp / RESULT_FILES["endmembers"], result.wavenumbers, result.endmembers,
                          result.names)
        write_band_weights_csv(tmp / RESULT_FILES["band_weights"], result)
        h, w = result.abundances.shape[1:]
        if maps_zarr or (maps_zarr is None and h * w >= LARGE_MAPS):
            write_maps_omezarr(tmp / MAPS_ZARR, result.abundances, result.names,
                               pixel_size=pixel_size, record=tiff_record)
        record = result.run_record()
        record["loss_history"] = [float(v) for v in result.loss_history]
        record["files"] = {f.relative_to(tmp).as_posix(): file_digest(f)
                           for f in sorted(tmp.rglob("*")) if f.is_file()}
        (tmp / MANIFEST).write_text(dumps(record, indent=2) + "\n", encoding="utf-8")
    paths = {key: out / name for key, name in RESULT_FILES.items()}
    if (out / MAPS_ZARR).exists():
        paths["maps_zarr"] = out / MAPS_ZARR
    return paths
