"""Where a run trained again with a spare starts: fresh warm starts (the default) against the first run's spectra.

Each scene is unmixed with the defaults; if the run was trained again with a spare
(``spare_when_needed``), it is unmixed once more with ``spare_start="first"`` in the same
process (the first run is the same, so the two differ only by the second). Runs not trained
again are the same for both. One JSON line per scene: each variant's mean SAD, abundance RMSE,
per-material angles and wall time. Run both variants on one machine in one session: the same
code gave one blind scene 12.06° and 23.26° in two sessions (stop 50), so a run paired with a
stored one from another session measures the machine as much as the change.

Stop 50's report (fresh seeds, nothing chosen on them)::

    python benchmarks/spare_start_pairs.py --generator blind --seeds 40,41,42,43,44 --report --jobs 2 \\
        --out benchmarks/results/spare_start_pairs_blind_seeds40-44_64x256.jsonl
    python benchmarks/spare_start_pairs.py --generator family --seeds 9161,9162,9163,9164,9165 --report \\
        --jobs 2 --out benchmarks/results/spare_start_pairs_fresh9161-9165_64x256.jsonl
    python benchmarks/spare_start_pairs.py --summary benchmarks/results/spare_start_pairs_*.jsonl
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from edge_pairs import _scene, pairs_parser, run_pairs  # noqa: E402
from polish_pairs import _scores  # noqa: E402
from spare_pairs import summary  # noqa: E402


def run_one(generator: str, case: str, seed: int, variants: list[str], size: dict[str, int]) -> dict[str, Any]:
    """One scene with the defaults and, if it was trained again, with ``spare_start="first"``."""
    import ftir_unmix

    cube, truth, options = _scene(generator, case, seed, size)
    out: dict[str, Any] = {"generator": generator, "case": case, "seed": int(seed), "names": list(truth.names),
                           "variants": {}}
    for name in ("fresh", *variants):
        t = time.perf_counter()
        r = ftir_unmix.unmix(cube, truth.k, **options, **({} if name == "fresh" else {"spare_start": name}))
        out["variants"][name] = {**_scores(truth, r.endmembers, r.abundances), "time_s": time.perf_counter() - t}
        if name == "fresh":
            out["trained_again"] = "spare_endmembers" in r.parameters
            if not out["trained_again"]:  # the option changes nothing
                out["variants"].update({v: out["variants"]["fresh"] for v in variants})
                break
    return out


def main(argv: list[str] | None = None) -> int:
    ap = pairs_parser(__doc__.split("\n\n")[0])
    args = ap.parse_args(argv)
    if args.summary:
        summary(args.summary)
        return 0
    if not args.seeds or args.out is None:
        ap.error("--seeds and --out are needed (or --summary)")
    run_pairs(ap, args, run_one, ["first"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
