"""Two methods compared run by run over stored scene-family reports.

Each report of ``scenes_quality.py`` runs every case on five seeds. With two
methods that differ little (CNN+WSAD and CNN+SAD: the band weights are about 1
almost everywhere), one case's five-seed mean can fall either way by chance: a
small change to the loss moves a run to another minimum, some degrees away on one
material. Pooling the pairs of every report (the same scene, seed and size, run
by both methods) tells a systematic difference from that chance: per case, how
often the first method is worse or better, the median difference and a sign test.

Only runs with the method's library defaults are paired (``cnn`` with no options,
``cnn-sad`` with ``loss=sad`` alone).

Example
-------
::

    cd benchmarks/results
    python ../paired_methods.py cnn cnn-sad --pair scenes_report_fresh6_64x256.json \\
        --pair scenes_report_fresh14_64x256.json,scenes_report_fresh14_cnn_sad_64x256.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from scipy.stats import binomtest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scenes_quality import METHODS  # noqa: E402

#: Differences (degrees) this small count as ties.
TIE_DEG = 0.05


def default_runs(path: Path, method: str) -> dict[tuple, dict]:
    """The runs of ``method`` with its library defaults, keyed by (case, seed, shape)."""
    runs = json.loads(path.read_text())["runs"]
    return {(r["case"], r["seed"], tuple(r["shape"])): r for r in runs
            if r["method"] == method and r.get("options", {}) == METHODS[method]}


def sign_test(diffs: np.ndarray) -> tuple[int, int, float]:
    """Runs worse and better by more than ``TIE_DEG``, and the two-sided sign test's p on them."""
    worse, better = int((diffs > TIE_DEG).sum()), int((diffs < -TIE_DEG).sum())
    return worse, better, float(binomtest(worse, worse + better).pvalue) if worse + better else 1.0


def describe(diffs: np.ndarray) -> str:
    """``n``, mean and median difference, worse / better / tied counts and the sign test's p."""
    worse, better, p = sign_test(diffs)
    return (f"n {len(diffs):3d}  mean {diffs.mean():+.2f}  median {np.median(diffs):+.2f}  "
            f"worse {worse:3d}  better {better:3d}  tied {len(diffs) - worse - better:3d}  sign test p {p:.3g}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("first", choices=sorted(METHODS), help="the method whose differences are reported")
    ap.add_argument("second", choices=sorted(METHODS), help="the method it is compared with")
    ap.add_argument("--pair", action="append", required=True, metavar="FILE[,FILE]",
                    help="a report: one file holding both methods, or the first's file and the second's")
    args = ap.parse_args(argv)

    pooled: dict[str, list[float]] = {}
    for item in args.pair:
        paths = [Path(p) for p in item.split(",")]
        first, second = default_runs(paths[0], args.first), default_runs(paths[-1], args.second)
        keys = sorted(set(first) & set(second))
        if not keys:
            ap.error(f"{item}: no run of {args.first} and {args.second} on the same scene")
        diffs = np.array([first[k]["mean_sad_deg"] - second[k]["mean_sad_deg"] for k in keys])
        cases = sorted({k[0] for k in keys})
        case_worse = sum(np.mean([first[k]["mean_sad_deg"] - second[k]["mean_sad_deg"]
                                  for k in keys if k[0] == c]) > 0 for c in cases)
        print(f"{paths[0].name:48s} {describe(diffs)}  cases worse {case_worse}/{len(cases)}")
        for k, d in zip(keys, diffs):
            pooled.setdefault(k[0], []).append(float(d))
    print(f"\n{args.first} minus {args.second}, mean SAD per run (degrees), pooled:")
    for case, diffs in pooled.items():
        print(f"  {case:16s} {describe(np.array(diffs))}")
    print(f"  {'all':16s} {describe(np.concatenate([np.array(d) for d in pooled.values()]))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
