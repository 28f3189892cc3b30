"""npe2 writer hooks (no dialogs here: napari asks for the file name, and whether to replace
an existing file). Every file is written atomically (complete or not at all).

- abundance maps (one or more 2-D image layers) → float32 TIFF, ``K×H×W``, with
  the endmember names and the run record in the TIFF description;
- endmember spectra of the selected abundance layers → CSV
  (``wavenumber,<name1>,…``, ascending wavenumber);
- abundance maps → ENVI (``.hdr`` + ``.img``, one band per endmember);
- an FTIR cube layer → ``.npz`` (``cube`` (H, W, B), ``wavenumbers``), which
  the reader opens again.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..export import write_spectra_csv
from ..io import write_abundance_tiff, write_abundances_envi, write_npz
from ..safe_write import atomic_file
from ._layers import RESULT_KEY, endmember_name_from_layer, layer_wavenumbers

__all__ = ["LayerWriteError", "napari_write_maps_envi", "napari_write_maps_tiff", "napari_write_cube_npz",
           "napari_write_spectra_csv"]

FullLayerData = tuple[Any, dict[str, Any], str]


class LayerWriteError(TypeError):
    """The selected layers cannot be written by this writer.

    Not a ValueError: napari takes a ValueError from a writer for "this writer
    does not apply" and hides the message.
    """


def _stack(layer_data: list[FullLayerData]) -> tuple[np.ndarray, list[str], dict[str, Any], float | None]:
    """Stack 2-D image layers into ``(K, H, W)`` with names, a record and pixel size."""
    maps, names = [], []
    record: dict[str, Any] = {}
    pixel_size = None
    for data, meta, kind in layer_data:
        arr = np.asarray(data)
        if kind != "image" or arr.ndim != 2:
            raise LayerWriteError(
                f"layer {meta.get('name', '?')!r} is not a 2-D map (shape {arr.shape}); "
                "select the abundance layers to save"
            )
        maps.append(arr.astype(np.float32, copy=False))
        names.append(endmember_name_from_layer(str(meta.get("name", f"map {len(maps)}"))))
        info = (meta.get("metadata") or {}).get(RESULT_KEY)
        if isinstance(info, dict) and not record:
            record = {k: v for k, v in info.get("record", {}).items() if k != "timings"}
        scale = meta.get("scale")
        if pixel_size is None and scale is not None and len(scale) >= 2 and scale[-1] != 1.0:
            pixel_size = float(scale[-1])
    shapes = {m.shape for m in maps}
    if len(shapes) != 1:
        raise LayerWriteError(f"the maps have different shapes {sorted(shapes)}; save them separately")
    return np.stack(maps), names, record, pixel_size


def napari_write_maps_tiff(path: str, layer_data: list[FullLayerData]) -> list[str]:
    """Write the selected 2-D image layers as one float32 ``K×H×W`` TIFF.

    Parameters
    ----------
    path : str
        Output file (``.tif``/``.tiff``).
    layer_data : list of (data, attributes, layer_type)
        The layers napari passes, in layer-list order.

    Returns
    -------
    list of str
        The file written.
    """
    stack, names, record, pixel_size = _stack(layer_data)
    with atomic_file(path, overwrite=True) as tmp:
        write_abundance_tiff(tmp, stack, names, record, pixel_size=pixel_size)
    return [str(path)]


def napari_write_maps_envi(path: str, layer_data: list[FullLayerData]) -> list[str]:
    """Write the selected 2-D image layers as an ENVI stack (``.hdr`` + ``.img``).

    Returns
    -------
    list of str
        The header and data files.
    """
    stack, names, record, pixel_size = _stack(layer_data)
    scalars = {}
    for key in ("cancelled",):
        if key in record:
            scalars[key] = record[key]
    params = record.get("parameters", {}) if isinstance(record, dict) else {}
    for key in ("k", "method", "loss", "protocol", "seed", "epochs", "lr"):
        if key in params:
            scalars[key] = params[key]
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Both files are written in a hidden folder beside the target and moved out data first,
    # header last: a reader never finds a header whose data are incomplete.
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.partial-") as tmp:
        hdr_tmp, dat_tmp = write_abundances_envi(Path(tmp) / target.name, stack, names,
                                                 pixel_size=pixel_size, metadata=scalars)
        hdr, dat = target.parent / hdr_tmp.name, target.parent / dat_tmp.name
        os.replace(dat_tmp, dat)
        os.replace(hdr_tmp, hdr)
    return [str(hdr), str(dat)]


def napari_write_spectra_csv(path: str, layer_data: list[FullLayerData]) -> list[str]:
    """Write the endmember spectra of the selected abundance layers as CSV.

    Columns follow the selected layers (named after the layers), rows are
    bands in ascending wavenumber.

    Returns
    -------
    list of str
        The file written.

    Raises
    ------
    LayerWriteError
        None of the layers is an abundance map of an unmixing result.
    """
    columns, names, wn = [], [], None
    for _data, meta, _kind in layer_data:
        info = (meta.get("metadata") or {}).get(RESULT_KEY)
        if not isinstance(info, dict) or "endmembers" not in info:
            continue
        e = np.asarray(info["endmembers"])
        w = np.asarray(info["wavenumbers"], dtype=np.float64)
        if wn is not None and (w.shape != wn.shape or not np.allclose(w, wn)):
            raise LayerWriteError("the selected maps come from cubes with different wavenumbers")
        wn = w
        columns.append(e[:, int(info["index"])])
        names.append(endmember_name_from_layer(str(meta.get("name", info.get("name", "")))))
    if wn is None:
        raise LayerWriteError("select the abundance layers of an unmixing result to save their spectra")
    out = write_spectra_csv(path, wn, np.column_stack(columns), names, overwrite=True)
    return [str(out)]


def napari_write_cube_npz(path: str, data: Any, attributes: dict[str, Any]) -> list[str]:
    """Write an FTIR cube layer (``(B, H, W)`` with wavenumbers) as ``.npz``.

    Returns
    -------
    list of str
        The file written.

    Raises
    ------
    LayerWriteError
        The layer is not an FTIR cube (3-D with ``metadata["wavenumbers"]``).
    """
    arr = np.asarray(data)
    meta = attributes.get("metadata") or {}
    wn = layer_wavenumbers(arr.shape, meta)
    if wn is None:
        raise LayerWriteError(
            f"layer {attributes.get('name', '?')!r} is not an FTIR cube "
            "(needs 3 axes, bands first, and metadata['wavenumbers'])"
        )
    source = dict(meta.get("source_metadata") or {})
    with atomic_file(path, overwrite=True) as tmp:
        write_npz(tmp, np.moveaxis(arr, 0, -1), wn, pixel_size=meta.get("pixel_size"), metadata=source)
    return [str(path)]
