"""Cubes memory-mapped from a file: reading them block by block without keeping the pages.

A pass over a memory-mapped mosaic (finiteness, negatives, statistics, the
run's row blocks) makes every page it reads resident until the kernel needs
the memory: the process's resident size grows to the file's size although it
needs one block. :func:`row_blocks` and :func:`release_pages` drop the pages a
pass has read (they stay in the system's file cache).
"""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["file_mapping", "release_pages", "row_blocks", "take_rows"]


def file_mapping(array: Any) -> mmap.mmap | None:
    """The memory map of a file behind ``array`` (a ``np.memmap`` or a view of one), or None."""
    obj = array
    while obj is not None:
        if isinstance(obj, mmap.mmap):
            return obj
        if isinstance(obj, np.memmap) and getattr(obj, "_mmap", None) is not None:
            return obj._mmap
        obj = getattr(obj, "base", None)
    return None


def release_pages(mapping: mmap.mmap | None) -> None:
    """Drop the pages of a file mapping from this process's memory (a no-op for None)."""
    if mapping is None:
        return
    try:
        mapping.madvise(mmap.MADV_DONTNEED)
    except (AttributeError, OSError, ValueError):  # not on this platform, or the mapping is closed
        pass


def row_blocks(data: np.ndarray, block_values: int = 1 << 24) -> Iterator[np.ndarray]:
    """``data[i:i + rows]`` for consecutive blocks of about ``block_values`` values, releasing a
    memory-mapped file's pages after each block (so a pass over a mosaic stays one block big)."""
    rows = max(1, block_values // max(1, int(np.prod(data.shape[1:]))))
    mapping = file_mapping(data)
    for start in range(0, data.shape[0], rows):
        yield data[start:start + rows]
        release_pages(mapping)


def take_rows(data: np.ndarray, index: np.ndarray, block: int = 4096) -> np.ndarray:
    """``data[index]`` (a sorted sample of rows), read ``block`` rows at a time with a
    memory-mapped file's pages released after each: scattered reads map whole runs of
    neighbouring pages, so one big fancy index over a mosaic would make gigabytes resident."""
    mapping = file_mapping(data)
    if mapping is None:
        return data[index]
    out = np.empty((len(index), *data.shape[1:]), dtype=data.dtype)
    for start in range(0, len(index), block):
        out[start:start + block] = data[index[start:start + block]]
        release_pages(mapping)
    return out
