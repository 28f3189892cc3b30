"""Sessions: save a study (layers, results, regions, panels) to ``NAME.ftirproj`` and open it again.

No Qt here: questions and file choices go through :mod:`._widgets_common`
(looked up when needed, so tests replace them with ``monkeypatch``).

A session folder holds ``session.json`` (written last: the manifest, with a
SHA-256 of every other file in it) and the arrays it needs:

- an FTIR image read from a file is stored **by reference**: its path (absolute,
  and relative to the session's folder), size and SHA-256, the format and units
  it was read with; the band-weight parameters of the viewer, its forced
  ranges, pixel size and display settings. An image without a file (the
  sample cross-section) is stored as ``cube-N.npz``;
- every unmixing result shown as maps is one ``result-N.npz``
  (:meth:`ftir_unmix.UnmixResult.save`: maps, spectra, weights, run record);
  each map keeps its name, colours, visibility and order;
- regions (Shapes: vertices, types, colours, names; Labels: ``layer-N.npz``),
  composites, the photo (by reference, with its registration), point pairs and
  any other image, labels, shapes or points layer;
- the viewer (band shown, camera, scale bar, legend overlay) and the panels
  that were open, with the Unmix panel's settings.

Writing is atomic: everything goes into a hidden folder beside the target,
which is renamed into place when complete; an earlier session is replaced only
after asking, and a folder that is not a session is never written into.
Opening checks the session's own files against the manifest, and each
referenced file against its checksum; a moved file is looked for beside the
session, then asked for.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from ..errors import OutputError
from ..jsonable import jsonable
from ..safe_write import PRODUCER, file_digest, replace_folder, staged_folder
from ._layers import DERIVED_KEY, FORCED_RANGES_KEY, RESULT_KEY, is_abundance_layer, is_cube_layer

__all__ = [
    "MANIFEST",
    "SESSION_SUFFIX",
    "SessionError",
    "is_session_folder",
    "load_session",
    "save_session",
    "session_layer_data",
    "session_state",
]

#: Suffix of a session folder.
SESSION_SUFFIX = ".ftirproj"
#: The manifest, written last.
MANIFEST = "session.json"
#: ``format`` field of the manifest.
FORMAT = "napari-ftir-unmix session"
VERSION = 1
PLUGIN = "napari-ftir-unmix"
#: The Unmix panel controls a session keeps (by name).
UNMIX_CONTROLS = ("method", "k", "loss", "protocol", "baseline", "atmosphere", "epochs", "lr", "softmax_scale",
                  "restarts", "spare_when_needed", "known", "known_weight",
                  "seed", "device", "k_min", "k_max")

Ask = Callable[[str], bool]
Locate = Callable[[dict[str, Any], str], "str | None"]


class SessionError(ValueError):
    """A session that cannot be opened: ``"PATH: reason"`` in one line."""

    def __init__(self, path: Any, reason: str) -> None:
        super().__init__(f"{path}: {reason}")


# ====================================================================================== paths
def session_path(path: str | os.PathLike[str]) -> Path:
    """``path`` with the ``.ftirproj`` suffix."""
    p = Path(path)
    return p if p.suffix.lower() == SESSION_SUFFIX else p.with_name(p.name + SESSION_SUFFIX)


def _manifest(folder: Path) -> dict[str, Any] | None:
    try:
        record = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("format") != FORMAT or not isinstance(record.get("files"), dict):
        return None
    return record


def is_session_folder(path: str | os.PathLike[str]) -> bool:
    """True for a folder ``*.ftirproj`` holding a session manifest of this package."""
    p = Path(path)
    return p.suffix.lower() == SESSION_SUFFIX and p.is_dir() and _manifest(p) is not None


def session_state(path: str | os.PathLike[str]) -> str:
    """``"absent"``, ``"empty"`` (an empty folder), ``"session"`` (only a session of this package),
    ``"foreign"`` (a folder with anything else) or ``"file"``."""
    p = Path(path)
    if not p.exists():
        return "absent"
    if not p.is_dir():
        return "file"
    entries = {e.name for e in p.iterdir()}
    if not entries:
        return "empty"
    record = _manifest(p)
    if record is None or not entries <= {MANIFEST, *record["files"]}:
        return "foreign"
    return "session"


# ====================================================================================== saving
def _default_ask(question: str) -> bool:
    from . import _widgets_common

    return _widgets_common.ask_yes_no(None, "Replace the session?", question)


def save_session(viewer: Any, path: str | os.PathLike[str], *, overwrite: bool | None = None,
                 ask: Ask | None = None) -> Path:
    """Save the viewer's study to the session folder ``path`` (``.ftirproj`` is added if missing).

    Parameters
    ----------
    viewer : napari.Viewer
    path : path-like
        The session folder to write.
    overwrite : bool, optional
        Replace an earlier session at ``path``: True replaces it, False
        refuses, None (default) asks (``ask``; in the GUI, a Yes/No question).
    ask : callable, optional
        ``ask(question) -> bool``.

    Returns
    -------
    Path
        The session folder.

    Raises
    ------
    OutputError
        ``path`` is a file or a folder that is not a session, an earlier
        session was not to be replaced, or the folder cannot be written. The
        target is then left as it was.
    """
    target = session_path(path)
    state = session_state(target)
    if state == "file":
        raise OutputError(target, "is a file; give a name for a new session folder")
    if state == "foreign":
        raise OutputError(target, "is a folder that is not a session of this program; choose another name")
    if state == "session":
        if overwrite is None:
            overwrite = (ask or _default_ask)(f"{target} holds an earlier session. Replace it?")
        if not overwrite:
            raise OutputError(target, "holds an earlier session; not replaced")
    with contextlib.ExitStack() as stack:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = stack.enter_context(staged_folder(target))
        except OSError as exc:
            raise OutputError(target, f"cannot write the session there ({exc.strerror or exc})") from None
        try:
            manifest = _Writer(viewer, partial, target).write()
            files = {e.name: file_digest(e) for e in sorted(partial.iterdir()) if e.is_file()}
            manifest["files"] = files
            (partial / MANIFEST).write_text(json.dumps(jsonable(manifest), indent=1, allow_nan=False),
                                            encoding="utf-8")
            if session_state(target) not in ("absent", "empty", "session"):  # changed meanwhile
                raise OutputError(target, "changed while saving; not replaced")
            replace_folder(partial, target)
        except OSError as exc:
            if isinstance(exc, OutputError):
                raise
            raise OutputError(target, f"cannot write the session ({exc.strerror or exc})") from None
    return target


def _colormap_state(cmap: Any) -> dict[str, Any]:
    return {"name": str(cmap.name), "colors": np.asarray(cmap.colors, dtype=float).tolist(),
            "controls": np.asarray(cmap.controls, dtype=float).tolist(),
            "interpolation": str(getattr(cmap, "interpolation", "linear"))}


def _label_colormap_state(cmap: Any) -> dict[str, Any]:
    from napari.utils.colormaps import DirectLabelColormap

    if isinstance(cmap, DirectLabelColormap):
        items = [[None if k is None else int(k), np.asarray(v, dtype=float).tolist()]
                 for k, v in cmap.color_dict.items()]
        return {"kind": "direct", "colors": items}
    return {"kind": "cyclic", "colors": np.asarray(cmap.colors, dtype=float).tolist(),
            "seed": float(getattr(cmap, "seed", 0.5))}


def _features(layer: Any) -> dict[str, list[Any]]:
    feats = getattr(layer, "features", None)
    if feats is None or not len(feats.columns):
        return {}
    return {str(c): jsonable(list(feats[c])) for c in feats.columns}


def _read_units(source: dict[str, Any]) -> str:
    """The ``units=`` option that reads the file as it was read (``auto`` unless the user chose)."""
    m = re.search(r"option units='([\w-]+)'", str(source.get("units_source", "")))
    return m.group(1) if m else "auto"


class _Writer:
    """Collects one session into a (temporary) folder."""

    def __init__(self, viewer: Any, folder: Path, target: Path) -> None:
        self.viewer = viewer
        self.folder = folder
        self.target = target
        self.refs = {getattr(lay, "unique_id", None): i for i, lay in enumerate(viewer.layers)}
        self.results: dict[int, str] = {}
        self.n_files = 0

    def _ref(self, unique_id: Any) -> int | None:
        return self.refs.get(unique_id)

    def _file(self, stem: str) -> Path:
        self.n_files += 1
        return self.folder / f"{stem}-{self.n_files}.npz"

    def write(self) -> dict[str, Any]:
        from ._session import get_session

        layers, skipped = [], []
        for layer in list(self.viewer.layers):
            entry = self._layer(layer)
            if entry is None:
                skipped.append(layer.name)
            else:
                layers.append(entry)
        return {
            "format": FORMAT, "version": VERSION, "producer": f"{PRODUCER} {__version__}",
            "saved": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "weight_params": get_session(self.viewer).weight_params.as_dict(),
            "layers": layers, "skipped_layers": skipped,
            "viewer": self._viewer_state(), "panels": self._panels(),
        }

    # ------------------------------------------------------------------ layers
    def _common(self, layer: Any) -> dict[str, Any]:
        return {
            "name": str(layer.name), "visible": bool(layer.visible), "opacity": float(layer.opacity),
            "blending": str(layer.blending), "scale": [float(v) for v in layer.scale],
            "translate": [float(v) for v in layer.translate],
            "units": [str(u) for u in layer.units], "axis_labels": [str(a) for a in layer.axis_labels],
            "affine": np.asarray(layer.affine.affine_matrix, dtype=float).tolist(),
        }

    def _derived(self, layer: Any) -> dict[str, Any] | None:
        info = layer.metadata.get(DERIVED_KEY)
        if not isinstance(info, dict):
            return None
        out = {k: v for k, v in info.items() if k not in ("source_id", "photo_id")}
        out["source_ref"] = self._ref(info.get("source_id"))
        out["photo_ref"] = self._ref(info.get("photo_id"))
        return jsonable(out)

    def _layer(self, layer: Any) -> dict[str, Any] | None:
        from napari.layers import Image, Labels, Points, Shapes

        entry = {"ref": self.refs[getattr(layer, "unique_id", None)], **self._common(layer)}
        derived = self._derived(layer)
        if derived is not None:
            entry["derived"] = derived
        if is_abundance_layer(layer):
            return self._abundance(layer, entry)
        if is_cube_layer(layer):
            return self._cube(layer, entry)
        if isinstance(layer, Image):
            return self._image(layer, entry)
        if isinstance(layer, Labels):
            path = self._file("labels")
            np.savez_compressed(path, data=np.asarray(layer.data))
            entry.update(kind="labels", data_file=path.name, colormap=_label_colormap_state(layer.colormap),
                         features=_features(layer))
            return entry
        if isinstance(layer, Shapes):
            entry.update(kind="shapes", ndim=int(layer.ndim),
                         data=[np.asarray(d, dtype=float).tolist() for d in layer.data],
                         shape_type=[str(t) for t in layer.shape_type],
                         edge_color=np.asarray(layer.edge_color, dtype=float).tolist(),
                         face_color=np.asarray(layer.face_color, dtype=float).tolist(),
                         edge_width=[float(w) for w in layer.edge_width],
                         z_index=[int(z) for z in layer.z_index], features=_features(layer))
            return entry
        if isinstance(layer, Points):
            entry.update(kind="points", ndim=int(layer.ndim), data=np.asarray(layer.data, dtype=float).tolist(),
                         face_color=np.asarray(layer.face_color, dtype=float).tolist(),
                         border_color=np.asarray(layer.border_color, dtype=float).tolist(),
                         size=np.asarray(layer.size, dtype=float).tolist(), features=_features(layer))
            return entry
        return None  # surfaces, tracks, vectors: not kept

    def _image_display(self, layer: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"rgb": bool(layer.rgb), "contrast_limits": [float(v) for v in layer.contrast_limits],
                               "gamma": float(layer.gamma), "interpolation2d": str(layer.interpolation2d)}
        if not layer.rgb:
            out["colormap"] = _colormap_state(layer.colormap)
        return out

    def _cube(self, layer: Any, entry: dict[str, Any]) -> dict[str, Any]:
        meta = layer.metadata
        source = dict(meta.get("source_metadata") or {})
        entry.update(kind="cube", display=self._image_display(layer),
                     forced_ranges=[[float(a), float(b)] for a, b in (meta.get(FORCED_RANGES_KEY) or [])],
                     pixel_size=meta.get("pixel_size"), source_metadata=jsonable(source))
        path = source.get("path")
        if path and Path(path).is_file():
            p = Path(path).resolve()
            entry["source"] = {
                "path": str(p), "relpath": os.path.relpath(p, self.target.parent.resolve()),
                "sha256": file_digest(p), "size": p.stat().st_size, "format": source.get("format"),
                "units": _read_units(source),
            }
        else:  # no file behind it (the sample, or a layer made in Python): keep the data
            out = self._file("cube")
            np.savez_compressed(out, data=np.asarray(layer.data), wavenumbers=np.asarray(meta["wavenumbers"]))
            entry["data_file"] = out.name
        return entry

    def _abundance(self, layer: Any, entry: dict[str, Any]) -> dict[str, Any]:
        info = layer.metadata[RESULT_KEY]
        result = info["result"]
        name = self.results.get(id(result))
        if name is None:
            self.n_files += 1
            name = f"result-{self.n_files}.npz"
            result.save(self.folder / name)
            self.results[id(result)] = name
        entry.update(kind="abundance", result_file=name, index=int(info["index"]),
                     source_ref=self._ref(info.get("source_id")), source_name=info.get("source_name", ""),
                     display=self._image_display(layer))
        return entry

    def _image(self, layer: Any, entry: dict[str, Any]) -> dict[str, Any]:
        entry.update(kind="image", display=self._image_display(layer))
        derived = entry.get("derived") or {}
        path = derived.get("path")
        if derived.get("role") == "photo" and path and Path(path).is_file():
            p = Path(path).resolve()
            entry["source"] = {"path": str(p), "relpath": os.path.relpath(p, self.target.parent.resolve()),
                               "sha256": file_digest(p), "size": p.stat().st_size}
        else:
            out = self._file("image")
            np.savez_compressed(out, data=np.asarray(layer.data))
            entry["data_file"] = out.name
        return entry

    # ------------------------------------------------------------------ viewer and panels
    def _viewer_state(self) -> dict[str, Any]:
        v = self.viewer
        from ._composites_widget import text_overlay
        from ._figure import scale_bar

        overlay = text_overlay(v)
        return {
            "current_step": [int(s) for s in v.dims.current_step], "ndisplay": int(v.dims.ndisplay),
            "camera": {"center": [float(c) for c in _camera(v).center], "zoom": float(_camera(v).zoom)},
            "scale_bar": bool(scale_bar(v).visible),
            "text_overlay": {"visible": bool(overlay.visible), "text": str(overlay.text),
                             "position": str(overlay.position)},
            "colorbars": [self.refs[getattr(lay, "unique_id", None)] for lay in v.layers
                          if getattr(getattr(lay, "colorbar", None), "visible", False)],
        }

    def _panels(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, widget in _our_panels(self.viewer).items():
            state: dict[str, Any] = {}
            if name == "Unmix":
                for control in UNMIX_CONTROLS:
                    w = getattr(widget, control, None)
                    if w is not None:
                        state[control] = jsonable(w.value)
            if name == "Spectra":
                choice = getattr(getattr(widget, "regions", None), "value", None)
                state["regions_ref"] = self._ref(getattr(choice, "unique_id", None))
            out[name] = state
        return out


def _camera(viewer: Any) -> Any:
    scene = getattr(viewer, "scene", None)  # napari ≥ 0.9
    return scene.camera if scene is not None and hasattr(scene, "camera") else viewer.camera


def _our_panels(viewer: Any) -> dict[str, Any]:
    """This plugin's docked panels by display name (``{"Unmix": widget, …}``)."""
    window = getattr(viewer, "window", None)
    docks = getattr(window, "dock_widgets", None) if window is not None else None
    if docks is None:
        return {}
    suffix = f" ({PLUGIN})"
    out = {}
    for key in list(docks.keys()):
        if key.endswith(suffix):
            with contextlib.suppress(Exception):
                out[key[: -len(suffix)]] = docks[key]
    return out


