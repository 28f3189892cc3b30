"""Exceptions raised for input the package cannot use."""

from __future__ import annotations

import os
import re

__all__ = [
    "CubeError",
    "CubeReadError",
    "DataError",
    "FTIRUnmixWarning",
    "OutputError",
    "ParameterError",
    "ResultReadError",
    "escape_control",
]

# C0/C1 control characters and the Unicode line/paragraph separators: anything
# that would break a one-line message or move the terminal's cursor.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_control(text: str) -> str:
    r"""Escape control characters the way ``repr`` does, leaving the rest as is.

    Examples
    --------
    >>> escape_control("line\nbreak.npz")
    'line\\nbreak.npz'
    >>> escape_control("café.npz")
    'café.npz'
    """

    def sub(m: re.Match[str]) -> str:
        ch = m.group()
        if ch in _NAMED:
            return _NAMED[ch]
        code = ord(ch)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return _CONTROL.sub(sub, text)


class CubeError(ValueError):
    """An array or axis that cannot form a valid :class:`~ftir_unmix.Cube`."""


class CubeReadError(CubeError):
    """A file that cannot be read as a cube or spectrum.

    The message is always one line: ``"<path>: <reason>"``; control
    characters in the path (a newline in a file name ...) are escaped as
    ``repr`` would write them.  ``path`` keeps the path unchanged.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        raw = os.fspath(path)
        self.path = raw if isinstance(raw, str) else os.fsdecode(raw)
        self.reason = escape_control(" ".join(str(reason).split()))
        super().__init__(f"{escape_control(self.path)}: {self.reason}")


class ParameterError(ValueError):
    """A parameter value outside what it accepts; the message names the parameter and the range.

    The message is ``"<name>: <reason>"``; ``name`` is the parameter's name
    (``"tau"``, ``"weights"``…), which the command line maps to its option.
    """

    def __init__(self, name: str, reason: str) -> None:
        self.name = str(name)
        self.reason = " ".join(str(reason).split())
        super().__init__(f"{self.name}: {self.reason}")


class DataError(CubeError):
    """A valid cube whose data cannot be unmixed as asked (all zero, constant, too few bands...).

    The message says why in one line; callers that know the file prefix its name.
    """


class OutputError(OSError):
    """An output location that cannot be written, or would overwrite what it must not.

    The message is always one line: ``"<path>: <reason>"``.
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        super().__init__()
        self.path = os.fsdecode(os.fspath(path))
        self.reason = " ".join(str(reason).split())

    def __str__(self) -> str:  # not OSError's "[Errno …]" form
        return f"{escape_control(self.path)}: {self.reason}"


class ResultReadError(ValueError):
    """A saved result that cannot be read: ``"<path>: <reason>"`` on one line."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = os.fsdecode(os.fspath(path))
        self.reason = " ".join(str(reason).split())
        super().__init__(f"{escape_control(self.path)}: {self.reason}")


class FTIRUnmixWarning(UserWarning):
    """Data that can be unmixed but deserve a second look (zero spectra, mostly negative values…)."""
