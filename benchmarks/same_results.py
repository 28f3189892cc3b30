"""Does a change keep the results? Unmix one cube with every method here and at a git revision.

A restructuring must not change what the engine computes. This script checks
out ``--against`` (a commit, tag or branch) in a temporary git worktree, runs
the same unmixings there and in this working tree (each in its own process,
one torch thread), and compares abundances, endmembers and loss histories
array by array (bit for bit, and the largest difference when not equal).

Example::

    python benchmarks/same_results.py --against 6bd3a2a

A new option whose default changes the results is checked with the old
behaviour chosen here only (``--here restarts=1``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

#: name -> unmix options; every method and both CNN protocols.
RUNS = {
    "cnn": {},
    "cnn-sad": {"loss": "sad"},
    "cnn-paper": {"protocol": "paper", "epochs": 3, "n_patches": 500},
    "nmf": {"method": "nmf"},
    "vca-fcls": {"method": "vca-fcls"},
}

_CHILD = """
import sys, numpy as np, torch
torch.set_num_threads(1)
import ftir_unmix
from ftir_unmix.synthetic import cross_section
runs = {runs!r}
s = cross_section(32, 40, n_bands=300, materials=5, seed=4)
out = {{}}
for name, opts in runs.items():
    r = ftir_unmix.unmix(s.cube, 5, seed=2, **opts)
    out[name + "/abundances"], out[name + "/endmembers"] = r.abundances, r.endmembers
    out[name + "/loss_history"] = r.loss_history
np.savez(sys.argv[1], **out)
print(ftir_unmix.__file__)
"""


def _run(src: Path, out: Path, extra: dict[str, object] | None = None) -> None:
    env = {**os.environ, "PYTHONPATH": str(src)}
    runs = {name: {**opts, **(extra or {})} for name, opts in RUNS.items()}
    res = subprocess.run([sys.executable, "-c", _CHILD.format(runs=runs), str(out)], env=env,
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(f"run with {src} failed:\n{res.stderr[-3000:]}")
    if not Path(res.stdout.strip()).is_relative_to(src):
        raise SystemExit(f"the child imported {res.stdout.strip()}, not the package under {src}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--against", required=True, help="git revision to compare with")
    parser.add_argument("--here", nargs="*", default=[], metavar="KEY=VALUE",
                        help="unmix options for this working tree only (integers or strings)")
    args = parser.parse_args()
    extra = {k: int(v) if v.lstrip("-").isdigit() else v for k, v in (item.split("=", 1) for item in args.here)}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        tree = tmp / "other"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(tree), args.against], cwd=ROOT, check=True)
        try:
            _run(tree / "src", tmp / "other.npz")
            _run(ROOT / "src", tmp / "here.npz", extra)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, check=False)
        other, here = np.load(tmp / "other.npz"), np.load(tmp / "here.npz")
        same = 0
        for key in other.files:
            a, b = other[key], here[key]
            equal = a.shape == b.shape and np.array_equal(a, b)
            same += equal
            diff = "" if equal or a.shape != b.shape else f"  max |difference| {np.abs(a - b).max():.3g}"
            print(f"{key:28s} {'identical' if equal else 'DIFFERENT'} {a.shape}{diff}")
        print(f"{same} of {len(other.files)} arrays bit-identical to {args.against}")
        return 0 if same == len(other.files) else 1


if __name__ == "__main__":
    sys.exit(main())
