"""The spot check (``spot_check``) against none, paired: one training per scene.

Each scene is unmixed once with the defaults; the input of the run's last step (the polish,
:func:`ftir_unmix.methods.cnn._polished`: the trained spectra and the run's prepared data) is
caught, and the step is done again from it with ``spot_check=True`` (``spot``), and once more
with the swap forced whatever the check's rule says (``forced``), so the variants differ only by
the check; any rule on the check's record (``check``) can then be scored from the same runs.
Writes one JSON line per scene: per variant the mean SAD (degrees, Hungarian-matched), the
abundance RMSE, the per-material figures and the check's record. ``--summary`` prints per-case
means and the sign test (edge_pairs.py's).

Scenes and seeds as in edge_pairs.py (blind seeds below 100 and the family's report seeds only
with ``--report``)::

    OMP_NUM_THREADS=1 python benchmarks/spot_pairs.py --generator blind --seeds 100,101,102,103,104 \\
        --jobs 2 --out benchmarks/results/spot_pairs_blind_tuning100-104_64x256.jsonl
    python benchmarks/spot_pairs.py --summary benchmarks/results/spot_pairs_blind_tuning100-104_64x256.jsonl
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from edge_pairs import _scene, pairs_parser, run_pairs, summary  # noqa: E402
from polish_pairs import _scores  # noqa: E402
from spare_pairs import _drained  # noqa: E402


def run_one(generator: str, case: str, seed: int, variants: list[str], size: dict[str, int]) -> dict[str, Any]:
    """One scene: a default run, its polish's input caught, the polish done again with the check."""
    import ftir_unmix
    from ftir_unmix.methods import cnn
    from ftir_unmix.methods.cnn import spot_check as check

    cube, truth, options = _scene(generator, case, seed, size)
    polished_fn = cnn._polished
    caught: list[tuple[Any, Any, bool, Any]] = []

    def catch(inp: Any, run: Any, checked: bool = False) -> Any:
        out = yield from polished_fn(inp, run, checked)
        caught.append((inp, run, checked, out))
        return out

    cnn._polished = catch
    try:
        r = ftir_unmix.unmix(cube, truth.k, **options)
    finally:
        cnn._polished = polished_fn
    shape = truth.abundances.shape
    line: dict[str, Any] = {"generator": generator, "case": case, "seed": int(seed), "names": list(truth.names),
                            "kept": True, "variants": {"none": _scores(truth, r.endmembers, r.abundances)}}
    inp, run, checked, out = caught[-1]
    if not np.allclose(_scores(truth, out.endmembers, out.abundances.reshape(shape))["per"],
                       line["variants"]["none"]["per"], atol=1e-6):
        raise RuntimeError(f"{case} {seed}: the caught polish differs from the run's result")
    rule = check.swaps
    for name in variants:
        again = dataclasses.replace(inp, config=dataclasses.replace(inp.config, spot_check=True))
        run = dataclasses.replace(run, record=dict(run.record))
        check.swaps = rule if name == "spot" else lambda record: True
        try:
            done = _drained(cnn._polished(again, run, checked))
        finally:
            check.swaps = rule
        line["variants"][name] = {**_scores(truth, done.endmembers, done.abundances.reshape(shape)),
                                  "check": done.record.get("spot_checked")}
    return line


def main(argv: list[str] | None = None) -> int:
    ap = pairs_parser(__doc__.split("\n\n")[0])
    args = ap.parse_args(argv)
    if args.summary:
        summary(args.summary, "none")
        return 0
    if not args.seeds or args.out is None:
        ap.error("--seeds and --out are needed (or --summary)")
    run_pairs(ap, args, run_one, ["spot", "forced"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
