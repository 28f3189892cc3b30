"""Which spectrum a run trained again with a spare drops, paired: the spot term against none.

A run trained again with a spare (``spare_when_needed``) trains K + 1 endmembers and drops the
one the image needs least (:func:`ftir_unmix.methods.cnn.spare.choose_spares`). Each scene is
unmixed once, as a run does it; if it was trained again, the K + 1 training is caught and the
run's end (the drop, then the checked polish) is done again from it once per ``--spot`` value
(``spot_pixels``: 0 for the quantiles alone, 9 for a 3 × 3 spot's growth added), so the
variants differ only by the drop. One value must be the engine's default
(:data:`~ftir_unmix.methods.cnn.spare.SPOT_PIXELS`): its replay is checked against the run.
The summary pairs every value with the first.
Runs not trained again are the same for every variant. Writes one JSON line per scene and,
with ``--summary``, prints per-case means and the pairs' sign test from such files.

Scenes: ``--generator family`` (:mod:`ftir_unmix.scenes`, REPORT_SEEDS only with ``--report``),
``blind`` (``blind_scenes``: seeds 100 and up are its tuning seeds, below 100 only with
``--report``), at 64×256 unless told, or ``inrepo`` (``quality.py``'s cases at default
artefacts and Samson, 64×64, run as it runs them).

Stop 48's report (fresh seeds, nothing chosen on them; run before the spot term became the
default, so with the engine's value then, 0, first; the blind seeds were run as 30–32 and
33–34 with ``--jobs 1`` beside another benchmark, and the two files joined)::

    python benchmarks/spare_pairs.py --generator blind --seeds 30,31,32,33,34 --report --spot 0,9 \\
        --jobs 2 --out benchmarks/results/spare_pairs_blind_seeds30-34_64x256.jsonl
    python benchmarks/spare_pairs.py --generator inrepo --cases layered-k8-noisy --seeds 0,1,2 \\
        --spot 0,9 --out benchmarks/results/spare_pairs_inrepo.jsonl
    python benchmarks/spare_pairs.py --summary benchmarks/results/spare_pairs_*.jsonl
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # one BLAS thread per process, before numpy loads (a run can depend on it)
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import copy
import functools
import json
import sys
from collections.abc import Generator
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from edge_pairs import _scene, pairs_parser, run_pairs  # noqa: E402
from paired_methods import TIE_DEG, sign_test  # noqa: E402
from polish_pairs import _scores  # noqa: E402


def _drained(gen: Generator[Any, None, Any]) -> Any:
    """The return value of a progress generator, its events discarded."""
    try:
        while True:
            next(gen)
    except StopIteration as stop:
        return stop.value


def run_one(generator: str, case: str, seed: int, spots: list[int], size: dict[str, int]) -> dict[str, Any]:
    """One scene, one default run; if it was trained again with a spare, its end done again
    from the caught K + 1 training for every value of ``spots`` (one of them the default's)."""
    import ftir_unmix
    from ftir_unmix.methods import cnn
    from ftir_unmix.methods.cnn.spare import SPOT_PIXELS

    cube, truth, options = _scene(generator, case, seed, size)
    train, with_spares, choose = cnn._train_and_infer, cnn._with_spares, cnn.choose_spares
    caught: dict[str, Any] = {}

    def catch_training(inp: Any) -> Any:
        out = yield from train(inp)
        if inp.config.k == truth.k + 1:
            caught["out"] = copy.deepcopy(out)  # the tail writes into its record
        return out

    def catch_input(inp: Any, count: int, reason: str) -> Any:
        caught["args"] = (inp, count, reason)
        return (yield from with_spares(inp, count, reason))

    cnn._train_and_infer, cnn._with_spares = catch_training, catch_input
    try:
        r = ftir_unmix.unmix(cube, truth.k, **options)
    finally:
        cnn._train_and_infer, cnn._with_spares = train, with_spares
    run = _scores(truth, r.endmembers, r.abundances)
    out: dict[str, Any] = {"generator": generator, "case": case, "seed": int(seed), "names": list(truth.names),
                           "trained_again": "out" in caught, "variants": {}}
    if "out" not in caught:
        out["variants"] = {f"spot{s}": run for s in spots}
        return out
    refinement = caught["out"].record.get("refinement") or {}
    out["refinement"] = {k: refinement.get(k) for k in ("replaced", "accepted")}

    def cached(inp: Any) -> Any:
        return copy.deepcopy(caught["out"])
        yield  # a generator, as the training is

    inp = caught["args"][0]
    for s in spots:
        cnn._train_and_infer, cnn.choose_spares = cached, functools.partial(choose, spot_pixels=s)
        try:
            again = _drained(with_spares(*caught["args"]))
            final = _drained(cnn._polished(inp, again, checked=True))
        finally:
            cnn._train_and_infer, cnn.choose_spares = train, choose
        out["variants"][f"spot{s}"] = {**_scores(truth, final.endmembers, final.abundances),
                                       "dropped": again.record["spare_endmembers"]["dropped"]}
    if not np.allclose(out["variants"][f"spot{SPOT_PIXELS}"]["per"], run["per"], atol=1e-6):
        raise RuntimeError(f"{case} {seed}: the end done again differs from the run's")
    return out


def summary(paths: list[Path]) -> None:
    """Per generator and case, each variant's mean SAD and aRMSE; each against the first, run
    by run (worse / better beyond :data:`TIE_DEG`, sign test), and the runs that differ."""
    lines = [json.loads(line) for p in paths for line in p.read_text().splitlines() if line.strip()]
    for gen in sorted({line["generator"] for line in lines}):
        rows = [line for line in lines if line["generator"] == gen]
        variants = list(rows[0]["variants"])
        rows = [r for r in rows if list(r["variants"]) == variants]
        again = sum(r["trained_again"] for r in rows)
        print(f"\n{gen}: {len(rows)} scenes, {again} trained again with a spare; mean SAD° / aRMSE")
        print("case".ljust(18) + "".join(f"{v:>18s}" for v in variants))
        for case in sorted({r["case"] for r in rows}) + ["all"]:
            sel = [r for r in rows if case in ("all", r["case"])]
            print(case.ljust(18) + "".join(f"{np.mean([r['variants'][v]['mean'] for r in sel]):9.2f} / "
                                           f"{np.mean([r['variants'][v]['rmse'] for r in sel]):.3f}"
                                           for v in variants))
        base = variants[0]
        for v in variants[1:]:
            diffs = np.array([r["variants"][v]["mean"] - r["variants"][base]["mean"] for r in rows])
            worse, better, p = sign_test(diffs)
            print(f"{v} against {base}: {worse} worse, {better} better beyond {TIE_DEG}°, "
                  f"median {np.median(diffs):+.2f}°, sign test p = {p:.3g}")
            for r, d in zip(rows, diffs):
                if abs(d) > TIE_DEG:
                    print(f"  {r['case']} {r['seed']}: {r['variants'][base]['mean']:.2f}° -> "
                          f"{r['variants'][v]['mean']:.2f}°")


def main(argv: list[str] | None = None) -> int:
    ap = pairs_parser(__doc__.split("\n\n")[0])
    ap.add_argument("--spot", default="0,9",
                    help="comma-separated spot_pixels values, the engine's among them; each is paired with the first")
    args = ap.parse_args(argv)
    if args.summary:
        summary(args.summary)
        return 0
    if not args.seeds or args.out is None:
        ap.error("--seeds and --out are needed (or --summary)")
    from ftir_unmix.methods.cnn.spare import SPOT_PIXELS

    spots = [int(s) for s in args.spot.split(",")]
    if SPOT_PIXELS not in spots:
        ap.error(f"--spot must hold the run's own value, the engine's default {SPOT_PIXELS}")
    run_pairs(ap, args, run_one, spots)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
