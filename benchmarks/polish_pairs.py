"""The polish of the spectra (``polish``) against none, paired: one training per scene.

Each scene of the independent family (:mod:`ftir_unmix.scenes`) is unmixed once with
``polish=0``; the same result is then polished as a run does it
(:func:`ftir_unmix.methods.cnn.cone_polish.polish`) for each iteration count and each
``--variants`` asked for: plain (``polishN``), the spectra's slopes free per pixel
(``polish_shifts``, ``polishN-shifts``), or each spectrum moved by at most D cm⁻¹
(``polish_band_shift``, ``polishN-bD``; ``bD/T`` with the dead zone fixed at T, ``bD/nC`` with
it C times the image's noise, at least ``MOVE_DEAD_ZONE``); a suffix ``+P`` goes on to P
iterations in all where no endmember has nearly pure pixels (``polish_no_pure``; ``b2+300``),
so the variants differ only by the polish. Writes one JSON line per scene: per variant the
mean SAD (degrees, Hungarian-matched), the abundance RMSE and the per-material figures. With
``--cache DIR`` the unpolished runs are kept there and read back by the next sweep of the same
scenes (same loss and size): a sweep of polish settings then takes minutes.

Seeds: as in ``scenes_quality.py``, REPORT_SEEDS only with ``--report``.

Stop 41's pairs (the twenty-fourth report: the default before it, ``b2``, against the default
with the further iterations, ``b2+300``; the same with ``--loss sad``)::

    OMP_NUM_THREADS=1 python benchmarks/polish_pairs.py --seeds 9131,9132,9133,9134,9135 --report \
        --variants b2,b2+300 --jobs 2 --out benchmarks/results/polish_pairs_fresh24_64x256.jsonl

Example (the eighteenth report, docs/benchmarks.md; made before ``polish_shifts``, so it has
no ``-shifts`` variants; the nineteenth's is ``polish_pairs_fresh19_64x256.jsonl``, stop 38's
``polish_pairs_fresh22_64x256.jsonl`` with ``--variants plain,b2,shifts``)::

    OMP_NUM_THREADS=1 python benchmarks/polish_pairs.py --seeds 9086,9087,9088,9089,9090 --report \\
        --iterations 10,30 --jobs 2 --out benchmarks/results/polish_pairs_fresh18_64x256.jsonl
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
from scenes_quality import _init_worker, checked_seeds, refuse_without_shared_data  # noqa: E402


def _scores(scene: Any, endmembers: np.ndarray, abundances: np.ndarray) -> dict[str, Any]:
    from ftir_unmix.metrics import evaluate

    ev = evaluate(scene.endmembers, scene.abundances, endmembers, abundances)
    perm = np.asarray(ev["permutation"])
    truth = scene.abundances.reshape(scene.k, -1)
    est = np.asarray(abundances).reshape(scene.k, -1)[perm]
    return {"mean": float(ev["mean_sad_deg"]), "rmse": float(ev["abundance_rmse"]),
            "per": [float(v) for v in ev["per_endmember_sad_deg"]],
            "per_rmse": [float(v) for v in np.sqrt(np.mean((truth - est) ** 2, axis=1))]}


def _unpolished(scene: Any, loss: str, cache: Path | None, name: str) -> dict[str, np.ndarray]:
    """The scene's run without the polish: its spectra, maps, band weights and background basis
    (empty: none), read from ``cache`` where an earlier sweep left it there."""
    import ftir_unmix

    path = None if cache is None else cache / f"{name}.npz"
    if path is not None and path.exists():
        with np.load(path) as saved:
            return dict(saved)
    r = ftir_unmix.unmix(scene.cube, scene.k, loss=loss, polish=0)
    background = r.baseline_basis()
    run = {"endmembers": np.asarray(r.endmembers, np.float64), "abundances": np.asarray(r.abundances),
           "weights": np.asarray(r.weights), "background": np.zeros((0, 0)) if background is None else background}
    if path is not None:
        np.savez(path, **run)
    return run


def _zone_setting(zone: str, defaults: tuple[float, float]) -> tuple[float, float]:
    """``(MOVE_DEAD_ZONE, DEAD_ZONE_PER_NOISE)`` for a variant's zone: "" the defaults, "T" fixed
    at T, "nC" C times the noise (at least the default least zone)."""
    if not zone:
        return defaults
    if zone.startswith("n"):
        return defaults[0], float(zone[1:])
    return float(zone), 0.0


def run_one(case: str, seed: int, loss: str, iterations: list[int], variants: list[str],
            size: dict[str, int], cache: Path | None = None) -> dict[str, Any]:
    """One scene: trained once without the polish, then polished ``iterations`` times, each of
    ``variants``: ``plain``, ``shifts`` (the slopes free) or ``bD`` (each spectrum moved by at most
    D cm⁻¹; ``bD/T`` with the dead zone fixed at T, ``bD/nC`` with it C times the noise), each
    with ``+P``: on to P iterations in all where no endmember has nearly pure pixels."""
    from ftir_unmix.methods.cnn import cone_polish
    from ftir_unmix.methods.cnn.cone_polish import polish
    from ftir_unmix.preprocess import axis_step, weighted_nuisance_basis
    from ftir_unmix.scenes import make_scene

    scene = make_scene(case, seed, **size)
    r = _unpolished(scene, loss, cache, f"{case}_{seed}_{loss}_{size['height']}x{size['width']}")
    out = {"case": case, "seed": seed, "loss": loss, "names": scene.names, "minors": scene.info["minors"],
           "variants": {"none": _scores(scene, r["endmembers"], r["abundances"])}}
    # The run's pixels are the cube's divided by one number (scaling="global"), to which the
    # cone fit and the maps (scaled to sum to one) are blind.
    pixels = np.asarray(scene.cube.data, np.float32).reshape(-1, scene.cube.shape[-1])
    background = r["background"] if r["background"].size else None
    nuisance = None if background is None else weighted_nuisance_basis(background, r["weights"])
    spacing = axis_step(scene.cube.wavenumbers)
    defaults = cone_polish.MOVE_DEAD_ZONE, cone_polish.DEAD_ZONE_PER_NOISE
    for n in iterations:
        for name_v in variants:
            name = f"polish{n}" if name_v == "plain" else f"polish{n}-{name_v}"
            v, _, no_pure = name_v.partition("+")
            move, _, zone = v[1:].partition("/")
            bounded = float(move) / spacing if v.startswith("b") else 0.0
            cone_polish.MOVE_DEAD_ZONE, cone_polish.DEAD_ZONE_PER_NOISE = _zone_setting(zone, defaults)
            t = time.perf_counter()
            e, maps, record = polish(pixels, r["endmembers"], r["weights"], nuisance,
                                     background, iterations=n, no_pure_iterations=int(no_pure or 0),
                                     shifts=v == "shifts", bounded=bounded)
            out["variants"][name] = {**_scores(scene, e, maps.reshape(scene.abundances.shape)), **record,
                                     "polish_s": time.perf_counter() - t}
    return out


def main(argv: list[str] | None = None) -> int:
    from ftir_unmix.scenes import CASES

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default="all", help="comma-separated case names, or 'all'")
    ap.add_argument("--seeds", required=True, help="comma-separated seeds")
    ap.add_argument("--loss", default="wsad", choices=("wsad", "sad"))
    ap.add_argument("--iterations", default="30", help="comma-separated polish iterations to compare with none")
    ap.add_argument("--variants", default="plain,shifts",
                    help="comma-separated: plain, shifts (slopes free), bD (bands moved by at most D cm⁻¹), "
                         "bD/T (... with the dead zone fixed at T), bD/nC (... with it C times the noise); "
                         "each with +P: on to P iterations where no endmember has nearly pure pixels")
    ap.add_argument("--height", type=int, default=64)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True, help="JSON lines, appended as scenes finish")
    ap.add_argument("--report", action="store_true", help="allow REPORT_SEEDS")
    ap.add_argument("--cache", type=Path, help="folder for the unpolished runs: kept, and read back by later sweeps")
    args = ap.parse_args(argv)
    refuse_without_shared_data(ap)
    cases = list(CASES) if args.cases == "all" else args.cases.split(",")
    seeds = checked_seeds(ap, args.seeds, args.report)
    iterations = [int(v) for v in args.iterations.split(",")]
    size = {"height": args.height, "width": args.width}
    variants = args.variants.split(",")
    if args.cache is not None:
        args.cache.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(args.jobs, initializer=_init_worker, initargs=(1,)) as ex, args.out.open("a") as f:
        futures = [ex.submit(run_one, c, s, args.loss, iterations, variants, size, args.cache)
                   for s in seeds for c in cases]
        for future in as_completed(futures):
            line = future.result()
            f.write(json.dumps(line) + "\n")
            f.flush()
            print(line["case"], line["seed"], {k: round(v["mean"], 2) for k, v in line["variants"].items()}, flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
