"""Does the run's own objective prefer the truth? Blind-scene failures sorted into the optimiser's and the objective's.

A diagnosis for issue 12 (docs/benchmarks.md, "What the blind scenes' own objective prefers"). For each
blind case and seed, one run (the library's defaults, or ``--options``), then the run's whole-image
objective, the cone fit (each pixel's band-weighted angle to the closest nonnegative combination of
the spectra, the run's background removed: :class:`ftir_unmix.metrics.WeightedPixels` with
``result.weights`` and ``result.baseline_basis()``), for three sets of K spectra:

* ``answer``: the run's spectra;
* ``truth``: the generator's spectra before any per-pixel variability (what the benchmarks score against);
* ``effective``: each material's shifted and broadened variants averaged over its pixels
  (:attr:`blind_scenes.BlindScene.effective`), the closest one spectrum per material can come to the image.

A run whose answer fits the image better than both is one **the objective prefers**: better
optimisation of it cannot mend that run; a prior or knowledge beyond the image must. A run where the
truth or the effective spectra fit better **stopped short** of a better minimum, which restarts or a
longer polish might reach. Each material's angle to the truth and to its effective spectrum is kept too
(the latter is the part of the error per-pixel variability does not explain).

Seeds 100–999 are the blind generator's tuning seeds; this script changes no default, but what it
prints is read, so keep report seeds (below 100, 1000 and up) out of it unless for a report.

Example (tuning seeds, two processes, about 20 min)::

    FTIR_UNMIX_SHARED_DATA=../shared/data OMP_NUM_THREADS=1 python benchmarks/blind_objective.py \\
        --seeds 100,101,102,103,104 --jobs 2 --out benchmarks/results/blind_objective_tuning100-104.json
    python benchmarks/blind_objective.py --summary benchmarks/results/blind_objective_tuning100-104.json
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # one BLAS thread per process, before numpy loads (a run can depend on it)
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import blind_scenes  # noqa: E402
from scenes_quality import _init_worker, _write_json, machine, parse_options  # noqa: E402

#: The three sets of spectra whose objective is compared.
SETS = ("answer", "truth", "effective")


def fits_deg(pixels: np.ndarray, sets: dict[str, np.ndarray], weights: np.ndarray,
             nuisance: np.ndarray | None) -> dict[str, float]:
    """Per named set of spectra (B, K), the mean cone angle (degrees) of ``pixels`` (N, B),
    band-weighted and with the weighted background basis ``nuisance`` (B, r; None: none) removed,
    as the run's objective computes it. The pixels are prepared once for all the sets."""
    from ftir_unmix.metrics import WeightedPixels

    prepared = WeightedPixels(pixels, weights, nuisance=nuisance)
    return {name: float(np.degrees(prepared.mean_cone_angle(spectra))) for name, spectra in sets.items()}


def priors_of(endmembers: np.ndarray, weights: np.ndarray, nuisance: np.ndarray | None
              ) -> dict[str, float | None]:
    """What two priors would say of a set of spectra: ``log_volume`` (how distinct they are, as the
    restarts' tie-break reads it; a minimum-volume prior prefers it lower) and ``below_baseline``
    (the mean over the spectra of each one's share below its own baseline, as the ``transparency``
    prior reads it)."""
    from ftir_unmix.metrics import log_volume
    from ftir_unmix.preprocess import below_baseline_share

    volume = log_volume(endmembers, weights, nuisance=nuisance)
    below = 0.0 if nuisance is None else float(below_baseline_share(endmembers * weights[:, None], nuisance).mean())
    return {"log_volume": float(volume) if np.isfinite(volume) else None, "below_baseline": below}


def verdict(fit: dict[str, float]) -> str:
    """``"objective"`` where the answer fits at least as well as the truth and the effective
    spectra, else ``"optimiser"`` (a better minimum of the same objective exists)."""
    return "objective" if fit["answer"] <= min(fit["truth"], fit["effective"]) else "optimiser"


def run_one(case: str, seed: int, options: dict[str, Any]) -> dict[str, Any]:
    """One scene: the run, the objective of the three sets and each material's angles."""
    import ftir_unmix
    from ftir_unmix.metrics import evaluate, spectral_angles
    from ftir_unmix.preprocess import weighted_nuisance_basis

    scene = blind_scenes.make_blind_scene(case, seed)
    result = ftir_unmix.unmix(ftir_unmix.make_cube(scene.data, scene.wavenumbers), len(scene.names), **options)
    ev = evaluate(scene.endmembers, scene.abundances, result.endmembers, result.abundances)
    matched = np.asarray(result.endmembers, np.float64)[:, np.asarray(ev["permutation"])]
    # the run's pixels are the cube's divided by one number (scaling="global"): the cone fit is blind to it
    pixels = scene.data.reshape(-1, scene.data.shape[-1])
    weights, background = np.asarray(result.weights), result.baseline_basis()
    nuisance = None if background is None else weighted_nuisance_basis(background, weights)
    sets = dict(zip(SETS, (matched, scene.endmembers, scene.effective)))
    fit = fits_deg(pixels, sets, weights, nuisance)
    priors = {name: priors_of(spectra, weights, nuisance) for name, spectra in sets.items()}
    to_truth = np.diag(spectral_angles(scene.endmembers, matched))
    to_effective = np.diag(spectral_angles(scene.effective, matched))
    floor = np.diag(spectral_angles(scene.endmembers, scene.effective))
    return {
        "case": case, "seed": int(seed), "options": options, "fit_deg": fit, "verdict": verdict(fit), "priors": priors,
        "mean_sad_deg": float(ev["mean_sad_deg"]), "mean_to_effective_deg": float(to_effective.mean()),
        "trained_again": bool(result.parameters.get("spare_endmembers")),
        "per_material": {name: {"to_truth_deg": float(to_truth[j]), "to_effective_deg": float(to_effective[j]),
                                "effective_to_truth_deg": float(floor[j])}
                         for j, name in enumerate(scene.names)},
    }


