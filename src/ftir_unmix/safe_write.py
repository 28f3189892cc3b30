"""Writing outputs so that nothing is lost or half-written.

Two rules hold for every file and folder the package writes:

- **atomic**: everything is written under a hidden temporary name beside the
  target and renamed into place only once complete; an interruption (Ctrl-C,
  a kill, a full disk, an exception) leaves either the previous state or the
  new complete one, never a mixture;
- **no silent overwrite**: an existing target is replaced only when the caller
  says ``overwrite=True`` (``--overwrite`` on the command line, a confirmed
  question in the GUI); a result *folder* is replaced only when it holds
  nothing but a result this package wrote (its ``run.json`` lists every file
  with its checksum), so files a user put there are never deleted.

A result folder is complete when its ``run.json`` (written last) lists every
file with a matching SHA-256: :func:`verify_result_folder` checks that.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .errors import OutputError

__all__ = [
    "MANIFEST",
    "PRODUCER",
    "atomic_file",
    "atomic_files",
    "check_output_file",
    "check_output_folder",
    "file_digest",
    "folder_state",
    "replace_folder",
    "result_folder",
    "verify_result_folder",
]

#: The record written last into a result folder; it lists the folder's files.
MANIFEST = "run.json"
#: What the manifest's ``producer`` field starts with.
PRODUCER = "napari-ftir-unmix"

_PARTIAL = re.compile(r"^\.(?P<name>.+)\.partial-(?P<pid>\d+)-[0-9a-f]+(?P<suffix>\.[^.]*)?$")


def _partial_name(target: Path, suffix: str = "") -> Path:
    return target.with_name(f".{target.name}.partial-{os.getpid()}-{secrets.token_hex(4)}{suffix}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but not ours
        return True
    return True


def _remove_stale_partials(target: Path) -> None:
    """Remove leftovers of runs of this package that were killed while writing ``target``."""
    with contextlib.suppress(OSError):
        for entry in target.parent.iterdir():
            m = _PARTIAL.match(entry.name)
            if m and m["name"] == target.name and not _alive(int(m["pid"])):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)


def _check_parent(target: Path, what: str) -> None:
    """Create the target's folder if needed and prove it writable (a probe file, created and
    removed), so that a bad output location fails before any work, not after it."""
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=parent, prefix=f".{target.name}.probe-"):
            pass
    except OSError as exc:
        raise OutputError(target, f"cannot write the {what} there ({exc.strerror or exc})") from None


def check_output_file(path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Check, before any work, that a file can be written at ``path``.

    Raises
    ------
    OutputError
        ``path`` is a folder; it exists and ``overwrite`` is false; its
        folder cannot be created or written.
    """
    target = Path(path)
    if target.is_dir():
        raise OutputError(target, "is a folder; give a file name")
    if target.exists() or target.is_symlink():
        if not overwrite:
            raise OutputError(target, "already exists; choose another name or allow overwriting (--overwrite)")
        if not os.access(target, os.W_OK):
            raise OutputError(target, "exists and is read-only")
    _check_parent(target, "file")
    return target


@contextlib.contextmanager
def atomic_files(paths: Sequence[str | os.PathLike[str]], *, overwrite: bool = False) -> Iterator[list[Path]]:
    """Write several files that belong together (e.g. an ENVI ``.hdr`` and ``.img``) atomically.

    Yields temporary paths (same folder and suffix as each target, so
    libraries that add an extension add none); when the block ends without an
    exception they are renamed onto the targets in order (put the file that
    marks completeness, e.g. a header, last). On an exception the
    temporaries are removed and the targets are untouched.

    Raises
    ------
    OutputError
        See :func:`check_output_file`.
    """
    targets = [check_output_file(p, overwrite=overwrite) for p in paths]
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_partials(target)
    temps = [_partial_name(t, t.suffix) for t in targets]
    try:
        yield temps
        missing = [t for t, tmp in zip(targets, temps) if not tmp.exists()]
        if missing:
            raise OutputError(missing[0], "the writer produced no file")
        if not overwrite:  # re-checked: another program may have written meanwhile
            for target in targets:
                if target.exists():
                    raise OutputError(target, "appeared while writing; not replaced")
        with _signals_deferred():
            for tmp, target in zip(temps, targets):
                os.replace(tmp, target)
    finally:
        for tmp in temps:
            with contextlib.suppress(OSError):
                tmp.unlink()


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[Path]:
    """:func:`atomic_files` for one file: ``with atomic_file(p) as tmp: write(tmp)``."""
    with atomic_files([path], overwrite=overwrite) as (tmp,):
        yield tmp


def file_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file, hex."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _manifest(folder: Path) -> dict[str, Any] | None:
    try:
        record = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not str(record.get("producer", "")).startswith(PRODUCER) \
            or not isinstance(record.get("files"), dict):
        return None
    return record


