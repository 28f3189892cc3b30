"""Unmixing quality on the independent scene family (:mod:`ftir_unmix.scenes`).

Runs methods over cases and seeds and writes, per case, seed, method and
material, the spectral angle (degrees) between the true endmember and its
Hungarian-matched estimate and the abundance RMSE, then prints per-case means
and per-material angles.

Seeds: tune defaults on ``TUNING_SEEDS`` (0-4) only; report on
``REPORT_SEEDS`` (9001-9050, a fresh set of five for each report), which
this script refuses unless ``--report`` is given.

Examples
--------
Baseline of the current defaults on three tuning seeds, two processes::

    python benchmarks/scenes_quality.py --seeds 0,1,2 --jobs 2 \\
        --json benchmarks/results/scenes_tuning_baseline.json

One case, the CNN with an option changed::

    python benchmarks/scenes_quality.py --cases nopure-k4 --methods cnn --options refine=false
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

#: Method label -> keyword arguments of :func:`ftir_unmix.unmix`.
METHODS: dict[str, dict[str, Any]] = {
    "cnn": {},
    "cnn-sad": {"loss": "sad"},
    "nmf": {"method": "nmf"},
    "vca-fcls": {"method": "vca-fcls"},
}


def _parse_value(text: str) -> Any:
    """``key=value`` values: JSON where it parses (numbers, true/false, lists), else the string."""
    lowered = {"true": True, "false": False, "none": None, "null": None}
    if text.lower() in lowered:
        return lowered[text.lower()]
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def refuse_without_shared_data(ap: argparse.ArgumentParser, escape: str = "") -> None:
    """Stop (``ap.error``) when the shared data is missing: every scene would silently change
    (measured spectra and atmosphere replaced by built-in ones) and results would not be
    comparable with the stored ones (docs/benchmarks.md §0). ``escape``: the option that
    runs them anyway, named in the message."""
    from ftir_unmix.scenes._data import shared_data_dir

    if shared_data_dir() is None:
        ap.error("no shared data (set FTIR_UNMIX_SHARED_DATA or put it at ../shared/data): the scenes "
                 "would fall back to built-in spectra" + (f"; pass {escape} to run them anyway" if escape else ""))


def checked_seeds(ap: argparse.ArgumentParser, text: str, report: bool) -> list[int]:
    """Comma-separated seeds; REPORT_SEEDS only with ``report`` (``--report``), never while tuning."""
    from ftir_unmix.scenes import REPORT_SEEDS

    seeds = [int(s) for s in text.split(",") if s.strip()]
    if set(seeds) & set(REPORT_SEEDS) and not report:
        ap.error(f"seeds {sorted(set(seeds) & set(REPORT_SEEDS))} are REPORT_SEEDS: pass --report only "
                 "for the final report, never while tuning")
    return seeds


def parse_options(items: list[str]) -> dict[str, Any]:
    """Parse ``["key=value", ...]`` into a dict of unmix options."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"--options wants key=value, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip()] = _parse_value(value.strip())
    return out


def _init_worker(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    if sys.platform.startswith("linux"):  # a killed report takes its workers with it (PR_SET_PDEATHSIG)
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)


