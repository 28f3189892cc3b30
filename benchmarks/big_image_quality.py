"""Quality on one big synthetic image: where each training step sees only a tile of it.

Above ``max_pixels_per_step`` (8192) a fast-protocol step trains on a random tile, and the
per-step loss then depends on what the tile holds. This measures what that does to the result
on whole 512×512 cross-sections (one scene per seed, not a tiled mosaic as in ``scale.py``).

    python benchmarks/big_image_quality.py --seeds 0,1,2,3 --jobs 2 --json benchmarks/results/big_512.json
    python benchmarks/big_image_quality.py --seeds 4,5 --options '{"patience": 100000}'

Each run prints its mean SAD, abundance RMSE, per-material SAD and each material's share
of the image, so a lost minor material shows as one large angle at a small share.
"""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path


def one(args: tuple[int, int, int, int, dict]) -> dict:
    h, w, k, seed, options = args
    import torch

    torch.set_num_threads(1)
    from ftir_unmix import unmix
    from ftir_unmix.metrics import evaluate
    from ftir_unmix.synthetic import cross_section

    s = cross_section(h, w, n_bands=1504, materials=k, seed=seed)
    t = time.perf_counter()
    r = unmix(s.cube, k, seed=seed, **options)
    ev = evaluate(s.endmembers, s.abundances, r.endmembers, r.abundances)
    refinement = r.parameters.get("refinement") or {}
    return {"seed": seed, "wall_s": time.perf_counter() - t, "mean_sad_deg": ev["mean_sad_deg"],
            "abundance_rmse": ev["abundance_rmse"], "per_material_sad_deg": list(ev["per_endmember_sad_deg"]),
            "share": s.abundances.reshape(k, -1).mean(1).tolist(), "steps": r.parameters.get("steps_run"),
            "stopped_by": r.parameters.get("stopped_by"), "refinement_accepted": refinement.get("accepted")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", default="512x512", help="HxW (default 512x512)")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--seeds", default="0,1,2,3")
    ap.add_argument("--options", default="{}", help="unmix options as JSON (default: the library's)")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    h, w = (int(v) for v in args.size.split("x"))
    seeds = [int(s) for s in args.seeds.split(",")]
    options = json.loads(args.options)
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(one, [(h, w, args.k, s, options) for s in seeds]))
    for row in rows:
        print(f"seed {row['seed']}: {row['mean_sad_deg']:.2f}° aRMSE {row['abundance_rmse']:.3f} "
              f"worst {max(row['per_material_sad_deg']):.1f}° steps {row['steps']} ({row['stopped_by']}) "
              f"{row['wall_s']:.0f} s")
    mean = sum(r["mean_sad_deg"] for r in rows) / len(rows)
    print(f"mean over {len(rows)} seeds: {mean:.2f}°")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"size": args.size, "k": args.k, "options": options, "rows": rows},
                                        indent=1))


if __name__ == "__main__":
    main()