def verify_result_folder(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The run record of a complete result folder written by this package.

    Raises
    ------
    OutputError
        No readable ``run.json`` of this package, or a listed file missing
        or changed since it was written (interrupted or edited).
    """
    folder = Path(path)
    record = _manifest(folder)
    if record is None:
        raise OutputError(folder, f"not a result folder of {PRODUCER} (no valid {MANIFEST})")
    for name, digest in record["files"].items():
        f = folder / name
        if not f.is_file():
            raise OutputError(folder, f"incomplete result: {name} is missing")
        if file_digest(f) != digest:
            raise OutputError(folder, f"{name} changed since the result was written")
    return record


#: The files of a result folder written before run.json listed them (version 0.1 of June 2026).
_LEGACY_RESULT = frozenset({"abundances.tif", "endmembers.csv", "band_weights.csv", MANIFEST})


def _foreign_entries(folder: Path) -> list[str]:
    """Entries of ``folder`` that are not part of a result this package wrote there."""
    entries = sorted(e.name for e in folder.iterdir())
    record = _manifest(folder)
    if record is not None:  # a listed file may sit in a sub-folder (an OME-Zarr store)
        ours = {*(name.split("/", 1)[0] for name in record["files"]), MANIFEST}
    else:
        try:
            legacy = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            ours = _LEGACY_RESULT if "ftir_unmix" in legacy.get("versions", {}) else set()
        except (OSError, ValueError, AttributeError):
            ours = set()
    return [e for e in entries if e not in ours]


def folder_state(path: str | os.PathLike[str]) -> str:
    """What is at a result folder's place: ``"absent"``, ``"empty"``, ``"result"`` (only an earlier
    result of this package), ``"foreign"`` (anything else in the folder) or ``"file"``."""
    target = Path(path)
    if not target.exists():
        return "absent"
    if not target.is_dir():
        return "file"
    if not any(target.iterdir()):
        return "empty"
    return "foreign" if _foreign_entries(target) else "result"


def check_output_folder(path: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Check, before any work, that a result folder can be written at ``path``.

    A missing or empty folder is fine. An existing result of this package is
    replaced only with ``overwrite``; a folder holding anything else is
    never written into.

    Raises
    ------
    OutputError
        With the reason and what to do.
    """
    target = Path(path)
    state = folder_state(target)
    if state == "file":
        raise OutputError(target, "is a file, not a folder; give a folder for the results")
    if state == "foreign":
        foreign = _foreign_entries(target)
        shown = ", ".join(foreign[:4]) + (", …" if len(foreign) > 4 else "")
        raise OutputError(target, f"holds files this program did not write ({shown}); "
                                  "choose an empty or new folder")
    if state == "result" and not overwrite:
        raise OutputError(target, "holds an earlier result; choose another folder or "
                                  "allow overwriting (--overwrite)")
    if state != "absent" and not os.access(target, os.W_OK | os.X_OK):
        raise OutputError(target, "no write permission")
    _check_parent(target, "folder")
    return target


@contextlib.contextmanager
def result_folder(path: str | os.PathLike[str], *, overwrite: bool = False) -> Iterator[Path]:
    """Write a result folder atomically: ``with result_folder(out) as tmp: write files into tmp``.

    The block writes every file into a hidden temporary folder beside
    ``path``, with :data:`MANIFEST` last; the folder then takes the target's
    place in one rename (an earlier result of this package is moved aside
    first and deleted after, only with ``overwrite``). An exception or an
    interruption leaves the target as it was.
    """
    target = check_output_folder(path, overwrite=overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(target)
    with staged_folder(target) as partial:
        yield partial
        if _manifest(partial) is None:
            raise OutputError(target, f"the result has no {MANIFEST}; nothing was replaced")
        check_output_folder(target, overwrite=overwrite)  # again: it may have changed meanwhile
        replace_folder(partial, target)


@contextlib.contextmanager
def staged_folder(target: Path) -> Iterator[Path]:
    """A new hidden folder beside ``target`` to write into, removed on exit unless
    :func:`replace_folder` has put it in ``target``'s place (result folders, sessions)."""
    partial = _partial_name(target)
    partial.mkdir()
    try:
        yield partial
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)


def replace_folder(partial: Path, target: Path) -> None:
    """Put the finished folder ``partial`` at ``target`` by renames (an empty ``target`` is
    removed; an earlier one is moved aside, then deleted), with SIGINT/SIGTERM held meanwhile."""
    with _signals_deferred():
        if target.is_dir() and not any(target.iterdir()):
            target.rmdir()
        if target.exists():
            # not a ".partial-" name: a kill between the two renames must not get it deleted
            aside = target.with_name(f".{target.name}.replaced-{os.getpid()}-{secrets.token_hex(4)}")
            os.rename(target, aside)
            os.rename(partial, target)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.rename(partial, target)


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM during the renames (main thread only) and deliver them after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError, OSError):
            previous[sig] = signal.signal(sig, lambda s, _f: received.append(s))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sig in received:
            signal.raise_signal(sig)
