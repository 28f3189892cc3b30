"""The spot check (``spot_check``) and its rule, paired: one training per scene.

Each scene is unmixed once with the defaults (``none``: since stop 53 with the library's check);
the input of the run's last step (the polish, :func:`ftir_unmix.methods.cnn._polished`: the
trained spectra and the run's prepared data) is caught, and the step is done again from it with
``spot_check=True`` (``spot``), with the swap forced whatever the check's rule says (``forced``)
and with the check off (``off``, since stop 57), so the variants differ only by the check; any
rule on the check's record (``check``) can then be scored from the same runs (``forced`` where
it swaps, ``off`` where not). With ``--after`` also with the check once more after the polish
(``after``: ``spot_check_after``, stop 61; its record under ``after``); with ``--hold-reach X``
also the library's check with ``spot_hold_reach=X`` (``reach``: the spot's spectrum polished
free where its map reaches more than that share of the pixels, stop 62). Stop 63's files hold a
variant ``inside`` (the worst spot's 3 × 3 window counting only the image's own pixels), since
then the library's own.
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
import functools
import json
import math
import sys
from pathlib import Path
from typing import Any

import numpy as np

from ftir_unmix.methods.cnn.spot_check import (
    NOVEL_DEG,
    VARIANT_DEG,
    VARIANT_NEED_SHARE,
    WEAKEST_TOP_SHARE,
    swaps,
)
from ftir_unmix.metrics import spectral_angles

sys.path.insert(0, str(Path(__file__).resolve().parent))
from edge_pairs import _scene, pairs_parser, run_pairs, summary  # noqa: E402
from polish_pairs import _scores  # noqa: E402
from spare_pairs import _drained  # noqa: E402


def run_one(generator: str, case: str, seed: int, variants: list[str], size: dict[str, int],
            hold_reach: float | None = None) -> dict[str, Any]:
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
                            "kept": True, "variants": {"none": _scores(truth, r.endmembers, r.abundances)},
                            # where the refinement looked: runs whose pick is the same train the same
                            "refinement": {k: r.parameters.get("refinement", {}).get(k)
                                           for k in ("pixel", "proposal", "accepted")}}
    inp, run, checked, out = caught[-1]
    if not np.allclose(_scores(truth, out.endmembers, out.abundances.reshape(shape))["per"],
                       line["variants"]["none"]["per"], atol=1e-6):
        raise RuntimeError(f"{case} {seed}: the caught polish differs from the run's result")
    # what each trained spectrum is nearest to, so a rule can be read against it (a variant or a material)
    deg = spectral_angles(truth.endmembers, run.endmembers).T  # (estimated, true)
    line["trained_nearest"] = [[truth.names[int(i)], float(d[i])] for d, i in zip(deg, deg.argmin(axis=1))]
    rule = check.swaps
    for name in variants:
        config = dataclasses.replace(inp.config, spot_check=name != "off", spot_check_after=name == "after",
                                     **({"spot_hold_reach": hold_reach} if name == "reach" else {}))
        run = dataclasses.replace(run, record=dict(run.record))
        check.swaps = rule if name in ("spot", "after", "reach") else lambda record: True
        try:
            done = _drained(cnn._polished(dataclasses.replace(inp, config=config), run, checked))
        finally:
            check.swaps = rule
        line["variants"][name] = {**_scores(truth, done.endmembers, done.abundances.reshape(shape)),
                                  "check": done.record.get("spot_checked"),
                                  **({"after": done.record.get("spot_checked_after")} if name == "after" else {})}
    return line


def _stop53(c: dict[str, Any]) -> bool:
    """Stop 53's rule: needed more than the weakest's whole cost, and ≥ 45° from the others' cone."""
    return c["spot_need_deg"] > c["weakest"]["cost_deg"] and c["novel_deg"] >= 45.0


#: Rules scored on the check's record of a run (``forced`` where a rule swaps, else unswapped).
RULES = {
    "need > weakest's need": lambda c: c["spot_need_deg"] > c["weakest"]["need_deg"],
    "need > weakest's cost": lambda c: c["spot_need_deg"] > c["weakest"]["cost_deg"],
    "stop 53's rule": _stop53,
}
#: Rules that read the weakest's own cone angle to the others (records written since stop 57).
RULES_57 = {
    # measured at stop 57 on tuning seeds, not adopted: a grain needed nearly as much, 10° more apart
    "or 0.75 of its need, 10° apart": lambda c: _stop53(c) or (
        c["novel_deg"] >= 45.0 and c["spot_need_deg"] > 0.75 * c["weakest"]["need_deg"]
        and c["novel_deg"] >= c["weakest"]["novel_deg"] + 10.0),
}