# ====================================================================================== opening
def _read_manifest(folder: Path) -> dict[str, Any]:
    if not folder.is_dir():
        raise SessionError(folder, "not found" if not folder.exists() else "is not a session folder")
    record = _manifest(folder)
    if record is None:
        raise SessionError(folder, f"not a session of {PLUGIN} (no valid {MANIFEST})")
    if int(record.get("version", 0)) > VERSION:
        raise SessionError(folder, f"written by a newer version (session format {record['version']}); "
                                   "update napari-ftir-unmix")
    for name, digest in record["files"].items():
        f = folder / name
        if not f.is_file():
            raise SessionError(folder, f"incomplete session: {name} is missing")
        if file_digest(f) != digest:
            raise SessionError(folder, f"{name} changed since the session was saved")
    return record


def _default_locate(source: dict[str, Any], reason: str) -> str | None:
    from . import _widgets_common

    name = Path(source["path"]).name
    _widgets_common.notify_warning(f"Session: {source['path']} {reason}; please locate {name}.")
    return _widgets_common.ask_open_path(None, f"Where is {name}? ({reason})", f"{name} (*)",
                                         str(Path(source["path"]).parent))


def _default_ask_checksum(question: str) -> bool:
    from . import _widgets_common

    return _widgets_common.ask_yes_no(None, "A different file?", question)


