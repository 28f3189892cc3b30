"""The ``ftir-unmix`` command line: info, weights, unmix, select-k, identify, batch, demo."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import warnings
from collections.abc import Sequence
from dataclasses import MISSING, fields
from pathlib import Path
from typing import Any

import numpy as np

from ._version import __version__
from .config import UnmixConfig, parameter_rule
from .errors import CubeReadError, FTIRUnmixWarning, OutputError, ParameterError, escape_control
from .jsonable import dumps
from .parameters import Rule

__all__ = ["main"]

#: Command-line options whose name is not the parameter's with dashes.
_OPTION_NAMES = {"n_patches": "--patches", "forced_ranges": "--force-range"}
_GROUP_TITLES = {"run": "run", "weights": "band weights", "preprocess": "preprocessing",
                 "background": "background (baseline) term", "cnn": "CNN model and loss",
                 "protocol": "training protocol"}


def _option(parameter: str) -> str:
    return _OPTION_NAMES.get(parameter, "--" + parameter.replace("_", "-"))


def _add_config_options(p: argparse.ArgumentParser, *, skip: tuple[str, ...] = (),
                        only_group: str | None = None, required: tuple[str, ...] = ()) -> None:
    """One option per :class:`UnmixConfig` field, from its rule and help (the one source).

    Options not given stay out of the namespace (``argparse.SUPPRESS``), so the
    defaults are the configuration's own.
    """
    groups: dict[str, Any] = {}
    for f in fields(UnmixConfig):
        group = f.metadata.get("group")
        if f.name in skip or group is None or (only_group and group != only_group):
            continue
        g = groups.get(group) or groups.setdefault(group, p.add_argument_group(_GROUP_TITLES[group]))
        rule = f.metadata.get("rule")
        default = f.default if f.default is not MISSING else None
        help_text = f.metadata["help"] + ("" if default in (None, ()) else f" (default {default})")
        kwargs: dict[str, Any] = {"dest": f.name, "help": help_text, "default": argparse.SUPPRESS}
        if f.name in required:
            kwargs.update(required=True, help=f.metadata["help"])
        if f.name == "forced_ranges":
            kwargs.update(action="append", metavar="LO:HI", help=help_text + "; repeatable")
        elif rule.kind == "choice":
            kwargs["choices"] = rule.options
        elif rule.kind == "bool":
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = int if rule.kind == "int" else float
        g.add_argument(_option(f.name), **kwargs)


def _config_options(args: argparse.Namespace) -> dict[str, Any]:
    """The configuration fields given on the command line."""
    options = {f.name: getattr(args, f.name) for f in fields(UnmixConfig) if hasattr(args, f.name)}
    if "forced_ranges" in options:
        options["forced_ranges"] = tuple(_parse_range(r) for r in options["forced_ranges"])
    return options


def _add_reader_options(p: argparse.ArgumentParser, *, with_path: bool = True) -> None:
    from .io import Y_UNITS, readers

    if with_path:
        p.add_argument("path", help="an FTIR image file (.npz, ENVI .hdr, Agilent, OPUS, …)")
    g = p.add_argument_group("reading")
    g.add_argument("--width", type=int, default=None,
                   help="image width in pixels, for files that store a flat list of spectra")
    g.add_argument("--format", choices=sorted(readers()), default=None,
                   help="the reader to use when the file's name or content does not tell")
    g.add_argument("--units", choices=Y_UNITS, default="auto",
                   help="what the values are: auto (default: from the file, else recognised by "
                        "their range); transmittance and reflectance are converted to absorbance")
    g.add_argument("--lazy", action="store_true",
                   help="do not load the image: memory-map it where the format allows (ENVI, .npy, TIFF, "
                        "zarr) — for mosaics larger than memory")
    g.add_argument("--wavenumbers", metavar="FILE", default=None,
                   help="the band positions (cm-1), one per line or a CSV column or .npy, for files "
                        "that carry none (.npy, plain TIFF, ENVI without a wavelength list)")


def _add_identify_options(p: argparse.ArgumentParser, *, after_unmix: bool = False) -> None:
    g = p.add_argument_group("identification" + (" (after unmixing, into run.json)" if after_unmix else ""))
    g.add_argument("--library", action="append", default=[], metavar="DIR_OR_FILE",
                   help="reference spectra (JCAMP-DX, CSV/TXT/DPT, SPA, OPUS, endmembers.csv); repeatable")
    g.add_argument("--markers", action="append", default=[], metavar="CSV",
                   help="your own marker-band table, added to the built-in one; repeatable")
    if not after_unmix:
        g.add_argument("--no-markers", action="store_true", help="libraries only, no marker bands")


def _identify_result(endmembers: np.ndarray, wavenumbers: np.ndarray, names: list[str], args: argparse.Namespace,
                     weights: np.ndarray | None, top: int = 5) -> dict[str, Any]:
    """Identification of the spectra (library problems as warnings on stderr)."""
    from .identify import identify, load_library, load_markers

    library = None
    if args.library:
        library = load_library(args.library)
        for problem in library.problems:
            print(f"ftir-unmix: warning: {problem}", file=sys.stderr)
    markers = False if getattr(args, "no_markers", False) else load_markers(*args.markers)
    return identify(endmembers, wavenumbers, names, library=library, markers=markers, weights=weights, top=top)


def _identify(args: argparse.Namespace) -> int:
    from .identify import (
        format_identification,
        identification_to_json,
        read_band_weights_csv,
        read_endmembers_csv,
    )

    wn, spectra, names = read_endmembers_csv(args.endmembers)
    weights = None
    source = args.weights or (Path(args.endmembers).with_name("band_weights.csv")
                              if Path(args.endmembers).with_name("band_weights.csv").exists() else None)
    if source is not None and not args.no_weights:
        wn_w, weights = read_band_weights_csv(source)
        if wn_w.shape != wn.shape or not np.allclose(wn_w, wn):
            raise ParameterError("weights", f"{source} has other wavenumbers than {args.endmembers}")
    result = _identify_result(spectra, wn, names, args, weights, Rule("int", 1, 100).check("top", args.top))
    print(dumps(identification_to_json(result)) if args.json else format_identification(result))
    return 0


def _add_overwrite_option(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--overwrite", action="store_true",
                   help=f"replace {what} written earlier by this program (never other files)")


def _parser() -> argparse.ArgumentParser:
    from .select_k import RULES, SWEEP_STEPS

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
    _add_config_options(p, only_group="weights", skip=("forced_ranges",))

    p = sub.add_parser("unmix", help="unmix a file into K abundance maps and endmember spectra")
    _add_reader_options(p)
    p.add_argument("--out", required=True, help="output folder (created; must be new, empty or an "
                                                 "earlier result with --overwrite)")
    _add_overwrite_option(p, "an earlier result in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_identify_options(p, after_unmix=True)
    p.add_argument("--known", action="append", default=[], metavar="DIR_OR_FILE",
                   help="spectra of materials known to be in the sample (reference files or folders, as "
                        "for --library; at most K): the first endmembers are held near them and named "
                        "after them (strength: --known-weight). Repeatable")
    _add_config_options(p, required=("k",))

    p = sub.add_parser("select-k", help="unmix for a range of K and recommend one")
    _add_reader_options(p)
    p.add_argument("--k-min", type=int, default=4, help="smallest K of the sweep (default 4)")
    p.add_argument("--k-max", type=int, default=12, help="largest K of the sweep (default 12)")
    p.add_argument("--rule", choices=RULES, default="auto",
                   help="how K is chosen (auto: count for cnn, largest-clean for the others)")
    p.add_argument("--json", action="store_true", help="print a JSON object instead of the table")
    p.add_argument("--out", default=None, help="CSV file: one row of diagnostics per K")
    _add_overwrite_option(p, "an existing --out file")
    p.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    # No refinement or second run with a spare in a sweep: a faint or duplicated map, a
    # difference spectrum, is the very signal it looks for.
    _add_config_options(p, skip=("k", "refine", "spare_when_needed"))
    p.set_defaults(epochs=SWEEP_STEPS)

    p = sub.add_parser("identify", help="name endmember spectra against reference libraries and marker bands")
    p.add_argument("endmembers", metavar="ENDMEMBERS.csv", help="spectra written by unmix (endmembers.csv)")
    _add_identify_options(p)
    p.add_argument("--top", type=int, default=5, help="candidates per endmember (default 5)")
    p.add_argument("--weights", metavar="CSV", default=None,
                   help="band weights (default: band_weights.csv beside the endmembers, if there)")
    p.add_argument("--no-weights", action="store_true", help="every band counts alike")
    p.add_argument("--json", action="store_true", help="print one JSON object {endmember: [candidates]}")

    p = sub.add_parser("batch", help="unmix many files (one dask task each) into one folder per file")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="files, folders or glob patterns")
    p.add_argument("--out", required=True, help="batch folder: a result folder per input, summary.csv/.json")
    chooser = p.add_mutually_exclusive_group(required=True)
    chooser.add_argument("--k", type=int, dest="k", default=argparse.SUPPRESS,
                         help="number of endmembers for every file")
    chooser.add_argument("--select-k", metavar="K_MIN:K_MAX", dest="k_range", default=None,
                         help="choose K per file with a K sweep over this range")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=1,
                       help="worker processes of the local dask cluster (default 1)")
    where.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="use a running dask scheduler (e.g. one started by dask-jobqueue)")
    p.add_argument("--overwrite", action="store_true",
                   help="redo files whose complete result is already in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_reader_options(p, with_path=False)
    _add_config_options(p, skip=("k",))

    p = sub.add_parser("demo", help="open napari with a synthetic cross-section and the panels")
    p.add_argument("path", nargs="?", default=None, help="open this file instead of the sample")
    return parser


def _reader_options(args: argparse.Namespace) -> dict[str, Any]:
    return {"format": args.format, "units": args.units, "width": args.width, "wavenumbers": args.wavenumbers,
            "lazy": args.lazy}


def _load(args: argparse.Namespace):
    from .io import load_cube

    return load_cube(args.path, **_reader_options(args))


def _weights(args: argparse.Namespace) -> int:
    from .export import write_spectra_csv
    from .preprocess import band_diagnostics
    from .safe_write import check_output_file

    # the unmixing defaults (what ``unmix`` would use), with the options given
    params = UnmixConfig(**_config_options(args)).weight_params()
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

    config = UnmixConfig(**_config_options(args))
    check_output_folder(args.out, overwrite=args.overwrite)  # before any work
    from tqdm import tqdm

    from .export import write_outputs
    from .run import iter_unmix, run_to_end
    from .trust import run_notes

    cube = _load(args)
    known = None
    if args.known:
        from .known_spectra import load_known

        known = load_known(args.known)
    if args.library or args.markers:  # a wrong path or marker file fails before the run, not after
        from .identify import load_markers

        load_markers(*args.markers)
        for lib in args.library:
            if not Path(lib).exists():
                raise ParameterError("library", f"{lib}: not found")
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
            result = run_to_end(iter_unmix(cube, config, stop=interrupts.stop, known=known), show)
        finally:
            for bar in bars:
                bar.close()
        if args.library or args.markers:
            from .identify import identification_to_json, summary

            found = _identify_result(result.endmembers, result.wavenumbers, result.names, args, result.weights)
            result.identification = identification_to_json(found)
            for name, answer in summary(found).items():
                print(f"{name}: {answer}")
        for _, line in run_notes(result.parameters, result.parameters["trust"], result.names):
            print(line)
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
    options = _config_options(args)
    UnmixConfig(k=k_min, **options)  # every parameter checked before any work
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
        sweep = sweep_k(cube, range(k_min, k_max + 1), callback=report,
                        criteria=SelectionCriteria(rule=args.rule), stop=interrupts.stop, **options)
    rec = sweep.recommend()
    if args.out:
        rows = sweep.table()
        keys = ["k", "recon_deg", "gain", "min_sad_deg", "max_map_corr", "n_distinct", "clean", "seconds"]
        with atomic_file(args.out, overwrite=args.overwrite) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            fh.write(",".join([*keys, "min_peak", "n_duplicates", "n_faint", "recommended"]) + "\n")
            for r in rows:
                vals = ["" if r[c] is None else str(r[c]) for c in keys]
                vals += [str(min(r["peak"])), str(len(r["duplicates"])), str(len(r["faint"])),
                         str(r["k"] == rec.k)]
                fh.write(",".join(vals) + "\n")
    if args.json:
        print(dumps(sweep.to_dict()))
    else:
        print(sweep.format_table())
        print(f"recommended K = {rec.k}")
        print(rec.text)
    return 130 if sweep.cancelled else 0


def _batch(args: argparse.Namespace) -> int:
    import logging

    from tqdm import tqdm

    from .batch import iter_batch
    from .run import run_to_end

    k_range = None
    if args.k_range is not None:
        try:
            k_range = tuple(int(v) for v in args.k_range.split(":"))
            assert len(k_range) == 2
        except (ValueError, AssertionError):
            raise ParameterError("k_range", f"expects K_MIN:K_MAX, got {args.k_range!r}") from None
    options = _config_options(args)
    logging.getLogger("distributed").setLevel(logging.ERROR)  # cluster chatter is not the user's business
    with _Interrupts() as interrupts:
        bar = tqdm(unit="file", file=sys.stderr, disable=args.quiet)

        def show(event: Any) -> None:
            bar.total = event.total
            bar.update(1)
            if event.row["status"] == "failed":
                bar.write(f"ftir-unmix: failed: {event.row['error']}", file=sys.stderr)

        try:
            summary = run_to_end(iter_batch(args.inputs, args.out, k_range=k_range, workers=args.workers,
                                            scheduler=args.scheduler, overwrite=args.overwrite,
                                            reader_options=_reader_options(args), stop=interrupts.stop,
                                            **options), show)
        finally:
            bar.close()
    counts = summary.to_dict()["counts"]
    print(f"{len(summary.rows)} files in {summary.elapsed:.0f} s: "
          + ", ".join(f"{n} {status}" for status, n in counts.items()) + f"; summary in {summary.out}")
    if summary.cancelled:
        return 130
    if summary.failed:
        print(f"ftir-unmix: {len(summary.failed)} of {len(summary.rows)} files failed (see summary.csv)",
              file=sys.stderr)
        return 1
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
            if args.command == "batch":
                return _batch(args)
            if args.command == "identify":
                return _identify(args)
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
