"""The ``ftir-unmix`` command line: info, weights, unmix, demo."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._version import __version__
from .config import BASELINES, INITS, LOSSES, METHODS, PROTOCOLS, SCALINGS, UnmixConfig, parameter_rule
from .errors import CubeReadError, FTIRUnmixWarning, OutputError, ParameterError, escape_control
from .jsonable import dumps
from .parameters import check_weight_params

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
    from .io import Y_UNITS, readers

    p.add_argument("path", help="an FTIR image file (.npz, ENVI .hdr, Agilent, OPUS, …)")
    g = p.add_argument_group("reading")
    g.add_argument("--width", type=int, default=None,
                   help="image width in pixels, for files that store a flat list of spectra")
    g.add_argument("--format", choices=sorted(readers()), default=None,
                   help="the reader to use when the file's name or content does not tell")
    g.add_argument("--units", choices=Y_UNITS, default="auto",
                   help="what the values are: auto (default: from the file, else recognised by "
                        "their range); transmittance and reflectance are converted to absorbance")
    g.add_argument("--wavenumbers", metavar="FILE", default=None,
                   help="the band positions (cm-1), one per line or a CSV column or .npy, for files "
                        "that carry none (.npy, plain TIFF, ENVI without a wavelength list)")


def _add_overwrite_option(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--overwrite", action="store_true",
                   help=f"replace {what} written earlier by this program (never other files)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ftir-unmix", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="size, spectral range and format of a file")
    _add_reader_options(p)
    p.add_argument("--json", action="store_true", help="print a JSON object")

    p = sub.add_parser("weights", help="band-reliability weights and diagnostics to CSV")
    _add_reader_options(p)
    p.add_argument("--out", required=True, help="CSV file to write")
    _add_overwrite_option(p, "an existing CSV file")
    _add_weight_options(p)

    p = sub.add_parser("unmix", help="unmix a file into K abundance maps and endmember spectra")
    _add_reader_options(p)
    p.add_argument("--k", type=int, required=True, help="number of endmembers")
    p.add_argument("--out", required=True, help="output folder (created; must be new, empty or an "
                                                 "earlier result with --overwrite)")
    _add_overwrite_option(p, "an earlier result in --out")
    p.add_argument("--method", choices=METHODS, default=_DEFAULTS.method)
    p.add_argument("--loss", choices=LOSSES, default=_DEFAULTS.loss)
    p.add_argument("--protocol", choices=PROTOCOLS, default=_DEFAULTS.protocol,
                   help="fast (default): whole-image steps, stops on convergence; "
                        "paper: random 5x5 patches as in Pande et al.")
    p.add_argument("--epochs", type=int, default=None,
                   help="paper protocol: epochs (default 500); fast: the most steps in all, "
                        "refinement included (default 450; 300 with --no-refine)")
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
    _add_overwrite_option(p, "an existing --out file")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")

    p = sub.add_parser("demo", help="open napari with a synthetic cross-section and the panels")
    p.add_argument("path", nargs="?", default=None, help="open this file instead of the sample")
    return parser


def _add_baseline_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--baseline", choices=tuple(BASELINES), default=_DEFAULTS.baseline,
                   help="CNN: smooth per-pixel baseline fitted along with the mixture "
                        f"(default {_DEFAULTS.baseline}; none for data without one)")


def _load(args: argparse.Namespace):
    from .io import load_cube

    return load_cube(args.path, format=args.format, units=args.units, width=args.width,
                     wavenumbers=args.wavenumbers)


def _weights(args: argparse.Namespace) -> int:
    from .export import write_spectra_csv
    from .safe_write import check_output_file
    from .weights import band_diagnostics

    params = check_weight_params(gamma_rough=args.gamma_rough, gamma_flat=args.gamma_flat, tau=args.tau,
                                 sharpness=args.sharpness, w_min=args.w_min)
    check_output_file(args.out, overwrite=args.overwrite)
    cube = _load(args)
    diag = band_diagnostics(cube.data, **params)
    cols = diag.columns()
    cols["median_spectrum"] = diag.median_spectrum
    write_spectra_csv(args.out, cube.wavenumbers, np.column_stack(list(cols.values())), list(cols),
                      overwrite=args.overwrite)
    print(f"wrote {args.out}: {cube.n_bands} bands, {int((diag.weights < 0.5).sum())} with weight < 0.5")
    return 0


def _parse_range(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split(":"))
    except ValueError:
        raise ParameterError("forced_ranges", f"expects LO:HI in cm-1, got {text!r}") from None
    return lo, hi


class _Interrupts:
    """Ctrl-C during a run: the first asks training to stop (the best result so far is kept and
    written, marked cancelled); a second one quits at once."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self._previous: Any = None

    def __enter__(self) -> _Interrupts:
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        signal.signal(signal.SIGINT, self._previous)

    def _handle(self, _signum: int, _frame: Any) -> None:
        if self.stop.is_set():
            raise KeyboardInterrupt
        self.stop.set()
        print("\nftir-unmix: stopping at the next step; the best result so far will be written "
              "(Ctrl-C again to quit at once, writing nothing)", file=sys.stderr, flush=True)


