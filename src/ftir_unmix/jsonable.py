"""One JSON conversion for every record the package writes (run.json, TIFF and npz metadata)."""

from __future__ import annotations

import json
import math
import os
from pathlib import PurePath
from typing import Any

import numpy as np

__all__ = ["jsonable", "dumps"]


def jsonable(obj: Any, *, max_array: int | None = None) -> Any:
    """``obj`` as plain JSON types: numpy scalars and arrays become numbers and lists, tuples
    and sets lists, paths strings, bytes latin-1 text, anything else its ``str``.

    NaN and infinities become ``None`` (JSON has no such numbers; ``NaN`` in a
    file makes it unreadable to strict parsers). Arrays larger than
    ``max_array`` elements are summarised as ``"<array shape dtype>"``.
    """
    if isinstance(obj, dict):
        return {str(k): jsonable(v, max_array=max_array) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [jsonable(v, max_array=max_array) for v in obj]
    if isinstance(obj, np.ndarray):
        if max_array is not None and obj.size > max_array:
            return f"<array {obj.shape} {obj.dtype}>"
        return jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    if isinstance(obj, bytes):
        return obj.decode("latin-1")
    if isinstance(obj, PurePath):
        return os.fspath(obj)
    return str(obj)


def dumps(obj: Any, **kwargs: Any) -> str:
    """``json.dumps`` of :func:`jsonable` (strict JSON: never ``NaN`` or ``Infinity``)."""
    return json.dumps(jsonable(obj), allow_nan=False, **kwargs)