def run_one(case: str, seed: int, method: str, options: dict[str, Any],
            size: dict[str, Any], threads: int = 1) -> dict[str, Any]:
    """Build one scene, unmix it with one method, compare with the truth."""
    import torch

    torch.set_num_threads(threads)
    import ftir_unmix
    from ftir_unmix.scenes import make_scene

    scene = make_scene(case, seed, **size)
    kwargs = {**METHODS[method], **options}
    t0 = time.perf_counter()
    result = ftir_unmix.unmix(scene.cube, scene.k, **kwargs)
    elapsed = time.perf_counter() - t0
    ev, per_rmse = matched_scores(scene.endmembers, scene.abundances, result)
    perm = ev["permutation"]
    per_material = {
        name: {
            "sad_deg": float(ev["per_endmember_sad_deg"][i]),
            "abundance_rmse": float(per_rmse[i]),
            "max_abundance": scene.info["max_abundance"][name],
            "coverage": scene.info["coverage"][name],
            "source": scene.info["sources"][name],
            "restart_spread_deg": result.parameters["trust"][int(perm[i])]["restart_spread_deg"],
            "below_baseline": result.parameters["trust"][int(perm[i])].get("below_baseline"),
        }
        for i, name in enumerate(scene.names)
    }
    return {
        "case": case, "seed": int(seed), "method": method, "options": kwargs, "k": scene.k,
        "shape": list(scene.cube.shape), "time_s": round(elapsed, 2),
        "mean_sad_deg": float(ev["mean_sad_deg"]), "abundance_rmse": float(ev["abundance_rmse"]),
        "per_material": per_material,
        "trained_again": (result.parameters.get("spare_endmembers") or {}).get("reason"),
        "atmosphere": result.parameters.get("preprocessing", {}).get("atmosphere"),
        "refinement": {k: result.parameters["refinement"].get(k) for k in ("proposal", "accepted")}
        if "refinement" in result.parameters else None,
        "scene": {"measured_used": scene.info["measured_used"],
                  "atmosphere_source": scene.info["atmosphere_source"],
                  "caps": scene.info["caps"], "minors": scene.info["minors"]},
    }


