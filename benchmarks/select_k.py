"""Hit rate of :func:`ftir_unmix.select_k.sweep_k` on synthetic cubes with known K.

For every layout (patches, layered), true K (4…8) and seed, a synthetic
cross-section with default artefacts is unmixed for K = K_true − 2 … K_true + 3
and the recommendation is compared with K_true.

    python benchmarks/select_k.py                 # full (~15-25 min on one core)
    python benchmarks/select_k.py --quick         # smoke run
    python benchmarks/quality.py --select-k ...   # runs this and puts it in docs/benchmarks.md

Raw results: ``benchmarks/results/select_k.json``.
"""

from __future__ import annotations

import os

if __name__ == "__main__":
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"

#: method → options for the sweep (the CNN with a modest step budget: a sweep runs 6 unmixings).
SWEEP_METHODS: dict[str, dict[str, Any]] = {
    "cnn": {"method": "cnn", "epochs": 200},
    "nmf": {"method": "nmf"},
    "vca-fcls": {"method": "vca-fcls"},
}


def run(*, quick: bool = False, methods: tuple[str, ...] = ("cnn", "nmf", "vca-fcls"),
        k_true: tuple[int, ...] | None = None, seeds: tuple[int, ...] | None = None,
        layouts: tuple[str, ...] = ("patches", "layered"), size: int | None = None,
        cube_seed_base: int = 2000, log=None) -> dict[str, Any]:
    """Run the sweeps; return a JSON-ready dict (``render`` turns it into markdown)."""
    import torch

    from ftir_unmix.select_k import SelectionCriteria, sweep_k
    from ftir_unmix.synthetic import cross_section

    torch.set_num_threads(1)
    k_true = k_true or ((4, 6) if quick else (4, 5, 6, 7, 8))
    seeds = seeds or ((0,) if quick else (0, 1, 2))
    size = size or (24 if quick else 48)
    n_bands = 300 if quick else 838
    method_opts = {m: dict(SWEEP_METHODS[m], **({"epochs": 60} if quick and m == "cnn" else {}))
                   for m in methods}
    t0 = time.perf_counter()
    rows = []
    for layout in layouts:
        for kt in k_true:
            for seed in seeds:
                s = cross_section(size, size, n_bands=n_bands, materials=kt, layout=layout,
                                  seed=cube_seed_base + seed)
                ks = range(max(2, kt - 2), kt + 4)
                for m in methods:
                    opts = dict(method_opts[m])
                    t = time.perf_counter()
                    sw = sweep_k(s.cube, ks, seed=seed, **opts)
                    rec = sw.recommend()
                    rows.append({"layout": layout, "k_true": kt, "seed": seed, "method": m,
                                 "recommended": rec.k, "hit": rec.k == kt, "reason": rec.text, "rule": sw.rule,
                                 "seconds": time.perf_counter() - t, "table": sw.table()})
                    if log:
                        log(f"  select-K {layout:8s} K={kt} seed {seed} {m:9s} -> {rec.k} "
                            f"{'hit' if rec.k == kt else 'MISS'} ({rows[-1]['seconds']:.0f} s)")
    return {"meta": {"size": size, "n_bands": n_bands, "seeds": list(seeds), "k_true": list(k_true),
                     "cube_seeds": [cube_seed_base + s for s in seeds],
                     "layouts": list(layouts), "methods": method_opts,
                     "criteria": SelectionCriteria().to_dict(), "quick": quick,
                     "date": time.strftime("%Y-%m-%d"),
                     "minutes": (time.perf_counter() - t0) / 60},
            "rows": rows}


def render(sk: dict[str, Any]) -> str:
    """Markdown section: hit rate per method and layout, and where the misses went."""
    meta, rows = sk["meta"], sk["rows"]
    methods = list(meta["methods"])
    opts = ", ".join(f"{m}: {meta['methods'][m]}" for m in methods)
    lines = [
        "### Choosing K automatically (`ftir_unmix.select_k`)",
        "",
        (f"Synthetic cross-sections {meta['size']}×{meta['size']}×{meta['n_bands']} with default "
         f"artefacts, K_true ∈ {meta['k_true']}, image seeds {meta.get('cube_seeds', meta['seeds'])}, "
         f"layouts {meta['layouts']}; "
         "each sweep runs K_true − 2 … K_true + 3 "
         f"({opts}); criteria "
         f"{meta['criteria']} (rule auto: count for cnn, largest-clean for nmf and vca-fcls). "
         f"{meta['minutes']:.1f} min in all."),
        "",
        "| method | rule | " + " | ".join(meta["layouts"]) + " | all | recommended − true (count) | s / sweep |",
        "|---|---|" + "---|" * (len(meta["layouts"]) + 3),
    ]
    for m in methods:
        rs = [r for r in rows if r["method"] == m]
        if not rs:
            continue
        cells = []
        for lay in meta["layouts"]:
            sub = [r for r in rs if r["layout"] == lay]
            cells.append(f"{sum(r['hit'] for r in sub)}/{len(sub)}" if sub else "—")
        hits = sum(r["hit"] for r in rs)
        off = Counter(r["recommended"] - r["k_true"] for r in rs)
        offs = ", ".join(f"{d:+d}: {n}" for d, n in sorted(off.items()))
        secs = sum(r["seconds"] for r in rs) / len(rs)
        rules = sorted({r.get("rule", "largest-clean") for r in rs})
        lines.append(f"| {m} | {', '.join(rules)} | " + " | ".join(cells)
                     + f" | **{hits}/{len(rs)} ({100 * hits / len(rs):.0f} %)** | {offs} | {secs:.0f} |")
    lines += ["", "Per K_true (hits / runs, all layouts):", "",
              "| method | " + " | ".join(f"K={k}" for k in meta["k_true"]) + " |",
              "|---|" + "---|" * len(meta["k_true"])]
    for m in methods:
        rs = [r for r in rows if r["method"] == m]
        if rs:
            lines.append(f"| {m} | " + " | ".join(
                f"{sum(r['hit'] for r in rs if r['k_true'] == k)}/{sum(r['k_true'] == k for r in rs)}"
                for k in meta["k_true"]) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--methods", default="cnn,nmf,vca-fcls")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--cube-seed-base", type=int, default=2000,
                   help="images use seeds BASE, BASE+1, … (the rule was tuned on other seeds)")
    args = p.parse_args(argv)
    sk = run(quick=args.quick, methods=tuple(args.methods.split(",")),
             cube_seed_base=args.cube_seed_base, log=lambda s: print(s, flush=True))
    path = args.json or RESULTS / ("select_k_quick.json" if args.quick else "select_k.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(sk, indent=1))
    print(render(sk))
    return 0


if __name__ == "__main__":
    sys.exit(main())