def _find_source(source: dict[str, Any], folder: Path, locate: Locate | None, ask: Ask | None,
                 notes: list[str]) -> Path | None:
    """The referenced file, checked against its checksum; asked for when it moved or changed."""
    digest = source["sha256"]
    candidates = [Path(source["path"])]
    if source.get("relpath"):
        candidates.append((folder.parent / source["relpath"]).resolve())
    reason = "was not found"
    for c in candidates:
        if c.is_file():
            if c.stat().st_size == source.get("size", c.stat().st_size) and file_digest(c) == digest:
                if c != candidates[0]:
                    notes.append(f"{Path(source['path']).name} found at {c}")
                return c
            reason = "changed since the session was saved (checksum differs)"
    chosen = (locate or _default_locate)(source, reason)
    if not chosen:
        notes.append(f"{source['path']} {reason}; not opened")
        return None
    p = Path(chosen)
    if not p.is_file():
        notes.append(f"{p} is not a file; not opened")
        return None
    if file_digest(p) != digest:
        question = (f"{p} is not the file the session was saved with (its SHA-256 checksum differs). "
                    "Open it anyway?")
        if not (ask or _default_ask_checksum)(question):
            notes.append(f"{p}: checksum differs; not opened")
            return None
        notes.append(f"{p}: checksum differs from the saved one; opened on request")
    return p