def _unmix(args: argparse.Namespace) -> int:
    from .safe_write import check_output_folder

    config = UnmixConfig(
        k=args.k, method=args.method, loss=args.loss, protocol=args.protocol,
        epochs=args.epochs, n_patches=args.patches,
        batch_size=args.batch_size, lr=args.lr, softmax_scale=args.softmax_scale,
        dropout=args.dropout,
        scaling=args.scaling, baseline=args.baseline, init=args.init, refine=args.refine, seed=args.seed,
        device=args.device,
        gamma_rough=args.gamma_rough, gamma_flat=args.gamma_flat, tau=args.tau,
        sharpness=args.sharpness, w_min=args.w_min,
        forced_ranges=tuple(_parse_range(r) for r in args.force_range),
    )
    check_output_folder(args.out, overwrite=args.overwrite)  # before any work
    from tqdm import tqdm

    from .export import write_outputs
    from .train import iter_unmix, run_to_end

    cube = _load(args)
    with _Interrupts() as interrupts:
        bars: list[Any] = []  # made at the first step: checks that refuse the input print no bar

        def show(event: Any) -> None:
            if event.phase != "train" or args.quiet:
                return
            if not bars:
                bars.append(tqdm(total=event.total, unit="step" if config.protocol == "fast" else "epoch",
                                 file=sys.stderr))
            if event.step > bars[0].n:
                bars[0].update(event.step - bars[0].n)
                bars[0].set_postfix(loss=f"{event.loss:.4f}")

        try:
            result = run_to_end(iter_unmix(cube, config, stop=interrupts.stop), show)
        finally:
            for bar in bars:
                bar.close()
        # the stop flag ends training, not writing: the result is written whole
        paths = write_outputs(result, args.out, overwrite=args.overwrite)
    steps = result.parameters.get("steps_run")
    if result.cancelled:
        print(f"ftir-unmix: cancelled after {steps} steps: wrote the best result so far to {args.out} "
              "(run.json: cancelled: true)", file=sys.stderr)
        return 130
    print(f"wrote {', '.join(p.name for p in paths.values())} to {args.out}"
          f" ({result.timings['total_s']:.1f} s" + (f", {steps} steps)" if steps else ")"))
    return 0


