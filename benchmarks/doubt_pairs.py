"""Which endmembers the run's restart-spread doubt names: right ones and wrong ones, under any rule.

A run with restarts reports, per endmember, the largest angle to its match in the other
restarts (``restart_spread_deg``, :mod:`ftir_unmix.trust`), and a doubt where it is large. This
script unmixes each scene once with the library's defaults and records, per true material: its
error against the truth, the restart spread of the endmember matched to it, and how nearly pure
that endmember's purest pixels are in the run's maps (``top``: the
:data:`~ftir_unmix.trust.PURE_PIXELS`-th largest abundance of its map,
:func:`ftir_unmix.trust.purest_abundance`). Endmembers put in by the spot check or the
refinement have no spread (their doubt says where they came from) and are left out.

``--summary`` scores rules offline, each against the first: ``spread:S`` (a doubt where the
spread is over ``S`` degrees, the engine's rule until stop 75) and ``pinned:HI:LO:TOP`` (a doubt
where the spread is over ``HI``, or over ``LO`` while the endmember's purest pixels stay under
``TOP``: a spectrum no pixel shows nearly pure is an extrapolation, and restarts that disagree
about it say the data do not pin it down). It counts the materials more than
:data:`FAR_DEG` (the reports' 10°) off that each rule names and the materials within it that it names too.

Scenes as in :mod:`edge_pairs` (``--generator family|blind|inrepo``).

Stop 75's runs (the rule in the commit that added this script, before the fresh runs were read;
the first four files were made by a scratch harness with the same defaults, before the run
recorded ``purest_abundance``: it computed the same :func:`ftir_unmix.trust.purest_abundance` from
the run's maps; the commands below make the same runs)::

    python benchmarks/doubt_pairs.py --generator blind --seeds 100,101,102,103,104 --jobs 2 \\
        --out benchmarks/results/doubt_pairs_blind_tuning100-104_64x256.jsonl
    python benchmarks/doubt_pairs.py --generator family --seeds 0,1 --jobs 2 \\
        --out benchmarks/results/doubt_pairs_family_tuning0-1_64x256.jsonl
    python benchmarks/doubt_pairs.py --generator blind --seeds 1080,1081,1082,1083,1084 --report --jobs 2 \\
        --out benchmarks/results/doubt_pairs_blind_fresh1080-1084_64x256.jsonl
    python benchmarks/doubt_pairs.py --generator family --seeds 9251,9252 --report --jobs 2 \\
        --out benchmarks/results/doubt_pairs_family_fresh9251-9252_64x256.jsonl
    python benchmarks/doubt_pairs.py --generator family --seeds 9253,9254,9255 --report --jobs 2 \\
        --out benchmarks/results/doubt_pairs_family_fresh9253-9255_64x256.jsonl    # after the rule was met
    python benchmarks/doubt_pairs.py --generator inrepo --seeds 19,20 --jobs 2 \\
        --out benchmarks/results/doubt_pairs_inrepo_fresh19-20.jsonl              # after the rule was met
    python benchmarks/doubt_pairs.py --summary benchmarks/results/doubt_pairs_*fresh*.jsonl \\
        --rules spread:5,pinned:20:5:0.8
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # one BLAS thread per process, before numpy loads (a run can depend on it)
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from anchor_pairs import read_lines  # noqa: E402
from edge_pairs import _scene, pairs_parser, score_or_run  # noqa: E402
from scenes_quality import MINOR_TARGET_DEG as FAR_DEG  # noqa: E402  the line the reports' doubt counts use


def materials(names: list[str], sad_deg: np.ndarray, permutation: np.ndarray,
              trust: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per true material: its error, and the spread and purest pixels of the endmember matched to it
    (as the run's ``trust`` records them)."""
    rows = []
    for i, name in enumerate(names):
        t = trust[int(permutation[i])]
        rows.append({"name": name, "sad_deg": float(sad_deg[i]), "spread_deg": t["restart_spread_deg"],
                     "top": float(t["purest_abundance"]), "below": t.get("below_baseline")})
    return rows


def run_one(generator: str, case: str, seed: int, _variants: Any, size: dict[str, int]) -> dict[str, Any]:
    """One scene, one default run: each material's error, spread and purest pixels."""
    import ftir_unmix
    from ftir_unmix.metrics import evaluate

    cube, truth, options = _scene(generator, case, seed, size)
    t0 = time.perf_counter()
    result = ftir_unmix.unmix(cube, truth.k, **options)
    elapsed = time.perf_counter() - t0
    ev = evaluate(truth.endmembers, truth.abundances, result.endmembers, result.abundances)
    rows = materials(list(truth.names), np.asarray(ev["per_endmember_sad_deg"]), np.asarray(ev["permutation"]),
                     result.parameters["trust"])
    return {"generator": generator, "case": case, "seed": int(seed), "time_s": round(elapsed, 2),
            "variants": {"default": {"mean": float(ev["mean_sad_deg"]), "rmse": float(ev["abundance_rmse"])}},
            "materials": rows}


def rule(spec: str) -> tuple[str, list[float]]:
    """``spread:S`` or ``pinned:HI:LO:TOP`` as its name and numbers; ValueError for anything else."""
    name, *values = spec.split(":")
    sizes = {"spread": 1, "pinned": 3}
    if name not in sizes or len(values) != sizes[name]:
        raise ValueError(f"rule {spec!r}: spread:S or pinned:HI:LO:TOP")
    return name, [float(v) for v in values]


def names_it(row: dict[str, Any], spec: str) -> bool:
    """Whether the rule ``spec`` says a doubt of the material's endmember."""
    name, values = rule(spec)
    spread = row["spread_deg"]
    if name == "spread":
        return spread > values[0]
    high, low, top = values
    return spread > high or (spread > low and row["top"] < top)


def summary(paths: list[Path], specs: list[str]) -> None:
    """Per generator and pooled: the far-off and the right materials each rule names."""
    rows: dict[str, list[dict[str, Any]]] = {}
    for path in paths:
        for line in read_lines(path):
            rows.setdefault(line["generator"], []).extend(r for r in line["materials"] if r["spread_deg"] is not None)
    rows["pooled"] = [r for g in list(rows) for r in rows[g]]
    print(f"| rule | {' | '.join(f'{g}: far off named | within {FAR_DEG:g}° named' for g in rows)} |")
    print(f"|---|{'---|---|' * len(rows)}")
    for spec in specs:
        cells = []
        for group in rows.values():
            far = [r for r in group if r["sad_deg"] > FAR_DEG]
            near = [r for r in group if r["sad_deg"] <= FAR_DEG]
            cells += [f"{sum(names_it(r, spec) for r in far)} / {len(far)}",
                      f"{sum(names_it(r, spec) for r in near)} / {len(near)}"]
        print(f"| `{spec}` | {' | '.join(cells)} |")


def main(argv: list[str] | None = None) -> int:
    ap = pairs_parser(__doc__.split("\n\n")[0])
    ap.add_argument("--rules", default="spread:5,pinned:20:5:0.8",
                    help="with --summary: comma-separated spread:S or pinned:HI:LO:TOP, the first the base")
    args = ap.parse_args(argv)
    return score_or_run(ap, args, rule, summary, run_one, None)


if __name__ == "__main__":
    raise SystemExit(main())
