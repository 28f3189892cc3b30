"""A run trained again ending with the two runs' spectra pooled (``spare_pool``), paired with its own end.

Each scene is unmixed once with ``spare_pool=True``. Where the run was trained again with a
spare, the pool's step (:func:`ftir_unmix.methods.cnn._pooled`) is caught and both ends are
scored: ``default`` (the second run's spectra, polished: what a run without the option
returns) and ``pool`` (the option's, checked against the run's result). Runs not trained
again are the same for both. Writes one JSON line per scene (with the seconds the run and the
pool's step took) and, with ``--summary``, prints per-case means and the pairs' sign test
(``spare_pairs.summary``).

Stop 51's reports (fresh seeds; at 63c395a, where the option also had a third end, the pool
only where its cone fit beat the run's, ``checked``; stop 51 removed that)::

    python benchmarks/pool_pairs.py --generator blind --seeds 45,46,47,48,49 --report --jobs 2 \
        --out benchmarks/results/pool_pairs_blind_seeds45-49_64x256.jsonl
    python benchmarks/pool_pairs.py --generator family --seeds 9166,9167,9168,9169,9170 --report --jobs 2 \
        --out benchmarks/results/pool_pairs_fresh9166-9170_64x256.jsonl
    # at ded3e56 (the pool always):
    python benchmarks/pool_pairs.py --generator blind --seeds 50,51,52,53,54 --report --jobs 2 \
        --out benchmarks/results/pool_pairs_blind_seeds50-54_64x256.jsonl
    # with --distinct (this file's commit; the engine as at ded3e56):
    python benchmarks/pool_pairs.py --generator blind --seeds 55,56,57,58,59 --report --jobs 2 --distinct 15 \
        --out benchmarks/results/pool_pairs_blind_seeds55-59_64x256.jsonl
    python benchmarks/pool_pairs.py --summary benchmarks/results/pool_pairs_blind_seeds55-59_64x256.jsonl
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
from edge_pairs import _scene, pairs_parser, run_pairs  # noqa: E402
from polish_pairs import _scores  # noqa: E402
from spare_pairs import _drained, summary  # noqa: E402

VARIANTS = ("default", "pool")


def _distinct(first: np.ndarray, trained: np.ndarray, bad: int, degrees: float) -> np.ndarray:
    """``first`` with each spectrum (but ``bad``) within ``degrees`` of one of ``trained`` replaced
    by that one: an exact copy, which the cut drops first at no cost, so that only the first
    run's spectra unlike any of the second's enter the pool."""
    from ftir_unmix.metrics import spectral_angles

    angles = spectral_angles(first, trained)  # degrees
    out = first.copy()
    for j in range(first.shape[1]):
        if j != bad and angles[j].min() < degrees:
            out[:, j] = trained[:, int(np.argmin(angles[j]))]
    return out


def run_one(generator: str, case: str, seed: int, variants: list[str], size: dict[str, int]) -> dict[str, Any]:
    """One scene, one run with ``spare_pool``; where it was trained again, both ends scored, and
    the pool again with only the first run's distinct spectra for every ``distinctD`` in ``variants``."""
    import ftir_unmix
    from ftir_unmix.methods import cnn

    cube, truth, options = _scene(generator, case, seed, size)
    pooled = cnn._pooled
    caught: dict[str, Any] = {}

    def catch(inp: Any, first: Any, bad: int, trained: Any, final: Any) -> Any:
        t = time.perf_counter()
        caught["default"] = _scores(truth, final.endmembers, final.abundances)
        caught["pool"] = yield from pooled(inp, first, bad, trained, final)
        caught["pool_s"] = time.perf_counter() - t
        for v in variants[2:]:
            end = _drained(pooled(inp, _distinct(first, trained, bad, float(v.removeprefix("distinct"))),
                                 bad, trained, final))
            caught[v] = _scores(truth, end.endmembers, end.abundances)
        return caught["pool"]

    cnn._pooled = catch
    t = time.perf_counter()
    try:
        r = ftir_unmix.unmix(cube, truth.k, **options, spare_pool=True)
    finally:
        cnn._pooled = pooled
    run = _scores(truth, r.endmembers, r.abundances)
    out: dict[str, Any] = {"generator": generator, "case": case, "seed": int(seed), "names": list(truth.names),
                           "trained_again": "pool" in caught, "run_s": time.perf_counter() - t, "variants": {}}
    if "pool" not in caught:
        out["variants"] = dict.fromkeys(variants, run)
        return out
    pool = caught["pool"]
    if not np.allclose(_scores(truth, pool.endmembers, pool.abundances)["per"], run["per"], atol=1e-6):
        raise RuntimeError(f"{case} {seed}: the run's result is not the pool's end")
    out["pool_s"] = caught["pool_s"]
    out["variants"] = {"default": caught["default"], "pool": run, **{v: caught[v] for v in variants[2:]}}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = pairs_parser(__doc__.split("\n\n")[0])
    ap.add_argument("--distinct", default="",
                    help="comma-separated angles (degrees): also the pool with only the first run's spectra "
                         "farther than that from all of the second run's")
    args = ap.parse_args(argv)
    if args.summary:
        summary(args.summary)
        return 0
    if not args.seeds or not args.out:
        ap.error("--seeds and --out are required unless --summary")
    run_pairs(ap, args, run_one, [*VARIANTS, *(f"distinct{d}" for d in args.distinct.split(",") if d)])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
