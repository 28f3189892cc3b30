"""Many cross-sections: one unmixing per file, as tasks on dask.distributed.

:func:`iter_batch` expands the inputs (files, folders, glob patterns), starts
(or joins) a dask cluster, submits one task per file and yields a
:class:`BatchProgress` per finished file; it returns the :class:`BatchSummary`
and writes ``summary.csv`` and ``summary.json`` into the output folder.

Each task is exactly what ``ftir-unmix unmix`` does for one file (the same
:func:`~ftir_unmix.run.unmix` and :func:`~ftir_unmix.export.write_outputs`,
so the same seed and thread count give the same result), written atomically
into ``OUT/<file stem>/``. A file that fails is recorded with its one-line
reason and the others go on; a file whose complete result is already there is
skipped (``overwrite=True`` redoes it). Workers run torch with
``threads`` CPU threads each (default: the cores divided among the workers),
so they do not oversubscribe the machine.

A cluster of your own (e.g. SLURM through dask-jobqueue) is joined with
``scheduler="tcp://host:8786"``; see docs/cluster.md.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import time
from collections.abc import Generator, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ._version import __version__
from .errors import OutputError, ParameterError, escape_control
from .jsonable import dumps
from .safe_write import PRODUCER

__all__ = ["BatchProgress", "BatchSummary", "expand_inputs", "iter_batch", "run_file"]

#: Files that only accompany a primary file of the same stem (data beside a header, tiles of a
#: mosaic): never an input of their own when a folder or pattern is expanded.
_COMPANIONS = {".img", ".dat", ".bsp", ".dmd", ".dms", ".raw", ".bil", ".bip", ".bsq"}
#: Plain-text tables: read when named or matched by a pattern, not when a folder is listed.
_TEXT = {".txt", ".csv", ".tsv", ".dpt"}
#: The columns of summary.csv (summary.json has the same rows).
COLUMNS = ("file", "status", "k", "loss", "steps", "time_s", "output", "error")


def expand_inputs(items: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """Files named directly, the readable files of folders (not recursive) and glob matches.

    A folder's or a pattern's ENVI data files, Agilent tiles and the like are
    left out: their header or set file stands for them. Plain-text tables
    (``.txt``, ``.csv``…) in a folder are left out too (notes, exported
    spectra); name them or match them with a pattern to include them. Duplicates are removed
    (first occurrence kept).

    Raises
    ------
    ParameterError
        An item that names nothing (no file, folder or match).
    """
    from .io import get_reader

    found: list[Path] = []
    for item in items:
        text = os.fspath(item)
        p = Path(text)
        if p.is_file():
            found.append(p)
            continue
        if p.is_dir():
            # plain-text tables in a folder are usually notes and side files: name them to include them
            candidates = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() not in _TEXT)
        elif glob.has_magic(text):
            candidates = sorted(Path(m) for m in glob.glob(text) if Path(m).is_file())
        else:
            raise ParameterError("inputs", f"{escape_control(text)}: no such file, folder or pattern")
        picked = [f for f in candidates if f.suffix.lower() not in _COMPANIONS and not f.name.startswith(".")
                  and get_reader(f) is not None and not _header_of_a_set(f)]
        if not picked:
            raise ParameterError("inputs", f"{escape_control(text)}: no readable FTIR file there")
        found.extend(picked)
    unique: dict[Path, None] = {}
    for f in found:
        unique.setdefault(f.resolve(), None)
    return list(unique)


def _header_of_a_set(f: Path) -> bool:
    """An Agilent ``.hdr`` beside its ``.seq``/``.dmt`` (the set file is the input)."""
    return f.suffix.lower() == ".hdr" and any(f.with_suffix(s).exists() for s in (".seq", ".dmt", ".SEQ", ".DMT"))


def _output_names(paths: Sequence[Path]) -> list[str]:
    """One folder name per input: the file stem, made unique with the suffix or a counter."""
    names: list[str] = []
    for p in paths:
        name = p.stem or p.name
        if name in names:
            name = f"{p.stem}{p.suffix.replace('.', '_')}"
        base, n = name, 2
        while name in names:
            name, n = f"{base}-{n}", n + 1
        names.append(name)
    return names


@dataclass(frozen=True)
class _Task:
    path: str
    out: str
    k: int | None
    k_range: tuple[int, int] | None
    options: dict[str, Any]
    reader: dict[str, Any]
    overwrite: bool


def run_file(task: _Task) -> dict[str, Any]:
    """Unmix one file into its result folder; a row of the summary. Never raises.

    Runs in a dask worker (or in-process): reads the file, chooses K with a
    sweep when asked, unmixes and writes the result folder atomically.
    """
    from .export import write_outputs
    from .io import load_cube
    from .run import unmix
    from .safe_write import check_output_folder, folder_state, verify_result_folder

    t0 = time.perf_counter()
    row = _row(task, "done")
    try:
        if not task.overwrite and folder_state(task.out) == "result":
            try:
                record = verify_result_folder(task.out)
                row.update(status="skipped", k=record["shape"]["k"], error="complete result already there")
                return row
            except OutputError:
                pass  # incomplete or edited: redo it (it is ours, so replacing it is safe)
        check_output_folder(task.out, overwrite=True)
        cube = load_cube(task.path, **task.reader)
        k = task.k
        if task.k_range is not None:
            from .select_k import SWEEP_STEPS, sweep_k

            lo, hi = task.k_range
            sweep_options = {"epochs": SWEEP_STEPS, **task.options}
            rec = sweep_k(cube, range(lo, hi + 1), **sweep_options).recommend()
            k, row["recommended"] = rec.k, rec.text
        result = unmix(cube, k, **task.options)
        write_outputs(result, task.out, overwrite=True)
        history = result.loss_history
        row.update(k=result.k, loss=float(history.min()) if len(history) else None,
                   steps=result.parameters.get("steps_run"),
                   status="cancelled" if result.cancelled else "done")
    except Exception as exc:  # a failing file is recorded; the others go on
        row.update(status="failed", error=escape_control(" ".join(str(exc).split()) or type(exc).__name__))
    finally:
        row["time_s"] = round(time.perf_counter() - t0, 2)
    return row


@dataclass(frozen=True, kw_only=True)
class BatchProgress:
    """One file finished (or was skipped)."""

    row: dict[str, Any]
    done: int
    total: int
    elapsed: float


@dataclass
class BatchSummary:
    """The outcome of a batch: one row per input, in input order."""

    rows: list[dict[str, Any]]
    out: Path
    workers: int | str
    elapsed: float
    cancelled: bool = False
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> list[dict[str, Any]]:
        """The rows of the files that failed."""
        return [r for r in self.rows if r["status"] == "failed"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: rows, counts, the cluster, the time."""
        counts: dict[str, int] = {}
        for r in self.rows:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        return {"producer": f"{PRODUCER} {__version__}", **asdict(self), "out": str(self.out), "counts": counts}


