"""Why does CNN+WSAD not beat CNN+SAD? Band-weight variants against the synthetic truth.

For a few artefact-bearing cases of ``benchmarks/quality.py`` and several
seeds, the CNN is trained with:

- ``SAD``: no weights;
- ``WSAD``: the automatic weights with the library's unmixing defaults
  (γ_rough = 0: the neighbour-correlation deficit alone);
- ``WSAD γ_rough=0.75``: the paper's roughness weight;
- ``WSAD hp``: a proposed roughness diagnostic (see :func:`hp_weights`);
- ``WSAD oracle mask``: ``w_min`` on the synthetic truth's ``artefact_mask``
  (bands where a CO₂/H₂O template exceeds 5 % of the CO₂ doublet), 1 elsewhere;
- ``WSAD oracle lines``: ``w_min`` only where the atmospheric residue can
  exceed twice the noise (``0.04 · strength · 1.5 · |template| > 2 σ``);

and reports the mean SAD, the abundance RMSE, the band-weight scores
(artefact bands down-weighted, informative bands wrongly down-weighted,
share of the clean signal's energy kept), and how far training moved the
endmembers from their warm start (the NMF estimate the decoder starts from).

    python benchmarks/wsad_diagnosis.py --out docs/benchmarks.md     # ~10 min on one core
    python benchmarks/wsad_diagnosis.py --quick

Results: ``benchmarks/results/wsad_diagnosis.json``; the markdown goes between
``<!-- BEGIN WSAD DIAGNOSIS -->`` and ``<!-- END WSAD DIAGNOSIS -->``.
"""

from __future__ import annotations

import os

if __name__ == "__main__":
    for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality as q

BEGIN, END = "<!-- BEGIN WSAD DIAGNOSIS -->", "<!-- END WSAD DIAGNOSIS -->"
CASES = ("layered-k6-default", "layered-k6-no-baseline", "patches-k6-measured-strong-no-baseline",
         "layered-k6-measured-atm")
VARIANTS = ("SAD", "WSAD", "WSAD γ_rough=0.75", "WSAD hp", "WSAD oracle mask", "WSAD oracle lines")


def hp_weights(data: np.ndarray, *, gamma: float = 0.75, tau: float = 3.0, sharpness: float = 2.0,
               w_min: float = 0.05, window: int = 5) -> np.ndarray:
    """Proposed weights: correlation deficit + *spatially varying* fine-scale roughness.

    The library's roughness term looks at the second difference of the median
    spectrum, scored against the median roughness of all bands. Most bands of
    an ATR spectrum are flat, so that median is tiny and every genuine sharp
    absorption band scores as "rough". It also misses drifting atmospheric
    lines whose median amplitude is near zero. Here the roughness is measured
    where the artefact lives — in the pixel-to-pixel variation: each
    (median-centred) pixel spectrum is high-passed by subtracting a
    Savitzky–Golay fit (``window`` bands, order 2), which condensed-phase
    bands (FWHM ≥ ~3 bands) follow and single-band lines do not; the per-band
    robust spread (MAD over pixels) of that residual is scored as
    ``z(log MAD)``. Noise gives the same spread on every band (z ≈ 0); spikes
    are ignored by the MAD and left to the correlation term.
    """
    from scipy.signal import savgol_filter

    from ftir_unmix import band_diagnostics
    from ftir_unmix.preprocess.weights import robust_z

    d = band_diagnostics(data, gamma_rough=0.0, tau=tau, sharpness=sharpness, w_min=w_min)
    x = np.asarray(data, dtype=np.float64).reshape(-1, d.weights.size)
    xc = x - d.median_spectrum
    hp = xc - savgol_filter(xc, window, 2, axis=1)
    mad = np.median(np.abs(hp - np.median(hp, axis=0)), axis=0)
    score = np.maximum(d.z_corr, 0) + gamma * np.maximum(robust_z(np.log(mad + 1e-12)), 0)
    return w_min + (1 - w_min) / (1 + np.exp(np.clip(sharpness * (score - tau), -700, 700)))


def strong_line_bands(case: q.Case, truth: q.Truth) -> np.ndarray:
    """Bands where the drifting CO₂/H₂O residue can exceed twice the noise (synthetic truth)."""
    from ftir_unmix.synthetic import (
        _ATMOSPHERE_SCALE,
        atmosphere_templates,
        load_atmosphere_dpt,
    )

    atm = load_atmosphere_dpt(q.DATA / "atmosphere" / case.atmosphere) if case.atmosphere else None
    co2, water = atmosphere_templates(truth.cube.wavenumbers, atm)
    peak = _ATMOSPHERE_SCALE * case.artefacts * 1.5 * np.maximum(np.abs(co2), np.abs(water))
    return peak > 2 * max(case.noise, 1e-12)


def _weights(variant: str, case: q.Case, truth: q.Truth) -> tuple[str, np.ndarray | None]:
    """(loss, explicit weights or None for the automatic ones)."""
    from ftir_unmix import UnmixConfig, band_weights

    w_min = UnmixConfig().w_min
    if variant == "SAD":
        return "sad", None
    if variant == "WSAD":
        return "wsad", None
    if variant == "WSAD γ_rough=0.75":
        return "wsad", band_weights(truth.cube.data, gamma_rough=0.75)
    if variant == "WSAD hp":
        return "wsad", hp_weights(truth.cube.data)
    if variant == "WSAD oracle mask":
        return "wsad", q.oracle_weights(truth, w_min)
    if variant == "WSAD oracle lines":
        return "wsad", np.where(strong_line_bands(case, truth), w_min, 1.0)
    raise ValueError(variant)