def summary(runs: list[dict[str, Any]]) -> str:
    """Per run and per case: the objective of the three sets, the verdict and the angles."""
    lines = ["| case | seed | mean SAD (to effective) | fit: answer / truth / effective | verdict |",
             "|---|---|---|---|---|"]
    for r in sorted(runs, key=lambda r: (r["case"], r["seed"])):
        f = r["fit_deg"]
        lines.append(f"| {r['case']} | {r['seed']} | {r['mean_sad_deg']:.2f}° ({r['mean_to_effective_deg']:.2f}°) | "
                     f"{f['answer']:.3f} / {f['truth']:.3f} / {f['effective']:.3f}° | {r['verdict']} |")
    lines += ["", "| case | runs | the objective prefers the answer | mean SAD | to effective | "
              "effective to truth (the variability's share) |", "|---|---|---|---|---|---|"]
    for case in sorted({r["case"] for r in runs}):
        rs = [r for r in runs if r["case"] == case]
        names = list(rs[0]["per_material"])
        floor = np.mean([[r["per_material"][n]["effective_to_truth_deg"] for n in names] for r in rs])
        lines.append(f"| {case} | {len(rs)} | {sum(r['verdict'] == 'objective' for r in rs)} | "
                     f"{np.mean([r['mean_sad_deg'] for r in rs]):.2f}° | "
                     f"{np.mean([r['mean_to_effective_deg'] for r in rs]):.2f}° | {floor:.2f}° |")
    lines += ["", "| case | runs | answer less distinct than the effective spectra (log volume; a minimum-volume "
              "prior prefers the answer) | answer further below its baseline (the transparency prior prefers the "
              "effective spectra) |", "|---|---|---|---|"]
    def volume(prior: dict[str, float | None]) -> float:  # None: the spectra are linearly dependent
        return -np.inf if prior["log_volume"] is None else prior["log_volume"]

    for case in sorted({r["case"] for r in runs}):
        rs = [r["priors"] for r in runs if r["case"] == case]
        tighter = sum(volume(p["answer"]) < volume(p["effective"]) for p in rs)
        deeper = sum(p["answer"]["below_baseline"] > p["effective"]["below_baseline"] for p in rs)
        lines.append(f"| {case} | {len(rs)} | {tighter} | {deeper} |")
    lines += ["", "| case | material | to truth | to effective | effective to truth |", "|---|---|---|---|---|"]
    for case in sorted({r["case"] for r in runs}):
        rs = [r for r in runs if r["case"] == case]
        for name in rs[0]["per_material"]:
            v = [r["per_material"][name] for r in rs]
            lines.append(f"| {case} | {name} | {np.mean([x['to_truth_deg'] for x in v]):.1f}° | "
                         f"{np.mean([x['to_effective_deg'] for x in v]):.1f}° | "
                         f"{np.mean([x['effective_to_truth_deg'] for x in v]):.1f}° |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default="all", help="comma-separated blind case names, or 'all'")
    ap.add_argument("--seeds", default="100,101,102,103,104", help="comma-separated seeds (tuning: 100-999)")
    ap.add_argument("--options", nargs="*", default=[], help="key=value options of ftir_unmix.unmix")
    ap.add_argument("--jobs", type=int, default=1, help="parallel processes (at most 2 on a 2-core machine)")
    ap.add_argument("--out", type=Path, help="write the runs here (JSON, rewritten after each run)")
    ap.add_argument("--summary", type=Path, metavar="JSON", help="only print the tables of runs written before")
    args = ap.parse_args(argv)
    if args.summary:
        print(summary(json.loads(args.summary.read_text())["runs"]))
        return 0
    if blind_scenes.shared_data_dir() is None:
        ap.error("no shared data (set FTIR_UNMIX_SHARED_DATA or put it at ../shared/data): the scenes "
                 "would fall back to built-in spectra")
    cases = list(blind_scenes.CASES) if args.cases == "all" else args.cases.split(",")
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    options = parse_options(args.options)
    meta = {"command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
            "machine": machine()}
    runs: list[dict[str, Any]] = []
    with ProcessPoolExecutor(args.jobs, initializer=_init_worker, initargs=(1,)) as pool:
        futures = [pool.submit(run_one, c, s, options) for s in seeds for c in cases]
        for fut in as_completed(futures):
            r = fut.result()
            runs.append(r)
            f = r["fit_deg"]
            print(f"{r['case']} {r['seed']}: {r['mean_sad_deg']:.2f} deg (to effective "
                  f"{r['mean_to_effective_deg']:.2f}); fit {f['answer']:.3f} / {f['truth']:.3f} / "
                  f"{f['effective']:.3f}: {r['verdict']}", flush=True)
            if args.out:
                _write_json(args.out, {**meta, "runs": runs})
    print(summary(runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
