"""Unmixing quality on a third generator that no default was ever chosen on (:mod:`blind_scenes`).

The defaults were tuned on the in-repository generator (:mod:`ftir_unmix.synthetic`) and on
the independent family (:mod:`ftir_unmix.scenes`, tuning seeds 0–4). ``blind_scenes`` was
written afterwards, by someone who had read neither, to check that those defaults carry
over to spectra, layouts and artefacts built another way. **Seeds below 100 and from 1000 on
are report seeds: never change a default because of what this script prints for them** (a
change tried there would make the generator a third tuning set and this check worthless).
Seeds 100–999 are its tuning seeds (since stop 44; the report seeds from 1000 on since stop 57,
when those below 100 were spent; ``edge_pairs.blind_report_seed``).

For each case, seed and method it scores the Hungarian-matched spectral angle per
material and the abundance RMSE against the truth, then prints per-case means, the
per-material angles and CNN+WSAD against CNN+SAD run by run.

Example (the report in docs/benchmarks.md, two processes)::

    OMP_NUM_THREADS=1 python benchmarks/blind_quality.py --seeds 0,1,2,3,4 --jobs 2 \\
        --json benchmarks/results/blind_64x256.json --markdown docs/benchmarks.md

``--render-only --json FILE --markdown docs/benchmarks.md`` redoes the markdown from the JSON.
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # one BLAS thread per process, before numpy loads (a run can depend on it)
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import blind_scenes  # noqa: E402
from paired_methods import TIE_DEG, sign_test  # noqa: E402
from scenes_quality import (  # noqa: E402
    METHODS,
    _git,
    _init_worker,
    _warning,
    _write_json,
    case_table,
    machine,
    matched_scores,
    parse_options,
    per_material,
    print_table,
    summarise,
)

MARK_BEGIN, MARK_END = "<!-- blind scenes: begin -->", "<!-- blind scenes: end -->"
#: A material this far from the truth is counted as a failure.
FAIL_DEG = 15.0


def run_one(case: str, seed: int, method: str, options: dict[str, Any], scene_args: dict[str, Any]) -> dict[str, Any]:
    """Build one blind scene (``scene_args``: size, ``dense_spikes``), unmix it with one method
    and compare with the truth."""
    import ftir_unmix
    from ftir_unmix.trust import doubts

    scene = blind_scenes.make_blind_scene(case, seed, **scene_args)
    cube = ftir_unmix.make_cube(scene.data, scene.wavenumbers)
    k = len(scene.names)
    kwargs = {**METHODS[method], **options}
    t0 = time.perf_counter()
    result = ftir_unmix.unmix(cube, k, **kwargs)
    elapsed = time.perf_counter() - t0
    ev, per_rmse = matched_scores(scene.endmembers, scene.abundances, result)
    trust = result.parameters.get("trust")  # the CNN's per-endmember trust record
    told = doubts(trust, [f"EM{j + 1}" for j in range(len(trust))]) if trust else {}
    said = [told.get(f"EM{int(j) + 1}") for j in ev["permutation"]]
    return {
        "case": case, "seed": int(seed), "method": method, "options": kwargs, "k": k,
        "shape": list(scene.data.shape), "time_s": round(elapsed, 2),
        "mean_sad_deg": float(ev["mean_sad_deg"]), "abundance_rmse": float(ev["abundance_rmse"]),
        "per_material": {
            name: {"sad_deg": float(ev["per_endmember_sad_deg"][i]), "abundance_rmse": float(per_rmse[i]),
                   "max_abundance": float(scene.info["max_abundance"][name]),
                   "coverage": float(scene.info["coverage"][name]),
                   **({"doubted": float(said[i] is not None), "doubt": said[i],
                       "restart_spread_deg": trust[ev["permutation"][i]]["restart_spread_deg"]} if trust else {})}
            for i, name in enumerate(scene.names)
        },
        "scene": {key: scene.info.get(key) for key in ("minor", "capped", "atmosphere_source",
                                                        "reference_spectra_used", "n_spikes")},
    }


def paired(runs: list[dict[str, Any]], first: str = "cnn", second: str = "cnn-sad") -> dict[str, Any] | None:
    """``first`` minus ``second`` run by run (same case and seed): counts and the sign test."""
    by = {(r["case"], r["seed"], r["method"]): r["mean_sad_deg"] for r in runs}
    diffs = np.array([v - by[(c, s, second)] for (c, s, m), v in by.items() if m == first and (c, s, second) in by])
    if diffs.size == 0:
        return None
    worse, better, p = sign_test(diffs)
    return {"n": int(diffs.size), "median": float(np.median(diffs)), "mean": float(diffs.mean()),
            "worse": worse, "better": better, "p": p}


def render_markdown(payload: dict[str, Any]) -> str:
    """The section for docs/benchmarks.md: per-case means with the spread over seeds, per-material
    angles of CNN+WSAD, every failure (a material more than ``FAIL_DEG`` off) and the pairs."""
    meta, runs = payload["meta"], payload["runs"]
    seeds = meta["seeds"]
    summary = summarise(runs)
    methods = [m for m in meta["methods"] if any(r["method"] == m for r in runs)]
    lines = [MARK_BEGIN, "", f"Seeds {meta['seeds']}, {meta['size']['height']}×{meta['size']['width']} px, "
             f"{runs[0]['shape'][2]} bands, " + ("1–3 spikes in every spectrum (`--dense-spikes`), "
                                                 if meta.get("dense_spikes") else "")
             + "library defaults" + (f" with {meta['options']}" if meta["options"] else "")
             + ". No default was chosen on this generator.", "",
             *case_table(runs, summary, methods, digits=2, all_label="all")]
    pair = paired(runs)
    if pair:
        lines += ["", f"CNN+WSAD against CNN+SAD, run by run: {pair['worse']} worse, {pair['better']} better, "
                  f"{pair['n'] - pair['worse'] - pair['better']} within {TIE_DEG}°; median {pair['median']:+.2f}°, "
                  f"sign test p = {pair['p']:.2g}."]
    if "cnn" in methods:
        lines += ["", "Per material (CNN+WSAD, mean over seeds; the largest abundance the material reaches and "
                  "the share of pixels where it is at least 0.1):", ""]
        for case, by_method in summary.items():
            if "cnn" not in by_method:
                continue
            parts = [f"{name} {sad:.1f}° (≤ {cap:.2f}, {100 * cov:.1f} %)"
                     for name, sad, cap, cov, _ in per_material(runs, summary, case)]
            lines.append(f"- **{case}**: " + "; ".join(parts))
        fails: dict[tuple[str, str], dict[str, list[float]]] = {}
        for r in runs:
            for n, m in r["per_material"].items():
                if r["method"].startswith("cnn") and m["sad_deg"] > FAIL_DEG:
                    fails.setdefault((r["case"], n), {}).setdefault(r["method"], []).append(m["sad_deg"])
        said = "; ".join(f"{c} {n}: " + ", ".join(f"{len(v)} of {len(seeds)} runs with {m} (worst {max(v):.0f}°)"
                                                  for m, v in sorted(by.items()))
                         for (c, n), by in sorted(fails.items())) or "none"
        lines += ["", f"Materials more than {FAIL_DEG:.0f}° off in the CNN runs: {said}."]
        told = doubt_summary(runs)
        if told:
            lines += ["", told]
    lines += ["", f"_Generated by `python benchmarks/blind_quality.py {' '.join(meta['argv'])}` at git "
              f"{meta['git'] or '?'} ({meta['wall_s'] / 60:.0f} min, {meta['jobs']} processes × 1 torch thread)._",
              "", MARK_END]
    return "\n".join(lines)


def doubt_summary(runs: list[dict[str, Any]]) -> str | None:
    """How the run's doubts (:func:`ftir_unmix.trust.doubts`, the sentences the CLI and the
    Spectra panel show) name the CNN+WSAD materials that are far off; None for runs recorded
    before the doubts were kept."""
    warned = _warning(runs, "doubted", 0.5, "a doubt said of its endmember")
    if warned is None:
        return None
    return f"The run's doubts as a warning (CNN+WSAD, {len(warned[0][0])} materials): {warned[1]}"


def write_markdown(path: Path, payload: dict[str, Any]) -> None:
    """Put the section between the markers in ``path`` (appended under a heading when absent)."""
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    section = render_markdown(payload)
    if MARK_BEGIN in text and MARK_END in text:
        text = text[:text.index(MARK_BEGIN)] + section + text[text.index(MARK_END) + len(MARK_END):]
    else:
        heading = "## Blind scenes: a third generator (benchmarks/blind_quality.py)"
        text = text.rstrip("\n") + f"\n\n{heading}\n\n{section}\n"
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default="all", help="comma-separated case names, or 'all'")
    ap.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated seeds")
    ap.add_argument("--methods", default="cnn,cnn-sad,nmf,vca-fcls", help=f"comma-separated, from {', '.join(METHODS)}")
    ap.add_argument("--options", nargs="*", default=[], metavar="KEY=VALUE", help="unmix options for every method")
    ap.add_argument("--height", type=int, default=64)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--dense-spikes", action="store_true",
                    help="1-3 spikes in every spectrum instead of one in 0.2-1 %% of them (a stress test)")
    ap.add_argument("--jobs", type=int, default=1, help="parallel processes (at most 2 on a shared 2-core machine)")
    ap.add_argument("--json", type=Path, default=None, help="write the runs here (rewritten after each run)")
    ap.add_argument("--markdown", type=Path, default=None, help="write the section into this file")
    ap.add_argument("--render-only", action="store_true", help="only render --json into --markdown")
    args = ap.parse_args(argv)
    if args.render_only:
        if not (args.json and args.markdown):
            ap.error("--render-only needs --json and --markdown")
        write_markdown(args.markdown, json.loads(args.json.read_text()))
        return 0
    if blind_scenes.shared_data_dir() is None:
        ap.error("no shared data (set FTIR_UNMIX_SHARED_DATA or put it at ../shared/data): the scenes would "
                 "fall back to built-in spectra and atmosphere")
    cases = list(blind_scenes.CASES) if args.cases == "all" else args.cases.split(",")
    methods = args.methods.split(",")
    unknown = sorted(set(methods) - set(METHODS)) + sorted(set(cases) - set(blind_scenes.CASES))
    if unknown:
        ap.error(f"unknown method or case: {', '.join(unknown)}")
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    options = parse_options(args.options)
    size = {"height": args.height, "width": args.width}
    scene_args = {**size, "dense_spikes": args.dense_spikes}
    meta = {"argv": sys.argv[1:] if argv is None else argv, "seeds": seeds, "methods": methods,
            "options": options, "size": size, "dense_spikes": args.dense_spikes, "jobs": args.jobs,
            "git": _git("rev-parse", "--short", "HEAD"),
            "machine": machine(), "wall_s": 0.0}
    runs: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.jobs, initializer=_init_worker, initargs=(1,)) as pool:
        futures = [pool.submit(run_one, c, s, m, options, scene_args) for s in seeds for c in cases for m in methods]
        for fut in as_completed(futures):
            run = fut.result()
            runs.append(run)
            print(f"[{len(runs)}/{len(futures)}] {run['case']:<16} seed {run['seed']:<3} {run['method']:<9} "
                  f"SAD {run['mean_sad_deg']:6.2f}°  aRMSE {run['abundance_rmse']:.3f}  {run['time_s']:.0f}s",
                  flush=True)
            meta["wall_s"] = time.perf_counter() - t0
            if args.json:
                _write_json(args.json, {"meta": meta, "runs": runs})
    print()
    print_table(summarise(runs), methods)
    pair = paired(runs)
    if pair:
        print(f"CNN+WSAD - CNN+SAD: {pair}")
    told = doubt_summary(runs)
    if told:
        print(told)
    if args.markdown:
        write_markdown(args.markdown, {"meta": meta, "runs": runs})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