def matched_scores(endmembers: np.ndarray, abundances: np.ndarray, result: Any) -> tuple[dict[str, Any], np.ndarray]:
    """:func:`ftir_unmix.metrics.evaluate` of ``result`` against the truth, and each true
    material's abundance RMSE against its Hungarian-matched map (K,)."""
    from ftir_unmix.metrics import evaluate

    ev = evaluate(endmembers, abundances, result.endmembers, result.abundances)
    truth = abundances.reshape(abundances.shape[0], -1)
    est = np.asarray(result.abundances).reshape(result.abundances.shape[0], -1)[np.asarray(ev["permutation"])]
    return ev, np.sqrt(np.mean((truth - est) ** 2, axis=1))


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Means over seeds per case and method, and per-material mean angles."""
    out: dict[str, Any] = {}
    for run in runs:
        slot = out.setdefault(run["case"], {}).setdefault(run["method"], {"runs": []})
        slot["runs"].append(run)
    for by_method in out.values():
        for slot in by_method.values():
            rs = slot.pop("runs")
            names = list(rs[0]["per_material"])
            slot.update({
                "n_seeds": len(rs),
                "seeds": sorted(r["seed"] for r in rs),
                "mean_sad_deg": float(np.mean([r["mean_sad_deg"] for r in rs])),
                "abundance_rmse": float(np.mean([r["abundance_rmse"] for r in rs])),
                "worst_seed_mean_sad_deg": float(np.max([r["mean_sad_deg"] for r in rs])),
                "time_s": float(np.mean([r["time_s"] for r in rs])),
                "per_material_sad_deg": {n: float(np.mean([r["per_material"][n]["sad_deg"] for r in rs]))
                                         for n in names},
                "per_material_abundance_rmse": {
                    n: float(np.mean([r["per_material"][n]["abundance_rmse"] for r in rs])) for n in names},
            })
    return out


def scene_runs_parser(description: str, analysed: str) -> argparse.ArgumentParser:
    """The options of a benchmark that runs one task per case and seed of the family at the
    held-out size (64×256 by default) and can analyse runs it wrote before: ``--cases``,
    ``--seeds`` (the tuning seeds by default), ``--height``, ``--width``, ``--jobs``,
    ``--threads``, ``--json``, ``--analyse`` (its help: "only " + ``analysed``) and ``--report``."""
    from ftir_unmix.scenes import TUNING_SEEDS

    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--cases", default="all", help="comma-separated case names, or 'all'")
    ap.add_argument("--seeds", default=",".join(map(str, TUNING_SEEDS)), help="comma-separated seeds")
    ap.add_argument("--height", type=int, default=64)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--jobs", type=int, default=1, help="parallel processes (at most 2 on a shared 2-core machine)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per process")
    ap.add_argument("--json", type=Path, default=None, help="write the runs here (rewritten after each run)")
    ap.add_argument("--analyse", type=Path, nargs="*", default=None, metavar="JSON", help=f"only {analysed}")
    ap.add_argument("--report", action="store_true", help="allow REPORT_SEEDS (never tune on them)")
    return ap


def runs_in(paths: list[Path]) -> list[dict[str, Any]]:
    """The runs of one or more files written by :func:`run_scene_tasks`."""
    return [r for path in paths for r in json.loads(path.read_text())["runs"]]


def run_scene_tasks(ap: argparse.ArgumentParser, args: argparse.Namespace, argv: list[str] | None,
                    task: Any, extra: tuple[Any, ...], describe: Any) -> list[dict[str, Any]]:
    """Run ``task(case, seed, size, *extra)`` for every case and seed of ``args`` (parsed by
    :func:`scene_runs_parser`) in ``args.jobs`` processes; print ``describe(run)`` as each
    ends and rewrite ``args.json`` (with the command and the machine) after each. Refuses to
    run without the shared data and on report seeds without ``--report``."""
    from ftir_unmix.scenes import CASES

    refuse_without_shared_data(ap)
    seeds = checked_seeds(ap, args.seeds, args.report)
    cases = list(CASES) if args.cases == "all" else args.cases.split(",")
    size = {"height": args.height, "width": args.width}
    runs: list[dict[str, Any]] = []
    meta = {"command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
            "machine": machine()}
    with ProcessPoolExecutor(args.jobs, initializer=_init_worker, initargs=(args.threads,)) as pool:
        futures = [pool.submit(task, c, s, size, *extra) for s in seeds for c in cases]
        for fut in as_completed(futures):
            runs.append(fut.result())
            print(describe(runs[-1]), flush=True)
            if args.json:
                _write_json(args.json, {**meta, "runs": runs})
    return runs


def machine() -> str:
    """The machine and the numerical libraries, for a report's meta: the same code gave runs
    11° apart on one blind scene in two sessions (stop 50: soap-paint 107, 12.06° and 23.26°),
    so results are comparable only with the CPU and the library versions they ran on."""
    import torch

    cpuinfo = Path("/proc/cpuinfo")
    names = [line.split(":", 1)[1].strip() for line in (cpuinfo.read_text().splitlines() if cpuinfo.exists() else [])
             if line.startswith("model name")]
    model = names[0] if names else platform.processor() or "?"
    return (f"{platform.machine()}, {os.cpu_count()} CPUs ({model}, {torch.backends.cpu.get_cpu_capability()}), "
            f"torch {torch.__version__}, numpy {np.__version__}")


def _git(*args: str) -> str | None:
    try:
        return subprocess.run(["git", *args], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=1)
    os.chmod(tmp, 0o644)  # mkstemp makes it private
    os.replace(tmp, path)


def print_table(summary: dict[str, Any], methods: list[str], file: Any = sys.stdout) -> None:
    """Per-case means, then each case's per-material angles (worst first)."""
    w = max(14, max((len(c) for c in summary), default=0) + 1)
    head = f"{'case':<{w}}" + "".join(f"{m + ' SAD°':>14}{'aRMSE':>8}" for m in methods)
    print(head, file=file)
    print("-" * len(head), file=file)
    for case, by_method in summary.items():
        row = f"{case:<{w}}"
        for m in methods:
            s = by_method.get(m)
            row += f"{s['mean_sad_deg']:>14.2f}{s['abundance_rmse']:>8.3f}" if s else f"{'—':>14}{'—':>8}"
        print(row, file=file)
    print(file=file)
    for case, by_method in summary.items():
        print(f"{case}: per-material SAD° (mean over seeds)", file=file)
        names = list(next(iter(by_method.values()))["per_material_sad_deg"])
        order = sorted(names, key=lambda n: -np.mean([s["per_material_sad_deg"][n] for s in by_method.values()]))
        nw = max(len(n) for n in names) + 2
        print(f"  {'material':<{nw}}" + "".join(f"{m:>10}" for m in methods), file=file)
        for n in order:
            print(f"  {n:<{nw}}" + "".join(
                f"{by_method[m]['per_material_sad_deg'][n]:>10.1f}" if m in by_method else f"{'—':>10}"
                for m in methods), file=file)
        print(file=file)


