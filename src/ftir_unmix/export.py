"""Writing a result to files: maps (TIFF), spectra (CSV), band weights (CSV), run record (JSON)."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np

from .result import UnmixResult, _json_default

__all__ = ["write_endmembers_csv", "write_band_weights_csv", "write_outputs"]


def write_endmembers_csv(path: str | os.PathLike[str], wavenumbers: np.ndarray,
                         spectra: np.ndarray, names: list[str]) -> Path:
    """CSV with header ``wavenumber,<name1>,…``, one row per band, ascending wavenumber."""
    path = Path(path)
    order = np.argsort(wavenumbers)
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["wavenumber", *names])
        for i in order:
            out.writerow([repr(float(wavenumbers[i])), *(repr(float(v)) for v in spectra[i])])
    return path


def write_band_weights_csv(path: str | os.PathLike[str], result: UnmixResult) -> Path:
    """CSV of the weights used and every diagnostic, one row per band."""
    cols = {"weight": result.weights}
    cols.update({k: v for k, v in result.diagnostics.items() if k != "weight"})
    names = list(cols)
    table = np.column_stack([cols[n] for n in names])
    return write_endmembers_csv(path, result.wavenumbers, table, names)


def write_outputs(result: UnmixResult, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write ``abundances.tif``, ``endmembers.csv``, ``band_weights.csv`` and ``run.json``.

    Returns the written paths by name.
    """
    from .io import write_abundance_tiff

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # Timings vary from run to run; keeping them out of the TIFF keeps same-seed
    # runs byte-identical there (run.json holds them).
    tiff_record = {k: v for k, v in result.run_record().items() if k != "timings"}
    paths = {
        "abundances": write_abundance_tiff(out / "abundances.tif", result.abundances,
                                           result.names, tiff_record),
        "endmembers": write_endmembers_csv(out / "endmembers.csv", result.wavenumbers,
                                           result.endmembers, result.names),
        "band_weights": write_band_weights_csv(out / "band_weights.csv", result),
    }
    record = result.run_record()
    record["loss_history"] = [float(v) for v in result.loss_history]
    paths["run"] = out / "run.json"
    paths["run"].write_text(json.dumps(record, indent=2, default=_json_default) + "\n")
    return paths
