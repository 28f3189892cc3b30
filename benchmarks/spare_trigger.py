"""When to train again with a spare endmember (docs/benchmarks.md §0, stops 26 and 27).

For every case and seed of the independent scene family the CNN runs twice with library
defaults: once with K endmembers and no second run (``spare_when_needed=0``: the first run
of the default) and once with ``spare=1`` (K + 1 trained, the spare dropped: what the second
run of the default returned before stop 34 polished it). ``trigger_pairs.py`` pairs the
default's own two ends, from one run per scene and on every generator. Of the first run it
keeps the signals a trigger could use:

- ``below``: per endmember, the share of its spectrum below its own baseline (the trigger
  of ``spare_when_needed`` was the largest above ``trust.BELOW_BASELINE_DOUBT``; since stop 74
  it counts only the mass deeper than the spectrum's noise);
- ``spread``: per endmember, the restart spread (degrees);
- ``cone_q``: quantiles (degrees) of the pixels' cone angles against the spectra as the loss
  sees them (how badly the worst pixels are explained).

``--analyse`` then scores any threshold on ``below`` without training: each run is the K run
or the K + 1 run as the rule picks, matched against the truth. Both runs are in the file, so
the best possible choice (the oracle) is known too.

Seeds: tune on ``TUNING_SEEDS`` (0–4) only; ``REPORT_SEEDS`` need ``--report``.

Examples
--------
All cases, tuning seeds (about 50 min on 2 cores)::

    python benchmarks/spare_trigger.py --seeds 0,1,2,3,4 --jobs 2 \\
        --json benchmarks/results/spare_trigger_tuning_64x256.json
    python benchmarks/spare_trigger.py --analyse benchmarks/results/spare_trigger_tuning_64x256.json

A cheaper second run (one restart instead of three) on two scenes::

    python benchmarks/spare_trigger.py --cases nopure-k4,nopure-k6 --seeds 0 --jobs 2 \\
        --spare-options restarts=1 --json /tmp/spare_one_restart.json
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scenes_quality import parse_options, run_scene_tasks, runs_in, scene_runs_parser  # noqa: E402

#: Quantiles of the first run's per-pixel cone angles that are recorded.
CONE_QUANTILES = (0.5, 0.9, 0.99, 0.995, 0.999)


def _scored(scene: Any, result: Any, elapsed: float) -> dict[str, Any]:
    from ftir_unmix.metrics import evaluate

    ev = evaluate(scene.endmembers, scene.abundances, result.endmembers, result.abundances)
    return {"time_s": round(elapsed, 2), "mean_sad_deg": float(ev["mean_sad_deg"]),
            "abundance_rmse": float(ev["abundance_rmse"]),
            "per_material_sad_deg": dict(zip(scene.names, (float(v) for v in ev["per_endmember_sad_deg"]))),
            "spare_endmembers": result.parameters.get("spare_endmembers")}


def first_run_signals(cube: Any, result: Any) -> dict[str, Any]:
    """The signals of a K run (see the module docstring), computed as the method saw the data."""
    from ftir_unmix.metrics import cone_angles
    from ftir_unmix.preprocess import below_baseline_share, polynomial_basis, weighted_nuisance_basis
    from ftir_unmix.preprocess.background import baseline_degree
    from ftir_unmix.preprocess.scaling import scale_pixels

    p = result.parameters
    loss_w = result.weights
    nuisance = weighted_nuisance_basis(polynomial_basis(cube.wavenumbers, baseline_degree(p["baseline"])), loss_w)
    scaling = scale_pixels(cube.pixels, p["scaling"])
    spectra = result.endmembers / scaling.factor[:, None]
    angles = np.degrees(cone_angles(np.asarray(scaling.apply(cube.pixels), np.float64), spectra, loss_w,
                                    nuisance=nuisance))
    return {"below": [float(v) for v in below_baseline_share(spectra * loss_w[:, None], nuisance)],
            "spread": [t["restart_spread_deg"] for t in p["trust"]],
            "cone_q": {str(q): float(np.quantile(angles, q)) for q in CONE_QUANTILES}}


def run_one(case: str, seed: int, size: dict[str, int], spare_options: dict[str, Any]) -> dict[str, Any]:
    """One scene: the K run with its signals and the K + 1 run, both scored against the truth."""
    import ftir_unmix
    from ftir_unmix.scenes import make_scene

    scene = make_scene(case, seed, **size)
    t0 = time.perf_counter()
    first = ftir_unmix.unmix(scene.cube, scene.k, spare_when_needed=False)
    k_run = {**_scored(scene, first, time.perf_counter() - t0), **first_run_signals(scene.cube, first)}
    t0 = time.perf_counter()
    spare = ftir_unmix.unmix(scene.cube, scene.k, **{"spare": 1, **spare_options})
    return {"case": case, "seed": seed, "k": scene.k, "k_run": k_run,
            "spare_run": _scored(scene, spare, time.perf_counter() - t0)}


def analyse(runs: list[dict[str, Any]], thresholds: list[float]) -> str:
    """Mean SAD over the runs for K always, K + 1 always, the oracle and each threshold on ``below``."""
    k = np.array([r["k_run"]["mean_sad_deg"] for r in runs])
    k1 = np.array([r["spare_run"]["mean_sad_deg"] for r in runs])
    below = np.array([max(r["k_run"]["below"]) for r in runs])
    lines = [f"{len(runs)} runs: K {k.mean():.2f}°, K + 1 {k1.mean():.2f}°, "
             f"the better of the two per run (oracle) {np.minimum(k, k1).mean():.2f}°",
             "", "| trained again when the largest share below the baseline is above | mean SAD | trained again "
             "| of them worse | by (sum) |", "|---|---|---|---|---|"]
    for t in thresholds:
        fire = below > t
        worse = fire & (k1 > k)
        lines.append(f"| {t:.3f} | {np.where(fire, k1, k).mean():.2f}° | {fire.sum()} | {worse.sum()} "
                     f"| {(k1 - k)[worse].sum():.2f}° |")
    lines += ["", "| case | seed | below | K | K + 1 |", "|---|---|---|---|---|"]
    for r in sorted(runs, key=lambda r: -max(r["k_run"]["below"])):
        lines.append(f"| {r['case']} | {r['seed']} | {max(r['k_run']['below']):.3f} "
                     f"| {r['k_run']['mean_sad_deg']:.2f} | {r['spare_run']['mean_sad_deg']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = scene_runs_parser(__doc__.splitlines()[0], "score thresholds on runs already written (one or more files)")
    ap.add_argument("--spare-options", nargs="*", default=[], metavar="KEY=VALUE",
                    help="options of the K + 1 run only (e.g. restarts=1)")
    ap.add_argument("--thresholds", default="0.05,0.045,0.04,0.035,0.03,0.025,0.02")
    args = ap.parse_args(argv)
    thresholds = [float(v) for v in args.thresholds.split(",")]
    if args.analyse is not None:
        print(analyse(runs_in(args.analyse), thresholds))
        return 0
    runs = run_scene_tasks(ap, args, argv, run_one, (parse_options(args.spare_options),), lambda r: (
        f"{r['case']:<15} seed {r['seed']:<5} K {r['k_run']['mean_sad_deg']:6.2f}°  "
        f"K + 1 {r['spare_run']['mean_sad_deg']:6.2f}°  below {max(r['k_run']['below']):.3f}"))
    print(analyse(runs, thresholds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
