"""Which of K + 1 spectra to drop: rules for the spare, scored against the truth (docs/benchmarks.md, stop 36).

A run trained again with a spare (``spare_when_needed``) trains K + 1 endmembers and drops the
one the image needs least (:func:`ftir_unmix.methods.cnn.spare.choose_spares`). This scores
rules for "least" without training once per rule: for every case and seed it trains the K + 1
run of the default (``spare=1``: what a run trained again trains) and records, per spectrum,

- ``growth``: quantiles (and the mean, and ``top9``: the ninth largest) over the pixels of how
  much each pixel's cone angle grows without it, in degrees, computed where and as the engine
  computes it;
- ``sad_without``: the mean SAD against the truth of the K spectra left when it is dropped
  (Hungarian-matched).

``--analyse`` scores any sum of those quantiles: the mean SAD of what each rule keeps, beside
the oracle (the best drop in every run) and the runs where a rule loses more than 0.5°. The
margin is, per run, the smallest cost among the drops that lose more than 0.5° over the
smallest among those that do not (above 1: the rule is right; its minimum over the runs says
how close it came to being wrong).

Seeds: tune on ``TUNING_SEEDS`` (0–4) only; ``REPORT_SEEDS`` need ``--report``.

Examples
--------
All cases, tuning seeds (about 25 min on 2 cores)::

    python benchmarks/spare_choice.py --seeds 0,1,2,3,4 --jobs 2 \\
        --json benchmarks/results/spare_choice_tuning_64x256.json
    python benchmarks/spare_choice.py --analyse benchmarks/results/spare_choice_tuning_64x256.json
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scenes_quality import run_scene_tasks, runs_in, scene_runs_parser  # noqa: E402

#: Quantiles of the per-pixel growth that are recorded (and can be summed into a rule).
QUANTILES = ("0.9", "0.95", "0.98", "0.99", "0.995", "0.999")
#: The growth of the ninth most affected pixel: what a spot of 3 × 3 pixels needs, which the
#: quantiles do not see below 0.5 % of the image (stop 47); a rule may name it ("0.995+0.95+top9").
#: The engine's rule since stop 48 (``spare.SPOT_PIXELS``; on images over the engine's sample
#: of 16 384 pixels it takes the spot's share of the sample, this the ninth of the sample).
SPOT_PIXELS = 9
SPOT = f"top{SPOT_PIXELS}"
#: Rules scored by default: one quantile, or a sum written with "+"; "mean" is the mean growth.
RULES = ("0.995", "0.99", "0.95", "mean", "0.995+0.95", "0.995+0.99", f"0.995+0.95+{SPOT}")
#: A drop that keeps spectra this much worse (degrees) than the best drop counts as wrong.
WRONG_DEG = 0.5


def columns_scored(pixels: Any, spectra: np.ndarray, reported: np.ndarray, truth: np.ndarray
                   ) -> list[dict[str, Any]]:
    """Per column: the growth statistics of ``pixels`` (a :class:`~ftir_unmix.metrics.WeightedPixels`)
    without that column of ``spectra`` (B, K + 1, as the method saw them) and the mean SAD
    against ``truth`` of the K columns of ``reported`` (the cube's units) left."""
    from ftir_unmix.metrics import match_endmembers, spectral_angles

    base = pixels.cone_angles(spectra)
    scored = []
    for j in range(spectra.shape[1]):
        growth = np.degrees(pixels.cone_angles(np.delete(spectra, j, axis=1)) - base)
        left = np.delete(reported, j, axis=1)
        perm = match_endmembers(truth, left)
        scored.append({"growth": {**{q: float(np.quantile(growth, float(q))) for q in QUANTILES},
                                  "mean": float(growth.mean()),
                                  SPOT: float(np.sort(growth)[-min(SPOT_PIXELS, growth.size)])},
                       "sad_without": float(spectral_angles(truth, left)[np.arange(perm.size), perm].mean())})
    return scored


def run_one(case: str, seed: int, size: dict[str, int], **options: Any) -> dict[str, Any]:
    """One scene: the default's K + 1 run (``spare=1``, and ``options`` to :func:`ftir_unmix.unmix`),
    and every column's cost and drop, scored.

    The K + 1 spectra are read where the engine chooses: its ``choose_spares`` is wrapped, so
    the costs are computed on what it computes them on (the same sample of pixels)."""
    import ftir_unmix
    import ftir_unmix.methods.cnn as cnn
    from ftir_unmix.methods.cnn.refinement import fixed_pixels
    from ftir_unmix.metrics import WeightedPixels
    from ftir_unmix.preprocess.scaling import scale_pixels
    from ftir_unmix.scenes import make_scene

    scene = make_scene(case, seed, **size)
    seen: dict[str, Any] = {}
    choose = cnn.choose_spares

    def spied(endmembers: np.ndarray, pixels: Any, count: int, loss_w: np.ndarray, nuisance: Any, **kw: Any) -> Any:
        seen["spectra"] = endmembers.copy()
        seen["pixels"] = WeightedPixels(fixed_pixels(pixels, kw.get("sample", 16384)),  # its default sample
                                        loss_w, nuisance=nuisance)
        return choose(endmembers, pixels, count, loss_w, nuisance, **kw)

    cnn.choose_spares = spied
    try:
        t0 = time.perf_counter()
        result = ftir_unmix.unmix(scene.cube, scene.k, spare=1, **options)
        elapsed = time.perf_counter() - t0
    finally:
        cnn.choose_spares = choose
    factor = scale_pixels(scene.cube.pixels, result.parameters["scaling"]).factor
    return {"case": case, "seed": seed, "k": scene.k, "time_s": round(elapsed, 2),
            "dropped": result.parameters["spare_endmembers"]["dropped"][0]["column"],
            "columns": columns_scored(seen["pixels"], seen["spectra"], seen["spectra"] * factor[:, None],
                                      scene.endmembers)}


def rule_cost(column: dict[str, Any], rule: str) -> float:
    """A column's cost under ``rule`` (quantiles summed with "+", "mean" or ``top9``)."""
    return float(sum(column["growth"][part] for part in rule.split("+")))


def analyse(runs: list[dict[str, Any]], rules: list[str]) -> str:
    """A table: per rule, the mean SAD kept, the runs it loses more than :data:`WRONG_DEG`, its margin."""
    sad = [np.array([c["sad_without"] for c in r["columns"]]) for r in runs]
    oracle = np.array([s.min() for s in sad])
    from ftir_unmix.methods.cnn.spare import CLOSE_CALL

    lines = [f"{len(runs)} runs; the best drop in every run (oracle): {oracle.mean():.2f}°", "",
             "| rule (quantiles of the growth, summed) | mean SAD | runs worse than the oracle by > 0.5° "
             f"| worst loss | margin: min / 10th percentile | close calls (≤ {CLOSE_CALL:g}×): all / wrong |",
             "|---|---|---|---|---|---|"]
    for rule in rules:
        kept, margins, wrong, close = [], [], [], []
        for r, s in zip(runs, sad):
            cost = np.array([rule_cost(c, rule) for c in r["columns"]])
            order = np.argsort(cost)
            kept.append(s[order[0]])
            good = s <= s.min() + WRONG_DEG
            if (~good).any():
                margins.append(cost[~good].min() / max(cost[good].min(), 1e-9))
            if kept[-1] > s.min() + WRONG_DEG:
                wrong.append(f"{r['case']} {r['seed']}")
            if cost[order[1]] <= CLOSE_CALL * cost[order[0]]:
                close.append(kept[-1] > s.min() + WRONG_DEG)
        kept_a = np.array(kept)
        lines.append(f"| {rule} | {kept_a.mean():.2f}° | {len(wrong)}{(' (' + ', '.join(wrong) + ')') if wrong else ''}"
                     f" | {(kept_a - oracle).max():.2f}° | {np.min(margins):.2f} / {np.percentile(margins, 10):.2f} "
                     f"| {len(close)} / {sum(close)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = scene_runs_parser(__doc__.splitlines()[0], "score rules on runs already written (one or more files)")
    ap.add_argument("--rules", default=",".join(RULES), help="comma-separated rules, e.g. 0.995+0.95,mean")
    args = ap.parse_args(argv)
    rules = args.rules.split(",")
    if args.analyse is not None:
        print(analyse(runs_in(args.analyse), rules))
        return 0
    runs = run_scene_tasks(ap, args, argv, run_one, (), lambda r: (
        f"{r['case']:<15} seed {r['seed']:<5} best drop {min(c['sad_without'] for c in r['columns']):.2f}°"))
    print(analyse(runs, rules))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