def _colormap(state: dict[str, Any] | None) -> Any:
    if not state:
        return None
    from napari.utils.colormaps import Colormap

    return Colormap(colors=state["colors"], controls=state["controls"], name=state["name"],
                    interpolation=state.get("interpolation", "linear"))


def _label_colormap(state: dict[str, Any] | None) -> Any:
    if not state:
        return None
    from napari.utils.colormaps import CyclicLabelColormap, DirectLabelColormap

    if state["kind"] == "direct":
        return DirectLabelColormap(color_dict={k: np.asarray(v) for k, v in state["colors"]})
    return CyclicLabelColormap(colors=np.asarray(state["colors"]), seed=state.get("seed", 0.5))


def _common_kwargs(entry: dict[str, Any]) -> dict[str, Any]:
    kw = {k: entry[k] for k in ("name", "visible", "opacity", "blending", "scale", "translate", "units",
                                "axis_labels") if k in entry}
    affine = np.asarray(entry.get("affine", np.eye(len(entry.get("scale", [0, 0])) + 1)), dtype=float)
    if not np.allclose(affine, np.eye(affine.shape[0])):
        kw["affine"] = affine
    return kw


def _image_kwargs(display: dict[str, Any]) -> dict[str, Any]:
    kw: dict[str, Any] = {"rgb": display.get("rgb", False), "gamma": display.get("gamma", 1.0),
                          "contrast_limits": display.get("contrast_limits")}
    if display.get("interpolation2d"):
        kw["interpolation2d"] = display["interpolation2d"]
    if display.get("colormap") and not display.get("rgb"):
        kw["colormap"] = _colormap(display["colormap"])
    return {k: v for k, v in kw.items() if v is not None}