MARK_BEGIN, MARK_END = "<!-- scenes report: begin -->", "<!-- scenes report: end -->"
#: Targets of issue 12 (mean over seeds, fresh seeds).
NOPURE_TARGET = (6.0, 0.06)
MINOR_TARGET_DEG, MINOR_TARGET_SHARE = 10.0, 0.9


def is_minor(coverage: float) -> bool:
    """Whether a material covering this share of the pixels is a minor one (1–5 %, issue 12)."""
    return 0.01 <= coverage < 0.05


def _minor_recovered(runs: list[dict[str, Any]]) -> tuple[int, int]:
    """(recovered within 10°, total) over the minor materials (1–5 % of the pixels) of CNN runs."""
    hits = [m["sad_deg"] < MINOR_TARGET_DEG for r in runs if r["method"] == "cnn"
            for m in r["per_material"].values() if is_minor(m["coverage"])]
    return sum(hits), len(hits)


def per_material(runs: list[dict[str, Any]], summary: dict[str, Any], case: str, method: str = "cnn"
                 ) -> list[tuple[str, float, float, float, float]]:
    """One case's materials for ``method``, worst first: the name, the mean angle over seeds, and
    over that method's runs the mean largest abundance, the mean coverage and the worst angle."""
    rs = [r for r in runs if r["case"] == case and r["method"] == method]
    return [(name, sad,
             float(np.mean([r["per_material"][name]["max_abundance"] for r in rs])),
             float(np.mean([r["per_material"][name]["coverage"] for r in rs])),
             max(r["per_material"][name]["sad_deg"] for r in rs))
            for name, sad in sorted(summary[case][method]["per_material_sad_deg"].items(), key=lambda kv: -kv[1])]


def case_table(runs: list[dict[str, Any]], summary: dict[str, Any], methods: list[str], *, digits: int,
               all_label: str) -> list[str]:
    """Markdown rows: per case and method the mean SAD (``digits`` decimals), its range over the
    seeds and the abundance RMSE, then the mean over every run of each method (``all_label``)."""
    lines = ["| case | " + " | ".join(f"{m} SAD° (min–max) / aRMSE" for m in methods) + " |",
             "|---|" + "---|" * len(methods)]
    for case, by_method in summary.items():
        cells = []
        for m in methods:
            rs = [r["mean_sad_deg"] for r in runs if r["case"] == case and r["method"] == m]
            st = by_method.get(m)
            cells.append("—" if st is None else f"{st['mean_sad_deg']:.{digits}f} ({min(rs):.1f}–{max(rs):.1f}) / "
                         f"{st['abundance_rmse']:.3f}")
        lines.append(f"| {case} | " + " | ".join(cells) + " |")
    means = {m: np.mean([r["mean_sad_deg"] for r in runs if r["method"] == m]) for m in methods}
    lines.append(f"| **{all_label}** | " + " | ".join(f"**{means[m]:.{digits}f}**" for m in methods) + " |")
    return lines


