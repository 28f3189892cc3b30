"""A run trained again ending with the two runs' spectra pooled (``spare_pool``), paired with its own end.

Each scene is unmixed once with ``spare_pool=True``. Where the run was trained again with a
spare, the two ends the option chooses between are caught
(:func:`ftir_unmix.methods.cnn._better_fit`) and scored: ``default`` (the second run's spectra,
polished: what the engine's default returns), ``pool`` (the pooled spectra, polished, taken
always) and ``checked`` (the option: the pool only where it fits the image better; checked
against the run's result). Runs not trained again are the same for all three. Writes one JSON
line per scene and, with ``--summary``, prints per-case means and the pairs' sign test
(``spare_pairs.summary``).

Stop 51's report (fresh seeds, nothing chosen on them)::

    python benchmarks/pool_pairs.py --generator blind --seeds 45,46,47,48,49 --report --jobs 2 \\
        --out benchmarks/results/pool_pairs_blind_seeds45-49_64x256.jsonl
    python benchmarks/pool_pairs.py --summary benchmarks/results/pool_pairs_*.jsonl
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
from spare_pairs import summary  # noqa: E402

VARIANTS = ("default", "pool", "checked")


def run_one(generator: str, case: str, seed: int, variants: Any, size: dict[str, int]) -> dict[str, Any]:
    """One scene, one run with ``spare_pool``; where it was trained again, both ends scored."""
    import ftir_unmix
    from ftir_unmix.methods import cnn

    cube, truth, options = _scene(generator, case, seed, size)
    better_fit, pooled = cnn._better_fit, cnn._pooled
    caught: dict[str, Any] = {}

    def catch_ends(inp: Any, run: Any, other: Any) -> Any:
        chosen, fits = better_fit(inp, run, other)
        caught.update(run=run, other=other, fits=fits)
        return chosen, fits

    def timed(*args: Any) -> Any:
        t = time.perf_counter()
        out = yield from pooled(*args)
        caught["pool_s"] = time.perf_counter() - t
        return out

    cnn._better_fit, cnn._pooled = catch_ends, timed
    t = time.perf_counter()
    try:
        r = ftir_unmix.unmix(cube, truth.k, **options, spare_pool=True)
    finally:
        cnn._better_fit, cnn._pooled = better_fit, pooled
    run = _scores(truth, r.endmembers, r.abundances)
    out: dict[str, Any] = {"generator": generator, "case": case, "seed": int(seed), "names": list(truth.names),
                           "trained_again": "run" in caught, "run_s": time.perf_counter() - t, "variants": {}}
    if "run" not in caught:
        out["variants"] = dict.fromkeys(VARIANTS, run)
        return out
    default, pool = (_scores(truth, caught[k].endmembers, caught[k].abundances) for k in ("run", "other"))
    out["fits_deg"], out["pool_s"] = caught["fits"], caught["pool_s"]
    out["variants"] = {"default": default, "pool": pool, "checked": run}
    chosen = pool if caught["fits"][1] < caught["fits"][0] else default
    if not np.allclose(chosen["per"], run["per"], atol=1e-6):
        raise RuntimeError(f"{case} {seed}: the run's result is neither end")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = pairs_parser(__doc__.split("\n\n")[0])
    args = ap.parse_args(argv)
    if args.summary:
        summary(args.summary)
        return 0
    if not args.seeds or not args.out:
        ap.error("--seeds and --out are required unless --summary")
    run_pairs(ap, args, run_one, list(VARIANTS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
