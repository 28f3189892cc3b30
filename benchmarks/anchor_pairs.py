"""Spectra put on their pure pixels (``pure_anchor``), paired: one training per scene.

Images without a background term only (the anchor does nothing with one): the reflectance scenes
of ``reflectance_scenes.py`` (written without reading the project's other generators), Samson,
and the in-repository cases of ``quality.py``. Each scene is unmixed once with
``baseline="none"`` and the library's defaults (an in-repository case with its own options too,
as the "no baseline term" column runs it); the input of the run's last step (the polish,
:func:`ftir_unmix.methods.cnn._polished`) is caught and the step is done again with each value
of ``--shares`` (0: off; ``S@M``: share S, and at least a share M of the pixels pure, in place of
the library's ``MIN_PIXEL_SHARE``; ``S/A``: with ``anchor_area=A``, the purest pixels as many as
a part A of the spectrum's area; ``S/A/T``: also ``anchor_tight=T`` (degrees); ``S/A/T/G``: also
``anchor_graded=G`` (degrees); a suffix ``+spot``: with ``residual_spot``, else without
(``+spot:P``: its place chosen as ``residual_spot.PLACE = P``; ``+spot:hold``: with
``residual_spot_hold``). The run's seed is Samson's and an in-repository case's seed, a
reflectance scene's run is at seed 0 (the seed makes the scene), so the variants differ only by
the anchor and the residual spot. Writes one JSON line per scene: per variant the mean SAD
(degrees, Hungarian-matched), the abundance RMSE, the per-material figures and the records of
both steps.
``--summary FILE`` prints per-case means and, against ``off`` (or ``--against``), the runs better
and worse by more than 0.05°::

    OMP_NUM_THREADS=1 python benchmarks/anchor_pairs.py --cases shore-k3,road-k4,patchy-k5 \\
        --seeds 0,1,2,3,4 --shares 0,0.9,0.95 --jobs 2 --out benchmarks/results/anchor_tuning0-4.jsonl
    python benchmarks/anchor_pairs.py --summary benchmarks/results/anchor_tuning0-4.jsonl
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from polish_pairs import _scores  # noqa: E402
from spare_pairs import _drained  # noqa: E402


def _scene(case: str, seed: int) -> tuple[Any, SimpleNamespace, dict[str, Any]]:
    """The cube, the truth (``endmembers``, ``abundances``, ``k``, ``names``, as edge_pairs.py's
    scenes) and the run's options of ``case``: a reflectance case (its scene's seed; the run at
    seed 0), ``samson`` (the run's seed) or an in-repository case of ``quality.py`` (its image
    and run at that seed, with the case's options, as the "no baseline term" column runs it)."""
    import quality

    cases = {c.name: c for c in quality.CASES}
    if case in cases:
        c = cases[case]
        t = quality.make_truth(c, seed, size=64)
        k = t.endmembers.shape[1]
        return t.cube, SimpleNamespace(endmembers=t.endmembers, abundances=t.abundances, k=k,
                                       names=[f"M{j + 1}" for j in range(k)]), {**dict(c.options), "seed": seed}
    from reflectance_scenes import make_reflectance_scene

    s = make_reflectance_scene(case, seed)
    return s.cube, SimpleNamespace(endmembers=s.endmembers, abundances=s.abundances, k=len(s.names),
                                   names=list(s.names)), {"seed": 0}


def _variant(share: float, least: float | None, spot: str = "", area: float = 0.0, tight: float = 0.0,
             graded: float = 0.0) -> str:
    name = "off" if share == 0 else f"share {share:g}" + ("" if least is None else f" min {least:g}")
    name += f" area {area:g}" if share and area else ""
    name += f" tight {tight:g}" if share and area and tight else ""
    name += f" graded {graded:g}" if share and area and graded else ""
    return f"{name} + {spot}" if spot else name


def _parsed(spec: str) -> tuple[float, float | None, str, float, float, float]:
    """``"0.95"`` (the library's least share of pixels), ``"0.95@0.01"`` (that share and least
    share), ``"0.95/0.33"`` (``anchor_area=0.33``, else 0), ``"0.95/0.33/3"`` (and
    ``anchor_tight=3``, else 0), ``"0.95/0.33/3/2"`` (and ``anchor_graded=2``, else 0); a suffix
    ``+spot`` turns ``residual_spot`` on (off otherwise),
    ``+spot:P`` with its place chosen as ``residual_spot.PLACE = P`` (``squares``, the
    library's, or ``angle``), ``+spot:hold`` with ``residual_spot_hold``; the third item is
    ``""`` (off), ``"spot"`` or ``"spot:P"``, then the area, the tight angle and the graded angle."""
    spec, plus, place = spec.partition("+spot")
    spec, _, after = spec.partition("/")
    area, _, tight = after.partition("/")
    tight, _, graded = tight.partition("/")
    share, _, least = spec.partition("@")
    return (float(share), float(least) if least else None, (f"spot{place}" if plus else ""), float(area or 0.0),
            float(tight or 0.0), float(graded or 0.0))


def run_one(case: str, seed: int, shares: list[tuple[float, float | None, str, float, float, float]]) -> dict[str, Any]:
    """One scene: a run without a baseline term, its polish's input caught, the polish done
    again with each anchor share (and residual spot, on or off)."""
    import ftir_unmix
    from ftir_unmix.methods import cnn
    from ftir_unmix.methods.cnn import pure_anchor, residual_spot

    cube, truth, options = _scene(case, seed)
    polished_fn = cnn._polished
    caught: list[tuple[Any, Any, bool]] = []

    def catch(inp: Any, run: Any, checked: bool = False) -> Any:
        caught.append((inp, run, checked))
        return (yield from polished_fn(inp, run, checked))

    cnn._polished = catch
    try:
        r = ftir_unmix.unmix(cube, truth.k, **{**options, "baseline": "none"})
    finally:
        cnn._polished = polished_fn
    shape = truth.abundances.shape
    line: dict[str, Any] = {"case": case, "seed": int(seed), "names": truth.names,
                            "default": _scores(truth, r.endmembers, r.abundances), "variants": {}}
    inp, run, checked = caught[-1]
    library_least, library_place = pure_anchor.MIN_PIXEL_SHARE, residual_spot.PLACE
    for share, least, spot, area, tight, graded in shares:
        place = spot.partition(":")[2]
        config = dataclasses.replace(inp.config, pure_anchor=share, anchor_area=area, anchor_tight=tight,
                                     anchor_graded=graded,
                                     residual_spot=bool(spot), residual_spot_hold=place == "hold")
        pure_anchor.MIN_PIXEL_SHARE = library_least if least is None else least
        residual_spot.PLACE = library_place if place in ("", "hold") else place
        try:
            done = _drained(cnn._polished(dataclasses.replace(inp, config=config),
                                          dataclasses.replace(run, record=dict(run.record)), checked))
        finally:
            pure_anchor.MIN_PIXEL_SHARE, residual_spot.PLACE = library_least, library_place
        scores = _scores(truth, done.endmembers, done.abundances.reshape(shape))
        polished = done.record.get("polished") or {}
        line["variants"][_variant(share, least, spot, area, tight, graded)] = {
            **scores, "anchor": polished.get("anchor"), "residual_spot": polished.get("residual_spot")}
    return line


def read_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of a results file."""
    return [json.loads(s) for s in path.read_text().splitlines() if s.strip()]


def run_lines(run_one: Callable[..., dict[str, Any]], jobs: list[tuple[Any, ...]], workers: int, out: Path | None,
              shown: Callable[[dict[str, Any]], str]) -> None:
    """``run_one(*job)`` for every job in ``workers`` processes; each line printed as ``shown``
    says and appended to ``out``."""
    with ProcessPoolExecutor(workers) as pool:
        for line in pool.map(run_one, *zip(*jobs)):
            print(f"{line['case']} {line['seed']}: {shown(line)}", flush=True)
            if out:
                with out.open("a") as f:
                    f.write(json.dumps(line) + "\n")


def lines_parser(description: str, cases: str, seeds: str) -> argparse.ArgumentParser:
    """The options of a benchmark that writes results lines: ``--cases``, ``--seeds``,
    ``--jobs``, ``--out`` and ``--summary FILE``."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--cases", default=cases)
    ap.add_argument("--seeds", default=seeds)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--summary", type=Path)
    return ap


