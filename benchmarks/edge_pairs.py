"""Spectra taken out to the edge of nonnegativity (``edge_below``) against none, paired.

Each scene is unmixed once, as a run does it, with ``edge_below`` set to the first value of
``--below``; the step's input (the polished spectra and maps) is caught on the way
(:func:`ftir_unmix.methods.cnn.cone_polish.edge_step`) and scored as ``none``, and the step is
done again from it for every ``--below`` value (``edgeG``), so the variants differ only by the
step. Writes one JSON line per scene (mean SAD, abundance RMSE, per-material angles) and, with
``--summary``, prints per-case means and the pairs' sign test from such files.

Scenes: ``--generator family`` (:mod:`ftir_unmix.scenes`, REPORT_SEEDS only with ``--report``),
``blind`` (``blind_scenes``: seeds 100–999 are its tuning seeds, below 100 and from 1000 on its
report seeds, only with ``--report``) or ``inrepo`` (``quality.py``'s cases at default artefacts and
Samson, 64×64, run as it runs them).

Stop 44's report (fresh seeds, nothing chosen on them)::

    python benchmarks/edge_pairs.py --generator blind --seeds 5,6,7,8,9 --report --below 0.7,0.6,0.8 \\
        --jobs 2 --out benchmarks/results/edge_pairs_blind_64x256.jsonl
    python benchmarks/edge_pairs.py --generator family --seeds 9141,9142,9143,9144,9145 --report \\
        --below 0.7,0.6,0.8 --jobs 2 --out benchmarks/results/edge_pairs_fresh26_64x256.jsonl
    python benchmarks/edge_pairs.py --generator inrepo --seeds 0,1,2 --jobs 2 \\
        --out benchmarks/results/edge_pairs_inrepo.jsonl
    python benchmarks/edge_pairs.py --summary benchmarks/results/edge_pairs_*.jsonl

Stop 45's (the step's options against stop 44's step, ``0.7:fill_cm=0:large=inf``)::

    V=0.7,0.7:fill_cm=0:large=inf,0.7:large=inf,0.7:fill_cm=0
    python benchmarks/edge_pairs.py --generator blind --seeds 10,11,12,13,14 --report --below $V --jobs 2 \
        --out benchmarks/results/edge_pairs_blind_seeds10-14_64x256.jsonl
    python benchmarks/edge_pairs.py --generator family --seeds 9146,9147,9148,9149,9150 --report --below $V \
        --jobs 2 --out benchmarks/results/edge_pairs_fresh27_64x256.jsonl
    python benchmarks/edge_pairs.py --generator inrepo --seeds 0,1,2 --below $V --jobs 2 \
        --out benchmarks/results/edge_pairs_inrepo_stop45.jsonl
    python benchmarks/edge_pairs.py --summary benchmarks/results/edge_pairs_fresh27_64x256.jsonl \
        --base 0.7:fill_cm=0:large=inf

Stop 52's (an overshoot past the holes of a spectrum below the gate, ``overshoot_cm``; an option
of ``to_nonneg_edge`` at commit 59e16b8, removed after these runs: not adopted)::

    V=0.7,0.7:overshoot_cm=3,0.7:overshoot_cm=10
    python benchmarks/edge_pairs.py --generator blind --seeds 100,101,102,103,104 --below $V --jobs 2 \
        --out benchmarks/results/edge_overshoot_blind_tuning100-104_64x256.jsonl
    python benchmarks/edge_pairs.py --generator blind --seeds 60,61,62,63,64 --report --below $V --jobs 2 \
        --out benchmarks/results/edge_overshoot_blind_seeds60-64_64x256.jsonl
    python benchmarks/edge_pairs.py --generator family --seeds 9171,9172,9173,9174,9175 --report --below $V \
        --jobs 2 --out benchmarks/results/edge_overshoot_fresh9171-9175_64x256.jsonl
    python benchmarks/edge_pairs.py --summary benchmarks/results/edge_overshoot_fresh9171-9175_64x256.jsonl --base 0.7

Stop 54's (a third spectrum that a partner's estimate holds added back, ``add_back``; tuning
seeds first, then fresh seeds with the value fixed before they were run). They were run while
the default was 0, as ``V=0.7,0.7:add_back=3,0.7:add_back=2,0.7:add_back=5``; with
``add_back=3`` the default, stop 53's step is ``0.7:add_back=0``::

    V=0.7,0.7:add_back=0,0.7:add_back=2,0.7:add_back=5
    python benchmarks/edge_pairs.py --generator blind --seeds 100,101,102,103,104 --below $V --jobs 2 \
        --out benchmarks/results/edge_addback_blind_tuning100-104_64x256.jsonl
    python benchmarks/edge_pairs.py --generator family --cases nopure-k6,layered-k8-var,mixed-k12 \
        --seeds 0,1,2,3,4 --below $V --jobs 2 --out benchmarks/results/edge_addback_family_tuning0-4_64x256.jsonl
    python benchmarks/edge_pairs.py --generator blind --seeds 76,77,78,79,80 --report --below $V --jobs 2 \
        --out benchmarks/results/edge_addback_blind_seeds76-80_64x256.jsonl
    python benchmarks/edge_pairs.py --generator family --seeds 9181,9182,9183,9184,9185 --report --below $V \
        --jobs 2 --out benchmarks/results/edge_addback_fresh9181-9185_64x256.jsonl

Stop 55's (a partner's values below a share of its maximum left out of the step's programme,
``partner_floor``; run while the default was 0, one process each beside the other, 35–55 min
a set). With ``edge_partner_floor=0.05`` the default, stop 54's step is ``0.7:partner_floor=0``::

    V=0.7,0.7:partner_floor=0,0.7:partner_floor=0.03
    python benchmarks/edge_pairs.py --generator blind --seeds 100,101,102,103,104 --below $V --jobs 1 \
        --out benchmarks/results/edge_floor_blind_tuning100-104_64x256.jsonl
    python benchmarks/edge_pairs.py --generator family --seeds 0,1,2,3,4 --below $V --jobs 1 \
        --out benchmarks/results/edge_floor_family_tuning0-4_64x256.jsonl
    python benchmarks/edge_pairs.py --generator blind --seeds 81,82,83,84,85 --report --below $V --jobs 1 \
        --out benchmarks/results/edge_floor_blind_seeds81-85_64x256.jsonl
    python benchmarks/edge_pairs.py --generator family --seeds 9186,9187,9188,9189,9190 --report --below $V \
        --jobs 1 --out benchmarks/results/edge_floor_fresh9186-9190_64x256.jsonl
    python benchmarks/edge_pairs.py --generator inrepo --seeds 0,1,2 --below $V --jobs 1 \
        --out benchmarks/results/edge_floor_inrepo.jsonl
    python benchmarks/edge_pairs.py --summary benchmarks/results/edge_floor_blind_seeds81-85_64x256.jsonl --base 0.7

Stop 60's (the step's options screened on saved inputs, then two candidates on fresh seeds;
``guard`` was an option of ``cone_polish.edge_step`` at commit ac9b754, removed after these runs:
not adopted, like ``partner_floor=0.03``).
``--keep DIR`` saves each scene's step input (~20 MB a scene); ``--replay DIR`` does any
variants again from them in seconds a scene, so a sweep costs one training per scene::

    V=0.7,0.7:fill_cm=8,0.7:fill_cm=12
    python benchmarks/edge_pairs.py --generator family --seeds 0,1,2,3,4 --below $V --jobs 1 \
        --keep /tmp/keep/family --out benchmarks/results/edge_fill_family_tuning0-4_64x256.jsonl
    python benchmarks/edge_pairs.py --generator blind --seeds 113,114,115,116,117 --jobs 1 --keep /tmp/keep/blind \
        --out /tmp/blind.jsonl
    python benchmarks/edge_pairs.py --generator inrepo --seeds 0,1,2 --jobs 1 --keep /tmp/keep/inrepo \
        --out /tmp/inrepo.jsonl
    S=0.7,0.7:shift_cm=1,0.7:fill_cm=2,0.7:fill_cm=6,0.7:tol=0.0015,0.7:tol=0.006,0.7:large=0.4,0.7:large=0.7
    S=$S,0.7:add_back=2,0.7:add_back=4,0.7:partner_floor=0.03,0.7:partner_floor=0.08,0.65,0.75,0.7:guard=0.1
    python benchmarks/edge_pairs.py --replay /tmp/keep/family --below $S,0.7:guard=0.15 --base 0.7 \
        --out benchmarks/results/edge_sweep_family_tuning0-4_64x256.jsonl
    # the same from /tmp/keep/blind (edge_sweep_blind_tuning113-117_64x256.jsonl; the guard's variants in
    # edge_guard_blind_tuning113-117_64x256.jsonl) and /tmp/keep/inrepo (edge_sweep_inrepo_64x64.jsonl)
    V=0.7,0.7:guard=0.15,0.7:partner_floor=0.03,0.7:guard=0.15:partner_floor=0.03,0.7:guard=0.1
    python benchmarks/edge_pairs.py --generator blind --seeds 1020,1021,1022,1023,1024 --report --below $V \
        --jobs 1 --out benchmarks/results/edge_guard_blind_seeds1020-1024_64x256.jsonl
    python benchmarks/edge_pairs.py --generator family --seeds 9206,9207,9208,9209,9210 --report --below $V \
        --jobs 1 --out benchmarks/results/edge_guard_fresh9206-9210_64x256.jsonl

Stop 76's: two gates for a spectrum above ``edge_below`` that holds less than the large step of its
partners, each chosen on the tuning runs' kept step inputs (blind 100-104 and family 0-1, run with
``--keep`` and variants of ``large``) and then run on fresh seeds with the rule in its commit's
message. The ramp (commit d32bdb3, ``0.7:ramp=0`` the step of before; rejected by its rule and
removed)::

    python benchmarks/edge_pairs.py --replay /tmp/keep_blind --below 0.7,0.7:ramp=0 --base 0.7:ramp=0 \
        --out /tmp/ramp_blind_tuning_replay.jsonl      # the same from /tmp/keep_family
    V=0.7,0.7:ramp=0
    python benchmarks/edge_pairs.py --generator blind --seeds 1085,1086,1087,1088,1089 --report --below $V \
        --jobs 1 --out benchmarks/results/ramp_pairs_blind_fresh1085-1089_64x256.jsonl
    python benchmarks/edge_pairs.py --generator family --seeds 9256,9257,9258,9259,9260 --report --below $V \
        --jobs 1 --out benchmarks/results/ramp_pairs_family_fresh9256-9260_64x256.jsonl   # stopped at 31 runs
    python benchmarks/edge_pairs.py --generator inrepo --seeds 21,22 --below $V --jobs 1 \
        --out benchmarks/results/ramp_pairs_inrepo_fresh21-22.jsonl

The coherence (commit 62a2b28, ``0.7:coherent=0`` the step of before; rejected by its rule on the family
and removed)::

    V=0.7,0.7:coherent=0
    python benchmarks/edge_pairs.py --generator blind --seeds 1090,1091,1092,1093,1094 --report --below $V \
        --jobs 1 --out benchmarks/results/coherent_pairs_blind_fresh1090-1094_64x256.jsonl
    python benchmarks/edge_pairs.py --generator family --seeds 9261,9262,9263,9264,9265 --report --below $V \
        --jobs 1 --out benchmarks/results/coherent_pairs_family_fresh9261-9265_64x256.jsonl
    python benchmarks/edge_pairs.py --generator inrepo --seeds 23,24 --below $V --jobs 1 \
        --out benchmarks/results/coherent_pairs_inrepo_fresh23-24.jsonl
    python benchmarks/edge_pairs.py --summary benchmarks/results/coherent_pairs_*.jsonl --base 0.7:coherent=0

Stop 77's: the coherence again, where the partners taken off lie at least ``coherent_angle`` (40°)
from the spectrum (commit b899d1d, ``0.7:coherent=0`` the step of before, ``0.7:coherent_angle=0``
stop 76's coherence; rejected by its rule on the family and removed). Chosen on kept step inputs: blind
tuning 100-106, family tuning 0-3 (27 runs), and the stop-76 runs it was looked at on (blind ground-crust
1090-1094, family minor-crust 9262), replayed with ``--replay``; then fresh seeds::

    V=0.7,0.7:coherent=0,0.7:coherent_angle=0
    python benchmarks/edge_pairs.py --generator blind --seeds 1095,1096,1097,1098,1099 --report --below $V \
        --jobs 1 --out benchmarks/results/angle_pairs_blind_fresh1095-1099_64x256.jsonl
    python benchmarks/edge_pairs.py --generator family --seeds 9266,9267,9268,9269,9270 --report --below $V \
        --jobs 1 --out benchmarks/results/angle_pairs_family_fresh9266-9270_64x256.jsonl
    python benchmarks/edge_pairs.py --generator inrepo --seeds 25,26 --below $V --jobs 1 \
        --out benchmarks/results/angle_pairs_inrepo_fresh25-26.jsonl
    python benchmarks/edge_pairs.py --summary benchmarks/results/angle_pairs_*.jsonl --base 0.7:coherent=0

Stop 78's: a C–H-rich spectrum at least ``organic_purest`` (0.6) pure keeps its C–H-rich partners
(commit ffe9895, ``0.7:organic_purest=0`` the step of before; rejected by its rule on the blind
generator and removed). Chosen on the same kept inputs (blind tuning 100-106, family
tuning 0-3), where the stored kwargs lack the option, so there ``0.7:organic_purest=0.6`` is the new step::

    python benchmarks/edge_pairs.py --replay KEPT --below 0.7,0.7:organic_purest=0.6,0.7:organic_purest=0.5 \
        --out REPLAY.jsonl
    V=0.7,0.7:organic_purest=0
    python benchmarks/edge_pairs.py --generator blind --seeds 1100,1101,1102,1103,1104 --report --below $V \
        --jobs 1 --out benchmarks/results/organic_pairs_blind_fresh1100-1104_64x256.jsonl
    python benchmarks/edge_pairs.py --generator family --seeds 9271,9272,9273,9274,9275 --report --below $V \
        --jobs 1 --out benchmarks/results/organic_pairs_family_fresh9271-9275_64x256.jsonl
    python benchmarks/edge_pairs.py --generator inrepo --seeds 27,28 --below $V --jobs 1 \
        --out benchmarks/results/organic_pairs_inrepo_fresh27-28.jsonl
    python benchmarks/edge_pairs.py --summary benchmarks/results/organic_pairs_*.jsonl --base 0.7:organic_purest=0

Then (commit f3e7d29) the same, only where the plain step would leave the spectrum C–H-rich (a pigment's
estimate holding its resin loses its C–H with it), read on the kept tuning inputs and on glaze-stack 1102
and 1104 run again with ``--keep`` (seen), and taken to fresh seeds::

    V=0.7,0.7:organic_purest=0
    python benchmarks/edge_pairs.py --generator blind --seeds 1105,1106,1107,1108,1109 --report --below $V \
        --jobs 1 --out benchmarks/results/organic_left_pairs_blind_fresh1105-1109_64x256.jsonl
    python benchmarks/edge_pairs.py --generator family --seeds 9276,9277,9278 --report --below $V \
        --jobs 1 --out benchmarks/results/organic_left_pairs_family_fresh9276-9278_64x256.jsonl
    python benchmarks/edge_pairs.py --summary benchmarks/results/organic_left_pairs_*.jsonl \
        --base 0.7:organic_purest=0
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # one BLAS thread per process, before numpy loads (a run can depend on it)
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from paired_methods import TIE_DEG, sign_test  # noqa: E402
from polish_pairs import _scores  # noqa: E402
from scenes_quality import _init_worker, checked_seeds, refuse_without_shared_data  # noqa: E402

#: Blind seeds from here on may be tuned on; the ones below are its report seeds.
BLIND_TUNING_FROM = 100
#: ... up to here: from here on they are report seeds again (stop 57; the ones below 100 were spent).
BLIND_REPORT_FROM = 1000
BLIND_CASES = ("soap-paint-k6", "ground-crust-k7", "glaze-stack-k8")
#: The in-repository cases at default artefact strength and Samson (benchmarks/quality.py).
INREPO_CASES = ("patches-k6-default", "layered-k6-default", "layered-k6-measured-atm", "layered-k8-noisy",
                "patches-k10-default", "samson")


def blind_report_seed(seed: int) -> bool:
    """Whether a blind seed is a report seed (never tuned on): below 100, or 1000 and up."""
    return seed < BLIND_TUNING_FROM or seed >= BLIND_REPORT_FROM


def _scene(generator: str, case: str, seed: int, size: dict[str, int]) -> tuple[Any, Any, dict[str, Any]]:
    """The cube, the truth (``endmembers``, ``abundances``, ``k``, ``names``) and the run's
    options (as the generator's own benchmark runs it) of one scene."""
    if generator == "family":
        from ftir_unmix.scenes import make_scene

        s = make_scene(case, seed, **size)
        return s.cube, SimpleNamespace(endmembers=s.endmembers, abundances=s.abundances, k=s.k, names=s.names), {}
    if generator == "inrepo":  # as benchmarks/quality.py runs its cases (64×64, the run's seed)
        import quality

        c = {c.name: c for c in quality.CASES}[case]
        t = quality.make_truth(c, seed)
        names = [f"EM{i + 1}" for i in range(c.k)]
        truth = SimpleNamespace(endmembers=t.endmembers, abundances=t.abundances, k=c.k, names=names)
        return t.cube, truth, {**dict(c.options), "seed": seed}
    import blind_scenes

    import ftir_unmix

    b = blind_scenes.make_blind_scene(case, seed, **size)
    truth = SimpleNamespace(endmembers=b.endmembers, abundances=b.abundances, k=len(b.names), names=b.names)
    return ftir_unmix.make_cube(b.data, b.wavenumbers), truth, {}


def variant(spec: str) -> tuple[str, float, dict[str, float]]:
    """A ``--below`` entry: ``0.7`` (the step's defaults) or ``0.7:fill_cm=0:large=inf`` (with
    :func:`~ftir_unmix.methods.cnn.nonneg_edge.to_nonneg_edge`'s options) -> its name
    (``edge0.7``, ``edge0.7:fill_cm=0:large=inf``), ``edge_below`` and the options."""
    below, *options = spec.split(":")
    pairs = dict(o.split("=") for o in options)
    return f"edge{float(below):g}" + "".join(f":{k}={v}" for k, v in pairs.items()), float(below), \
        {k: float(v) for k, v in pairs.items()}


def run_one(generator: str, case: str, seed: int, belows: list[str], size: dict[str, int],
            keep: Path | None = None) -> dict[str, Any]:
    """One scene, one run with the first of ``belows`` (:func:`variant`; its options must be the
    defaults); the step's input caught and scored as ``none``, the step done again for every
    entry of ``belows``. With ``keep`` (a folder), the step's input and the truth are saved there
    (``GENERATOR-CASE-SEED.npz``) for :func:`replay`."""
    import ftir_unmix
    from ftir_unmix.methods import cnn
    from ftir_unmix.methods.cnn import cone_polish

    cube, truth, options = _scene(generator, case, seed, size)
    original, polished_fn = cone_polish.edge_step, cnn._polished
    caught: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    trained: list[Any] = []  # a run trained again with a spare: its spectra before the checked polish

    def catch(*args: Any, **kwargs: Any) -> Any:
        caught.append((args, kwargs))
        return original(*args, **kwargs)

    def catch_trained(inp: Any, run: Any, checked: bool = False) -> Any:
        if checked:
            trained.append(run)
        return polished_fn(inp, run, checked)

    cone_polish.edge_step, cnn._polished = catch, catch_trained
    try:
        r = ftir_unmix.unmix(cube, truth.k, edge_below=variant(belows[0])[1], **options)
    finally:
        cone_polish.edge_step, cnn._polished = original, polished_fn
    polished = r.parameters.get("polished") or {}
    out = {"generator": generator, "case": case, "seed": int(seed), "names": list(truth.names),
           "kept": polished.get("kept", True), "held": polished.get("held"), "variants": {}}
    shape = truth.abundances.shape
    if trained:  # what the run would end with if the checked polish were dropped, and what it ends with
        out["trained"] = _scores(truth, trained[0].endmembers, trained[0].abundances.reshape(shape))
        out["final"] = _scores(truth, r.endmembers, r.abundances)
    step = caught[-1] if caught and out["kept"] else None
    if keep is not None:
        _keep(keep / f"{generator}-{case}-{seed}.npz", out, truth, step, (r.endmembers, r.abundances))
    if step is None:  # no polish, or the polish was dropped: the step never counted
        out["variants"]["none"] = _scores(truth, r.endmembers, r.abundances)
        return out
    _steps(out, truth, *step, belows)
    first = out["variants"][variant(belows[0])[0]]
    if not np.allclose(first["per"], _scores(truth, r.endmembers, r.abundances)["per"], atol=1e-6):
        raise RuntimeError(f"{case} {seed}: the step done again differs from the run's")
    return out


def _steps(out: dict[str, Any], truth: Any, args: tuple[Any, ...], kwargs: dict[str, Any], belows: list[str]) -> None:
    """``out["variants"]``: the step's input scored as ``none`` and the step done from it for
    every entry of ``belows``."""
    from ftir_unmix.methods.cnn.cone_polish import edge_step

    pixels, weights, nuisance, e, maps, wavenumbers = args
    shape = truth.abundances.shape
    out["variants"]["none"] = _scores(truth, e, maps.reshape(shape))
    for spec in belows:
        name, below, edge = variant(spec)
        e2, maps2, record = edge_step(pixels, weights, nuisance, e, maps, wavenumbers,
                                      **{**kwargs, **edge, "below": below})
        out["variants"][name] = {**_scores(truth, e2, maps2.reshape(shape)), "step": record["step"]}


def _keep(path: Path, out: dict[str, Any], truth: Any, step: tuple[tuple[Any, ...], dict[str, Any]] | None,
          result: tuple[np.ndarray, np.ndarray]) -> None:
    """The scene's record (``out`` without its variants), truth, the run's result and, where the
    step counted, its input, saved to ``path`` for :func:`replay`."""
    arrays = {"truth_endmembers": truth.endmembers, "truth_abundances": truth.abundances,
              "endmembers": result[0], "abundances": result[1]}
    meta = {k: v for k, v in out.items() if k != "variants"}
    if step is not None:
        args, kwargs = step
        arrays.update(zip(("pixels", "weights", "nuisance", "e", "maps", "wavenumbers"), args))
        if args[2] is None:
            del arrays["nuisance"]
        meta["kwargs"] = {k: (list(map(int, v)) if k == "fixed" else v) for k, v in kwargs.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, meta=json.dumps(meta), **arrays)


def replay(paths: list[Path], belows: list[str]) -> list[dict[str, Any]]:
    """The lines :func:`run_one` would write, from the inputs it saved (``keep``), every entry of
    ``belows`` done again from them (no training: seconds a scene)."""
    lines = []
    for path in sorted(paths):
        with np.load(path) as saved:
            a = dict(saved)
        out = json.loads(str(a.pop("meta")))
        truth = SimpleNamespace(endmembers=a["truth_endmembers"], abundances=a["truth_abundances"],
                                k=a["truth_endmembers"].shape[1], names=out["names"])
        out["variants"] = {}
        if "kwargs" not in out:
            out["variants"]["none"] = _scores(truth, a["endmembers"], a["abundances"])
        else:
            args = tuple(a.get(n) for n in ("pixels", "weights", "nuisance", "e", "maps", "wavenumbers"))
            _steps(out, truth, args, out.pop("kwargs"), belows)
        lines.append(out)
    return lines


def summary(paths: list[Path], base: str = "none") -> None:
    """Per generator and case, each variant's mean SAD and aRMSE; each variant against ``base``
    (a variant's name or a ``--below`` entry) run by run (worse / better beyond :data:`TIE_DEG`,
    sign test)."""
    lines = [json.loads(line) for p in paths for line in p.read_text().splitlines() if line.strip()]
    variants = sorted({v for line in lines for v in line["variants"]} - {"none"})
    if base not in ("none", *variants):
        base = variant(base)[0]
    for line in lines:  # no polish kept: the run is the same whatever the step would have done
        if not line["kept"]:
            line["variants"] = dict.fromkeys(["none", *variants], line["variants"]["none"])
    for gen in sorted({line["generator"] for line in lines}):
        rows = [line for line in lines if line["generator"] == gen and all(v in line["variants"] for v in variants)]
        width = max(18, *(len(v) + 2 for v in variants))
        print(f"\n{gen}: {len(rows)} scenes; mean SAD° / aRMSE")
        print("case".ljust(18) + "".join(f"{v:>{width}s}" for v in ["none", *variants]))
        for case in sorted({r["case"] for r in rows}) + ["all"]:
            sel = [r for r in rows if case in ("all", r["case"])]
            cells = "".join(f"{np.mean([r['variants'][v]['mean'] for r in sel]):{width - 9}.2f} / "
                            f"{np.mean([r['variants'][v]['rmse'] for r in sel]):.3f}" for v in ["none", *variants])
            print(case.ljust(18) + cells)
        checked = [r for r in rows if "trained" in r]
        if checked:
            held = [r for r in checked if r.get("held")]
            dropped = sum(not r["kept"] for r in checked)
            print(f"trained again with a spare: {len(checked)} runs; not polished {dropped}, "
                  f"polished with spectra held {len(held)}"
                  + "".join(f"; {r['case']} {r['seed']} {r['trained']['mean']:.2f}° as trained, "
                            f"{r['final']['mean']:.2f}° held" for r in held))
        for v in ["none", *variants]:
            if v == base:
                continue
            diffs = np.array([r["variants"][v]["mean"] - r["variants"][base]["mean"] for r in rows])
            worse, better, p = sign_test(diffs)
            print(f"{v} against {base}: {worse} worse, {better} better beyond {TIE_DEG}°, "
                  f"median {np.median(diffs):+.2f}°, sign test p = {p:.3g}")


def generator_seeds(ap: argparse.ArgumentParser, generator: str, text: str, report: bool) -> list[int]:
    """The comma-separated ``text`` as seeds of ``generator`` (``"family"``, ``"blind"`` or
    ``"inrepo"``); a generator's report seeds end the command (``ap.error``) unless ``report``."""
    if generator == "family":
        return checked_seeds(ap, text, report)
    seeds = [int(s) for s in text.split(",")]
    if generator == "blind" and not report and any(map(blind_report_seed, seeds)):
        ap.error(f"blind seeds below {BLIND_TUNING_FROM} or from {BLIND_REPORT_FROM} on are report seeds: "
                 "pass --report")
    return seeds


def pairs_parser(description: str) -> argparse.ArgumentParser:
    """The options every paired benchmark shares: ``--summary``, ``--generator``, ``--cases``,
    ``--seeds``, ``--height``, ``--width``, ``--jobs``, ``--out``, ``--report``."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--summary", nargs="+", type=Path, help="print the tables of these JSON-lines files and stop")
    ap.add_argument("--generator", choices=("family", "blind", "inrepo"), default="family")
    ap.add_argument("--cases", default="all", help="comma-separated case names, or 'all'")
    ap.add_argument("--seeds", help="comma-separated seeds")
    ap.add_argument("--height", type=int, default=64)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", type=Path, help="JSON lines, appended as scenes finish")
    ap.add_argument("--report", action="store_true", help="allow report seeds")
    return ap


def run_pairs(ap: argparse.ArgumentParser, args: argparse.Namespace, run_one: Any, variants: list[Any]) -> None:
    """``run_one(generator, case, seed, variants, size)`` for every case and seed asked for
    (report seeds only with ``--report``), in ``--jobs`` processes; each line appended to
    ``--out`` as it finishes and its variants' mean SAD printed."""
    refuse_without_shared_data(ap)
    if args.generator == "family":
        from ftir_unmix.scenes import CASES

        every = list(CASES)
    else:
        every = list(INREPO_CASES if args.generator == "inrepo" else BLIND_CASES)
    seeds = generator_seeds(ap, args.generator, args.seeds, args.report)
    cases = every if args.cases == "all" else args.cases.split(",")
    size = {"height": args.height, "width": args.width}
    with ProcessPoolExecutor(args.jobs, initializer=_init_worker, initargs=(1,)) as ex, args.out.open("a") as f:
        futures = [ex.submit(run_one, args.generator, c, s, variants, size) for s in seeds for c in cases]
        for future in as_completed(futures):
            line = future.result()
            f.write(json.dumps(line) + "\n")
            f.flush()
            print(line["case"], line["seed"], {k: round(v["mean"], 2) for k, v in line["variants"].items()},
                  flush=True)


def score_or_run(ap: argparse.ArgumentParser, args: argparse.Namespace, parse_rule: Any, summary: Any,
                 run_one: Any, variants: Any) -> int:
    """The ``main`` of a benchmark that scores ``--rules`` offline: with ``--summary`` each rule
    checked by ``parse_rule`` (a ValueError ends the command) and ``summary(paths, rules)``
    printed; otherwise :func:`run_pairs` (``--seeds`` and ``--out`` needed)."""
    if args.summary:
        specs = args.rules.split(",")
        for spec in specs:
            try:
                parse_rule(spec)
            except ValueError as err:
                ap.error(str(err))
        summary(args.summary, specs)
        return 0
    if not args.seeds or args.out is None:
        ap.error("--seeds and --out are needed (or --summary)")
    run_pairs(ap, args, run_one, variants)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = pairs_parser(__doc__.split("\n\n")[0])
    ap.add_argument("--base", default="none",
                    help="with --summary: the variant the others are paired with (none, or a --below entry)")
    ap.add_argument("--keep", type=Path, help="save each scene's step input here (NPZ, ~20 MB a scene) for --replay")
    ap.add_argument("--replay", type=Path,
                    help="do the --below variants again from the inputs saved in this folder (no training) and stop")
    ap.add_argument("--below", default="0.7",
                    help="comma-separated edge_below values, each optionally with the step's options "
                         "(0.7:fill_cm=0:large=inf); the first, without options, is the run's")
    args = ap.parse_args(argv)
    if args.summary:
        summary(args.summary, args.base)
        return 0
    belows = args.below.split(",")
    if args.replay and args.out:
        with args.out.open("a") as f:
            for line in replay(list(args.replay.glob("*.npz")), belows):
                f.write(json.dumps(line) + "\n")
        summary([args.out], args.base)
        return 0
    if not args.seeds or args.out is None:
        ap.error("--seeds and --out are needed (or --summary, or --replay with --out)")
    if variant(belows[0])[2]:
        ap.error("the first --below value is the run's own: give it without options")
    run_pairs(ap, args, partial(run_one, keep=args.keep), belows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