def render_markdown(payload: dict[str, Any]) -> str:
    """The report section for docs/benchmarks.md: per-case means with the spread over seeds,
    the targets, per-material errors with the failures explained, and how the restart spread
    relates to the error."""
    meta, runs, summary = payload["meta"], payload["runs"], payload["summary"]
    methods = list(meta["methods"])
    lines = [MARK_BEGIN, "", f"Seeds {meta['seeds']} "
             + ("(**report seeds: never used for tuning**)" if min(meta["seeds"]) >= 9000 else "(tuning seeds)")
             + f", scenes {meta['size']['height'] or 64}×{meta['size']['width'] or 'default'} px, library defaults"
             + (f" with {meta['options']}" if meta["options"] else "") + ".", "",
             *case_table(runs, summary, methods, digits=1, all_label="all cases")]
    lines += ["", "Targets (issue 12):", ""]
    nopure = [r for r in runs if r["case"].startswith("nopure") and r["method"] == "cnn"]
    if nopure:
        sad, rmse = np.mean([r["mean_sad_deg"] for r in nopure]), np.mean([r["abundance_rmse"] for r in nopure])
        ok = sad <= NOPURE_TARGET[0] and rmse <= NOPURE_TARGET[1]
        lines.append(f"- no pure pixels: mean SAD {sad:.1f}° (target ≤ {NOPURE_TARGET[0]:.0f}°), aRMSE {rmse:.3f} "
                     f"(≤ {NOPURE_TARGET[1]}): **{'met' if ok else 'not met'}**")
    hit, total = _minor_recovered(runs)
    if total:
        lines.append(f"- minor materials (1–5 % of the pixels) within {MINOR_TARGET_DEG:.0f}°: {hit} of {total} "
                     f"({100 * hit / total:.0f} %, target ≥ {100 * MINOR_TARGET_SHARE:.0f} %): "
                     f"**{'met' if hit >= MINOR_TARGET_SHARE * total else 'not met'}**")
    comparisons = ((["nmf", "vca-fcls"], "better than NMF and VCA+FCLS"), (["cnn-sad"], "not worse than CNN+SAD"))
    for others, wanted in comparisons:
        others = [m for m in others if m in methods]
        if "cnn" not in methods or not others:
            continue
        worse = [(case, m, bm[m]["mean_sad_deg"] - bm["cnn"]["mean_sad_deg"]) for case, bm in summary.items()
                 for m in others if m in bm and "cnn" in bm and bm[m]["mean_sad_deg"] < bm["cnn"]["mean_sad_deg"]]
        lines.append(f"- CNN+WSAD {wanted} on every case: **"
                     + ("met**" if not worse else "not met** ("
                        + ", ".join(f"{m} {-d:.1f}° better on {c}" for c, m, d in worse) + ")"))
    lines += ["", "Per material (CNN+WSAD, mean over seeds; materials above 10° are failures, with what "
              "makes them hard: the largest abundance they reach and the share of pixels they cover):", ""]
    for case, by_method in summary.items():
        if "cnn" not in by_method:
            continue
        parts = [f"{name} {sad:.1f}°" + (f" (≤ {cap:.2f} of any pixel, {100 * cov:.1f} % of pixels, "
                                          f"worst seed {worst:.0f}°)" if sad > MINOR_TARGET_DEG else "")
                 for name, sad, cap, cov, worst in per_material(runs, summary, case)]
        lines.append(f"- **{case}**: " + "; ".join(parts))
    from ftir_unmix.trust import BELOW_BASELINE_DOUBT, SPREAD_DOUBT_DEG

    spread = _warning(runs, "restart_spread_deg", SPREAD_DOUBT_DEG, f"spread > {SPREAD_DOUBT_DEG:.0f}°")
    if spread is not None:
        (value, err, flagged), said = spread
        lines += ["", f"Restart spread as a warning (CNN+WSAD, {len(value)} materials): {said} Median error of "
                  f"flagged materials {_median(err[flagged]):.1f}°, of the others {_median(err[~flagged]):.1f}°; "
                  f"Spearman correlation of spread and error {_spearman(value, err):.2f}."]
    below = _warning(runs, "below_baseline", BELOW_BASELINE_DOUBT, f"share > {BELOW_BASELINE_DOUBT:.2f}")
    if below is not None:
        (value, _, _), said = below
        lines += ["", f"Spectra below their own baseline as a warning (CNN+WSAD, {len(value)} materials): {said}"]
    lines += ["", f"_Generated by `python benchmarks/scenes_quality.py {' '.join(meta['argv'])}` at git "
              f"{(meta['git_commit'] or '?')[:7]}{'-dirty' if meta['git_modified_files'] else ''} "
              f"({meta['wall_s'] / 60:.0f} min, {meta['jobs']} processes × {meta['threads_per_process']} torch "
              "thread)._", "", MARK_END]
    return "\n".join(lines)