def _select_k(args: argparse.Namespace) -> int:
    from .safe_write import atomic_file, check_output_file

    k_rule = parameter_rule("k")
    k_min, k_max = k_rule.check("k_min", args.k_min), k_rule.check("k_max", args.k_max)
    if k_min > k_max:
        raise ParameterError("k_min", f"must be ≤ --k-max; got {k_min} > {k_max}")
    options = {"loss": args.loss, "device": args.device, "baseline": args.baseline, "seed": args.seed}
    if args.method == "cnn":
        options["epochs"] = args.epochs
    UnmixConfig(k=k_min, method=args.method, **options)  # every parameter checked before any work
    if args.out:
        check_output_file(args.out, overwrite=args.overwrite)
    from .select_k import SelectionCriteria, sweep_k

    cube = _load(args)

    def report(event) -> None:
        if event.done is not None and not args.quiet:
            d = event.done
            print(f"K = {d.k}: weighted angle {d.recon_deg:.3f}°, {d.seconds:.1f} s",
                  file=sys.stderr, flush=True)

    with _Interrupts() as interrupts:
        sweep = sweep_k(cube, range(k_min, k_max + 1), method=args.method, callback=report,
                        criteria=SelectionCriteria(rule=args.rule), stop=interrupts.stop, **options)
    k, reason = sweep.recommend()
    if args.out:
        rows = sweep.table()
        keys = ["k", "recon_deg", "gain", "min_sad_deg", "max_map_corr", "n_distinct", "clean", "seconds"]
        with atomic_file(args.out, overwrite=args.overwrite) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            fh.write(",".join([*keys, "min_peak", "n_duplicates", "n_faint", "recommended"]) + "\n")
            for r in rows:
                vals = ["" if r[c] is None else str(r[c]) for c in keys]
                vals += [str(min(r["peak"])), str(len(r["duplicates"])), str(len(r["faint"])),
                         str(r["k"] == k)]
                fh.write(",".join(vals) + "\n")
    if args.json:
        print(dumps(sweep.to_dict()))
    else:
        print(sweep.format_table())
        print(f"recommended K = {k}")
        print(reason)
    return 130 if sweep.cancelled else 0


def _demo(args: argparse.Namespace) -> int:
    try:
        from .napari.demo import run_demo
    except ImportError as exc:
        raise RuntimeError(
            f"the napari GUI is not installed ({exc.name}): pip install 'napari-ftir-unmix[pyqt6]'"
        ) from None
    run_demo(args.path)
    return 0


#: Command-line options whose name is not the parameter's with dashes.
_OPTION_NAMES = {"n_patches": "--patches", "forced_ranges": "--force-range"}


def _option(parameter: str) -> str:
    return _OPTION_NAMES.get(parameter, "--" + parameter.replace("_", "-"))


def _show_warning(message: Warning | str, category: type[Warning], *_: Any, **__: Any) -> None:
    if issubclass(category, FTIRUnmixWarning):
        print(f"ftir-unmix: warning: {' '.join(str(message).split())}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ftir-unmix``; returns the exit status.

    0 success; 2 an error (one line on stderr naming the file or the option,
    and the reason); 130 interrupted by Ctrl-C (a run's best result so far is
    written, marked cancelled).
    """
    args = _parser().parse_args(argv)
    path = escape_control(str(args.path)) if getattr(args, "path", None) else None
    try:
        with warnings.catch_warnings():
            # Library warnings are noise on a command line; the package's own are one line each.
            warnings.simplefilter("ignore")
            warnings.simplefilter("always", FTIRUnmixWarning)
            warnings.showwarning = _show_warning
            if args.command == "info":
                info = _load(args).info()
                if args.json:
                    print(dumps(info))
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
    except KeyboardInterrupt:
        print("\nftir-unmix: interrupted: nothing written", file=sys.stderr)
        return 130
    except ParameterError as exc:
        print(f"ftir-unmix: error: {_option(exc.name)} {exc.reason}", file=sys.stderr)
    except (CubeReadError, OutputError) as exc:  # already "path: reason"
        print(f"ftir-unmix: error: {exc}", file=sys.stderr)
    except (ValueError, OSError, RuntimeError) as exc:  # DataError and the unforeseen: blame the input
        where = f"{path}: " if path and path not in str(exc) else ""
        print(f"ftir-unmix: error: {where}{escape_control(' '.join(str(exc).split()))}", file=sys.stderr)
    return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
