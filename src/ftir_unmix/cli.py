"""The ``ftir-unmix`` command line: info, weights, unmix, demo."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

import numpy as np

from .config import BASELINES, INITS, LOSSES, METHODS, PROTOCOLS, SCALINGS, UnmixConfig
from .errors import CubeError

__all__ = ["main"]

_DEFAULTS = UnmixConfig()


def _add_weight_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("band weights")
    g.add_argument("--gamma-rough", type=float, default=_DEFAULTS.gamma_rough)
    g.add_argument("--gamma-flat", type=float, default=_DEFAULTS.gamma_flat)
    g.add_argument("--tau", type=float, default=_DEFAULTS.tau)
    g.add_argument("--sharpness", type=float, default=_DEFAULTS.sharpness)
    g.add_argument("--w-min", type=float, default=_DEFAULTS.w_min)


def _add_reader_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="an FTIR image file (.npz, ENVI .hdr, Agilent, OPUS, …)")
    p.add_argument("--width", type=int, default=None,
                   help="image width in pixels, for files that store a flat list of spectra")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ftir-unmix", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="size, spectral range and format of a file")
    _add_reader_options(p)
    p.add_argument("--json", action="store_true", help="print a JSON object")

    p = sub.add_parser("weights", help="band-reliability weights and diagnostics to CSV")
    _add_reader_options(p)
    p.add_argument("--out", required=True, help="CSV file to write")
    _add_weight_options(p)

    p = sub.add_parser("unmix", help="unmix a file into K abundance maps and endmember spectra")
    _add_reader_options(p)
    p.add_argument("--k", type=int, required=True, help="number of endmembers")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--method", choices=METHODS, default=_DEFAULTS.method)
    p.add_argument("--loss", choices=LOSSES, default=_DEFAULTS.loss)
    p.add_argument("--protocol", choices=PROTOCOLS, default=_DEFAULTS.protocol,
                   help="fast (default): whole-image steps, stops on convergence; "
                        "paper: random 5x5 patches as in Pande et al.")
    p.add_argument("--epochs", type=int, default=None,
                   help="epochs (paper protocol, default 500) or maximum steps (fast, default 300)")
    p.add_argument("--patches", type=int, default=_DEFAULTS.n_patches)
    p.add_argument("--batch-size", type=int, default=_DEFAULTS.batch_size)
    p.add_argument("--lr", type=float, default=_DEFAULTS.lr)
    p.add_argument("--softmax-scale", type=float, default=_DEFAULTS.softmax_scale)
    p.add_argument("--dropout", type=float, default=None,
                   help="spatial dropout (default: 0.2 for the paper protocol, 0 for fast)")
    p.add_argument("--scaling", choices=SCALINGS, default=_DEFAULTS.scaling)
    _add_baseline_option(p)
    p.add_argument("--init", choices=INITS, default=_DEFAULTS.init,
                   help="decoder warm start (auto: the better of nmf and vca for the fast protocol, "
                        "random for the paper protocol)")
    p.add_argument("--refine", action=argparse.BooleanOptionalAction, default=_DEFAULTS.refine,
                   help="fast protocol: retry the least-used endmember on the worst-explained spot, "
                        "keep it if the fit improves (default on)")
    p.add_argument("--seed", type=int, default=_DEFAULTS.seed)
    p.add_argument("--device", default=_DEFAULTS.device, help="auto (default), cpu, cuda or mps")
    p.add_argument("--force-range", action="append", default=[], metavar="LO:HI",
                   help="force the weights of a wavenumber range (cm-1) to w-min; repeatable")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_weight_options(p)

    p = sub.add_parser("select-k", help="unmix for a range of K and recommend one")
    _add_reader_options(p)
    p.add_argument("--k-min", type=int, default=4)
    p.add_argument("--k-max", type=int, default=12)
    p.add_argument("--method", choices=METHODS, default=_DEFAULTS.method)
    p.add_argument("--loss", choices=LOSSES, default=_DEFAULTS.loss)
    _add_baseline_option(p)
    p.add_argument("--epochs", type=int, default=200, help="CNN: maximum steps per K (default 200)")
    p.add_argument("--seed", type=int, default=_DEFAULTS.seed)
    p.add_argument("--device", default=_DEFAULTS.device, help="auto (default), cpu, cuda or mps")
    p.add_argument("--rule", choices=("auto", "count", "largest-clean"), default="auto",
                   help="how K is chosen (auto: count for cnn, largest-clean for nmf/vca-fcls)")
    p.add_argument("--json", action="store_true", help="print a JSON object instead of the table")
    p.add_argument("--out", default=None, help="CSV file: one row of diagnostics per K")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")

    p = sub.add_parser("demo", help="open napari with a synthetic cross-section and the panels")
    p.add_argument("path", nargs="?", default=None, help="open this file instead of the sample")
    return parser


def _add_baseline_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--baseline", choices=tuple(BASELINES), default=_DEFAULTS.baseline,
                   help="CNN: smooth per-pixel baseline fitted along with the mixture "
                        f"(default {_DEFAULTS.baseline}; none for data without one)")


def _version() -> str:
    from . import __version__

    return __version__


def _load(args: argparse.Namespace):
    from .io import load_cube

    options = {"width": args.width} if args.width else {}
    return load_cube(args.path, **options)


def _weights(args: argparse.Namespace) -> int:
    from .export import write_endmembers_csv
    from .weights import band_diagnostics

    cube = _load(args)
    diag = band_diagnostics(cube.data, gamma_rough=args.gamma_rough, gamma_flat=args.gamma_flat,
                            tau=args.tau, sharpness=args.sharpness, w_min=args.w_min)
    cols = diag.columns()
    cols["median_spectrum"] = diag.median_spectrum
    write_endmembers_csv(args.out, cube.wavenumbers, np.column_stack(list(cols.values())), list(cols))
    print(f"wrote {args.out}: {cube.n_bands} bands, {int((diag.weights < 0.5).sum())} with weight < 0.5")
    return 0


def _parse_range(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split(":"))
    except ValueError:
        raise ValueError(f"--force-range expects LO:HI in cm-1, got {text!r}") from None
    return lo, hi


def _unmix(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .export import write_outputs
    from .train import iter_unmix

    cube = _load(args)
    config = UnmixConfig(
        k=args.k, method=args.method, loss=args.loss, protocol=args.protocol,
        epochs=args.epochs, n_patches=args.patches,
        batch_size=args.batch_size, lr=args.lr, softmax_scale=args.softmax_scale,
        dropout=args.dropout,
        scaling=args.scaling, baseline=args.baseline, init=args.init, refine=args.refine, seed=args.seed, device=args.device,
        gamma_rough=args.gamma_rough, gamma_flat=args.gamma_flat, tau=args.tau,
        sharpness=args.sharpness, w_min=args.w_min,
        forced_ranges=tuple(_parse_range(r) for r in args.force_range),
    )
    gen = iter_unmix(cube, config)
    bar = tqdm(total=config.resolved().epochs, unit="step" if config.protocol == "fast" else "epoch",
               disable=args.quiet or config.method != "cnn", file=sys.stderr)
    while True:
        try:
            event = next(gen)
        except StopIteration as done:
            result = done.value
            break
        if event.phase == "train" and event.step > bar.n:
            bar.update(event.step - bar.n)
            bar.set_postfix(loss=f"{event.loss:.4f}")
    bar.close()
    paths = write_outputs(result, args.out)
    steps = result.parameters.get("steps_run")
    print(f"wrote {', '.join(p.name for p in paths.values())} to {args.out}"
          f" ({result.timings['total_s']:.1f} s" + (f", {steps} steps)" if steps else ")"))
    return 0


def _select_k(args: argparse.Namespace) -> int:
    from .select_k import SelectionCriteria, sweep_k

    if not 2 <= args.k_min <= args.k_max:
        raise ValueError(f"need 2 <= --k-min <= --k-max; got {args.k_min}, {args.k_max}")
    cube = _load(args)

    def report(event) -> None:
        if event.done is not None and not args.quiet:
            d = event.done
            print(f"K = {d.k}: weighted angle {d.recon_deg:.3f}°, {d.seconds:.1f} s",
                  file=sys.stderr, flush=True)

    options = {"loss": args.loss, "device": args.device, "baseline": args.baseline}
    if args.method == "cnn":
        options["epochs"] = args.epochs
    sweep = sweep_k(cube, range(args.k_min, args.k_max + 1), method=args.method, seed=args.seed,
                    callback=report, criteria=SelectionCriteria(rule=args.rule), **options)
    k, reason = sweep.recommend()
    if args.out:
        rows = sweep.table()
        keys = ["k", "recon_deg", "gain", "min_sad_deg", "max_map_corr", "n_distinct", "clean", "seconds"]
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(",".join([*keys, "min_peak", "n_duplicates", "n_faint", "recommended"]) + "\n")
            for r in rows:
                vals = ["" if r[c] is None else str(r[c]) for c in keys]
                vals += [str(min(r["peak"])), str(len(r["duplicates"])), str(len(r["faint"])),
                         str(r["k"] == k)]
                fh.write(",".join(vals) + "\n")
    if args.json:
        print(json.dumps(sweep.to_dict()))
    else:
        print(sweep.format_table())
        print(f"recommended K = {k}")
        print(reason)
    return 0


def _demo(args: argparse.Namespace) -> int:
    try:
        from .napari.demo import run_demo
    except ImportError as exc:
        raise RuntimeError(
            f"the napari GUI is not installed ({exc.name}): pip install 'napari-ftir-unmix[pyqt6]'"
        ) from None
    run_demo(args.path)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ftir-unmix``; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "info":
            info = _load(args).info()
            if args.json:
                print(json.dumps(info))
            else:
                for key, value in info.items():
                    print(f"{key}: {value}")
            return 0
        if args.command == "weights":
            return _weights(args)
        if args.command == "unmix":
            return _unmix(args)
        if args.command == "select-k":
            return _select_k(args)
        return _demo(args)
    except CubeError as exc:  # already "path: reason"
        print(f"ftir-unmix: error: {exc}", file=sys.stderr)
    except (ValueError, OSError, RuntimeError) as exc:
        where = f"{args.path}: " if getattr(args, "path", None) and str(args.path) not in str(exc) else ""
        print(f"ftir-unmix: error: {where}{' '.join(str(exc).split())}", file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