def summary(path: Path, against: str = "off") -> str:
    """Per case and variant the mean SAD and RMSE, and against the variant ``against`` (the
    first variant where the file has none of that name) the runs better and worse."""
    lines = read_lines(path)
    by_case: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        by_case[line["case"]].append(line)
    variants = list(lines[0]["variants"])
    against = against if against in variants else variants[0]
    out = [f"{path.name}: {len(lines)} runs"]
    for case, runs in [*by_case.items(), ("all", lines)]:
        for v in variants:
            sad = [r["variants"][v]["mean"] for r in runs]
            rmse = [r["variants"][v]["rmse"] for r in runs]
            d = np.asarray(sad) - np.asarray([r["variants"][against]["mean"] for r in runs])
            out.append(f"{case:10s} {v:18s} SAD {np.mean(sad):6.2f}°  RMSE {np.mean(rmse):.3f}  "
                       f"vs {against}: {int((d < -0.05).sum())} better, {int((d > 0.05).sum())} worse")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = lines_parser(__doc__.split("\n")[0], "shore-k3,road-k4,patchy-k5", "0,1,2,3,4")
    ap.add_argument("--shares", default="0,0.9,0.95")
    ap.add_argument("--against", default="off", help="the variant the summary counts runs better and worse against")
    a = ap.parse_args(argv)
    if a.summary:
        print(summary(a.summary, a.against))
        return 0
    shares = [_parsed(v) for v in a.shares.split(",")]
    jobs = [(c, int(s), shares) for c in a.cases.split(",") for s in a.seeds.split(",")]
    run_lines(run_one, jobs, a.jobs, a.out,
              lambda line: ", ".join(f"{v} {r['mean']:.2f}°" for v, r in line["variants"].items()))
    if a.out:
        print(summary(a.out, a.against))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