def run(cases=CASES, seeds=(0, 1, 2), *, size=64, n_bands=None, epochs=None, log=print) -> dict[str, Any]:
    import torch

    from ftir_unmix import band_diagnostics, unmix
    from ftir_unmix.methods.classical import nmf
    from ftir_unmix.metrics import evaluate, mean_sad

    torch.set_num_threads(1)
    by_name = {c.name: c for c in q.CASES}
    rows = []
    t0 = time.perf_counter()
    for name in cases:
        case = by_name[name]
        for seed in seeds:
            truth = q.make_truth(case, seed, size=size, n_bands=n_bands)
            diag = band_diagnostics(truth.cube.data)
            for v in VARIANTS:
                loss, w = _weights(v, case, truth)
                opts = {"epochs": epochs} if epochs else {}
                t = time.perf_counter()
                r = unmix(truth.cube, case.k, loss=loss, weights=w, seed=seed, device="cpu", **opts)
                secs = time.perf_counter() - t
                ev = evaluate(truth.endmembers, truth.abundances, r.endmembers, r.abundances)
                # The warm start the decoder began from, rebuilt as the CNN method builds it.
                x = truth.cube.pixels
                rec = {"case": name, "seed": seed, "variant": v, "mean_sad_deg": ev["mean_sad_deg"],
                       "abundance_rmse": ev["abundance_rmse"], "seconds": secs,
                       "steps": r.parameters.get("steps_run"), "init": r.parameters.get("init")}
                wd = q.weight_diagnosis(truth, r.weights, {"z_corr": diag.z_corr, "z_rough": diag.z_rough})
                rec.update({k: wd[k] for k in ("artefact_downweighted", "informative_downweighted",
                                               "informative_energy_kept")})
                how = (r.parameters.get("warm_start") or {}).get("chosen", r.parameters.get("init"))
                if how in ("nmf", "vca"):
                    from ftir_unmix.methods.cnn.warm_start import initial_endmembers
                    from ftir_unmix.preprocess import ScaledPixels, scale_pixels

                    xs = ScaledPixels(x, scale_pixels(x, r.parameters.get("scaling", "global")))
                    e0 = initial_endmembers(xs, np.asarray(r.weights, np.float32), case.k, how, seed)
                    rec["warm_start"] = how
                    rec["init_sad_deg"] = mean_sad(truth.endmembers, e0)
                    rec["moved_from_init_deg"] = mean_sad(e0, r.endmembers)
                rows.append(rec)
                log(f"  {name:40s} seed {seed} {v:16s} SAD {rec['mean_sad_deg']:6.2f}°  "
                    f"RMSE {rec['abundance_rmse']:.4f}  init {rec.get('init_sad_deg', float('nan')):6.2f}°  "
                    f"moved {rec.get('moved_from_init_deg', float('nan')):5.2f}°  {secs:5.1f} s")
    _ = nmf  # (imported to fail early when scikit-learn is missing)
    from ftir_unmix import UnmixConfig

    defaults = {k: v for k, v in UnmixConfig().resolved().to_dict().items() if k in q._RECORDED}
    return {"meta": {"size": size, "n_bands": n_bands, "seeds": list(seeds), "epochs": epochs,
                     "git": q._git_head(), "defaults": defaults,
                     "date": time.strftime("%Y-%m-%d"), "minutes": (time.perf_counter() - t0) / 60},
            "rows": rows}


def render(res: dict[str, Any]) -> str:
    rows, meta = res["rows"], res["meta"]
    lines = [BEGIN, "",
             (f"_Generated by `python benchmarks/wsad_diagnosis.py` on {meta['date']}: "
              f"{meta['size']}×{meta['size']} px, seeds {meta['seeds']}, {meta['minutes']:.1f} min"
              + (f", git {meta['git']}" if meta.get("git") else "")
              + (f"; CNN defaults: {q._defaults_text(meta['defaults'])}" if meta.get("defaults") else "")
              + "._"), "",
             ("| case | variant | mean SAD (°) | RMSE | warm start SAD (°) | moved from warm start (°) "
              "| artefact ↓ | informative ↓ | energy kept |"),
             "|---|---|---|---|---|---|---|---|---|"]
    cases = list(dict.fromkeys(r["case"] for r in rows))
    for c in cases:
        for v in VARIANTS:
            rs = [r for r in rows if r["case"] == c and r["variant"] == v]
            if not rs:
                continue

            def m(key: str, fmt: str = "{:.2f}", rs: list[dict[str, Any]] = rs) -> str:
                vals = [r[key] for r in rs if r.get(key) is not None]
                if not vals:
                    return "—"
                sd = statistics.pstdev(vals) if len(vals) > 1 else 0.0
                return (fmt.format(statistics.fmean(vals))
                        + (f" ± {fmt.format(sd)}" if key in ("mean_sad_deg",) else ""))

            lines.append(f"| {c} | {v} | {m('mean_sad_deg')} | {m('abundance_rmse', '{:.4f}')} | "
                         f"{m('init_sad_deg')} | {m('moved_from_init_deg')} | {m('artefact_downweighted')} | "
                         f"{m('informative_downweighted')} | {m('informative_energy_kept')} |")
    lines += ["", END]
    return "\n".join(lines)


def write_markdown(path: Path, generated: str) -> None:
    text = path.read_text(encoding="utf-8") if path.is_file() else "# Benchmarks\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + generated + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + generated + "\n"
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--render-only", action="store_true")
    args = p.parse_args(argv)
    path = args.json or q.RESULTS / ("wsad_diagnosis_quick.json" if args.quick else "wsad_diagnosis.json")
    if args.render_only:
        res = json.loads(path.read_text())
    else:
        res = (run(cases=CASES[:1], seeds=(0,), size=24, n_bands=300, epochs=60) if args.quick
               else run())
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(res, indent=1))
    md = render(res)
    if args.out:
        write_markdown(args.out, md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
