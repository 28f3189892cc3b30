"""The maps' scale: shares of the spectra as the run reports them, or of the spectra at a peak of 1.

A run's maps are each pixel's shares of the spectra (the cone fit's nonnegative coefficients,
scaled to sum to one), so the share a spectrum gets depends on the height it is reported at:
whatever training and the polish left it at (the loss is blind to a spectrum's scale). The
truths do not agree on a scale: the blind generator normalises each material to a peak of 1
before mixing and Samson's ground truth is the shares of its peak-1 spectra, while the family
(:mod:`ftir_unmix.scenes`), the in-repository generator and the reflectance scenes of
``reflectance_scenes.py`` mix spectra of their own strengths. Each scene is unmixed once with the
library's defaults and its maps are scored both ways (``reported``, ``peak``); the spectra's
angles are the same both ways. Stop 65 measured this and changed nothing (docs/benchmarks.md).
Writes one JSON line per scene; ``--summary FILE`` prints per-generator means and the runs
better and worse by more than 0.002::

    OMP_NUM_THREADS=1 python benchmarks/map_scale.py --generator blind --seeds 100,101 --jobs 2 \\
        --out benchmarks/results/map_scale_tuning.jsonl
"""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from anchor_pairs import lines_parser, read_lines, run_lines  # noqa: E402


def _shares(abundances: np.ndarray, heights: np.ndarray) -> np.ndarray:
    """The maps (K, H, W) as shares of the spectra each multiplied by ``heights`` (K,)."""
    a = abundances.reshape(abundances.shape[0], -1) * heights[:, None]
    return (a / np.maximum(a.sum(axis=0, keepdims=True), 1e-300)).reshape(abundances.shape)


def both_scales(endmembers: np.ndarray, abundances: np.ndarray) -> dict[str, np.ndarray]:
    """A result's maps as reported and as shares of its spectra each at a peak of 1."""
    a = np.asarray(abundances, np.float64)
    return {"reported": a, "peak": _shares(a, np.asarray(endmembers, np.float64).max(axis=0))}


def _scene(generator: str, case: str, seed: int) -> tuple[Any, Any, dict[str, Any]]:
    if generator == "reflectance":
        from anchor_pairs import _scene as reflectance

        cube, truth, options = reflectance(case, seed)
        return cube, truth, {**options, "baseline": "none"}
    from edge_pairs import _scene as ftir

    return ftir(generator, case, seed, {} if generator == "inrepo" else {"height": 64, "width": 256})


def run_one(generator: str, case: str, seed: int) -> dict[str, Any]:
    """One scene, one default run, its maps scored both ways."""
    import ftir_unmix
    from ftir_unmix.metrics import evaluate

    cube, truth, options = _scene(generator, case, seed)
    r = ftir_unmix.unmix(cube, truth.k, **options)
    line: dict[str, Any] = {"generator": generator, "case": case, "seed": int(seed)}
    for name, maps in both_scales(r.endmembers, r.abundances).items():
        ev = evaluate(truth.endmembers, truth.abundances, np.asarray(r.endmembers, np.float64), maps)
        line[name] = {"sad": float(ev["mean_sad_deg"]), "rmse": float(ev["abundance_rmse"])}
    return line


def summary(path: Path) -> str:
    """Per generator the maps' mean RMSE both ways, and the runs better and worse at a peak of 1."""
    lines = read_lines(path)
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        groups[line["generator"]].append(line)
        groups["all"].append(line)
    out = [f"{path.name}: {len(lines)} runs"]
    for name, runs in groups.items():
        t = np.array([r["reported"]["rmse"] for r in runs])
        p = np.array([r["peak"]["rmse"] for r in runs])
        out.append(f"{name:12s} RMSE reported {t.mean():.4f}  peak {p.mean():.4f}  peak better on "
                   f"{int((p < t - 0.002).sum())}, worse on {int((p > t + 0.002).sum())} of {len(runs)}; "
                   f"SAD {np.mean([r['peak']['sad'] for r in runs]):.2f}°")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = lines_parser(__doc__.split("\n")[0], "all", "100")
    ap.add_argument("--generator", choices=("blind", "family", "inrepo", "reflectance"), default="blind")
    a = ap.parse_args(argv)
    if a.summary:
        print(summary(a.summary))
        return 0
    if a.cases != "all":
        cases = a.cases.split(",")
    elif a.generator == "blind":
        from blind_scenes import CASES as cases
    elif a.generator == "family":
        from ftir_unmix.scenes import CASES as cases
    elif a.generator == "inrepo":
        from quality import CASES

        cases = [c.name for c in CASES]
    else:
        from reflectance_scenes import CASES as cases
    jobs = [(a.generator, c, int(s)) for s in a.seeds.split(",") for c in cases]
    run_lines(run_one, jobs, a.jobs, a.out, lambda line: f"SAD {line['peak']['sad']:.2f}°, RMSE reported "
              f"{line['reported']['rmse']:.4f}, peak {line['peak']['rmse']:.4f}")
    if a.out:
        print(summary(a.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