class _Reader:
    """Turns a session folder into layer data tuples (and links between them)."""

    def __init__(self, folder: Path, locate: Locate | None, ask: Ask | None) -> None:
        self.folder = folder
        self.record = _read_manifest(folder)
        self.locate, self.ask = locate, ask
        self.notes: list[str] = []
        self._results: dict[str, Any] = {}

    def _result(self, name: str) -> tuple[Any, list[Any]]:
        if name not in self._results:
            from ..result import load_result
            from ._layers import abundance_layer_tuples

            result = load_result(self.folder / name)
            self._results[name] = (result, abundance_layer_tuples(result))
        return self._results[name]

    def tuples(self) -> list[tuple[dict[str, Any], tuple[Any, dict[str, Any], str]]]:
        """``(entry, LayerDataTuple)`` of every layer that could be restored, in layer order."""
        out = []
        for entry in self.record["layers"]:
            made = getattr(self, f"_{entry['kind']}", None)
            ltuple = made(entry) if made is not None else None
            if ltuple is not None:
                out.append((entry, ltuple))
        return out

    def _meta_derived(self, entry: dict[str, Any], meta: dict[str, Any]) -> None:
        if "derived" in entry:
            info = dict(entry["derived"])
            info["source_id"] = None  # linked after the layers exist
            info["photo_id"] = None
            meta[DERIVED_KEY] = info

    def _cube(self, entry: dict[str, Any]):
        from ..io import load_cube
        from ._layers import cube_layer_tuple

        if "source" in entry:
            src = entry["source"]
            path = _find_source(src, self.folder, self.locate, self.ask, self.notes)
            if path is None:
                return None
            try:
                cube = load_cube(path, format=src.get("format"), units=src.get("units") or "auto")
            except (ValueError, OSError) as exc:
                self.notes.append(f"{path}: {exc}")
                return None
            data, kwargs, kind = cube_layer_tuple(cube, name=entry["name"])
        else:
            with np.load(self.folder / entry["data_file"]) as f:
                data, wn = np.asarray(f["data"]), np.asarray(f["wavenumbers"])
            kwargs = {"metadata": {"wavenumbers": wn, "pixel_size": entry.get("pixel_size"),
                                   "source_metadata": dict(entry.get("source_metadata") or {})}}
            kind = "image"
        meta = dict(kwargs["metadata"])
        meta[FORCED_RANGES_KEY] = [list(r) for r in entry.get("forced_ranges", [])]
        meta["pixel_size"] = entry.get("pixel_size")
        kw = {**_common_kwargs(entry), **_image_kwargs(entry["display"]), "metadata": meta}
        return data, kw, kind

    def _abundance(self, entry: dict[str, Any]):
        result, tuples = self._result(entry["result_file"])
        data, kwargs, kind = tuples[entry["index"]]
        meta = {RESULT_KEY: dict(kwargs["metadata"][RESULT_KEY])}
        meta[RESULT_KEY]["source_name"] = entry.get("source_name", "")
        kw = {**kwargs, **_common_kwargs(entry), **_image_kwargs(entry["display"]), "metadata": meta}
        return data, kw, kind

    def _image(self, entry: dict[str, Any]):
        if "source" in entry:
            from ._photo import read_photo

            path = _find_source(entry["source"], self.folder, self.locate, self.ask, self.notes)
            if path is None:
                return None
            data = read_photo(path)
        else:
            with np.load(self.folder / entry["data_file"]) as f:
                data = np.asarray(f["data"])
        meta: dict[str, Any] = {}
        self._meta_derived(entry, meta)
        if "source" in entry and DERIVED_KEY in meta:
            meta[DERIVED_KEY]["path"] = str(path)
        return data, {**_common_kwargs(entry), **_image_kwargs(entry["display"]), "metadata": meta}, "image"

    def _labels(self, entry: dict[str, Any]):
        with np.load(self.folder / entry["data_file"]) as f:
            data = np.asarray(f["data"])
        meta: dict[str, Any] = {}
        self._meta_derived(entry, meta)
        kw = {**_common_kwargs(entry), "metadata": meta}
        cmap = _label_colormap(entry.get("colormap"))
        if cmap is not None:
            kw["colormap"] = cmap
        if entry.get("features"):
            kw["features"] = entry["features"]
        return data, kw, "labels"

    def _shapes(self, entry: dict[str, Any]):
        meta: dict[str, Any] = {}
        self._meta_derived(entry, meta)
        data = [np.asarray(d, dtype=float) for d in entry["data"]]
        kw = {**_common_kwargs(entry), "metadata": meta, "ndim": entry["ndim"]}
        if data:
            kw.update(shape_type=entry["shape_type"], edge_color=np.asarray(entry["edge_color"]),
                      face_color=np.asarray(entry["face_color"]), edge_width=entry["edge_width"],
                      z_index=entry["z_index"])
        if entry.get("features") or (entry.get("derived") or {}).get("role") == "regions":
            feats = entry.get("features") or {"region": []}
            kw["features"] = {k: np.asarray(v, dtype=object) for k, v in feats.items()}
        if (entry.get("derived") or {}).get("role") == "regions":
            kw["text"] = {"string": "{region}", "size": 9, "color": "white", "anchor": "upper_left"}
        return (data or None), kw, "shapes"

    def _points(self, entry: dict[str, Any]):
        meta: dict[str, Any] = {}
        self._meta_derived(entry, meta)
        data = np.asarray(entry["data"], dtype=float).reshape(-1, entry["ndim"])
        kw = {**_common_kwargs(entry), "metadata": meta, "ndim": entry["ndim"]}
        if len(data):
            kw.update(face_color=np.asarray(entry["face_color"]), border_color=np.asarray(entry["border_color"]),
                      size=np.asarray(entry["size"]))
        if entry.get("features"):
            kw["features"] = entry["features"]
        if (entry.get("derived") or {}).get("role") in ("photo_points", "ftir_points"):
            kw["text"] = {"string": "{pair}", "size": 10, "color": "white", "anchor": "upper_left"}
        return data, kw, "points"


