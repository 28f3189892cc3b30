"""Time and memory against image size (up to mosaics larger than memory), and batch throughput.

Each measurement runs in a fresh process. The cubes are written once to disk
as ``.npy`` (under ``--work``, default a temporary folder) by tiling a
synthetic 64×64 cross-section with known truth (each tile with its own
contact factor and noise), and are read memory-mapped, as a large file would
be: the cube itself is never in the process's own memory.

Memory is reported twice: **anonymous** (what the process allocated: the
memory a run needs) and **resident** (``ru_maxrss``, which also counts the
pages of the memory-mapped file the kernel kept cached; they are reclaimable
and shared with the page cache).

    python benchmarks/scale.py --out docs/performance.md           # the size series
    python benchmarks/scale.py --sizes 512x512x1504 --repeats 2    # one size
    python benchmarks/scale.py --throughput --files 6 --workers 1,2

The targets (issue "Many cross-sections and big mosaics"): 512×512×1504, K = 10, ≤ 45 s and
≤ 3 GB on 2 cores; 2048×2048×400 on disk completes with ≤ 6 GB; batch throughput
against workers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from scenes_quality import machine  # noqa: E402

TILE = 64
BEGIN, END = "<!-- scale table -->", "<!-- end scale table -->"


def make_cube_file(path: Path, height: int, width: int, bands: int, k: int, seed: int = 0) -> Path:
    """Write an (H, W, B) float32 ``.npy`` cube and its truth (``*.truth.npz``), a tile row at a time."""
    from ftir_unmix.synthetic import cross_section

    if path.exists() and path.with_suffix(".truth.npz").exists():
        return path
    tile = cross_section(TILE, TILE, n_bands=bands, materials=k, seed=seed)
    rng = np.random.default_rng(seed)
    cube = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(height, width, bands))
    data = tile.cube.data
    for r0 in range(0, height, TILE):
        rows = min(TILE, height - r0)
        strip = np.empty((rows, width, bands), np.float32)
        for c0 in range(0, width, TILE):
            cols = min(TILE, width - c0)
            contact = rng.uniform(0.8, 1.2)
            strip[:, c0:c0 + cols] = data[:rows, :cols] * contact + rng.normal(0, 2e-3, (rows, cols, bands))
        cube[r0:r0 + rows] = strip
    cube.flush()
    del cube
    np.savez(path.with_suffix(".truth.npz"), endmembers=tile.endmembers, wavenumbers=tile.cube.wavenumbers)
    np.save(path.with_suffix(".wn.npy"), tile.cube.wavenumbers)
    return path


class _AnonPeak:
    """Highest anonymous resident memory of this process (sampled from /proc every 20 ms)."""

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def read_mb() -> float:
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        return float("nan")

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, self.read_mb())
            time.sleep(0.02)

    def __enter__(self) -> _AnonPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, self.read_mb())


def _one_run(spec: dict) -> dict:
    """In the child: read the cube memory-mapped, unmix, compare with the truth."""
    import resource

    import torch

    torch.set_num_threads(int(spec["threads"]))
    from ftir_unmix import load_cube, unmix
    from ftir_unmix.metrics import mean_sad

    path = Path(spec["path"])
    with _AnonPeak() as anon:
        start_anon = anon.read_mb()
        t = time.perf_counter()
        cube = load_cube(path, lazy=True, wavenumbers=str(path.with_suffix(".wn.npy")))
        r = unmix(cube, spec["k"], seed=spec["seed"])
        wall = time.perf_counter() - t
    truth = np.load(path.with_suffix(".truth.npz"))
    return {
        "wall_s": wall, "timings": r.timings, "steps": r.parameters.get("steps_run"),
        "mean_sad_deg": float(mean_sad(truth["endmembers"], r.endmembers)),
        "peak_anon_mb": anon.peak_mb, "start_anon_mb": start_anon,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "threads": torch.get_num_threads(), "mmap": type(cube.data).__name__ == "memmap",
    }


def _throughput(spec: dict) -> dict:
    """In the child: a batch of copies of one cube on a local cluster of ``workers`` processes."""
    from ftir_unmix.batch import iter_batch
    from ftir_unmix.run import run_to_end

    t = time.perf_counter()
    summary = run_to_end(iter_batch(spec["inputs"], spec["out"], k=spec["k"], workers=spec["workers"],
                                    overwrite=True, reader_options={"wavenumbers": spec["wavenumbers"],
                                                                    "lazy": True},
                                    seed=0))
    wall = time.perf_counter() - t
    done = sum(r["status"] == "done" for r in summary.rows)
    return {"wall_s": wall, "files": done, "files_per_min": 60 * done / wall, "workers": spec["workers"]}


def _child(kind: str, spec: dict) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", kind, json.dumps(spec)],
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{kind} {spec} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _size(text: str) -> tuple[int, int, int]:
    h, w, b = (int(v) for v in text.lower().split("x"))
    return h, w, b


def _render(rows: list[dict], meta: dict) -> str:
    lines = [BEGIN, f"Machine: {meta['machine']}, {meta['threads']} torch threads; medians of {meta['repeats']} "
                    f"run(s); load average before the runs {meta['load']:.1f}; git {meta['git']}.", "",
             "| cube (H×W×B), K | file (GB) | wall (s) | weights (s) | setup (s) | train (s) | maps (s) | "
             "peak anonymous (GB) | peak resident (GB) | mean SAD (°) |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        t = r["timings"]
        lines.append(
            f"| {r['size']}, {r['k']} | {r['file_gb']:.2f} | {r['wall_s']:.1f} | {t.get('weights_s', 0):.1f} | "
            f"{t.get('setup_s', 0):.1f} | {t.get('train_s', 0):.1f} | {t.get('infer_s', 0):.1f} | "
            f"{r['peak_anon_mb'] / 1024:.2f} | {r['peak_rss_mb'] / 1024:.2f} | {r['mean_sad_deg']:.1f} |")
    if meta.get("throughput"):
        lines += ["", f"Batch throughput ({meta['throughput'][0]['files']} files of {meta['tp_size']}, K = "
                      f"{meta['tp_k']}, local cluster):", "", "| workers | wall (s) | files / min |", "|---|---|---|"]
        lines += [f"| {r['workers']} | {r['wall_s']:.1f} | {r['files_per_min']:.1f} |" for r in meta["throughput"]]
    lines.append(END)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--sizes", default="64x320x1504,512x512x1504,1024x1024x400,2048x2048x400")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--work", type=Path, default=None, help="folder for the cube files (kept; default: temporary)")
    ap.add_argument("--throughput", action="store_true", help="also measure batch files/min against workers")
    ap.add_argument("--files", type=int, default=6)
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--tp-size", default="64x128x800")
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "scale.json")
    ap.add_argument("--out", type=Path, default=None, help="markdown file whose scale table is replaced")
    args = ap.parse_args(argv)
    if args.child:
        kind, spec = args.child
        print(json.dumps((_one_run if kind == "run" else _throughput)(json.loads(spec))))
        return 0

    work = args.work or Path(tempfile.mkdtemp(prefix="ftir-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    load = os.getloadavg()[0]
    rows = []
    for text in [s for s in args.sizes.split(",") if s]:
        h, w, b = _size(text)
        path = make_cube_file(work / f"cube_{h}x{w}x{b}_k{args.k}.npy", h, w, b, args.k)
        runs = [_child("run", {"path": str(path), "k": args.k, "seed": i, "threads": args.threads})
                for i in range(args.repeats)]
        best = sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]
        row = {**best, "size": f"{h}×{w}×{b}", "k": args.k, "file_gb": path.stat().st_size / 1e9,
               "wall_all": [r["wall_s"] for r in runs], "median_wall_s": statistics.median(r["wall_s"] for r in runs)}
        rows.append(row)
        print(f"{row['size']:>16} K={args.k}: {row['wall_s']:.1f} s, anonymous {row['peak_anon_mb'] / 1024:.2f} GB, "
              f"resident {row['peak_rss_mb'] / 1024:.2f} GB, SAD {row['mean_sad_deg']:.1f}°", flush=True)
    meta = {"machine": machine(), "threads": args.threads,
            "repeats": args.repeats, "load": load,
            "git": subprocess.run(["git", "describe", "--always", "--dirty"], cwd=ROOT, capture_output=True,
                                  text=True).stdout.strip()}
    if args.throughput:
        h, w, b = _size(args.tp_size)
        src = make_cube_file(work / f"tp_{h}x{w}x{b}.npy", h, w, b, 6)
        folder = work / "tp_inputs"
        folder.mkdir(exist_ok=True)
        for i in range(args.files):
            link = folder / f"file{i}.npy"
            if not link.exists():
                os.link(src, link)
        meta["tp_size"], meta["tp_k"] = f"{h}×{w}×{b}", 6
        meta["throughput"] = []
        for n in (int(v) for v in args.workers.split(",")):
            r = _child("throughput", {"inputs": [str(folder)], "out": str(work / f"tp_out_{n}"), "k": 6,
                                      "workers": n, "wavenumbers": str(src.with_suffix(".wn.npy"))})
            meta["throughput"].append(r)
            print(f"batch, {n} worker(s): {r['files_per_min']:.1f} files/min ({r['wall_s']:.0f} s)", flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1) + "\n")
    table = _render(rows, meta)
    print(table)
    if args.out is not None:
        text = args.out.read_text()
        if BEGIN in text:
            text = text[:text.index(BEGIN)] + table + text[text.index(END) + len(END):]
        else:
            text += "\n\n## Scale\n\n" + table + "\n"
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
