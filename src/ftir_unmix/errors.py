"""Exceptions raised for input the package cannot use."""

from __future__ import annotations

import os

__all__ = ["CubeError", "CubeReadError"]


class CubeError(ValueError):
    """An array or axis that cannot form a valid :class:`~ftir_unmix.Cube`."""


class CubeReadError(CubeError):
    """A file that cannot be read as a cube or spectrum.

    The message is always one line: ``"<path>: <reason>"``.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = os.fspath(path)
        self.reason = " ".join(str(reason).split())
        super().__init__(f"{self.path}: {self.reason}")
