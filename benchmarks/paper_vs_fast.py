"""Quality of the paper protocol on its full schedule against the fast protocol.

The paper protocol's cost is set by its schedule (500 epochs of 20 000 random
5×5 patches), not by the image size, and grows with the number of bands; on a
64×320×1504 cube it takes hours on a CPU. To compare the two protocols at the
paper's *full* schedule, this runs both on a smaller synthetic cross-section
(few bands) with library defaults otherwise:

    python benchmarks/paper_vs_fast.py                    # 32×32×200, K = 4, seed 0 (~45 min, 1 core)
    python benchmarks/paper_vs_fast.py --bands 120 --seeds 2

Results: ``benchmarks/results/paper_vs_fast.json`` and a table printed as markdown.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=32)
    p.add_argument("--bands", type=int, default=200)
    p.add_argument("--k", type=int, default=4)
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--epochs", type=int, default=500, help="paper protocol epochs (the paper: 500)")
    p.add_argument("--json", type=Path, default=RESULTS / "paper_vs_fast.json")
    args = p.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    from ftir_unmix import unmix
    from ftir_unmix.metrics import evaluate
    from ftir_unmix.synthetic import cross_section

    runs = []
    for seed in range(args.seeds):
        s = cross_section(args.size, args.size, n_bands=args.bands, materials=args.k, seed=seed)
        for name, opts in (("fast (defaults)", {}),
                           ("paper (as published: random init, 500 epochs)",
                            {"protocol": "paper", "epochs": args.epochs})):
            t = time.perf_counter()
            r = unmix(s.cube, args.k, seed=seed, device="cpu", **opts)
            wall = time.perf_counter() - t
            ev = evaluate(s.endmembers, s.abundances, r.endmembers, r.abundances)
            runs.append({"seed": seed, "run": name, "wall_s": wall, "mean_sad_deg": ev["mean_sad_deg"],
                         "abundance_rmse": ev["abundance_rmse"], "steps": r.parameters.get("steps_run"),
                         "options": opts})
            print(json.dumps(runs[-1]), flush=True)
    meta = {"command": "python benchmarks/paper_vs_fast.py " + " ".join(argv or []),
            "size": args.size, "bands": args.bands, "k": args.k, "threads": args.threads,
            "torch": torch.__version__, "date": time.strftime("%Y-%m-%d")}
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"meta": meta, "runs": runs}, indent=1))
    print(f"\n{args.size}×{args.size}×{args.bands}, K = {args.k}, synthetic layered section with default "
          f"artefacts, {args.threads} torch thread(s)\n")
    print("| seed | run | wall (s) | steps/epochs | mean SAD (°) | abundance RMSE |\n|---|---|---|---|---|---|")
    for r in runs:
        print(f"| {r['seed']} | {r['run']} | {r['wall_s']:.0f} | {r['steps']} | {r['mean_sad_deg']:.2f} | "
              f"{r['abundance_rmse']:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
