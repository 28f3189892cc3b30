"""The "Session" panel: save the study to ``NAME.ftirproj`` and open it again.

The work is done by :func:`ftir_unmix.napari.save_session` and
:func:`~ftir_unmix.napari.load_session` (:mod:`._project`, no Qt). Drive it by name::

    w = SessionWidget(viewer)
    w.session_path.value = "study/section-12.ftirproj"
    w.save.clicked()          # asks before replacing an earlier session
    w.open.clicked()          # opens the folder in session_path (or asks for one)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from magicgui.widgets import Container, FileEdit, Label, PushButton
from napari.viewer import Viewer
from qtpy.QtWidgets import QSizePolicy

from ..errors import OutputError
from . import _widgets_common as _common
from ._project import SESSION_SUFFIX, SessionError, is_session_folder, load_session, save_session
from ._widgets_common import notify_error, notify_info

__all__ = ["SessionWidget", "open_session_command", "open_session_dialog", "save_session_command",
           "save_session_dialog"]


def _ask(parent: Any, title: str) -> Any:
    return lambda question: _common.ask_yes_no(parent, title, question)


def save_session_dialog(viewer: Any, path: str | None = None, parent: Any = None) -> Path | None:
    """Save the viewer's session to ``path`` (asked for when None); the folder written, or None."""
    if not path:
        path = _common.ask_save_path(parent, "Save the session", f"FTIR unmixing session (*{SESSION_SUFFIX})")
        if not path:
            return None
    try:
        out = save_session(viewer, path, ask=_ask(parent, "Replace the session?"))
    except OutputError as exc:
        notify_error(f"Session: {exc}")
        return None
    notify_info(f"Session: saved to {out}")
    return out


def open_session_dialog(viewer: Any, path: str | None = None, parent: Any = None) -> list[Any] | None:
    """Open a session folder (asked for when ``path`` is None); the layers added, or None."""
    if not path:
        path = _common.ask_open_path(parent, "Open a session (a .ftirproj folder)", directory=True)
        if not path:
            return None
    try:
        layers = load_session(viewer, path, ask=_ask(parent, "A different file?"))
    except (SessionError, OSError) as exc:
        notify_error(f"Session: {exc}")
        return None
    notify_info(f"Session: opened {Path(path).name} ({len(layers)} layers)")
    return layers


def save_session_command(viewer: Viewer) -> None:
    """File ▸ IO Utilities ▸ Save FTIR session… (napari passes the current viewer)."""
    save_session_dialog(viewer)


def open_session_command(viewer: Viewer) -> None:
    """File ▸ IO Utilities ▸ Open FTIR session… (napari passes the current viewer)."""
    open_session_dialog(viewer)


class SessionWidget(Container):
    """Dock widget saving and opening sessions.

    Parameters
    ----------
    napari_viewer : napari.viewer.Viewer

    Notes
    -----
    Controls, by name: ``session_path``, buttons ``save`` and ``open``, text ``info``.
    """

    def __init__(self, napari_viewer: Any) -> None:
        super().__init__(labels=False)
        self._viewer = napari_viewer
        self.session_path = FileEdit(name="session_path", mode="w", nullable=True,
                                     filter=f"*{SESSION_SUFFIX}",
                                     tooltip="A session folder NAME.ftirproj (the suffix is added).")
        self.save = PushButton(name="save", text="Save session…",
                               tooltip="Save the layers, results, regions, photo, panels and settings "
                                       "to one folder (the FTIR file itself by path and checksum).")
        self.open = PushButton(name="open", text="Open session…",
                               tooltip="Open a saved session (also File ▸ Open, or drag the folder "
                                       "onto napari).")
        self.info = Label(name="info", value="")
        self.extend([
            self.session_path,
            Container(name="buttons", widgets=[self.save, self.open], layout="horizontal", labels=False),
            self.info,
        ])
        self.session_path.line_edit.native.setPlaceholderText(f"study{SESSION_SUFFIX}")
        self.info.native.setWordWrap(True)
        self.info.native.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
        self.save.clicked.connect(self._on_save)
        self.open.clicked.connect(self._on_open)

    def _field(self) -> str | None:
        value = self.session_path.value
        return None if value is None or str(value).strip() in ("", ".") else str(value)

    def _on_save(self, *_: Any) -> Path | None:
        out = save_session_dialog(self._viewer, self._field(), self.native)
        if out is not None:
            self.session_path.value = out
            self.info.value = f"saved {out.name}"
        return out

    def _on_open(self, *_: Any) -> list[Any] | None:
        field = self._field()
        path = field if field and is_session_folder(field) else None
        layers = open_session_dialog(self._viewer, path, self.native)
        if layers is not None:
            self.info.value = f"opened ({len(layers)} layers)"
        return layers
