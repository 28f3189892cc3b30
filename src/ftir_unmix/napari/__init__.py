"""The napari plugin: the only part of the package that imports napari, Qt or magicgui.

Public functions (imported on first use, so ``import ftir_unmix.napari`` stays light):

- :func:`save_session` ``(viewer, path)``: save the study to a ``NAME.ftirproj`` folder;
- :func:`load_session` ``(viewer, path)``: open it again (also File ▸ Open, drag and drop,
  ``viewer.open(path, plugin="napari-ftir-unmix")``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_session", "save_session"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import _project

        return getattr(_project, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