def session_layer_data(path: str | os.PathLike[str], *, locate: Locate | None = None,
                       ask: Ask | None = None) -> list[tuple[Any, dict[str, Any], str]]:
    """The layers of a session as napari ``LayerDataTuple`` (no viewer needed; links between layers,
    panels and viewer settings are what :func:`load_session` adds)."""
    reader = _Reader(Path(path), locate, ask)
    return [t for _entry, t in reader.tuples()]


def load_session(viewer: Any, path: str | os.PathLike[str], *, locate: Locate | None = None,
                 ask: Ask | None = None) -> list[Any]:
    """Open a session folder in ``viewer``: its layers, results, regions, panels and settings.

    Parameters
    ----------
    viewer : napari.Viewer
    path : path-like
        A ``*.ftirproj`` folder written by :func:`save_session`.
    locate : callable, optional
        ``locate(source, reason) -> path or None``: asked for a referenced file
        (an FTIR image, a photo) that is not where it was and not beside the
        session; ``source`` has ``path`` and ``sha256``. Default: a notification
        and a file dialog.
    ask : callable, optional
        ``ask(question) -> bool``: whether to open a located file whose
        checksum differs. Default: a Yes/No question.

    Returns
    -------
    list of napari layers
        The layers added, in order. Layers whose file could not be found are
        left out (with a notification), as are maps whose source image is
        missing only their link to it.

    Raises
    ------
    SessionError
        Not a session folder, an incomplete or altered one, or a newer format.
    """
    from napari.layers import Layer

    folder = Path(path)
    reader = _Reader(folder, locate, ask)
    pairs = reader.tuples()
    added, by_ref = [], {}
    for entry, (data, kwargs, kind) in pairs:
        layer = Layer.create(data, kwargs, kind)
        viewer.add_layer(layer)
        added.append(layer)
        by_ref[entry["ref"]] = layer
    _link(pairs, by_ref)
    record = reader.record
    _restore_viewer(viewer, record, by_ref)
    _restore_panels(viewer, record, by_ref)
    if reader.notes:
        from . import _widgets_common

        _widgets_common.notify_warning("Session: " + "; ".join(reader.notes))
    return added


