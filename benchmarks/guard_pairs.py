"""The polish of a run trained again with a spare, redone with other guards, paired.

A run trained again with a spare (``spare_when_needed``) is polished under a guard: no
spectrum may become what sent it back (``polish_guard``: vapour lines and a difference
spectrum, or vapour lines only); a spectrum that does is held as trained and the others are
polished again around it, ``polish_holds`` times, before the polish is dropped. Each scene
is unmixed once with the defaults; the checked polish's input (the trained spectra after the
spare was dropped) is caught on the way and the checked polish done again for every
``--variants`` entry (``:``-joined ``name=value`` settings of those parameters; ``default``:
the run's own). Writes one JSON line per scene; ``--summary`` prints per-case means and the
pairs' sign test against ``--base``. Scenes as in :mod:`edge_pairs` (``--generator``).

Stop 56's runs (tuning seeds first; fresh seeds with the rule fixed before they were run).
They were run while the old guard was the default, as
``V=default,polish_holds=3,polish_guard=vapour,polish_guard=vapour:polish_holds=3``; with
``polish_guard="vapour"`` the default, the same comparison is::

    V=default,polish_guard=vapour+difference,polish_guard=vapour+difference:polish_holds=3
    python benchmarks/guard_pairs.py --generator blind --seeds 86,87,88,89,90,91,92,93,94,95 --report \\
        --variants $V --jobs 2 --out benchmarks/results/guard_blind_seeds86-95_64x256.jsonl
    python benchmarks/guard_pairs.py --generator family --seeds 9191,9192,9193,9194,9195 --report \\
        --variants $V --jobs 2 --out benchmarks/results/guard_fresh9191-9195_64x256.jsonl
    python benchmarks/guard_pairs.py --summary benchmarks/results/guard_blind_seeds86-95_64x256.jsonl

Stop 67's fresh runs of ``polish_guard="vapour+deepened"`` (the rule in commit bc8e8fd)::

    V=default,polish_guard=vapour+deepened
    python benchmarks/guard_pairs.py --generator inrepo --cases layered-k6-strong,patches-k6-measured-strong \\
        --seeds 3,4,5 --variants $V --jobs 2 --out benchmarks/results/deepened_inrepo_strong3-5.jsonl
    python benchmarks/guard_pairs.py --generator blind --seeds 1055,1056,1057,1058,1059 --report --variants $V \\
        --jobs 2 --out benchmarks/results/deepened_blind_seeds1055-1059_64x256.jsonl
    python benchmarks/guard_pairs.py --generator family --seeds 9231,9232,9233,9234,9235 --report --variants $V \\
        --jobs 2 --out benchmarks/results/deepened_fresh9231-9235_64x256.jsonl
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # one BLAS thread per process, before numpy loads (a run can depend on it)
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import copy
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from edge_pairs import _scene, pairs_parser, run_pairs  # noqa: E402
from paired_methods import TIE_DEG, sign_test  # noqa: E402
from polish_pairs import _scores  # noqa: E402
from scenes_quality import parse_options  # noqa: E402
from spare_pairs import _drained  # noqa: E402


def settings(spec: str) -> dict[str, Any]:
    """A ``--variants`` entry -> the config settings it changes (``default``: none)."""
    return {} if spec == "default" else parse_options(spec.split(":"))


def run_one(generator: str, case: str, seed: int, variants: list[str], size: dict[str, int]) -> dict[str, Any]:
    """One scene, one default run; its checked polish caught and done again for every variant."""
    import ftir_unmix
    from ftir_unmix.methods import cnn

    cube, truth, options = _scene(generator, case, seed, size)
    polished_fn = cnn._polished
    caught: list[tuple[Any, Any]] = []

    def catch(inp: Any, out: Any, checked: bool = False) -> Any:
        if checked:
            caught.append((inp, copy.deepcopy(out)))
        return polished_fn(inp, out, checked)

    cnn._polished = catch
    try:
        r = ftir_unmix.unmix(cube, truth.k, **options)
    finally:
        cnn._polished = polished_fn
    shape = truth.abundances.shape
    line: dict[str, Any] = {"generator": generator, "case": case, "seed": int(seed), "names": list(truth.names),
                            "checked": bool(caught), "variants": {}}
    for spec in variants:
        if not caught:  # not trained again: no checked polish, every variant is the run
            line["variants"][spec] = _scores(truth, r.endmembers, r.abundances)
            continue
        inp, out = caught[-1]
        inp = dataclasses.replace(inp, config=dataclasses.replace(inp.config, **settings(spec)))
        done = _drained(polished_fn(inp, copy.deepcopy(out), True))
        polished = done.record.get("polished") or {}
        line["variants"][spec] = {**_scores(truth, done.endmembers, done.abundances.reshape(shape)),
                                  "kept": polished.get("kept", True),
                                  "held": (polished.get("held") or {}).get("columns")}
    if caught:
        line["trained"] = _scores(truth, caught[-1][1].endmembers, caught[-1][1].abundances.reshape(shape))
    own = line["variants"].get("default")
    if own is not None and not np.allclose(own["per"], _scores(truth, r.endmembers, r.abundances)["per"], atol=1e-6):
        raise RuntimeError(f"{case} {seed}: the checked polish done again differs from the run's")
    return line


def minor_counts(rows: list[dict[str, Any]], variants: list[str], size: dict[str, int]) -> dict[str, tuple[int, int]]:
    """Per variant, (within 10°, all) over the family's minor materials (1–5 % of the pixels, as
    ``scenes_quality.py`` counts them); the scenes are made again at ``size`` for their coverage."""
    from scenes_quality import MINOR_TARGET_DEG, is_minor

    from ftir_unmix.scenes import make_scene

    hits = {v: [] for v in variants}
    for r in rows:
        cover = make_scene(r["case"], r["seed"], **size).info["coverage"]
        minors = [j for j, name in enumerate(r["names"]) if is_minor(cover[name])]
        for v in variants:
            hits[v] += [r["variants"][v]["per"][j] < MINOR_TARGET_DEG for j in minors]
    return {v: (sum(h), len(h)) for v, h in hits.items()}


def summary(paths: list[Path], base: str = "default", size: dict[str, int] | None = None) -> None:
    """Per generator and case, each variant's mean SAD and aRMSE, the runs whose guard fired
    (a spectrum held or the polish dropped, by the base), and each variant against ``base``
    run by run."""
    lines = [json.loads(row) for p in paths for row in p.read_text().splitlines() if row.strip()]
    variants = list(dict.fromkeys(v for line in lines for v in line["variants"]))
    for gen in sorted({line["generator"] for line in lines}):
        rows = [line for line in lines if line["generator"] == gen]
        print(f"\n{gen}: {len(rows)} scenes, {sum(r['checked'] for r in rows)} trained again; mean SAD° / aRMSE")
        width = max(18, *(len(v) + 2 for v in variants))
        print("case".ljust(18) + "".join(f"{v:>{width}s}" for v in variants))
        for case in sorted({r["case"] for r in rows}) + ["all"]:
            sel = [r for r in rows if case in ("all", r["case"])]
            print(case.ljust(18) + "".join(f"{np.mean([r['variants'][v]['mean'] for r in sel]):{width - 8}.2f} / "
                                           f"{np.mean([r['variants'][v]['rmse'] for r in sel]):.3f}" for v in variants))
        if gen == "family" and size is not None:
            counts = minor_counts(rows, variants, size)
            print("minor materials within 10°: " + ", ".join(f"{v} {h} of {n}" for v, (h, n) in counts.items()))
        fired = [r for r in rows if r["checked"] and (r["variants"][base].get("held")
                                                     or not r["variants"][base].get("kept", True))]
        print(f"guard fired ({base}): {len(fired)} runs: "
              + "; ".join(f"{r['case']} {r['seed']} " + " / ".join(f"{r['variants'][v]['mean']:.2f}" for v in variants)
                          for r in fired))
        for v in variants:
            if v == base:
                continue
            diffs = np.array([r["variants"][v]["mean"] - r["variants"][base]["mean"] for r in rows])
            worse, better, p = sign_test(diffs)
            print(f"{v} against {base}: {worse} worse, {better} better beyond {TIE_DEG}°, "
                  f"mean {diffs.mean():+.2f}°, sign test p = {p:.3g}")


def main(argv: list[str] | None = None) -> int:
    ap = pairs_parser(__doc__.split("\n\n")[0])
    ap.add_argument("--base", default="default", help="with --summary: the variant the others are paired with")
    ap.add_argument("--variants", default="default",
                    help="comma-separated settings of polish_guard / polish_holds (name=value, ':'-joined); "
                         "'default' is the run's own")
    args = ap.parse_args(argv)
    if args.summary:
        summary(args.summary, args.base, {"height": args.height, "width": args.width})
        return 0
    if not args.seeds or args.out is None:
        ap.error("--seeds and --out are needed (or --summary)")
    variants = args.variants.split(",")
    for spec in variants:
        unknown = set(settings(spec)) - {"polish_guard", "polish_holds"}
        if unknown:
            ap.error(f"--variants {spec}: only polish_guard and polish_holds may change, not {', '.join(unknown)}")
    run_pairs(ap, args, run_one, variants)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
