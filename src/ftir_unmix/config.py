"""Every parameter of an unmixing run, in one validated dataclass."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from .errors import ParameterError
from .methods import LOSSES
from .methods import available as available_methods
from .parameters import PAPER_WEIGHT_DEFAULTS, WEIGHT_RULES, Rule
from .preprocess.background import BASELINES
from .preprocess.scaling import SCALINGS

__all__ = ["UnmixConfig", "PROTOCOLS", "INITS", "DEVICES", "GROUPS", "MAX_EPOCHS", "parameter_rule"]

PROTOCOLS = ("fast", "paper")
INITS = ("auto", "nmf", "vca", "mvs", "random")
REFINE_SPOTS = ("median", "cluster", "cone")
DEVICES = ("auto", "cpu", "cuda", "mps")
#: What the polish of a run trained again with a spare may not turn a spectrum into (``polish_guard``).
POLISH_GUARDS = ("vapour", "vapour+difference", "vapour+deepened")
#: The most epochs (paper protocol) or steps (fast protocol) a run may be asked for.
MAX_EPOCHS = 100_000


def _check_ranges(ranges: object) -> tuple[tuple[float, float], ...]:
    """Forced wavenumber ranges as sorted ``(lo, hi)`` pairs of finite numbers."""
    try:
        pairs = [tuple(r) for r in ranges]  # type: ignore[union-attr]
    except TypeError:
        raise TypeError(f"forced_ranges must be a sequence of (lo, hi) pairs; got {ranges!r}") from None
    out = []
    for pair in pairs:
        if len(pair) != 2:
            raise ParameterError("forced_ranges", f"each range is a (lo, hi) pair in cm-1; got {pair!r}")
        lo, hi = (Rule("float").check("forced_ranges", v) for v in pair)
        if lo == hi:
            raise ParameterError("forced_ranges", f"{lo:g}:{hi:g} is an empty range")
        out.append((min(lo, hi), max(lo, hi)))
    return tuple(out)


#: The concerns the parameters are grouped by (``UnmixConfig.group(name)``).
GROUPS = ("run", "weights", "preprocess", "background", "cnn", "protocol")


def _param(default: Any, rule: Rule, group: str, help: str) -> Any:
    """A config field with its rule, its group and a one-line help (for the CLI and the GUI)."""
    return field(default=default, metadata={"rule": rule, "group": group, "help": help})


def parameter_rule(name: str) -> Rule:
    """The :class:`~ftir_unmix.parameters.Rule` of an :class:`UnmixConfig` field."""
    for f in fields(UnmixConfig):
        if f.name == name and "rule" in f.metadata:
            return f.metadata["rule"]
    raise KeyError(name)


@dataclass(frozen=True)
class UnmixConfig:
    """Parameters of :func:`ftir_unmix.unmix`; all of them go into the run record.

    Attributes
    ----------
    k : int
        Number of endmembers (materials).
    method : str
        One of :func:`ftir_unmix.methods.available`: ``"cnn"`` (the
        autoencoder), ``"nmf"``, ``"vca-fcls"`` or a registered one.
    loss : {"wsad", "sad"}
        Band-weighted or plain spectral angle.
    protocol : {"fast", "paper"}
        ``"paper"``: random ``patch_size``² patches, ``n_patches`` per epoch,
        mini-batches of ``batch_size``, ``epochs`` epochs, full-band loss.
        ``"fast"``: whole image (or large random tiles) per step, the loss
        computed exactly in a reduced band space, warm start, stop on
        convergence (docs/method.md).
    epochs : int or None
        Paper protocol: epochs (default 500). Fast protocol: the most steps
        the run takes in all, the refinement included (default 450: at most
        300 steps of training, then at most 150 of refinement; with
        ``refine=False``, default 300). A run with ``refine=True`` trains for
        at most ``epochs - epochs // 3`` steps and refines for at most
        ``epochs // 3``. The warm-start trial of the losing candidate is not
        counted (recorded under ``warm_start``); a second run with a spare
        endmember (``spare_when_needed``) has a budget of its own.
    n_patches, batch_size : int
        Paper protocol sampling.
    lr : float
        Adam learning rate (paper: 0.005; the authors' code: 0.001).
    patch_size : int
        Decoder kernel and patch size ``p``.
    n_filters, softmax_scale : model hyper-parameters (48, 3.5).
    dropout : float or None
        Spatial dropout rate; ``None`` takes the protocol's default: 0.2 for
        ``"paper"`` (the paper's), 0 for ``"fast"`` (dropout on the abundance
        logits made the maps about four times less accurate there, see
        docs/method.md).
    gamma_rough, gamma_flat, tau, sharpness, w_min, corr_floor, corr_model, eps : band-weight parameters.
        As in the paper except ``gamma_rough``: 0 here (the paper: 0.75). The
        roughness score flags genuine sharp absorption bands of FTIR spectra
        (CH stretches, carboxylates) as unreliable and made WSAD worse than
        SAD in our measurements (docs/method.md); :func:`ftir_unmix.band_weights`
        keeps the paper's 0.75. ``tau``: 5 here (the paper: 3): at 3 the
        correlation score cut the narrow carbonate and lead-white bands at
        650-890 cm⁻¹ that shift from pixel to pixel, the bands that tell
        lead white from calcite (docs/method.md). ``corr_floor`` (ours; the paper has none, 0)
        is the smallest spread the neighbour-correlation deficit is scored
        in: without it a clean image distrusts bands whose neighbours
        correlate at 0.95 (docs/benchmarks.md §3). ``corr_model="neighbours"``
        (ours; the default is the paper's ``"pairs"``) measures that deficit
        as what two bands on each side do not predict: narrow bands that
        shift from pixel to pixel keep their weight, but a residue of the
        atmosphere that varies coherently from pixel to pixel is predicted
        too and no longer cut (:mod:`ftir_unmix.preprocess.weights`).
    forced_ranges : tuple of (lo, hi)
        Wavenumber ranges (cm⁻¹) whose weights are forced to ``w_min``.
    scaling : {"global", "none", "minmax"}
        ``"global"`` divides the cube by one robust scale (shape-preserving);
        ``"minmax"`` scales every band to [0, 1] as the authors' code does
        (this changes spectral shapes; endmembers are mapped back by the band
        ranges only, without the offsets).
    baseline : {"none", "offset", "linear", "quadratic"}
        CNN only: a smooth per-pixel baseline (polynomial in wavenumber of
        degree 0, 1, 2) as a nuisance term of the model. The loss ignores the
        best-fitting polynomial of each pixel and the reported endmembers are
        zero where the material is transparent (:mod:`ftir_unmix.preprocess.background`).
        Default ``"quadratic"``: ATR spectra always carry such a baseline;
        use ``"none"`` for data without one (e.g. reflectance images).
    atmosphere : bool
        With a baseline term: the spectra of drifting water vapour and CO₂ are
        estimated from the image (:func:`ftir_unmix.preprocess.estimate_atmosphere`)
        and join the baseline's polynomials, so each pixel gets its own amount of
        them and no endmember is spent on them. Only components the image shows
        clearly are used (recorded under ``preprocessing.atmosphere``). On by default
        (docs/benchmarks.md).
    init : {"auto", "nmf", "vca", "mvs", "random"}
        Decoder initialisation: from a fast endmember estimate (NMF,
        VCA + FCLS, or the minimum-volume simplex of
        :func:`ftir_unmix.methods.simplex.min_volume_simplex`, which needs no
        pure pixels, of the band-weighted data), or random as in the paper.
        ``"auto"``: for the fast protocol, both NMF and VCA + FCLS (and the
        simplex with ``simplex_start``), each followed by the warm-up; the
        one the encoder fits with the lower loss is kept (recorded under
        ``warm_start`` in the run record). For the paper protocol, ``"random"``.
    simplex_start : bool
        Fast protocol with ``init="auto"``: the minimum-volume simplex is a
        third warm-start candidate (off by default: on the held-out scenes it
        mended some cases and broke others, docs/benchmarks.md §0).
    minvol, sparsity : float
        Fast protocol: weights of a minimum-volume (endmember dispersion)
        prior and of an abundance-sparsity (L½) prior added to the loss, in
        units of the image's unavoidable misfit (:mod:`ftir_unmix.methods.cnn.priors`).
        0 (off) by default: neither lowered the error on the held-out scenes.
    transparency : float
        Fast protocol: weight of a prior against spectra that dip below their own
        baseline (a plateau with dips where the other materials absorb), in the same
        units. 0 (off) by default: on the held-out scenes it mended the no-pure-pixel
        case it was made for and harmed others (docs/benchmarks.md §0).
    spare : int
        Extra endmembers trained for what is not a material and dropped at the end, those
        the image needs least (:mod:`ftir_unmix.methods.cnn.spare`).
        0 by default: trained always, it mended images with many materials and no pure
        pixels and cost the simpler ones and Samson (docs/benchmarks.md).
    spare_when_needed : bool
        Fast protocol, with a baseline term, ``spare`` = 0: a run that ends with an
        endmember more than 5 % below its own baseline, deeper than its noise (a
        difference spectrum: an endmember spent on what K spectra cannot explain, a
        material lost) or one that is mostly narrow atmospheric lines (drifting water vapour,
        :mod:`ftir_unmix.preprocess.atmosphere`) is trained again with one spare
        endmember, and that run is kept (recorded under
        ``spare_endmembers``; the run takes about twice as long then). On by
        default (docs/benchmarks.md).
    known_weight : float
        Fast protocol, for runs given known spectra (``unmix(..., known=…)``,
        ``--known``): how strongly each holds its endmember near itself, in the
        same units (:mod:`ftir_unmix.methods.cnn.known`); 0: the known spectra
        are only where training starts. Default 1.
    seed : int
        Seeds every random choice; same seed, same device, same result.
    device : {"auto", "cpu", "cuda", "mps"}
        ``"auto"`` takes CUDA, then MPS, then the CPU.
    threads : int or None
        CPU threads torch and numpy's BLAS may use during the run (restored
        afterwards); None keeps their settings (all cores). Floating-point sums
        depend on the thread count, and training can grow a difference in the
        last digits into another answer, so the same seed reproduces a result
        only with the same ``threads`` (batch runs set it per worker). The run
        record's ``threads_used`` says what was in force.
    reduced_rank : int
        Fast protocol: dimension of the band subspace for encoder input and loss.
    tol, patience : float, int
        Fast protocol: stop when the best loss has not improved by a relative
        ``tol`` for ``patience`` steps.
    warmup_steps : int
        Fast protocol with a warm start: steps during which only the encoder
        trains (the decoder keeps the initial endmembers).
    max_pixels_per_step : int
        Fast protocol: images larger than this train on random tiles of about
        this many pixels (a stochastic step, like the paper's mini-batches, at
        a cost independent of the image size).
    refine : bool
        Fast protocol: after training, offer the worst-explained spot of the
        image, its surrounding matrix and the other endmembers subtracted, in
        place of the endmember whose replacement fits best; train the others
        around it for half the steps, holding it for the first half of them
        and releasing it for the second (the better-fitting state is kept);
        keep the result only if the spectra fit the whole
        image better (the mean angle of each pixel to the best nonnegative
        combination of them; recorded under ``refinement``). This recovers a rare
        material that the warm start missed while a common one took two
        endmembers, or a minor one seen only through its matrix (a pigment
        grain, a thin crust; docs/benchmarks.md); it costs about half a run.
        With ``refine_peaks`` (default) each minor endmember (a spot or a crust
        on the maps) is offered too, the same subtraction made at its own map's
        peak: a minor material with no pure pixel is otherwise often learnt as
        its spot's mixture with the matrix. With ``refine_restarts`` (an option, off:
        it lost more than it mended on the tuning seeds, docs/benchmarks.md, stop 42) each
        spectrum of another restart that lies more than 10° from all of the run's
        (:data:`~ftir_unmix.methods.cnn.refinement.NOVEL_DEG`) is offered too, in the
        place where it fits best. With ``refine_spots`` > 1 (an option) the next worst
        spots, each outside the others' 9 × 9 windows, are offered too: a crust that a
        worse but smaller spot outranks. The proposal that fits best is tried.
        ``refine_spot`` says where the worst spot is: ``"median"`` (default) the
        maximum of the 3 × 3 median of each pixel's angle to its reconstruction
        from the encoder's maps; ``"cone"`` the same of its angle to the cone of
        the spectra (the spectra judged alone: one cone fit of every pixel, 0.1–0.2 s
        more on the target cube). Where the maps are wrong at a layer's edge the
        first points there and the second to a material the spectra lack; where a
        region holds a variant of a material (its bands shifted) the second points
        there, and the refinement can put the variant in a found grain's place. An
        option: a tie on tuning and fresh seeds (docs/benchmarks.md, stops 82 and
        83). ``"cluster"`` the largest group of badly explained pixels whose
        residuals agree.
    spot_check : bool
        Fast protocol, polished runs (on by default since stop 53): before the polish, the
        worst-explained spot's spectrum (its matrix subtracted, as in the refinement) takes
        the place of the endmember the spare's rule would drop, where the spot's fifth most
        dependent pixel needs it more than the image needs that endmember by that rule, or
        at least 0.75 of what that endmember's own fifth pixel needs it while no pixel holds
        more than 0.75 of that endmember (a mixture or a variant; since stop 57), and the
        spectrum lies at least 45° from the cone of the others, all broadened by 8 cm⁻¹ (a
        material the run lacks, not a variant or another form of one it has; broadened
        since stop 61); it is held there through the polish
        (:mod:`ftir_unmix.methods.cnn.spot_check`: a pigment grain of a few pixels that every
        mean over the image misses). Recorded under ``spot_checked``; docs/benchmarks.md,
        stops 53, 57 and 61.
    spot_hold_reach : float
        Fast protocol, runs where the spot check swapped: the spot's spectrum is held as it is
        through the polish (a grain of a few pixels cannot fit it), but where its map then
        holds at least 0.3 on more than this share of the pixels, the spot was a layer's
        material and the swapped spectra are polished again with it free (since stop 62; 1
        holds it always, as until then). Recorded as ``spot_checked.reach`` and
        ``spot_checked.held``; docs/benchmarks.md, stop 62.
    spot_check_after : bool
        Fast protocol, polished runs where the check before the polish swapped nothing (an
        option, off): the same check once more on the polished spectra, and where it swaps,
        the polish again from them with the spot's spectrum held: a grain the training had
        and the polish gave away for another minor material. Recorded under
        ``spot_checked_after``; docs/benchmarks.md, stop 61.
    polish : int
        Fast protocol: after training (restarts and refinement included), this many
        iterations of alternating nonnegative least squares fit the spectra to the
        whole image's cone fit directly (:mod:`ftir_unmix.methods.cnn.cone_polish`);
        the maps are then each pixel's nonnegative coefficients on them, scaled to
        sum to one, instead of the encoder's. A run trained again by
        ``spare_when_needed`` keeps the polish only if no spectrum became vapour lines
        (``polish_guard``, ``polish_holds``); ``spare`` > 0 and a run with a prior (``minvol``,
        ``sparsity``, ``transparency``, which the polish would undo) are not polished.
        Recorded under ``polished``
        (docs/benchmarks.md, stop 34: better on most held-out scenes, worse where a
        material's pure pixels vary much, and on Samson).
    polish_holds : int
        Fast protocol, a run trained again by ``spare_when_needed``: a spectrum the polish
        turned into what ``polish_guard`` forbids is held as trained and the others are
        polished again around it; this many such rounds, each holding what the last one
        turned, before the polish is dropped and the run returned as trained. Recorded under
        ``polished.held``. Default 1 (three rounds measured at stop 56: nothing added to
        ``polish_guard="vapour"``).
    polish_guard : {"vapour", "vapour+difference", "vapour+deepened"}
        Fast protocol, a run trained again by ``spare_when_needed``: what the polish may not
        turn a spectrum into: vapour lines (the default of stops 56–66), or those and a
        difference spectrum (more than 5 % below its own baseline), the two signs that send a
        run back. Counting the second held poorly separated materials as trained and cost
        the others their polish: fresh blind seeds 86–95 16.62° → 15.98° with ``"vapour"``
        (2 runs better, 1 worse), the family's fresh seeds unchanged (docs/benchmarks.md).
        ``"vapour+deepened"`` (default since stop 67): those and a difference spectrum the
        polish deepened (at least :data:`~ftir_unmix.methods.cnn.DEEPENED` more of it below
        its baseline than as trained): on strongly artefacted images the polish takes good
        spectra 13–29 % below their baseline, while the poorly separated materials it moves
        were below it as trained and rise (docs/benchmarks.md, stop 67: fresh blind seeds
        1055–1059 15.73° → 14.98°, one run better by 11.6°, one worse by 0.4°; the 2.5× cases
        at seeds 3–5 16.83° → 15.03°, 3 better, none worse; the family's fresh 9231–9235
        unchanged, 3.27°).
    polish_no_pure : int
        Fast protocol: where after ``polish`` iterations no endmember has nearly pure pixels
        (the 99th percentile of every endmember's share of the maps below
        :data:`~ftir_unmix.methods.cnn.cone_polish.NO_PURE_SHARE`, 0.75), the polish goes on to
        this many iterations in all. There the data stop short of every spectrum and the fit is
        nearly flat between the estimates and the truth; further iterations still move the
        spectra outwards, towards the truth, which harms only where pure pixels vary, and such
        images are left at ``polish`` (docs/benchmarks.md, stop 41). Recorded as
        ``polished.no_pure`` with each endmember's ``purest_share``. At most ``polish``: off.
    polish_shifts : bool
        In the polish and its maps, the slopes of the spectra are fitted freely per pixel
        with the background: a material whose bands move by a few cm⁻¹ from pixel to pixel
        (to first order, the spectrum plus a multiple of its slope) is not bent into the
        others to follow them. Off by default: better where bands shift (the held-out
        family's layered case), slightly worse on most other scenes (docs/benchmarks.md, stop 35).
        Takes the place of ``polish_band_shift``.
    polish_band_shift : float
        In the polish and its maps, each spectrum may move by up to this much along the
        spectral axis (its units: cm⁻¹ for an FTIR cube) in each pixel: it is fitted as a
        nonnegative mix of itself moved by ± this much (to first order, plus or minus the
        slope). Where a material's bands move from pixel to pixel (its surroundings, contact),
        the spectra are then not bent into each other to follow them; unlike
        ``polish_shifts`` the move is bounded, and a pixel moves a spectrum only where that
        explains more than a thousandth of its norm and more than the image's noise per band,
        so spectra started inside the data are still pushed out to the truth and the moves do
        not take up noise (docs/benchmarks.md, stops 38 and 39: on 120 held-out runs 44 better
        by more than 0.05°, one worse by 0.05°). 0: off.
    edge_below : float
        Fast protocol, after the polish: each spectrum whose purest pixels (the 99th
        percentile of its share in the maps) hold less than this is taken away from the other
        spectra up to where one of their bands would turn it negative, and the maps are fitted
        again (:mod:`ftir_unmix.methods.cnn.nonneg_edge`). A material that never occurs pure
        (a binder always with its pigment) is otherwise found as its purest mixture; every
        spectrum further out explains the image as well, and nonnegativity is what tells
        where the material lies. It needs a baseline term (``baseline`` not ``"none"``): the
        spectra's zero is then absorbance zero, their background's lower envelope; without
        one (a reflectance image such as Samson, whose spectra are nowhere near zero) it is
        not done. A spectrum above the gate is moved too where it holds half its height or
        more of the others' bands (a spectrum lying on a mixed pixel reads as pure). Recorded
        as ``polished.edge``. 0: off. Default 0.7 (stop 44: chosen on the family's and the
        blind generator's tuning seeds; on fresh seeds of both it lowered the mean angle by
        0.5° and 0.8°, the no-pure cases' from 5.3° to 3.0°; stop 45's widening, 20.6° → 19.8°
        on fresh blind seeds and a tie on the family's, docs/benchmarks.md).
    edge_add_back : float
        Fast protocol, with ``edge_below``: a partner estimate that holds a third spectrum's
        bands stops the step where those bands would turn negative (a drying oil's estimate
        holding some lead white stops a glaze pigment from being taken off its oil); above 0,
        that third spectrum may be added back, up to this many times what the partners taken
        off can hold of it, each unit added back costing four taken off
        (:func:`ftir_unmix.methods.cnn.nonneg_edge.to_nonneg_edge`). 0: partners are only
        taken off. Default 3 (stop 54: chosen on the blind generator's and the family's tuning
        seeds, 16.10° → 15.30° and a tie; on fresh seeds of both, blind 76–80 and family
        9181–9185, see docs/benchmarks.md).
    edge_partner_floor : float
        Fast protocol, with ``edge_below``: a partner's values below this share of its
        maximum do not stop the step. An estimate keeps small leftovers where no material
        absorbs (noise, baseline, atmosphere at the spectrum's ends); there the spectrum moved
        is transparent too, so the leftover alone stopped the step (a drying oil's estimate
        held a third of its lead white because the lead white's estimate kept 1.5 % of its
        height at 3911 cm⁻¹). 0: every value counts. Default 0.05 (stop 55: on the tuning
        seeds blind 15.30° → 15.00°, the family's 2.96° → 3.02°; on fresh seeds, fixed before
        they were run, blind 81–85 18.16° → 17.66° and the family's 9186–9190 3.23° → 3.22°;
        docs/benchmarks.md).
    edge_keep_peak : float
        Fast protocol, with ``edge_below``: the partners taken off may take at most 1 minus
        this share of the spectrum's own strongest band. Where a partner's bands all lie under
        the spectrum's (a lead white's carbonate band under a never-pure calcite's), nothing
        else stops the step before it takes the partner off whole and the material's own band
        with it (:func:`ftir_unmix.methods.cnn.nonneg_edge.to_nonneg_edge`'s ``keep_peak``).
        0: no bound. Default 0 (stop 58: 0.9 mended the blind tuning runs where a calcite was
        taken off whole, 12° → 48°, and changed nothing on fresh blind seeds 1015–1019,
        14.05° → 14.07°; docs/benchmarks.md).
    edge_organic_purest : float
        Fast protocol, with ``edge_below``: a C–H-rich spectrum (its C–H stretch, 2800–3000
        cm⁻¹, at 0.3 of its maximum or more: an oil, a resin, a soap) whose purest share is at
        least this, and that the plain step would leave C–H-rich, keeps its C–H-rich partners;
        they are not taken off it. Organic materials share their bands, so neither has one of
        its own where the other is transparent, and the step took a drying oil's own bands off
        with its resin partner; a pigment's estimate holding its resin loses its C–H with it and
        is moved as before (:func:`ftir_unmix.methods.cnn.nonneg_edge.to_nonneg_edge`'s
        ``organic_purest``). 0: off.
        Default 0.6 (stop 78: on the family's tuning seeds 3.07° → 2.98°, the blind
        generator's 17.44° → 17.43°; on fresh seeds, by the rule fixed before them, blind
        1105–1109 14.40° → 14.43° and family 9276–9278 3.15° → 3.14°: a small change;
        docs/benchmarks.md).
    pure_anchor : float
        Fast protocol, without a baseline term (``baseline="none"``: a reflectance image such
        as Samson), after the polish: each spectrum that at least 1 % of the pixels hold at this
        share or more (its region, nearly pure) is replaced by those pixels' mean and the maps
        fitted again, up to three rounds; a spectrum whose region no longer reads pure at the end
        is put back (:mod:`ftir_unmix.methods.cnn.pure_anchor`). The cone fit moves a noisy
        region's spectrum out of its pixels to enclose their spread (Samson's water: 10–12° from
        the truth, 3.4–4.6° anchored). Recorded as ``polished.anchor``; the run's notes
        name the spectra moved. 0: off. Default 0.95 (stop 65: chosen on reflectance scenes'
        tuning seeds; on fresh seeds 8.41° → 7.95°, 7 of 15 runs better, none worse; Samson
        5.52° → 3.42°, docs/benchmarks.md).
    anchor_area : float
        With ``pure_anchor``: 0, a spectrum's pure pixels are those at ``pure_anchor``'s share;
        else they are its purest pixels, as many as this part of its area (its summed shares),
        each holding it at 0.5 or more, and a mean that is a mixture of the other spectra (its
        angle to their cone less than half the spectrum's own) is not taken
        (:mod:`ftir_unmix.methods.cnn.pure_anchor`). A share of 0.95 depends on where the other
        spectra sit: on Samson no pixel read 0.95 soil or tree while 2151 read water (995 do).
        Recorded in ``polished.anchor``. Default 0.33 (stop 68: on fresh reflectance seeds 40–44
        and Samson seeds 5–9, 4.85° → 3.89°, 19 of 20 runs better, none worse, aRMSE 0.137 →
        0.091; Samson seeds 0–4 4.49° → 1.83°, docs/benchmarks.md).
    anchor_tight : float
        With ``anchor_area``, degrees (0: off): a spectrum whose purest pixels agree with one
        another (90 % of them within this angle of their mean) is put on them even where they hold
        it at less than 0.5 (down to 0.2) or their mean is near the other spectra's cone, if that
        mean stands further from the cone than the pixels spread: a spectrum trained out beyond
        its material's pixels, which read it at a third (Samson seeds 5 and 8: the soil 17–26°
        off, its purest pixels' mean 2° from the truth; :mod:`ftir_unmix.methods.cnn.pure_anchor`).
        Default 3 (stop 69: on fresh Samson seeds 10–19 4.25° → 1.83°, the soil lost in training
        mended on 3 runs, 2 runs worse by 0.06–0.08°; fresh reflectance seeds 45–49 4.67° →
        4.02°, patchy-k5's dry grass 43° → 0.1° on one run, no run worse; docs/benchmarks.md).
    anchor_graded : float
        With ``anchor_area``, degrees (0: off): a spectrum's purest pixels whose mean moves by more
        than this when only their purer half is taken, and which are not all held at
        ``pure_anchor``'s share, are not taken: its region is graded into its neighbours (a layer
        of a cross-section with interfaces mixed over several pixels, whose purest third takes in
        pixels read at 0.8; :mod:`ftir_unmix.methods.cnn.pure_anchor`). Recorded in
        ``polished.anchor`` (``drifted``). Default 2 (stop 70: on fresh in-repository seeds 6–8 of
        six cases run without a baseline term 16.04° → 14.06°, 14 runs better, 4 worse;
        layered-k6-clean 1.30° → 0.78°, layered-k6-no-baseline 3.13° → 2.59°; on fresh Samson
        seeds 35–39 and reflectance seeds 60–64 no run changed; docs/benchmarks.md).
    residual_spot : bool
        Fast protocol, without a baseline term, after the polish and before ``pure_anchor``: the
        spot with the largest residual (each pixel's distance to the spectra's cone, not its
        angle: a dark material's noisy angles outrank a minor bright material's residual) is
        offered as a spectrum in the place where it fits best, the spectra are fitted again at
        the pixels' own scale (least squares), and the swap is kept where the mean squared
        residual does not grow (:mod:`ftir_unmix.methods.cnn.residual_spot`). Recorded as
        ``polished.residual_spot``; the run's notes name the spectrum put in. Default on (stop 66: on fresh reflectance
        seeds 30–34 9.29° → 4.30°, 8 of 15 runs better, one worse — patchy-k5 31, a roof gained
        and the water lost — aRMSE 0.123 → 0.097; road-k4's road 46–69° → 4–24°; Samson seeds
        0–4 7.37° → 4.49°, 1 better, 3 worse by 0.05–0.13°; docs/benchmarks.md). Earlier
        versions: a stricter bar (the worst pixels' residual down by a quarter) passed fresh
        seeds 20–24 and failed 25–29.
    residual_spot_hold : bool
        With ``residual_spot``: the spot's spectrum is held while the other spectra are refitted
        around it (least squares, as the swap's refit), then all are refitted from there, as the
        refinement holds and then releases its spectrum. Refitted at once, the spot's spectrum
        can move before the others make room for it (a roof's spot 8–17° off on two reflectance
        tuning runs, 0.7–3.8° held first). Off by default (stop 69: on fresh reflectance seeds
        50–54 and Samson seeds 20–24 2.22° → 2.00°, but 3 runs better and 3 worse, which the rule
        written beforehand did not accept; docs/benchmarks.md).
    restarts : int
        Fast protocol with ``init="auto"``: how many warm starts (NMF, VCA +
        FCLS, then VCA and NMF at the next seeds) are trained to the end; the
        one whose spectra fit the whole image best (as for ``refine``) is kept
        and refined. Each costs about one run's training. The angle between
        each endmember and its match in the other restarts is recorded
        (``restart_runs.spread_deg``) and reported as the endmember's trust
        (docs/benchmarks.md §0: on the held-out scene family's tuning seeds
        0-4 the mean error was 6.1° with two restarts and 5.7° with three).
        1 trains only the start that fits best.
    """

    # --- the run
    k: int = _param(6, Rule("int", 2, 256), "run", "number of endmembers (materials)")
    method: str = _param("cnn", Rule("choice", choices=available_methods), "run",
                         "the unmixing method (see ftir_unmix.methods.available())")
    seed: int = _param(0, Rule("int", 0, 2**32 - 1), "run", "seeds every random choice")
    device: str = _param("auto", Rule("choice", choices=DEVICES), "run",
                         "auto: CUDA, then Apple MPS, then the CPU")
    threads: int | None = _param(None, Rule("int", 1, 1024, optional=True), "run",
                                 "CPU threads of the run, torch's and numpy's (default: their own "
                                 "choice); a result depends on it")
    # --- band weights (Pande et al. 2026, Sec. II-E)
    gamma_rough: float = _param(0.0, WEIGHT_RULES["gamma_rough"], "weights",
                                "weight of the roughness score (the paper: 0.75)")
    gamma_flat: float = _param(PAPER_WEIGHT_DEFAULTS["gamma_flat"], WEIGHT_RULES["gamma_flat"], "weights",
                               "weight of the flatness score")
    tau: float = _param(5.0, WEIGHT_RULES["tau"], "weights",
                        "score at which a band's weight is halfway down (the paper: 3)")
    sharpness: float = _param(PAPER_WEIGHT_DEFAULTS["sharpness"], WEIGHT_RULES["sharpness"], "weights",
                              "slope of the sigmoid from scores to weights")
    w_min: float = _param(PAPER_WEIGHT_DEFAULTS["w_min"], WEIGHT_RULES["w_min"], "weights",
                          "floor of the weights (and the weight of forced ranges)")
    corr_floor: float = _param(0.05, WEIGHT_RULES["corr_floor"], "weights",
                               "smallest spread (MAD) the neighbour-correlation deficit is scored in "
                               "(the paper: 0)")
    corr_model: str = _param(PAPER_WEIGHT_DEFAULTS["corr_model"], WEIGHT_RULES["corr_model"], "weights",
                             "how a band's neighbour correlation is measured: pairs: the worse adjacent "
                             "correlation (the paper); neighbours: the share that two bands on each "
                             "side do not predict (keeps shifting bands, misses coherent atmospheric "
                             "residues)")
    eps: float = _param(PAPER_WEIGHT_DEFAULTS["eps"], WEIGHT_RULES["eps"], "weights",
                        "guard against division by zero")
    forced_ranges: tuple[tuple[float, float], ...] = field(default_factory=tuple, metadata={
        "group": "weights", "help": "wavenumber ranges (cm-1) whose weights are forced to w_min"})
    # --- preprocessing and the background term
    scaling: str = _param("global", Rule("choice", choices=SCALINGS), "preprocess",
                          "global: one robust scale; minmax: every band to [0, 1] (authors' code)")
    baseline: str = _param("quadratic", Rule("choice", choices=tuple(BASELINES)), "background",
                           "smooth per-pixel baseline fitted with the mixture (none for data without one)")
    atmosphere: bool = _param(True, Rule("bool"), "background",
                              "with a baseline term: estimate the drifting water vapour and CO2 from the "
                              "image and fit them with the baseline")
    # --- the CNN and its loss
    loss: str = _param("wsad", Rule("choice", choices=tuple(LOSSES)), "cnn",
                       "wsad: band-weighted spectral angle; sad: every band alike")
    softmax_scale: float = _param(3.5, Rule("float", 0.0, 100.0, low_open=True), "cnn",
                                  "scale before the abundance softmax (higher: crisper maps)")
    n_filters: int = _param(48, Rule("int", 1, 1024), "cnn", "filters of the 3x3 encoder convolution")
    patch_size: int = _param(5, Rule("int", 1, 15, odd=True), "cnn", "decoder kernel and patch size p")
    dropout: float | None = _param(None, Rule("float", 0.0, 1.0, high_open=True, optional=True), "cnn",
                                   "spatial dropout (default: 0.2 paper protocol, 0 fast)")
    init: str = _param("auto", Rule("choice", choices=INITS), "cnn",
                       "decoder warm start (auto: the better of nmf and vca; mvs: minimum-volume simplex; "
                       "random for the paper protocol)")
    simplex_start: bool = _param(False, Rule("bool"), "cnn",
                                 "fast protocol, init auto: also try the minimum-volume simplex (needs no "
                                 "pure pixels) as a warm start")
    minvol: float = _param(0.0, Rule("float", 0.0, 1000.0), "cnn",
                           "fast protocol: weight of the minimum-volume (endmember dispersion) prior, in "
                           "units of the image's unavoidable misfit (0: off)")
    sparsity: float = _param(0.0, Rule("float", 0.0, 1000.0), "cnn",
                             "fast protocol: weight of the abundance-sparsity prior, in the same units "
                             "(0: off)")
    transparency: float = _param(0.0, Rule("float", 0.0, 1000.0), "cnn",
                                 "fast protocol: weight of the transparency prior (each spectrum lies on "
                                 "its baseline outside its bands), in the same units (0: off)")
    spare: int = _param(0, Rule("int", 0, 8), "cnn",
                        "extra endmembers trained for what is not a material (variability, artefacts) "
                        "and dropped at the end: those the image's fit needs least (0: none)")
    spare_when_needed: bool = _param(True, Rule("bool"), "cnn",
                                     "fast protocol, with a baseline term: when an endmember ends as a "
                                     "difference spectrum (below its own baseline) or as water vapour lines, "
                                     "train again with one spare")
    known_weight: float = _param(1.0, Rule("float", 0.0, 1000.0), "cnn",
                                 "fast protocol, with known spectra: how strongly each is held near its "
                                 "endmember, in the same units (0: only a start)")
    # --- training protocol
    protocol: str = _param("fast", Rule("choice", choices=PROTOCOLS), "protocol",
                           "fast: whole-image steps, stops on convergence; paper: random 5x5 patches")
    epochs: int | None = _param(None, Rule("int", 1, MAX_EPOCHS, optional=True), "protocol",
                                "paper: epochs (500); fast: the most steps in all, refinement included "
                                "(450; 300 without refinement)")
    lr: float = _param(0.005, Rule("float", 0.0, 1.0, low_open=True), "protocol", "Adam learning rate")
    n_patches: int = _param(20_000, Rule("int", 1, 10_000_000), "protocol", "paper protocol: patches per epoch")
    batch_size: int = _param(64, Rule("int", 1, 1_000_000), "protocol", "paper protocol: mini-batch size")
    refine: bool = _param(True, Rule("bool"), "protocol",
                          "fast protocol: retry one endmember on the worst-explained spot, its matrix subtracted")
    refine_spot: str = _param("median", Rule("choice", choices=REFINE_SPOTS), "protocol",
                              "fast protocol: the refinement's spot: 3x3 median of the worst angle of the "
                              "maps' reconstruction (median) or of the spectra's cone (cone), or the largest "
                              "cluster of coherent residuals")
    refine_spots: int = _param(1, Rule("int", 1, 10), "protocol",
                               "fast protocol: how many worst spots (3x3 median, apart) the refinement offers; "
                               "the proposal that fits the image best is tried")
    refine_peaks: bool = _param(True, Rule("bool"), "protocol",
                                "fast protocol: the refinement also offers each minor endmember (a spot, a crust) "
                                "purified at its own map's peak; the proposal that fits the image best is tried")
    refine_restarts: bool = _param(False, Rule("bool"), "protocol",
                                   "fast protocol: the refinement also offers the other restarts' spectra that "
                                   "the run kept lacks (a material one restart found and another lost)")
    spot_check: bool = _param(True, Rule("bool"), "protocol",
                              "fast protocol, polished runs: the worst-explained spot's spectrum replaces the "
                              "endmember the image needs least, where the spot's pixels need it more")
    spot_hold_reach: float = _param(0.01, Rule("float", 0.0, 1.0), "protocol",
                                    "fast protocol, spot check: where the swapped spot's map holds >= 0.3 on more "
                                    "than this share of the pixels after the polish, it is polished again with the "
                                    "spot's spectrum free (a layer's material, not a grain; 1: always held)")
    spot_check_after: bool = _param(False, Rule("bool"), "protocol",
                                    "fast protocol, polished runs: the spot check once more after the polish, "
                                    "and where it swaps, the polish again with the spot's spectrum held")
    polish: int = _param(30, Rule("int", 0, 1000), "protocol",
                         "fast protocol: iterations of alternating nonnegative least squares that fit the "
                         "final spectra to the whole image's cone fit; the maps are then that fit's (0: off)")
    polish_no_pure: int = _param(300, Rule("int", 0, 5000), "protocol",
                                 "fast protocol: where after the polish no endmember has nearly pure pixels, "
                                 "the polish goes on to this many iterations in all (not more than polish: off)")
    polish_shifts: bool = _param(False, Rule("bool"), "protocol",
                                 "fast protocol: the polish and its maps fit each spectrum's slope freely per "
                                 "pixel, so band shifts between pixels are not bent into the spectra")
    polish_band_shift: float = _param(2.0, Rule("float", 0.0, 100.0), "protocol",
                                      "fast protocol: in the polish and its maps each spectrum may move by up to "
                                      "this much along the spectral axis (cm⁻¹) per pixel (0: off)")
    polish_guard: str = _param("vapour+deepened", Rule("choice", choices=POLISH_GUARDS), "protocol",
                               "fast protocol, a run trained again with a spare: what no spectrum may become in "
                               "the polish (vapour lines; or those and a difference spectrum; or those and a "
                               "difference spectrum the polish deepened)")
    polish_holds: int = _param(1, Rule("int", 0, 10), "protocol",
                               "fast protocol, a run trained again with a spare: how many times the polish is done "
                               "again, each time holding as trained the spectra it turned into what polish_guard "
                               "forbids, before it is dropped (0: dropped at once)")
    edge_below: float = _param(0.7, Rule("float", 0.0, 1.0), "protocol",
                               "fast protocol: after the polish, each spectrum whose purest pixels hold less "
                               "than this share (or that holds half its height of the others' bands) is taken "
                               "away from the others to where a band would turn negative (materials that never "
                               "occur pure; 0: off)")
    edge_add_back: float = _param(3.0, Rule("float", 0.0, 100.0), "protocol",
                                  "fast protocol, with edge_below: a third spectrum that a partner's estimate holds "
                                  "may be added back, up to this many times what the partners taken off hold of it "
                                  "(0: partners only taken off)")
    edge_partner_floor: float = _param(0.05, Rule("float", 0.0, 0.5), "protocol",
                                       "fast protocol, with edge_below: a partner's values below this share of its "
                                       "maximum (an estimate's leftovers where nothing absorbs) do not stop the step "
                                       "(0: every value counts)")
    edge_keep_peak: float = _param(0.0, Rule("float", 0.0, 1.0), "protocol",
                                   "fast protocol, with edge_below: the partners taken off may take at most "
                                   "1 minus this share of a spectrum's own strongest band (0: no bound)")
    edge_organic_purest: float = _param(0.6, Rule("float", 0.0, 1.0), "protocol",
                                        "fast protocol, with edge_below: a C-H-rich spectrum (an oil, a resin, a soap) "
                                        "whose purest share is at least this, and that the step would leave C-H-rich, "
                                        "keeps its C-H-rich partners (organic materials share their bands; 0: off)")
    pure_anchor: float = _param(0.95, Rule("float", 0.0, 1.0), "protocol",
                                "fast protocol, without a baseline term: after the polish, each spectrum that "
                                "at least a hundredth of the pixels hold at this share or more is put on those pixels' "
                                "mean (materials that cover a region pure; 0: off)")
    anchor_area: float = _param(0.33, Rule("float", 0.0, 1.0), "protocol",
                                "fast protocol, with pure_anchor: a spectrum's pure pixels are its purest, as many "
                                "as this part of its summed shares (each at 0.5 or more), a mean that mixes the other "
                                "spectra refused (0: the pixels at pure_anchor's share)")
    anchor_tight: float = _param(3.0, Rule("float", 0.0, 90.0), "protocol",
                                 "fast protocol, with anchor_area: purest pixels that agree with one another (nine "
                                 "in ten within this many degrees of their mean) are taken at a share down to 0.2, if "
                                 "their mean stands further from the other spectra than they spread (0: off)")
    anchor_graded: float = _param(2.0, Rule("float", 0.0, 90.0), "protocol",
                                  "fast protocol, with anchor_area: purest pixels not all at pure_anchor's share, "
                                  "whose purer half's mean lies further than this many degrees from theirs, are not "
                                  "taken (a layer graded into its neighbours; 0: off)")
    residual_spot: bool = _param(True, Rule("bool"), "protocol",
                                 "fast protocol, without a baseline term: after the polish, the spot the spectra "
                                 "leave the largest residual of is offered as a spectrum, the spectra refitted by "
                                 "least squares; kept unless that fits worse (a minor material such as a road)")
    residual_spot_hold: bool = _param(False, Rule("bool"), "protocol",
                                      "fast protocol, with residual_spot: the spot's spectrum is held while the "
                                      "other spectra are refitted around it, then all are refitted")
    restarts: int = _param(3, Rule("int", 1, 8), "protocol",
                           "fast protocol: warm starts trained to the end; the spectra that fit "
                           "the image best win and their disagreement is reported per endmember")
    restart_margin: float = _param(0.0, Rule("float", 0.0, 1.0), "protocol",
                                   "fast protocol: restarts whose fit is within this share of the best one's "
                                   "count as tied, and of those the one whose spectra are most distinct "
                                   "(largest log_volume) is kept (0: the best fit)")
    reduced_rank: int = _param(48, Rule("int", 1, 4096), "protocol",
                               "fast protocol: dimension of the band subspace")
    tol: float = _param(1e-4, Rule("float", 0.0, 1.0, high_open=True), "protocol",
                        "fast protocol: relative improvement that resets the patience")
    patience: int = _param(60, Rule("int", 1, MAX_EPOCHS), "protocol",
                           "fast protocol: steps without improvement before stopping")
    warmup_steps: int = _param(100, Rule("int", 0, MAX_EPOCHS), "protocol",
                               "fast protocol: steps that train the encoder only after a warm start")
    max_pixels_per_step: int = _param(8192, Rule("int", 64, 100_000_000), "protocol",
                                      "fast protocol: larger images train on random tiles of this size")

    def __post_init__(self) -> None:
        # One place for every range: the API, the CLI and the GUI all end up here.
        for f in fields(self):
            rule = f.metadata.get("rule")
            if rule is not None:
                object.__setattr__(self, f.name, rule.check(f.name, getattr(self, f.name)))
        object.__setattr__(self, "forced_ranges", _check_ranges(self.forced_ranges))

    def updated(self, **changes: Any) -> UnmixConfig:
        """A copy with some parameters changed (unknown names are refused)."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise TypeError(f"unknown unmixing parameter(s): {', '.join(sorted(unknown))}")
        return replace(self, **changes)

    def resolved(self) -> UnmixConfig:
        """A copy with the protocol-dependent defaults (``init``, ``dropout``, ``epochs``) filled in.

        ``init="auto"`` becomes ``"random"`` for the paper protocol and stays
        ``"auto"`` (the better of two warm starts) for the fast one.
        """
        paper = self.protocol == "paper"
        default_epochs = 500 if paper else (450 if self.refine else 300)
        return replace(
            self,
            init="random" if paper and self.init == "auto" else self.init,
            dropout=(0.2 if paper else 0.0) if self.dropout is None else self.dropout,
            epochs=default_epochs if self.epochs is None else self.epochs,
        )

    def step_budget(self) -> tuple[int, int]:
        """Most steps of training and of refinement (fast protocol), which add up to ``epochs``.

        The paper protocol does not refine: ``(epochs, 0)``.
        """
        epochs = self.resolved().epochs
        if self.protocol != "fast" or not self.refine:
            return epochs, 0
        return epochs - epochs // 3, epochs // 3

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready parameters."""
        d = asdict(self)
        d["forced_ranges"] = [list(r) for r in self.forced_ranges]
        return d

    def group(self, name: str) -> dict[str, Any]:
        """The parameters of one concern (see :data:`GROUPS`), by name."""
        if name not in GROUPS:
            raise ValueError(f"group must be one of {', '.join(GROUPS)}; got {name!r}")
        return {f.name: getattr(self, f.name) for f in fields(self) if f.metadata.get("group") == name}

    def weight_params(self) -> dict[str, float | str]:
        """The keyword arguments of :func:`ftir_unmix.band_weights`."""
        return dict(gamma_rough=self.gamma_rough, gamma_flat=self.gamma_flat, tau=self.tau,
                    sharpness=self.sharpness, w_min=self.w_min, corr_floor=self.corr_floor,
                    corr_model=self.corr_model, eps=self.eps)