def _link(pairs: list[tuple[dict[str, Any], Any]], by_ref: dict[int, Any]) -> None:
    """Point maps and derived layers at the restored layers they were made from; re-attach watchers."""
    from ._composites_widget import watch_dominant_layer
    from ._photo import _number_points
    from ._regions import watch_regions_layer

    for entry, _t in pairs:
        layer = by_ref.get(entry["ref"])
        if layer is None:
            continue
        if entry["kind"] == "abundance":
            src = by_ref.get(entry.get("source_ref"))
            layer.metadata[RESULT_KEY]["source_id"] = getattr(src, "unique_id", None)
            continue
        info = layer.metadata.get(DERIVED_KEY)
        if not isinstance(info, dict):
            continue
        derived = entry.get("derived") or {}
        info["source_id"] = getattr(by_ref.get(derived.get("source_ref")), "unique_id", None)
        info["photo_id"] = getattr(by_ref.get(derived.get("photo_ref")), "unique_id", None)
        role = info.get("role")
        if role == "regions":
            watch_regions_layer(layer)
        elif role == "dominant":
            watch_dominant_layer(layer)
        elif role in ("photo_points", "ftir_points"):
            _number_points(layer)
    # maps of one result share one run: make sure they also share their source
    by_run: dict[str, Any] = {}
    for layer in by_ref.values():
        if is_abundance_layer(layer):
            info = layer.metadata[RESULT_KEY]
            by_run.setdefault(info["run_id"], info.get("source_id"))
            if info.get("source_id") is None:
                info["source_id"] = by_run[info["run_id"]]