def _stop63(c: dict[str, Any]) -> bool:
    """The library's rule from stop 61 to stop 63: no lower bar where the weakest is a variant
    (the library's rule with the weakest never read as one)."""
    return swaps({**c, "weakest": {**c["weakest"], "novel_broad_deg": math.inf}})


#: Stop 57's rule as it was until stop 60: the novelty measured on the spectra as they are.
RULES_60 = {"novelty unbroadened": lambda c: _stop63({**c, "novel_broad_deg": c["novel_deg"]})}


def _variant_share(c: dict[str, Any]) -> bool:
    """Stop 63's candidate, not adopted (on fresh blind 1045–1049 it swapped one run more, for
    the worse): the library's rule, but where the weakest is a variant of what stays its
    spectrum gives way to a spot needing :data:`VARIANT_NEED_SHARE` of its need however far the
    spot lies past :data:`NOVEL_DEG` (the library asks :data:`FAR_DEG` since stop 64)."""
    w = c["weakest"]
    return swaps(c) or (c["novel_broad_deg"] >= NOVEL_DEG and w["novel_broad_deg"] <= VARIANT_DEG
                        and c["spot_need_deg"] > VARIANT_NEED_SHARE * w["need_deg"]
                        and w["top_share"] <= WEAKEST_TOP_SHARE)


#: Rules read on records that hold the broadened novelty (written since stop 61).
RULES_63 = {"stop 63's rule": _stop63, "a variant gives way at 0.4": _variant_share}


def _off(line: dict[str, Any]) -> str:
    """The variant without a swap: ``off`` (the check switched off) where the run recorded it,
    else ``none`` (the default run: unswapped only where the library's rule did not swap)."""
    return "off" if "off" in line["variants"] else "none"


def _recorded(lines: list[dict[str, Any]], key: str) -> bool:
    """Whether every run's check recorded ``key`` (of the weakest endmember: ``weakest.key``)."""
    def has(check: dict[str, Any]) -> bool:
        return key.removeprefix("weakest.") in (check["weakest"] if key.startswith("weakest.") else check)
    return all(has(x["variants"]["forced"]["check"]) for x in lines)


def rule_summary(paths: list[Path]) -> None:
    """Per file and case: the mean SAD unswapped (``base``: ``off``, or in records without it the
    default run), with the swap forced, and with each of :data:`RULES`, :data:`RULES_57`,
    :data:`RULES_60` and the library's own (``swaps``) where the records hold what they read
    (runs that recorded ``forced`` only), and how many runs each rule swapped."""
    for path in paths:
        lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
        lines = [x for x in lines if "forced" in x["variants"]]
        if not lines:
            continue
        # records written before stop 57 lack what the later rules read of the weakest
        rules = {**RULES, **(RULES_57 if _recorded(lines, "weakest.novel_deg") else {}),
                 **(RULES_60 if _recorded(lines, "weakest.top_share") else {}),
                 **({"the library's rule": swaps, **RULES_63} if _recorded(lines, "novel_broad_deg") else {})}
        print(f"\n{path.name}: {len(lines)} runs with the swap forced; mean SAD° (runs swapped)")
        print("case".ljust(18) + "base".rjust(8) + "forced".rjust(8) + "".join(f"{r:>34s}" for r in rules))
        for case in sorted({x["case"] for x in lines}) + ["all"]:
            sel = [x for x in lines if case in ("all", x["case"])]
            cells = []
            for rule in rules.values():
                fired = [rule(x["variants"]["forced"]["check"]) for x in sel]
                sad = np.mean([x["variants"]["forced" if f else _off(x)]["mean"] for x, f in zip(sel, fired)])
                cells.append(f"{sad:28.2f} ({sum(fired):2d})")
            print(case.ljust(18) + f"{np.mean([x['variants'][_off(x)]['mean'] for x in sel]):8.2f}"
                  + f"{np.mean([x['variants']['forced']['mean'] for x in sel]):8.2f}" + "".join(cells))


def main(argv: list[str] | None = None) -> int:
    ap = pairs_parser(__doc__.split("\n\n")[0])
    ap.add_argument("--after", action="store_true",
                    help="also the variant with spot_check_after (the check once more after the polish)")
    ap.add_argument("--hold-reach", type=float, default=None,
                    help="also the variant with spot_hold_reach at this share (the spot held only where its map "
                         "stays a spot's)")
    args = ap.parse_args(argv)
    if args.summary:
        summary(args.summary, "none")
        rule_summary(args.summary)
        return 0
    if not args.seeds or args.out is None:
        ap.error("--seeds and --out are needed (or --summary)")
    variants = ["spot", "forced", "off", *(["after"] if args.after else []),
                *(["reach"] if args.hold_reach is not None else [])]
    run_pairs(ap, args, functools.partial(run_one, hold_reach=args.hold_reach), variants)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