def _warning(runs: list[dict[str, Any]], key: str, threshold: float,
             criterion: str) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], str] | None:
    """How a trust measure (``per_material[key]``, CNN+WSAD) flags the failures: its values, the
    errors, which were flagged (value > ``threshold``) and a sentence with the counts; None
    when no run recorded it."""
    pairs = [(m[key], m["sad_deg"]) for r in runs if r["method"] == "cnn"
             for m in r["per_material"].values() if m.get(key) is not None]
    if not pairs:
        return None
    value, err = np.array(pairs).T
    flagged, bad = value > threshold, err > MINOR_TARGET_DEG
    said = (f"of the {int(bad.sum())} materials more than {MINOR_TARGET_DEG:.0f}° off, "
            f"{int((bad & flagged).sum())} were flagged ({criterion}); of the {int((~bad).sum())} within "
            f"{MINOR_TARGET_DEG:.0f}°, {int((~bad & flagged).sum())} were flagged.")
    return (value, err, flagged), said


def _median(v: np.ndarray) -> float:
    return float(np.median(v)) if v.size else float("nan")


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def write_markdown(path: Path, payload: dict[str, Any]) -> None:
    """Put the report between the markers in ``path`` (appended when they are absent)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    section = render_markdown(payload)
    if MARK_BEGIN in text and MARK_END in text:
        text = text[:text.index(MARK_BEGIN)] + section + text[text.index(MARK_END) + len(MARK_END):]
    else:
        text = text.rstrip("\n") + "\n\n## Held-out scene family (benchmarks/scenes_quality.py)\n\n" + section + "\n"
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    from ftir_unmix.scenes import CASES, REPORT_SEEDS, TUNING_SEEDS

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default="all", help="comma-separated case names, or 'all'")
    ap.add_argument("--seeds", default=",".join(map(str, TUNING_SEEDS)), help="comma-separated seeds")
    ap.add_argument("--methods", default="cnn,cnn-sad,nmf,vca-fcls",
                    help=f"comma-separated, from {', '.join(METHODS)}")
    ap.add_argument("--options", nargs="*", default=[], metavar="KEY=VALUE",
                    help="unmix options for every method (e.g. refine=false epochs=200)")
    ap.add_argument("--json", type=Path, default=None, help="write the results here (rewritten after each run)")
    ap.add_argument("--jobs", type=int, default=1, help="parallel processes (at most 2 on a shared 2-core machine)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads per process")
    # say the size: tables of different sizes are different scenes and must not be compared
    ap.add_argument("--height", type=int, default=None,
                    help="scene height in pixels (default: the generator's 64; the reports use 48)")
    ap.add_argument("--width", type=int, default=None,
                    help="scene width in pixels (default: the generator's 128; the reports use 96)")
    ap.add_argument("--bands", type=int, default=None, help="band count (default: the generator's 838)")
    ap.add_argument("--atmosphere-scale", type=float, default=1.0,
                    help="multiply every case's drifting CO2 and water vapour (a stress test; default 1)")
    ap.add_argument("--resume", action="store_true", help="keep the runs already in --json and skip them")
    ap.add_argument("--markdown", type=Path, default=None,
                    help="write the report section into this markdown file (docs/benchmarks.md)")
    ap.add_argument("--render-only", action="store_true", help="only render --json into --markdown")
    ap.add_argument("--report", action="store_true",
                    help="allow REPORT_SEEDS (only for the final report, never for tuning)")
    ap.add_argument("--allow-builtin", action="store_true",
                    help="run without the shared data (scenes fall back to built-in spectra and atmosphere)")
    args = ap.parse_args(argv)
    if not (args.allow_builtin or args.render_only):
        refuse_without_shared_data(ap, "--allow-builtin")

    cases = list(CASES) if args.cases == "all" else [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        ap.error(f"unknown cases {unknown}; known: {', '.join(CASES)}")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    bad = [m for m in methods if m not in METHODS]
    if bad:
        ap.error(f"unknown methods {bad}; known: {', '.join(METHODS)}")
    seeds = checked_seeds(ap, args.seeds, args.report)
    options = parse_options(args.options)
    size = {"height": args.height, "width": args.width, "bands": args.bands,
            "atmosphere_scale": args.atmosphere_scale}
    if args.render_only:
        if args.json is None or args.markdown is None:
            ap.error("--render-only needs --json and --markdown")
        write_markdown(args.markdown, json.loads(args.json.read_text()))
        return 0

    runs: list[dict[str, Any]] = []
    if args.resume and args.json is not None and args.json.exists():
        runs = json.loads(args.json.read_text())["runs"]
    done = {(r["case"], r["seed"], r["method"]) for r in runs}
    tasks = [(c, s, m) for c in cases for s in seeds for m in methods if (c, s, m) not in done]

    import torch

    meta = {
        "script": "benchmarks/scenes_quality.py", "argv": sys.argv[1:] if argv is None else argv,
        "cases": cases, "seeds": seeds, "methods": {m: METHODS[m] for m in methods}, "options": options,
        "size": size, "git_commit": _git("rev-parse", "HEAD"),
        "git_modified_files": len((_git("status", "--porcelain", "--untracked-files=no") or "").splitlines()),
        "torch": torch.__version__,
        "python": platform.python_version(), "threads_per_process": args.threads, "jobs": args.jobs,
        "seed_policy": "tune on TUNING_SEEDS (0-4) only; "
                       f"report on REPORT_SEEDS ({min(REPORT_SEEDS)}-{max(REPORT_SEEDS)}; five fresh seeds per report)",
        "metrics": "SAD in degrees after Hungarian matching on the angle; abundance RMSE over matched maps",
    }

    def save() -> None:
        if args.json is not None:
            _write_json(args.json, {"meta": meta, "summary": summarise(runs), "runs": runs})

    def report(run: dict[str, Any]) -> None:
        runs.append(run)
        n_done[0] += 1
        print(f"[{n_done[0]}/{len(tasks)}] {run['case']:<16} seed {run['seed']:<5} "
              f"{run['method']:<9} SAD {run['mean_sad_deg']:6.2f}°  aRMSE {run['abundance_rmse']:.3f}  "
              f"{run['time_s']:.0f}s", flush=True)
        save()

    n_done = [0]
    t0 = time.perf_counter()
    if args.jobs <= 1:
        torch.set_num_threads(args.threads)
        for c, s, m in tasks:
            report(run_one(c, s, m, options, size, args.threads))
    else:
        import multiprocessing as mp

        with ProcessPoolExecutor(max_workers=args.jobs, mp_context=mp.get_context("spawn"),
                                 initializer=_init_worker, initargs=(args.threads,)) as pool:
            futures = [pool.submit(run_one, c, s, m, options, size, args.threads) for c, s, m in tasks]
            for fut in as_completed(futures):
                report(fut.result())
    runs.sort(key=lambda r: (cases.index(r["case"]) if r["case"] in cases else 99, r["seed"],
                             methods.index(r["method"]) if r["method"] in methods else 99))
    meta["wall_s"] = round(time.perf_counter() - t0, 1)
    save()
    print()
    print_table(summarise(runs), methods)
    if args.markdown is not None:
        write_markdown(args.markdown, {"meta": meta, "summary": summarise(runs), "runs": runs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
