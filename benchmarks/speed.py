"""Speed and memory of the fast and paper protocols (issue: interactive speed).

Each measurement runs in a fresh subprocess, so that its peak resident memory
(``ru_maxrss``) is its own. Quality is measured against the synthetic truth.

    python benchmarks/speed.py --out docs/performance.md            # the full table
    python benchmarks/speed.py --quick                              # a smoke run
    python benchmarks/speed.py --report-from RUN.json --out docs/performance.md  # a saved run

The paper protocol (500 epochs of 20 000 patches) takes many hours on a CPU:
it is timed over ``--paper-epochs`` epochs and extrapolated linearly (each
epoch does the same work), and its quality is measured on the small cube.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from scenes_quality import machine  # noqa: E402


def markers(device: str) -> tuple[str, str]:
    """The comments around a device's table in the report: the CPU table and a GPU table live side by side."""
    tag = "" if device == "cpu" else f" {device}"
    return f"<!-- speed table{tag} -->", f"<!-- end speed table{tag} -->"


def _one_run(spec: dict) -> dict:
    """Run inside the child process: generate the cube, unmix, evaluate."""
    import torch

    if spec.get("threads"):
        torch.set_num_threads(int(spec["threads"]))
    from ftir_unmix import unmix
    from ftir_unmix.metrics import evaluate
    from ftir_unmix.synthetic import cross_section

    t = time.perf_counter()
    s = cross_section(spec["height"], spec["width"], n_bands=spec["bands"], materials=spec["k"],
                      seed=spec["seed"])
    gen_s = time.perf_counter() - t
    opts = dict(spec.get("options", {}))
    t = time.perf_counter()
    r = unmix(s.cube, spec["k"], seed=spec["seed"], **opts)
    wall = time.perf_counter() - t
    ev = evaluate(s.endmembers, s.abundances, r.endmembers, r.abundances)
    return {
        "wall_s": wall, "generate_s": gen_s, "timings": r.timings,
        "steps": r.parameters.get("steps_run"), "stopped_by": r.parameters.get("stopped_by"),
        "device": r.parameters.get("device"),
        "gpu": torch.cuda.get_device_name() if str(r.parameters.get("device")).startswith("cuda") else None,
        "mean_sad_deg": ev["mean_sad_deg"],
        "abundance_rmse": ev["abundance_rmse"], "threads": torch.get_num_threads(),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run(spec: dict) -> dict:
    """Run one spec in a subprocess and return its measurements."""
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)],
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"benchmark child failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _median(runs: list[dict], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true", help="small cubes, one repeat")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--paper-epochs", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch threads in each run (default: torch's choice, one per core)")
    ap.add_argument("--out", type=Path, help="write the markdown report here")
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "speed.json")
    ap.add_argument("--report-from", type=Path, metavar="JSON",
                    help="measure nothing: write the table of a saved run (one cut short too)")
    args = ap.parse_args()
    if args.child:
        print(json.dumps(_one_run(json.loads(args.child))))
        return
    if args.report_from:
        saved = json.loads(args.report_from.read_text())
        write_report(report(saved["meta"], saved["rows"]), args.out, args.device)
        return

    dev = {"device": args.device}
    if args.quick:
        big = dict(height=32, width=64, bands=400, k=6)
        small = dict(height=24, width=32, bands=300, k=4)
        sizes = [dict(height=32, width=32, bands=400, k=6), big]
        repeats = 1
    else:
        big = dict(height=64, width=320, bands=1504, k=10)
        small = dict(height=32, width=64, bands=838, k=6)
        sizes = [dict(height=64, width=160, bands=1504, k=10), big,
                 dict(height=128, width=320, bands=1504, k=10),
                 dict(height=512, width=512, bands=1504, k=10)]
        repeats = args.repeats
    rows: dict[str, list[dict]] = {}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    meta = {"machine": machine(), "load_before": os.getloadavg()[0],
            "paper_epochs": args.paper_epochs}

    def measure(name: str, spec: dict, n: int) -> None:
        rows[name] = []
        for i in range(n):
            res = run({**spec, "seed": i, "threads": args.threads})
            rows[name].append(res)
            print(name, {k: res[k] for k in ("wall_s", "steps", "mean_sad_deg", "abundance_rmse",
                                              "peak_rss_mb")}, flush=True)
            # what is measured survives a kill, and --report-from turns it into the table
            args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))

    measure("fast, target cube", {**big, "options": dev}, repeats)
    measure("paper, target cube (timed epochs)",
            {**big, "options": {**dev, "protocol": "paper", "epochs": args.paper_epochs}}, 1)
    measure("fast, small cube", {**small, "options": dev}, repeats)
    small_paper_epochs = 20 if args.quick else 100
    measure(f"paper, small cube ({small_paper_epochs} epochs × 2000 patches)",
            {**small, "options": {**dev, "protocol": "paper", "epochs": small_paper_epochs,
                                  "n_patches": 2000}}, 1 if args.quick else 2)
    for spec in sizes:
        name = f"fast, {spec['height']}×{spec['width']}×{spec['bands']}"
        if name not in rows:
            measure(name, {**spec, "options": dev}, 1)
    write_report(report(meta, rows), args.out, args.device)


def report(meta: dict, rows: dict[str, list[dict]]) -> str:
    """The markdown table of a run's measurements (``meta`` and ``rows`` as in its JSON)."""
    fast = rows["fast, target cube"]
    paper = rows["paper, target cube (timed epochs)"][0]
    epochs = meta["paper_epochs"]
    paper_full = paper["timings"]["train_s"] / epochs * 500
    lines = [
        f"Machine: {meta['machine']}; {fast[0]['threads']} torch threads, device {fast[0]['device']}"
        f"{' (' + fast[0]['gpu'] + ')' if fast[0].get('gpu') else ''}; "
        f"medians of {len(fast)} runs (seeds 0..{len(fast) - 1}); "
        "load average before the runs "
        + ("not recorded." if meta["load_before"] is None else f"{meta['load_before']:.1f}."),
        "",
        "| run | wall (s) | steps | mean SAD (°) | abundance RMSE | peak RSS (MB) |",
        "|---|---|---|---|---|---|",
    ]
    for name, runs in rows.items():
        lines.append(f"| {name} | {_median(runs, 'wall_s'):.1f} | {_median(runs, 'steps'):.0f} | "
                     f"{_median(runs, 'mean_sad_deg'):.2f} | {_median(runs, 'abundance_rmse'):.3f} | "
                     f"{_median(runs, 'peak_rss_mb'):.0f} |")
    lines += [
        "",
        f"Paper protocol on the target cube: {paper['timings']['train_s'] / epochs:.1f} s per "
        f"epoch, so 500 epochs ≈ {paper_full / 3600:.1f} h; the fast protocol's median wall time is "
        f"{_median(fast, 'wall_s'):.1f} s: **{paper_full / _median(fast, 'wall_s'):.0f}× faster**.",
    ]
    return "\n".join(lines) + "\n"


def write_report(text: str, out: Path | None, device: str) -> None:
    """Print the table and, with ``out``, put it between this device's markers there."""
    print(text)
    if out:  # only this device's table between its markers: the written analysis around it stays
        begin, end = markers(device)
        table = f"{begin}\n{text}{end}"
        doc = out.read_text() if out.exists() else ""
        out.write_text(doc[:doc.index(begin)] + table + doc[doc.index(end) + len(end):]
                       if begin in doc and end in doc else doc + table + "\n")


if __name__ == "__main__":
    main()
