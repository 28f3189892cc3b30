"""The restarts' choice (``restart_margin``) paired: one run per scene, a second only where it chose otherwise.

Each scene is unmixed with the first ``--margins`` value; every choice among restarts it made (the
first run's and, where it was trained again with a spare, the second's) is caught with each
restart's fit and :func:`~ftir_unmix.metrics.log_volume`. For every other margin the same choices
are made again from those figures (:func:`~ftir_unmix.methods.cnn.chosen_restart`): where each
would be the same the run would be too (a run is deterministic at one thread) and its scores are
copied (``"same": true``); otherwise the scene is unmixed again with that margin. Writes one
JSON line per scene: per variant (``margin<m>``; ``none`` for 0, the default) the mean SAD
(degrees, Hungarian-matched), the abundance RMSE, the per-material figures and the choices.
``--summary`` prints per-case means and the sign test (edge_pairs.py's).

Scenes and seeds as in edge_pairs.py (blind seeds below 100 and from 1000 on, and the family's
report seeds, only with ``--report``)::

    OMP_NUM_THREADS=1 python benchmarks/restart_pairs.py --generator blind --seeds 113,114,115,116,117 \\
        --margins 0.03,0 --jobs 2 --out benchmarks/results/restart_pairs_blind_tuning113-117_64x256.jsonl
    python benchmarks/restart_pairs.py --summary benchmarks/results/restart_pairs_blind_tuning113-117_64x256.jsonl
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from edge_pairs import _scene, pairs_parser, run_pairs, summary  # noqa: E402
from polish_pairs import _scores  # noqa: E402


def _unmixed(generator: str, case: str, seed: int, margin: float, size: dict[str, int]
             ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The scene unmixed with ``restart_margin=margin``: its scores and every restart choice made."""
    import ftir_unmix
    from ftir_unmix.methods import cnn

    cube, truth, options = _scene(generator, case, seed, size)
    restarts = cnn._restarts
    choices: list[dict[str, Any]] = []

    def catch(run: Any, inp: Any, starts: Any, record: dict[str, Any]) -> Any:
        kept = yield from restarts(run, inp, starts, record)
        choices.append({k: record["restart_runs"][k] for k in ("fit_deg", "log_volume", "chosen")})
        return kept

    cnn._restarts = catch
    try:
        r = ftir_unmix.unmix(cube, truth.k, restart_margin=margin, **options)
    finally:
        cnn._restarts = restarts
    return _scores(truth, r.endmembers, r.abundances), choices


def _name(margin: float) -> str:
    """A variant's name: ``none`` for the library's default (0), else ``margin<m>``."""
    return "none" if margin == 0 else f"margin{margin:g}"


def run_one(generator: str, case: str, seed: int, margins: list[float], size: dict[str, int]) -> dict[str, Any]:
    """One scene: a run with the first of ``margins``, again with each other one that would choose otherwise."""
    from ftir_unmix.methods.cnn import chosen_restart

    scores, choices = _unmixed(generator, case, seed, margins[0], size)
    line: dict[str, Any] = {"generator": generator, "case": case, "seed": int(seed), "kept": True,
                            "variants": {_name(margins[0]): {**scores, "choices": choices}}}
    for m in margins[1:]:
        same = all(chosen_restart(c["fit_deg"], {n: -math.inf if v is None else v for n, v in c["log_volume"].items()},
                                  m) == c["chosen"] for c in choices)
        if same:
            line["variants"][_name(m)] = {**scores, "choices": choices, "same": True}
        else:
            again, redone = _unmixed(generator, case, seed, m, size)
            line["variants"][_name(m)] = {**again, "choices": redone, "same": False}
    return line


def main(argv: list[str] | None = None) -> int:
    ap = pairs_parser(__doc__.split("\n\n")[0])
    ap.add_argument("--margins", default="0.03,0",
                    help="comma-separated restart_margin values; the first is run on every scene")
    args = ap.parse_args(argv)
    if args.summary:
        summary(args.summary, "none")
        return 0
    if not args.seeds or args.out is None:
        ap.error("--seeds and --out are needed (or --summary)")
    run_pairs(ap, args, run_one, [float(m) for m in args.margins.split(",")])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
