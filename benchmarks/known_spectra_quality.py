"""What known spectra mend on the independent scene family or the blind scenes (docs/benchmarks.md,
"Known spectra").

For every case and seed the CNN runs with library defaults, once without known spectra and
once per ``--counts`` entry with that many of the scene's materials given as lab references
(chosen at random, seeded by the scene's seed). A lab reference is not the truth:
:func:`lab_reference` distorts the true spectrum as another instrument and another sample
would (band axis shifted by a smooth 2–6 cm⁻¹, relative intensities by a smooth ±20 %, a
sloped offset), which puts it 2–13° from the truth as the loss sees it.

Seeds: tune on ``TUNING_SEEDS`` (0–4) only; ``REPORT_SEEDS`` need ``--report``. With
``--generator blind`` (:mod:`blind_scenes`) the tuning seeds are 100–999 and the others need
``--report``.

Example::

    python benchmarks/known_spectra_quality.py --cases nopure-k4,nopure-k6 --seeds 0,1,2 \\
        --counts 1,2 --jobs 2 --json benchmarks/results/known_tuning.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from edge_pairs import _scene, generator_seeds  # noqa: E402
from scenes_quality import _init_worker, machine, parse_options, refuse_without_shared_data  # noqa: E402


def lab_reference(wavenumbers: np.ndarray, spectrum: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A lab's reference spectrum of a material whose true spectrum is ``spectrum``.

    The band axis is shifted by ``s + t·sin(…)`` cm⁻¹ (``s`` in ±4, ``t`` in ±2), the
    relative intensities are scaled by ``exp(0.2 sin(…))`` (slow, 1–4 periods over the
    range) and a sloped offset of 0–5 % plus 2–8 % of the maximum is added.
    """
    wn = np.asarray(wavenumbers, np.float64)
    u = (wn - wn.min()) / (wn.max() - wn.min())
    shift = rng.uniform(-4, 4) + rng.uniform(-2, 2) * np.sin(2 * np.pi * u * rng.uniform(0.5, 2) + rng.uniform(0, 6))
    y = np.interp(wn + shift, wn, spectrum)
    y *= np.exp(0.2 * np.sin(2 * np.pi * u * rng.uniform(1, 4) + rng.uniform(0, 6)))
    return y + spectrum.max() * (rng.uniform(0.02, 0.08) * u + rng.uniform(0.0, 0.05))


def seen_angle(wavenumbers: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Angle (degrees) between two spectra with their quadratic parts removed (as the default loss sees them
    with every band weight 1)."""
    from ftir_unmix.metrics import spectral_angles
    from ftir_unmix.preprocess import as_seen, polynomial_basis, weighted_nuisance_basis

    ones = np.ones(len(wavenumbers))
    pair = as_seen(np.stack([a, b], 1), None, weighted_nuisance_basis(polynomial_basis(wavenumbers, 2), ones))
    return float(spectral_angles(pair[:, :1], pair[:, 1:])[0, 0])


def run_one(case: str, seed: int, count: int, options: dict[str, Any], size: dict[str, int | None],
            generator: str = "family") -> dict[str, Any]:
    """One scene of ``generator`` (``"family"`` or ``"blind"``), ``count`` of its materials known;
    per-material angles to the truth."""
    from ftir_unmix import KnownSpectra, unmix
    from ftir_unmix.metrics import evaluate

    cube, scene, _ = _scene(generator, case, seed, size)
    wn = cube.wavenumbers
    rng = np.random.default_rng([seed, count])
    chosen = sorted(int(j) for j in rng.choice(scene.k, count, replace=False)) if count else []
    refs = np.stack([lab_reference(wn, scene.endmembers[:, j], rng) for j in chosen], 1) if chosen else None
    known = KnownSpectra.from_arrays([scene.names[j] for j in chosen], wn, refs) if chosen else None
    t0 = time.perf_counter()
    result = unmix(cube, scene.k, known=known, **options)
    ev = evaluate(scene.endmembers, scene.abundances, result.endmembers, result.abundances)
    sad = [float(v) for v in ev["per_endmember_sad_deg"]]
    return {
        "generator": generator, "case": case, "seed": seed, "count": count, "options": options,
        "time_s": round(time.perf_counter() - t0, 2),
        "mean_sad_deg": float(np.mean(sad)), "abundance_rmse": float(ev["abundance_rmse"]),
        "names": list(scene.names), "sad_deg": sad, "known": [scene.names[j] for j in chosen],
        "reference_vs_truth_deg": [seen_angle(wn, scene.endmembers[:, j], refs[:, i]) for i, j in enumerate(chosen)],
        "ended_from_reference_deg": result.parameters.get("known_spectra", {}).get("angle_deg", []),
    }


def summary(runs: list[dict[str, Any]]) -> str:
    """Per case and count: mean SAD over seeds, of all materials, of the known ones and of the others."""
    lines = ["| case | known | seeds | mean SAD | known materials | the others | reference vs truth |",
             "|---|---|---|---|---|---|---|"]
    for case in dict.fromkeys(r["case"] for r in runs):
        for count in sorted({r["count"] for r in runs if r["case"] == case}):
            sel = [r for r in runs if r["case"] == case and r["count"] == count]
            known = [s for r in sel for n, s in zip(r["names"], r["sad_deg"]) if n in r["known"]]
            other = [s for r in sel for n, s in zip(r["names"], r["sad_deg"]) if n not in r["known"]]
            refs = [a for r in sel for a in r["reference_vs_truth_deg"]]

            def mean(v: list[float]) -> str:
                return f"{np.mean(v):.2f}°" if v else "–"
            lines.append(f"| {case} | {count} | {len(sel)} | {mean([r['mean_sad_deg'] for r in sel])} | "
                         f"{mean(known)} | {mean(other)} | {mean(refs)} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--generator", choices=("family", "blind"), default="family")
    ap.add_argument("--cases", default="nopure-k4,nopure-k6", help="comma-separated case names")
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds")
    ap.add_argument("--counts", default="1,2", help="how many materials are known (0, without, is always run)")
    ap.add_argument("--options", nargs="*", default=[], metavar="KEY=VALUE", help="unmix options")
    ap.add_argument("--height", type=int, default=64)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1, help="torch threads per process")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--report", action="store_true", help="allow REPORT_SEEDS")
    args = ap.parse_args(argv)
    refuse_without_shared_data(ap)
    seeds = generator_seeds(ap, args.generator, args.seeds, args.report)
    options = parse_options(args.options)
    size = {"height": args.height, "width": args.width}
    jobs = [(c, s, n) for c in args.cases.split(",") for s in seeds
            for n in sorted({0, *(int(v) for v in args.counts.split(","))})]
    runs: list[dict[str, Any]] = []
    with ProcessPoolExecutor(args.jobs, initializer=_init_worker, initargs=(args.threads,)) as pool:
        futures = [pool.submit(run_one, c, s, n, options, size, args.generator) for c, s, n in jobs]
        for fut in as_completed(futures):
            r = fut.result()
            runs.append(r)
            print(f"{r['case']:<14} seed {r['seed']:<5} known {r['count']}  SAD {r['mean_sad_deg']:6.2f}°  "
                  f"{r['time_s']:.0f}s", flush=True)
            if args.json:
                args.json.write_text(json.dumps({
                    "command": " ".join([Path(sys.argv[0]).name, *(argv or sys.argv[1:])]),
                    "machine": machine(), "runs": runs}, indent=1))
    runs.sort(key=lambda r: (r["case"], r["count"], r["seed"]))
    print(summary(runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
