"""``ftir-unmix demo``: napari with an FTIR image and the three panels."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["open_demo", "run_demo", "PLUGIN", "PANELS"]

#: The npe2 plugin name.
PLUGIN = "napari-ftir-unmix"
#: Display names of the dock widgets, in docking order.
PANELS = ("Unmix", "Band weights", "Spectra")


def open_demo(path: str | os.PathLike[str] | None = None, *, viewer: Any = None,
              show: bool = True) -> tuple[Any, dict[str, Any]]:
    """Open a viewer with an FTIR image and the Unmix, Band weights and Spectra panels.

    Parameters
    ----------
    path : path-like, optional
        A file to open; default: the synthetic sample cross-section.
    viewer : napari.Viewer, optional
        Use this viewer instead of creating one.
    show : bool
        Show the window (a new viewer only).

    Returns
    -------
    viewer : napari.Viewer
    panels : dict
        The panel widgets by display name.

    Raises
    ------
    ValueError
        ``path`` cannot be read (napari's ``ReaderPluginError`` names the file
        and the reason); no window is left open.
    """
    import napari

    own = viewer is None
    if own:
        viewer = napari.Viewer(title="FTIR unmixing", show=False)
    try:
        if path is None:
            viewer.open_sample(PLUGIN, "cross-section")
        else:
            viewer.open(os.fspath(path), plugin=PLUGIN)
    except Exception:
        if own:  # no empty window left behind for a file that cannot be read
            viewer.close()
        raise
    panels, docks = {}, {}
    for name in PANELS:
        dock, widget = viewer.window.add_plugin_dock_widget(PLUGIN, name, tabify=False)
        panels[name], docks[name] = widget, dock
    _arrange(docks)
    main = docks["Unmix"].parentWidget()
    viewer.canvas.overlays.current_slice.visible = True
    _show_strongest_band(viewer)
    if own and show:
        viewer.show()
        _fit_to_screen(main)
        from qtpy.QtCore import QTimer

        QTimer.singleShot(0, lambda: _fit_to_screen(main))  # again, once the window is laid out
    return viewer, panels


def _show_strongest_band(viewer: Any) -> None:
    """Start on the band with the highest mean absorbance (napari starts in the middle band)."""
    import numpy as np

    from ._layers import is_cube_layer

    cubes = [lay for lay in viewer.layers if is_cube_layer(lay)]
    if not cubes:
        return
    data = cubes[-1].data
    step_r = max(1, data.shape[1] // 32)
    step_c = max(1, data.shape[2] // 32)
    mean = np.asarray(data[:, ::step_r, ::step_c], dtype=np.float64).mean(axis=(1, 2))
    viewer.dims.set_current_step(0, int(np.nanargmax(mean)))


def _arrange(docks: dict[str, Any]) -> None:
    """Unmix on the right; Band weights and Spectra side by side below the canvas (wide plots)."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QMainWindow

    main = docks["Unmix"].parentWidget()
    if not isinstance(main, QMainWindow):
        return
    # The right-hand column (Unmix) runs the full height; the bottom row only spans the canvas.
    main.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
    main.setCorner(Qt.Corner.TopRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
    main.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, docks["Band weights"])
    main.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, docks["Spectra"])
    main.splitDockWidget(docks["Band weights"], docks["Spectra"], Qt.Orientation.Horizontal)


def _fit_to_screen(main: Any) -> None:
    """Docking first stacks the panels on the right and grows the window: fit it to the screen."""
    from qtpy.QtCore import Qt
    from qtpy.QtWidgets import QDockWidget

    screen = main.screen() if main is not None else None
    if screen is None:
        return
    avail = screen.availableGeometry()
    hint = main.minimumSizeHint()
    main.resize(max(hint.width(), min(1600, avail.width())),
                max(hint.height(), min(1000, avail.height())))
    bottom = [d for d in main.findChildren(QDockWidget)
              if d.isVisible() and main.dockWidgetArea(d) == Qt.DockWidgetArea.BottomDockWidgetArea]
    if len(bottom) == 2:
        half = max(1, (sum(d.width() for d in bottom)) // 2)
        main.resizeDocks(bottom, [half, half], Qt.Orientation.Horizontal)
        main.resizeDocks(bottom[:1], [int(main.height() * 0.48)], Qt.Orientation.Vertical)


def run_demo(path: str | os.PathLike[str] | None = None) -> None:
    """Open the demo viewer (see :func:`open_demo`) and run napari's event loop.

    Parameters
    ----------
    path : path-like, optional
        A file to open instead of the synthetic sample cross-section.
    """
    import gc

    import napari

    from .. import methods

    try:  # torch, now rather than at the first Run (see UnmixWidget)
        methods.get("cnn").function()
    except Exception:  # noqa: BLE001 (reported when the method runs)
        pass
    open_demo(path)
    # This is an application, not a plugin in someone else's napari: keep the objects of
    # its start-up (napari, Qt, torch: ~350 000) out of Python's full garbage collections,
    # which otherwise stall the viewer for ~0.3 s from time to time (docs/performance.md).
    gc.collect()
    gc.freeze()
    napari.run()