def _restore_viewer(viewer: Any, record: dict[str, Any], by_ref: dict[int, Any]) -> None:
    from ..parameters import WEIGHT_RULES
    from ._session import get_session, typed_weight_param

    params = get_session(viewer).weight_params
    for name, value in (record.get("weight_params") or {}).items():
        if hasattr(params, name):
            try:  # a value this version does not accept keeps the panel's own
                checked = WEIGHT_RULES[name].check(name, typed_weight_param(name, value))
            except (TypeError, ValueError):
                continue
            setattr(params, name, checked)
    state = record.get("viewer") or {}
    with contextlib.suppress(Exception):
        if state.get("ndisplay"):
            viewer.dims.ndisplay = int(state["ndisplay"])
        step = state.get("current_step")
        if step and len(step) == viewer.dims.ndim:
            for axis, value in enumerate(step):
                viewer.dims.set_current_step(axis, int(value))
        cam = state.get("camera") or {}
        if cam.get("center") is not None:
            _camera(viewer).center = tuple(cam["center"])
        if cam.get("zoom"):
            _camera(viewer).zoom = float(cam["zoom"])
    from ._figure import scale_bar

    scale_bar(viewer).visible = bool(state.get("scale_bar", False))
    overlay = state.get("text_overlay") or {}
    if overlay.get("text"):
        from ._composites_widget import text_overlay

        text = text_overlay(viewer)
        text.text = overlay["text"]
        with contextlib.suppress(Exception):
            text.position = overlay.get("position", "top_left")
        text.visible = bool(overlay.get("visible"))
    for ref in state.get("colorbars") or []:
        layer = by_ref.get(ref)
        if layer is not None and getattr(layer, "colorbar", None) is not None:
            layer.colorbar.visible = True


def _restore_panels(viewer: Any, record: dict[str, Any], by_ref: dict[int, Any]) -> None:
    panels = record.get("panels") or {}
    window = getattr(viewer, "window", None)
    if not panels or window is None or not hasattr(window, "add_plugin_dock_widget"):
        return
    open_now = _our_panels(viewer)
    for name, state in panels.items():
        widget = open_now.get(name)
        if widget is None:
            try:
                _dock, widget = window.add_plugin_dock_widget(PLUGIN, name)
            except Exception as exc:  # a panel of a newer version, say
                from . import _widgets_common

                _widgets_common.notify_warning(f"Session: the {name} panel could not be opened ({exc})")
                continue
        if name == "Unmix":
            for control, value in (state or {}).items():
                w = getattr(widget, control, None)
                if w is not None:
                    with contextlib.suppress(Exception):
                        w.value = value
            results = [lay.metadata[RESULT_KEY]["result"] for lay in viewer.layers if is_abundance_layer(lay)]
            controller = getattr(widget, "controller", None)
            if results and controller is not None and not controller.running:
                controller.result = results[-1]  # Export results works on the reopened result
        if name == "Spectra":
            regions = by_ref.get((state or {}).get("regions_ref"))
            if regions is not None and hasattr(widget, "regions"):
                with contextlib.suppress(Exception):
                    widget.regions.reset_choices()
                    widget.regions.value = regions