def _row(task: _Task, status: str, error: str = "") -> dict[str, Any]:
    return {"file": task.path, "output": task.out, "status": status, "k": None, "loss": None, "steps": None,
            "time_s": None, "error": escape_control(error)}


def _check_summary_is_ours(path: Path) -> None:
    """Refuse to write over a summary.json this program did not write."""
    if not path.exists():
        return
    try:
        ours = str(json.loads(path.read_text(encoding="utf-8")).get("producer", "")).startswith(PRODUCER)
    except (OSError, ValueError, AttributeError):
        ours = False
    if not ours:
        raise OutputError(path, "exists and was not written by a batch of this program; choose another folder")


def _default_threads(workers: int) -> int:
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def iter_batch(
    inputs: Iterable[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    k: int | None = None,
    k_range: tuple[int, int] | None = None,
    workers: int = 1,
    scheduler: str | None = None,
    overwrite: bool = False,
    reader_options: dict[str, Any] | None = None,
    stop: Any = None,
    **options: Any,
) -> Generator[BatchProgress, None, BatchSummary]:
    """Unmix every input on a dask cluster, yielding one :class:`BatchProgress` per file.

    Parameters
    ----------
    inputs : iterable of path-like or str
        Files, folders or glob patterns (:func:`expand_inputs`).
    out : path-like
        The batch folder: one result folder per input, ``summary.csv`` and ``summary.json``.
    k : int, optional
        Number of endmembers for every file; or
    k_range : (int, int), optional
        Choose K per file from this range with a K sweep (:mod:`ftir_unmix.select_k`).
    workers : int
        Worker processes of the local cluster (ignored with ``scheduler``).
    scheduler : str, optional
        Address of a running dask scheduler to use instead of a local cluster.
    overwrite : bool
        Redo files whose complete result is already there.
    reader_options : dict, optional
        Options of :func:`ftir_unmix.load_cube` for every file (``units``, ``format``, …).
    stop : threading.Event or callable, optional
        Set it to stop: pending files are cancelled, the summary keeps what finished.
    **options
        Options of :func:`ftir_unmix.unmix` for every file (``seed``, ``epochs``, ``loss``, …).
        ``threads`` defaults to the cores divided among the local workers.

    Returns
    -------
    BatchSummary
    """
    from .config import UnmixConfig, parameter_rule
    from .methods import should_stop
    from .parameters import Rule
    from .safe_write import atomic_file

    if (k is None) == (k_range is None):
        raise ParameterError("k", "give either k or k_range (choose K per file)")
    k_rule = parameter_rule("k")
    if k is not None:
        k = k_rule.check("k", k)
    else:
        lo, hi = (k_rule.check("k_range", v) for v in k_range)
        if lo > hi:
            raise ParameterError("k_range", f"must be K_MIN:K_MAX with K_MIN ≤ K_MAX; got {lo}:{hi}")
        k_range = (lo, hi)
    if scheduler is None:
        workers = Rule("int", 1, 1024).check("workers", workers)
        options.setdefault("threads", _default_threads(workers))
    UnmixConfig(k=k or k_range[0], **options)  # every option checked before any work
    paths = expand_inputs(inputs)
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(out_dir, "is a file, not a folder; give a folder for the batch")
    out_dir.mkdir(parents=True, exist_ok=True)
    _check_summary_is_ours(out_dir / "summary.json")
    tasks = [_Task(str(p), str(out_dir / name), k, k_range, dict(options), dict(reader_options or {}), overwrite)
             for p, name in zip(paths, _output_names(paths), strict=True)]

    from dask.distributed import Client, LocalCluster, wait

    t0 = time.perf_counter()
    # A file's failure reaches the summary through its future; the workers' own log lines are
    # noise on the user's terminal (a heartbeat to a scheduler closing after Ctrl-C printed a
    # traceback, stop 70), so distributed's stream handlers show only critical ones.
    cluster = None if scheduler else LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
        silence_logs=logging.CRITICAL)
    client = Client(scheduler or cluster)
    rows: dict[int, dict[str, Any]] = {}
    cancelled = False
    try:
        futures = {client.submit(run_file, t, pure=False, key=f"ftir-unmix-{i}-{Path(t.path).name}"): i
                   for i, t in enumerate(tasks)}
        pending = set(futures)
        while pending and not cancelled:
            # Wake up at least twice a second, so that a stop request is seen while files run.
            try:
                finished = wait(pending, timeout=0.5, return_when="FIRST_COMPLETED").done
            except TimeoutError:
                finished = set()
            for fut in finished:
                pending.discard(fut)
                i = futures[fut]
                rows[i] = fut.result() if fut.status == "finished" else _row(
                    tasks[i], "failed", " ".join(str(fut.exception()).split()))
                yield BatchProgress(row=rows[i], done=len(rows), total=len(tasks),
                                    elapsed=time.perf_counter() - t0)
            if should_stop(stop):
                cancelled = True
                client.cancel(list(pending))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    for i, t in enumerate(tasks):
        rows.setdefault(i, _row(t, "cancelled", "the batch stopped before this file finished"))
    summary = BatchSummary(rows=[rows[i] for i in range(len(tasks))], out=out_dir,
                           workers=scheduler or workers, elapsed=round(time.perf_counter() - t0, 1),
                           cancelled=cancelled,
                           meta={"k": k, "k_range": list(k_range) if k_range else None, "options": options,
                                 "reader_options": reader_options or {}})
    with atomic_file(out_dir / "summary.json", overwrite=True) as tmp:
        tmp.write_text(dumps(summary.to_dict(), indent=1) + "\n", encoding="utf-8")
    with atomic_file(out_dir / "summary.csv", overwrite=True) as tmp:
        import csv

        with tmp.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(COLUMNS)
            for r in summary.rows:
                writer.writerow(["" if r.get(c) is None else r.get(c) for c in COLUMNS])
    return summary
