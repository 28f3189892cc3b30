"""The in-repository cases and Samson under unmix options, one training per scene and setting.

``quality.py`` runs its cases at the library's defaults only; this runs each of its cases at
default artefact strength and Samson (``edge_pairs.INREPO_CASES``, 64×64 px, the run's seed)
once per ``--variants`` entry, so a default can be set against an option on the same scenes
(separate trainings, not a replay). JSON lines, appended as runs finish (``--out`` resumes).

    # the tau probe of stop 80 (tuning seeds)
    python benchmarks/inrepo_options.py --seeds 0,1,2 --variants tau=3,tau=5 \\
        --out benchmarks/results/weights_tau_inrepo_tuning0-2.jsonl
    python benchmarks/inrepo_options.py --summary benchmarks/results/weights_tau_inrepo_tuning0-2.jsonl
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # one thread per process: on a shared 2-core machine this is much faster
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from edge_pairs import INREPO_CASES, _scene  # noqa: E402
from polish_pairs import _scores  # noqa: E402
from scenes_quality import parse_options  # noqa: E402


def parse_variant(text: str) -> dict[str, Any]:
    """``tau=5:corr_floor=0.1`` -> ``{"tau": 5, "corr_floor": 0.1}`` (values read as
    ``scenes_quality.py --options`` reads them); ``default`` -> ``{}``."""
    return {} if text == "default" else parse_options(text.split(":"))


def run(seeds: list[int], variants: list[str], out: Path, cases: tuple[str, ...] = INREPO_CASES) -> None:
    """Every case × seed × variant not yet in ``out``, appended to it."""
    import torch

    import ftir_unmix

    torch.set_num_threads(1)
    done = set()
    if out.exists():
        done = {(r["case"], r["seed"], r["variant"]) for r in map(json.loads, out.read_text().splitlines())}
    for seed in seeds:
        for case in cases:
            todo = [v for v in variants if (case, seed, v) not in done]
            if not todo:
                continue
            cube, truth, options = _scene("inrepo", case, seed, {})  # one scene for every variant
            for v in todo:
                t0 = time.time()
                r = ftir_unmix.unmix(cube, truth.k, **{**options, **parse_variant(v)})
                rec = {"case": case, "seed": seed, "variant": v, "time_s": round(time.time() - t0, 1),
                       **_scores(truth, r.endmembers, r.abundances)}
                with out.open("a") as f:
                    f.write(json.dumps(rec) + "\n")
                print(f"{case} {seed} {v}: {rec['mean']:.2f}°", flush=True)


def summary(path: Path) -> None:
    """Mean SAD per case and variant, and over the artefact cases (Samson apart)."""
    by: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in map(json.loads, path.read_text().splitlines()):
        by[(r["case"], r["variant"])].append(r["mean"])
    variants = sorted({v for _, v in by})
    print("| case | " + " | ".join(variants) + " |\n|---|" + "---|" * len(variants))
    for case in dict.fromkeys(c for c, _ in by):
        print(f"| {case} | " + " | ".join(f"{np.mean(by[(case, v)]):.2f}° (n={len(by[(case, v)])})"
                                          for v in variants) + " |")
    pooled = {v: [x for (c, w), xs in by.items() if w == v and c != "samson" for x in xs] for v in variants}
    print("| FTIR cases | " + " | ".join(f"{np.mean(pooled[v]):.3f}°" for v in variants) + " |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", help="comma-separated seeds")
    ap.add_argument("--variants", default="default,tau=3",
                    help="comma-separated: default, or KEY=VALUE[:KEY=VALUE...] unmix options")
    ap.add_argument("--out", type=Path, help="JSON lines, appended as runs finish")
    ap.add_argument("--summary", type=Path, help="print the table of this file and stop")
    args = ap.parse_args(argv)
    if args.summary:
        summary(args.summary)
        return 0
    if not (args.seeds and args.out):
        ap.error("--seeds and --out are needed to run")
    run([int(s) for s in args.seeds.split(",")], args.variants.split(","), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
