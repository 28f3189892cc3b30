"""When the spare is trained: the spare's trigger read with and without the noise term, paired.

A default run (``spare_when_needed``) is trained again with a spare endmember when a spectrum
of its first run is mostly narrow atmospheric lines, or lies more than
:data:`~ftir_unmix.trust.BELOW_BASELINE_DOUBT` below its own baseline
(:func:`ftir_unmix.methods.cnn._signs`). Each scene is unmixed once, as a run does it; on the
way the first run's training and the trigger's readings are caught: the whole share below the
baseline (``whole``, what the trigger read until stop 74), the share deeper than the
spectrum's noise (``noise``: ``noise_sigmas=BELOW_NOISE_SIGMAS``, what the doubt reads since
stop 73 and the trigger since stop 74) and the share of narrow lines. A run trained again has
both ends then: ``first`` (the first training polished, as a run that is not trained again
ends; done again from the caught training) and ``again`` (the run itself). A run not trained
again has ``first`` only; it is checked against the replay. With ``--force`` every run with a
baseline term is trained again, so that every rule can be scored (about twice the time).

``--summary`` scores rules offline: ``MEASURE:THRESHOLD`` (``noise:0.05``, the engine's own
since stop 74, or ``whole:0.05``, its own before). A rule trains again where the lines' share
is over :data:`~ftir_unmix.preprocess.ATMOSPHERE_LINE_SHARE` or the measure's largest share is
over the threshold; each scene is then its ``again`` or its ``first`` end (a scene the engine
did not train again has no ``again`` end: a rule that would train it again leaves it
unscored). The first rule is the base the others are paired with: runs whose decision flips,
better / worse beyond :data:`paired_methods.TIE_DEG`, and the time of the runs.

Scenes as in :mod:`edge_pairs` (``--generator family|blind|inrepo``).

Stop 74's runs (the rule in the commit that added this script, before these fresh runs; run
while ``whole:0.05`` was the engine's rule, so every flip has both ends)::

    python benchmarks/trigger_pairs.py --generator blind --seeds 1075,1076,1077,1078,1079 --report \\
        --jobs 2 --out benchmarks/results/trigger_pairs_blind_fresh1075-1079_64x256.jsonl
    python benchmarks/trigger_pairs.py --generator inrepo --seeds 12,13,14,15,16,17,18 --jobs 2 \\
        --out benchmarks/results/trigger_pairs_inrepo_fresh12-18.jsonl    # the default-strength cases, Samson
    C=patches-k4-clean,layered-k6-clean,layered-k6-strong,patches-k6-measured-strong   # the other six FTIR cases
    C=$C,layered-k6-no-baseline,patches-k6-measured-strong-no-baseline
    python benchmarks/trigger_pairs.py --generator inrepo --seeds 12,13,14,15,16,17,18 --jobs 2 --cases $C \\
        --out benchmarks/results/trigger_pairs_inrepo_fresh12-18.jsonl
    python benchmarks/trigger_pairs.py --generator family --seeds 9248,9249,9250 --report --jobs 2 \\
        --out benchmarks/results/trigger_pairs_family_fresh9248-9250_64x256.jsonl
    python benchmarks/trigger_pairs.py --summary benchmarks/results/trigger_pairs_*.jsonl \\
        --rules whole:0.05,noise:0.05
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # one BLAS thread per process, before numpy loads (a run can depend on it)
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import copy
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from edge_pairs import _scene, pairs_parser, score_or_run  # noqa: E402
from paired_methods import sign_test  # noqa: E402
from polish_pairs import _scores  # noqa: E402
from spare_pairs import _drained  # noqa: E402

#: The measures a rule can read, as recorded per scene.
MEASURES = ("whole", "noise")


def run_one(generator: str, case: str, seed: int, force: bool, size: dict[str, int]) -> dict[str, Any]:
    """One scene, one default run (``force``: its trigger made to fire); the first run's
    readings and, where it was trained again, both ends scored against the truth."""
    import ftir_unmix
    from ftir_unmix.methods import cnn
    from ftir_unmix.preprocess import BELOW_NOISE_SIGMAS, below_baseline_share

    cube, truth, options = _scene(generator, case, seed, size)
    train, signs = cnn._train_and_infer, cnn._signs
    caught: dict[str, Any] = {}

    def catch_training(inp: Any) -> Any:
        t = time.perf_counter()
        out = yield from train(inp)
        if "first" not in caught:
            caught.update(first=copy.deepcopy(out), inp=inp, first_s=time.perf_counter() - t)
        else:
            caught["again"] = True
        return out

    def catch_signs(inp: Any, endmembers: np.ndarray, noise_sigmas: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        below, lines = signs(inp, endmembers, noise_sigmas)
        if "signals" in caught:  # the polish guard's calls: as they are
            return below, lines
        weighted = endmembers * inp.loss_weights[:, None]
        caught["signals"] = {
            "whole": below_baseline_share(weighted, inp.nuisance).tolist(),
            "noise": below_baseline_share(weighted, inp.nuisance, noise_sigmas=BELOW_NOISE_SIGMAS).tolist(),
            "lines": lines.tolist()}
        return (np.maximum(below, 1.0) if force else below), lines

    cnn._train_and_infer, cnn._signs = catch_training, catch_signs
    t0 = time.perf_counter()
    try:
        r = ftir_unmix.unmix(cube, truth.k, **options)
    finally:
        cnn._train_and_infer, cnn._signs = train, signs
    run_s = time.perf_counter() - t0
    out: dict[str, Any] = {"generator": generator, "case": case, "seed": int(seed), "names": list(truth.names),
                           "forced": force, "signals": caught.get("signals"),
                           "trained_again": bool(caught.get("again")), "variants": {}}
    run = {**_scores(truth, r.endmembers, r.abundances), "time_s": round(run_s, 2)}
    t = time.perf_counter()  # the first training ended as a run not trained again ends
    replay = _drained(cnn._polished(caught["inp"], caught["first"]))
    first = {**_scores(truth, replay.endmembers, replay.abundances),
             "time_s": round(caught["first_s"] + time.perf_counter() - t, 2)}
    if out["trained_again"]:
        out["variants"].update(first=first, again=run)
    elif np.allclose(first["per"], run["per"], atol=1e-6):  # not trained again: the replay must be the run
        out["variants"]["first"] = run
    else:
        raise RuntimeError(f"{case} {seed}: the first run polished again differs from the run")
    return out


def rule(spec: str) -> tuple[str, float]:
    """``MEASURE:THRESHOLD`` -> the measure (one of :data:`MEASURES`) and the threshold."""
    measure, threshold = spec.split(":")
    if measure not in MEASURES:
        raise ValueError(f"unknown measure {measure!r} in {spec!r}: one of {', '.join(MEASURES)}")
    return measure, float(threshold)


def fires(line: dict[str, Any], spec: str) -> bool:
    """Whether ``spec`` (:func:`rule`) trains the scene of ``line`` again."""
    from ftir_unmix.preprocess import ATMOSPHERE_LINE_SHARE

    signals = line["signals"]
    if signals is None:  # no baseline term: the trigger is not read
        return False
    measure, threshold = rule(spec)
    return max(signals["lines"]) > ATMOSPHERE_LINE_SHARE or max(signals[measure]) > threshold


def chosen(line: dict[str, Any], spec: str) -> dict[str, Any] | None:
    """The end ``spec`` gives the scene (``None``: trained again by the rule, never by the run)."""
    return line["variants"].get("again") if fires(line, spec) else line["variants"]["first"]


def summary(paths: list[Path], specs: list[str]) -> None:
    """Per generator and rule: mean SAD and aRMSE, runs trained again, time; each rule against the
    first run by run (the runs whose decision flips, worse / better beyond :data:`TIE_DEG`)."""
    lines = [json.loads(line) for p in paths for line in p.read_text().splitlines() if line.strip()]
    base = specs[0]
    for gen in sorted({line["generator"] for line in lines}):
        rows = [line for line in lines if line["generator"] == gen]
        print(f"\n{gen}: {len(rows)} scenes, {sum(r['trained_again'] for r in rows)} trained again by the run")
        print("| rule | scored | mean SAD | aRMSE | trained again | time (min) | flips against "
              f"{base} | worse / better | mean change over the flips | over all |")
        print("|---|---|---|---|---|---|---|---|---|---|")
        for spec in specs:
            pairs = [(r, chosen(r, spec), chosen(r, base)) for r in rows]
            pairs = [(r, a, b) for r, a, b in pairs if a is not None and b is not None]
            if not pairs:
                continue
            flips = [(r, a, b) for r, a, b in pairs if fires(r, spec) != fires(r, base)]
            diffs = np.array([a["mean"] - b["mean"] for _, a, b in flips])
            worse, better, _ = sign_test(diffs) if len(diffs) else (0, 0, 1.0)
            every = np.array([a["mean"] - b["mean"] for _, a, b in pairs])
            print(f"| {spec} | {len(pairs)} of {len(rows)} | {np.mean([a['mean'] for _, a, _ in pairs]):.2f}° "
                  f"| {np.mean([a['rmse'] for _, a, _ in pairs]):.3f} | {sum(fires(r, spec) for r, _, _ in pairs)} "
                  f"| {sum(a.get('time_s', 0.0) for _, a, _ in pairs) / 60:.1f} | {len(flips)} | {worse} / {better} "
                  f"| {diffs.mean() if len(diffs) else 0.0:+.2f}° | {every.mean():+.2f}° |")
        for spec in specs[1:]:
            for r in rows:
                a, b = chosen(r, spec), chosen(r, base)
                if fires(r, spec) != fires(r, base) and a is not None and b is not None:
                    s = r["signals"]
                    print(f"  {spec}: {r['case']} {r['seed']} {b['mean']:.2f}° -> {a['mean']:.2f}° "
                          f"(whole {max(s['whole']):.3f}, noise {max(s['noise']):.3f}, lines {max(s['lines']):.2f})")


def main(argv: list[str] | None = None) -> int:
    ap = pairs_parser(__doc__.split("\n\n")[0])
    ap.add_argument("--force", action="store_true",
                    help="train every run with a baseline term again, so that any rule can be scored")
    ap.add_argument("--rules", default="noise:0.05,whole:0.05,noise:0.04,noise:0.03",
                    help="with --summary: comma-separated MEASURE:THRESHOLD, the first the base")
    args = ap.parse_args(argv)
    return score_or_run(ap, args, rule, summary, run_one, args.force)


if __name__ == "__main__":
    raise SystemExit(main())
