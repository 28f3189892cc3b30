"""A small matplotlib canvas that follows the napari theme.

Colours are set on each figure, axes and legend; matplotlib's global
``rcParams`` are never touched, and pyplot is not used.

A redraw requested with :meth:`ThemedCanvas.draw_idle` takes two turns of the
event loop: the constrained layout in one, the drawing in the next (each about
half of a full draw), so that a plot never holds the viewer for long.
"""

from __future__ import annotations

import weakref
from typing import Any

from matplotlib.axes import Axes
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg, NavigationToolbar2QT
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.legend import Legend
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QSizePolicy, QVBoxLayout, QWidget

__all__ = ["ThemedCanvas", "canvases_of", "theme_colors"]

#: The plot canvases of each viewer's panels, in creation order (the Figure panel exports them).
_CANVASES: weakref.WeakKeyDictionary[Any, list[weakref.ref]] = weakref.WeakKeyDictionary()


def canvases_of(viewer: Any) -> dict[str, ThemedCanvas]:
    """The live plot canvases of ``viewer``'s panels by name (``"Spectra"``, ``"Band weights"``, …)."""
    out: dict[str, ThemedCanvas] = {}
    for ref in _CANVASES.get(viewer, []):
        canvas = ref()
        if canvas is None or not canvas.alive:
            continue
        try:
            canvas.objectName()
        except RuntimeError:  # the Qt widget is gone
            continue
        name, n = canvas.name, 2
        while name in out:
            name, n = f"{canvas.name} ({n})", n + 1
        out[name] = canvas
    return out


def theme_colors(viewer: Any) -> dict[str, str]:
    """Hex colours of the viewer's theme: ``background``, ``text``, ``grid``, ``accent``."""
    from napari.utils.theme import get_theme

    try:
        theme = get_theme(viewer.theme)
    except Exception:  # an unknown theme name: fall back to napari's default
        theme = get_theme("dark")
    return {
        "background": theme.background.as_hex(),
        "text": theme.text.as_hex(),
        "grid": theme.highlight.as_hex(),
        "accent": theme.current.as_hex(),
        "panel": theme.foreground.as_hex(),
        "type": str(theme.type),
    }


class _SplitLayout(ConstrainedLayoutEngine):
    """Constrained layout whose next run is skipped when it was just computed for this size.

    :meth:`ThemedCanvas.draw_idle` lays the figure out in one event-loop turn
    and draws it in the next; the draw must not lay it out a second time.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._fresh_for: tuple[Any, ...] | None = None

    @staticmethod
    def _key(fig: Any) -> tuple[Any, ...]:
        return (*(float(v) for v in fig.get_size_inches()), float(fig.dpi))

    def lay_out(self, fig: Any) -> None:
        """Lay ``fig`` out now; its next draw at the same size will not do it again."""
        super().execute(fig)
        self._fresh_for = self._key(fig)

    def execute(self, fig: Any) -> Any:
        fresh, self._fresh_for = self._fresh_for, None
        if fresh is not None and fresh == self._key(fig):
            return None
        return super().execute(fig)


class ThemedCanvas(QWidget):
    """A matplotlib figure in a Qt widget, restyled whenever the napari theme changes.

    Parameters
    ----------
    viewer : napari.viewer.Viewer
        The viewer whose theme to follow.
    toolbar : bool
        Add matplotlib's zoom/pan/save toolbar.
    height : int
        Minimum height in pixels.
    name : str
        What the plot is called where it can be chosen (the Figure panel's export).
    """

    def __init__(self, viewer: Any, *, toolbar: bool = False, height: int = 200,
                 parent: QWidget | None = None, name: str = "plot") -> None:
        super().__init__(parent)
        self._viewer = viewer
        self.name = name
        self.alive = True
        refs = _CANVASES.setdefault(viewer, [])
        refs[:] = [r for r in refs if r() is not None and r().alive]
        refs.append(weakref.ref(self))
        self.figure = Figure(figsize=(4, 2.5), dpi=100, layout=_SplitLayout())
        self._layout_pending = False
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(height)
        self.canvas.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.toolbar = NavigationToolbar2QT(self.canvas, self) if toolbar else None
        if self.toolbar is not None:
            self.toolbar.setIconSize(self.toolbar.iconSize() * 0.8)
            layout.addWidget(self.toolbar)
        layout.addWidget(self.canvas)
        self.colors = theme_colors(viewer)
        viewer.events.theme.connect(self._on_theme)
        self.destroyed.connect(lambda *_: _disconnect(viewer.events.theme, self._on_theme))
        self.destroyed.connect(lambda *_: setattr(self, "alive", False))

    # -- theme -----------------------------------------------------------------------
    def _on_theme(self, _event: Any = None) -> None:
        self.colors = theme_colors(self._viewer)
        self.restyle()
        self.draw_idle()

    def restyle(self) -> None:
        """Apply the theme colours to the figure, every axes and legend."""
        c = self.colors
        self.figure.set_facecolor(c["background"])
        for ax in self.figure.axes:
            style_axes(ax, c)

    def draw(self) -> None:
        """Redraw now (synchronously)."""
        self.canvas.draw()

    def draw_idle(self) -> None:
        """Redraw soon: lay out in the next event-loop turn, draw in the one after (or when
        shown, if hidden now). Several calls before then make one redraw."""
        if not self.isVisible():
            self._dirty = True
        elif not self._layout_pending:
            self._layout_pending = True
            QTimer.singleShot(0, self._lay_out_then_draw)

    def _lay_out_then_draw(self) -> None:
        self._layout_pending = False
        if not self.alive:
            return
        engine = self.figure.get_layout_engine()
        try:
            if isinstance(engine, _SplitLayout) and self.figure.axes:
                engine.lay_out(self.figure)
            self.canvas.draw_idle()
        except RuntimeError:  # the Qt widget went away meanwhile
            pass

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt API)
        """Draw what changed while the panel was hidden (e.g. a tab in the background)."""
        super().showEvent(event)
        if getattr(self, "_dirty", False):
            self._dirty = False
            self.canvas.draw_idle()


def style_axes(ax: Axes, c: dict[str, str]) -> None:
    """Theme one axes: face, spines, ticks, labels, title, grid and legend."""
    ax.set_facecolor(c["background"])
    for spine in ax.spines.values():
        spine.set_color(c["text"])
    ax.tick_params(colors=c["text"], which="both", labelsize=8)
    ax.xaxis.label.set_color(c["text"])
    ax.yaxis.label.set_color(c["text"])
    ax.xaxis.label.set_fontsize(8)
    ax.yaxis.label.set_fontsize(8)
    ax.title.set_color(c["text"])
    ax.title.set_fontsize(9)
    ax.grid(True, color=c["grid"], alpha=0.35, linewidth=0.5)
    legend = ax.get_legend()
    if legend is not None:
        style_legend(legend, c)


def style_legend(legend: Legend, c: dict[str, str]) -> None:
    """Theme a legend's frame and text."""
    frame = legend.get_frame()
    frame.set_facecolor(c["background"])
    frame.set_edgecolor(c["grid"])
    for text in legend.get_texts():
        text.set_color(c["text"])


def _disconnect(emitter: Any, callback: Any) -> None:
    try:
        emitter.disconnect(callback)
    except Exception:  # already gone with the viewer
        pass
