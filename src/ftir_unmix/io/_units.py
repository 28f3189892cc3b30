"""Y units of the values a reader returns, and their conversion to absorbance.

Linear unmixing assumes the Beer–Lambert law: absorbances of the components
add.  Transmittance and reflectance do not add, so every reader states what
the file says its values are (a :class:`DeclaredUnits`), and
:func:`apply_units` (called once for every cube, by ``finish_cube``) turns
transmittance or reflectance into absorbance, records the change in
``metadata["repairs"]`` and sets ``metadata["units"]``,
``metadata["units_source"]`` and ``metadata["units_in_file"]``.

Where a file does not state its units, :func:`range_suggests_transmittance`
recognises percent or fractional transmittance by the value range (a
conservative rule that never fires on the absorbance sample files).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "Y_UNITS",
    "DeclaredUnits",
    "apply_units",
    "check_units_option",
    "parse_units_label",
    "range_suggests_transmittance",
    "to_absorbance",
]

#: The values of the ``units=`` option of :func:`~ftir_unmix.io.load_cube`
#: (and of the command line's ``--units``).  ``"auto"``: what the file says,
#: else what the value range shows, else the values are taken as they are.
Y_UNITS: tuple[str, ...] = (
    "auto",
    "absorbance",
    "transmittance",
    "percent-transmittance",
    "reflectance",
    "percent-reflectance",
)

#: Units converted to absorbance: kind -> (divisor to a fraction, quantity, symbol).
_CONVERTIBLE: dict[str, tuple[float, str, str]] = {
    "transmittance": (1.0, "transmittance", "T"),
    "percent-transmittance": (100.0, "transmittance", "T"),
    "reflectance": (1.0, "reflectance", "R"),
    "percent-reflectance": (100.0, "reflectance", "R"),
}

#: Kinds that are absorbance already (log(1/R) is the usual pseudo-absorbance).
_ABSORBANCE_LIKE = ("absorbance", "log(1/R)")

#: Words for the kinds a file may state but that cannot be turned into absorbance.
_OTHER_NAMES: dict[str, str] = {
    "kubelka-munk": "Kubelka-Munk units",
    "single-beam": "single-beam (single-channel) intensities",
    "interferogram": "interferogram values",
    "detector-signal": "detector signal (volts)",
    "photoacoustic": "photoacoustic signal",
    "raman": "Raman intensities",
    "emission": "emission intensities",
    "power": "power spectrum values",
    "unknown": "values of unknown units",
}

#: The smallest transmittance (as a fraction) used in the log: A ≤ 6, the cap
#: OPUS itself writes for saturated bands.
FLOOR_FRACTION = 1e-6


@dataclass(frozen=True)
class DeclaredUnits:
    """What a file says (or its format implies) its y values are.

    Attributes
    ----------
    kind : str
        One of :data:`Y_UNITS` (not ``"auto"``), ``"log(1/R)"``, or a kind
        that has no conversion to absorbance (``"kubelka-munk"``,
        ``"single-beam"``, ``"interferogram"``, ``"detector-signal"``,
        ``"photoacoustic"``, ``"raman"``, ``"emission"``, ``"power"``,
        ``"unknown"``).
    source : str
        Where it was found, in words (``"file header (OMNIC y-unit code 17)"``).
    scale_known : bool
        False when the file says "transmittance"/"reflectance" without saying
        whether as a fraction or in percent: the value range decides.
    assumed : bool
        True for a format convention rather than a field of the file (Agilent):
        a range that clearly shows percent transmittance then wins.
    """

    kind: str
    source: str
    scale_known: bool = True
    assumed: bool = False


def check_units_option(units: Any) -> str:
    """Return ``units`` if it is one of :data:`Y_UNITS`, else raise ValueError."""
    if not isinstance(units, str) or units not in Y_UNITS:
        raise ValueError(
            f"units={units!r} is not one of the allowed values: {', '.join(Y_UNITS)}"
        )
    return units


# ---------------------------------------------------------------- labels

_LABEL_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("log(1/R)", re.compile(r"log\s*\(?\s*1\s*/\s*r\s*\)?", re.I)),
    (
        "percent-transmittance",
        re.compile(r"%\s*t\b|\bt\s*%|(%|percent)\s*-?\s*trans|trans\w*\s*[\[(]?\s*(%|percent)", re.I),
    ),
    (
        "percent-reflectance",
        re.compile(r"%\s*r\b|\br\s*%|(%|percent)\s*-?\s*refl|refl\w*\s*[\[(]?\s*(%|percent)", re.I),
    ),
    ("transmittance", re.compile(r"transmittance|transmission|transmissivity", re.I)),
    ("reflectance", re.compile(r"reflectance|reflectivity", re.I)),
    ("absorbance", re.compile(r"absorbance|\babs\b", re.I)),
    ("kubelka-munk", re.compile(r"kubelka|\bK\s*-\s*M\b|\bKM\b", re.I)),
    ("single-beam", re.compile(r"single\s*-?\s*(beam|channel)", re.I)),
    ("interferogram", re.compile(r"interferogram", re.I)),
    ("photoacoustic", re.compile(r"photo\s*-?\s*acoustic", re.I)),
    ("raman", re.compile(r"raman", re.I)),
    ("emission", re.compile(r"emission|emissivity", re.I)),
)

#: Bare symbols as a whole label (PerkinElmer writes "A", "T" ...).
_BARE_LABELS = {
    "a": "absorbance",
    "abs": "absorbance",
    "au": "absorbance",
    "t": "transmittance",
    "r": "reflectance",
    "%t": "percent-transmittance",
    "%r": "percent-reflectance",
    "km": "kubelka-munk",
}


def parse_units_label(text: Any) -> tuple[str, bool] | None:
    """Recognise a y-axis label such as ``"%T"``, ``"Absorbance"``, ``"log(1/R)"``.

    Parameters
    ----------
    text : str
        A label found in a file.

    Returns
    -------
    (kind, scale_known) or None
        ``None`` when the label names no known unit or names several.
        ``scale_known`` is False for a bare "transmittance"/"reflectance"
        (fraction or percent is then judged from the values).

    Examples
    --------
    >>> parse_units_label("%T")
    ('percent-transmittance', True)
    >>> parse_units_label("Absorbance")
    ('absorbance', True)
    >>> parse_units_label("Transmittance")
    ('transmittance', False)
    >>> parse_units_label("Intensity") is None
    True
    """
    s = " ".join(str(text).split())
    if not s:
        return None
    if s.lower() in Y_UNITS[1:]:
        return s.lower(), s.lower() not in ("transmittance", "reflectance")
    bare = s.lower().replace(" ", "")
    if bare in _BARE_LABELS:
        kind = _BARE_LABELS[bare]
        return kind, kind not in ("transmittance", "reflectance")
    found: list[str] = []
    for kind, pat in _LABEL_PATTERNS:
        if pat.search(s):
            found.append(kind)
    # "percent transmittance" also matches "transmittance": keep the precise one
    if "percent-transmittance" in found and "transmittance" in found:
        found.remove("transmittance")
    if "percent-reflectance" in found and "reflectance" in found:
        found.remove("reflectance")
    if "log(1/R)" in found:
        found = [k for k in found if k not in ("reflectance", "absorbance")]
    if len(found) != 1:
        return None
    kind = found[0]
    return kind, kind not in ("transmittance", "reflectance")


# ---------------------------------------------------------------- range rule


def _sample(data: np.ndarray, budget: int = 500_000) -> np.ndarray:
    """Finite values of an evenly spaced subset of pixels (all bands), float64."""
    arr = np.asarray(data) if not isinstance(data, np.ndarray) else data
    if arr.ndim == 1:
        arr = arr[None, None, :]
    h, w, b = arr.shape
    n = h * w
    m = min(n, max(64, budget // max(b, 1)))
    if m >= n:
        vals = np.asarray(arr, dtype=np.float64).ravel()
    else:
        idx = np.unique(np.linspace(0, n - 1, m).round().astype(np.int64))
        rows, cols = np.divmod(idx, w)
        vals = np.asarray(arr[rows, cols, :], dtype=np.float64).ravel()
    return vals[np.isfinite(vals)]


def range_suggests_transmittance(data: np.ndarray) -> str | None:
    """Say whether values look like transmittance (or reflectance) rather than absorbance.

    The rule is deliberately conservative: a file that states its units is
    never converted by it, fewer than 50 finite values are never judged, and
    it never fires on the absorbance sample files (Agilent tile and mosaic,
    the OpenSpecy ENVI export, OPUS, OMNIC, the reference spectra).  Both
    forms need a *baseline at the top*: with ``p1``/``p99`` the 1st/99th
    percentiles and ``span = p99 - p1``, the median is at least
    ``p1 + 0.7 * span`` and at least 30 % of the values lie within
    ``0.15 * span`` of ``p99``.  A transmittance spectrum is mostly baseline
    near 100 % with dips for the bands; an absorbance spectrum is mostly
    baseline near 0 with peaks (and uniform noise puts its median half way).

    - **percent**: the baseline test, at least 95 % of the finite values in
      [0, 105], a median above 20 and a maximum above 50 (no absorbance
      spectrum reaches 50).
    - **fraction**: the baseline test, every finite value in [0, 1.05], a
      median of at least 0.6, a 90th percentile of at least 0.85 (a baseline
      near T = 1) and a real spread (``span`` ≥ 0.05).  An absorbance image
      that is nearly saturated everywhere could pass: ``units="absorbance"``
      undoes that.

    Parameters
    ----------
    data : ndarray, shape (H, W, B) or (B,)
        The values as read (a subset of at most ~500 000 values is examined).

    Returns
    -------
    {"percent", "fraction"} or None
        None when the values do not clearly look like transmittance.

    Examples
    --------
    >>> import numpy as np
    >>> wn = np.linspace(650, 4000, 1600)
    >>> a = 0.8 * np.exp(-(((wn - 1650) / 20) ** 2)) + 0.5 * np.exp(-(((wn - 2920) / 15) ** 2))
    >>> t = 100 * 10 ** -a  # percent transmittance
    >>> range_suggests_transmittance(t)
    'percent'
    >>> range_suggests_transmittance(t / 100)
    'fraction'
    >>> range_suggests_transmittance(a) is None
    True
    """
    v = _sample(data)
    if v.size < 50:
        return None
    p1, med, p90, p99 = np.percentile(v, [1, 50, 90, 99])
    vmin, vmax = float(v.min()), float(v.max())
    span = p99 - p1
    if not span > 0:
        return None
    baseline_top = med >= p1 + 0.7 * span and float(np.mean(v >= p99 - 0.15 * span)) >= 0.3
    if not baseline_top:
        return None
    in_pct = float(np.mean((v >= 0.0) & (v <= 105.0)))
    if in_pct >= 0.95 and med > 20.0 and vmax > 50.0:
        return "percent"
    if vmin >= 0.0 and vmax <= 1.05 and med >= 0.6 and p90 >= 0.85 and span >= 0.05:
        return "fraction"
    return None


# ---------------------------------------------------------------- conversion


def to_absorbance(
    data: np.ndarray, kind: str, *, in_place: bool = False
) -> tuple[np.ndarray, int, float]:
    """Convert transmittance or reflectance to (pseudo-)absorbance.

    ``A = -log10(T)`` (``-log10(T/100)`` for percent); reflectance likewise
    gives the pseudo-absorbance ``log10(1/R)``.  Values below a small positive
    floor (≤ 0 included) are clipped to it before the log, so A ≤ 6.

    Parameters
    ----------
    data : ndarray
        The values, any shape.
    kind : {"transmittance", "percent-transmittance", "reflectance", "percent-reflectance"}
    in_place : bool
        Overwrite ``data`` (float32, writeable) instead of making a copy.

    Returns
    -------
    absorbance : ndarray, float32, same shape
    n_clipped : int
        How many values were below the floor.
    floor : float
        The floor, in the units of the input (1e-6, or 1e-4 for percent).

    Examples
    --------
    >>> import numpy as np
    >>> a, n, floor = to_absorbance(np.array([10.0, 1.0, 0.0]), "percent-transmittance")
    >>> a.round(3).tolist(), n, floor
    ([1.0, 2.0, 6.0], 1, 0.0001)
    """
    scale = _CONVERTIBLE[kind][0]
    floor = float(f"{FLOOR_FRACTION * scale:.6g}")
    if in_place and data.dtype == np.float32 and data.flags.writeable:
        out = data
    else:
        out = np.array(data, dtype=np.float32, copy=True)
    flat = out.reshape(-1) if out.flags.c_contiguous else None
    blocks = (
        [flat[i : i + 4_000_000] for i in range(0, flat.size, 4_000_000)]
        if flat is not None
        else [out]
    )
    n_clipped = 0
    with np.errstate(invalid="ignore", divide="ignore"):
        for blk in blocks:
            low = blk < floor
            n = int(np.count_nonzero(low))
            if n:
                n_clipped += n
                blk[low] = floor
            np.log10(blk, out=blk)
            if scale == 1.0:
                np.negative(blk, out=blk)
            else:
                np.subtract(np.float32(np.log10(scale)), blk, out=blk)
    return out, n_clipped, floor


# ---------------------------------------------------------------- resolution


def _describe_kind(kind: str) -> str:
    if kind in _CONVERTIBLE:
        scale, quantity, _sym = _CONVERTIBLE[kind]
        return f"percent {quantity}" if scale != 1.0 else f"{quantity} (fraction, 0-1)"
    if kind == "absorbance":
        return "absorbance"
    if kind == "log(1/R)":
        return "log(1/R) (pseudo-absorbance)"
    return _OTHER_NAMES.get(kind, kind)


def _formula(kind: str) -> str:
    scale, quantity, sym = _CONVERTIBLE[kind]
    arg = f"{sym}/100" if scale != 1.0 else sym
    if quantity == "reflectance":
        return f"pseudo-absorbance A = log10(1/{arg}) = -log10({arg}), the usual practice for reflectance"
    return f"absorbance A = -log10({arg})"


def _scaled(kind: str, data: np.ndarray) -> tuple[str, str]:
    """Fraction or percent for a bare transmittance/reflectance, by the values."""
    v = _sample(data)
    p99 = float(np.percentile(v, 99)) if v.size else 0.0
    base = kind.removeprefix("percent-")
    if p99 > 1.5:
        return f"percent-{base}", "percent, judged by the values (99th percentile above 1.5)"
    return base, "a fraction, judged by the values (99th percentile at most 1.5)"


def apply_units(
    data: np.ndarray,
    meta: dict[str, Any],
    repairs: list[str],
    declared: DeclaredUnits | None,
    units: str = "auto",
    *,
    in_place: bool = False,
) -> np.ndarray:
    """Decide the y units of a cube, convert to absorbance where needed, record it.

    Parameters
    ----------
    data : ndarray, shape (H, W, B), float32
        The values as read (finite).
    meta : dict
        Cube metadata: ``units``, ``units_source`` and ``units_in_file`` are set.
    repairs : list of str
        A conversion, an override or a doubt is appended, in words.
    declared : DeclaredUnits or None
        What the file says (None: nothing).
    units : str
        The ``units=`` option, one of :data:`Y_UNITS`.
    in_place : bool
        The converted values may overwrite ``data``.

    Returns
    -------
    ndarray
        ``data`` itself, or the converted float32 values.
    """
    check_units_option(units)
    if declared is not None and declared.kind == "unknown":
        stated_kind = None
    else:
        stated_kind = declared.kind if declared is not None else None
    if declared is None or declared.assumed:
        meta["units_in_file"] = "not stated"
    else:
        meta["units_in_file"] = declared.kind
    file_words = ""
    if declared is not None:
        file_words = f"{_describe_kind(declared.kind)} ({declared.source})"

    def convert(kind: str, why: str) -> np.ndarray:
        out, n, floor = to_absorbance(data, kind, in_place=in_place)
        clip = (
            f"{n} values at or below {floor:g} (zero and negative included) clipped to {floor:g} "
            f"before the log (A at most {-np.log10(FLOOR_FRACTION):g})"
            if n
            else "no values needed clipping"
        )
        repairs.append(f"y values were {_describe_kind(kind)} ({why}): converted to {_formula(kind)}; {clip}")
        meta["units"] = "absorbance"
        if meta.get("mmap"):
            meta["mmap"] = False
            repairs.append("the converted cube is held in memory, not memory-mapped")
        return out

    if units != "auto":
        meta["units_source"] = f"option units={units!r}"
        if units == "absorbance":
            meta["units"] = "absorbance"
            if stated_kind is not None and stated_kind not in _ABSORBANCE_LIKE:
                repairs.append(
                    f"the file says the y values are {file_words}; taken as absorbance as they "
                    "are, as asked (units='absorbance')"
                )
            elif stated_kind is None:
                guess = range_suggests_transmittance(data)
                if guess is not None:
                    repairs.append(
                        f"the values look like {guess} transmittance by their range; taken as "
                        "absorbance as they are, as asked (units='absorbance')"
                    )
            return data
        why = f"as given by units={units!r}"
        if stated_kind is not None and stated_kind != units:
            why += f", overriding the file, which says {file_words}"
        return convert(units, why)

    # -- auto
    if declared is not None and stated_kind is not None and not declared.assumed:
        meta["units_source"] = declared.source
        kind = stated_kind
        if kind in _CONVERTIBLE:
            why = f"from {declared.source}"
            if not declared.scale_known:
                kind, how = _scaled(kind, data)
                why += f"; {how}"
            return convert(kind, why)
        if kind in _ABSORBANCE_LIKE:
            meta["units"] = "absorbance"
            if kind == "log(1/R)":
                repairs.append(
                    f"y values are log(1/R), pseudo-absorbance ({declared.source}): taken as "
                    "absorbance as they are"
                )
            guess = range_suggests_transmittance(data)
            if guess is not None:
                repairs.append(
                    f"the file says absorbance ({declared.source}) but the values look like "
                    f"{guess} transmittance by their range: taken as absorbance as the file says; "
                    "give units='percent-transmittance' (or another) if they are not"
                )
            return data
        meta["units"] = f"{kind} (taken as absorbance)"
        extra = (
            "Kubelka-Munk values grow with concentration like absorbance, so linear unmixing "
            "is approximate"
            if kind == "kubelka-munk"
            else "there is no conversion to absorbance without more data (e.g. a background), "
            "so linear unmixing of these values is not physically founded"
        )
        repairs.append(
            f"the file says the y values are {file_words}: taken as they are ({extra}); "
            "give units= to override"
        )
        return data

    guess = range_suggests_transmittance(data)
    if guess is not None:
        kind = "percent-transmittance" if guess == "percent" else "transmittance"
        where = "the file does not state its y units" if declared is None else (
            f"the file gives no usable y units ({declared.source})"
        )
        if declared is not None and declared.assumed:
            where = f"against the format's convention of absorbance ({declared.source})"
        meta["units_source"] = "value range (see ftir_unmix.io.range_suggests_transmittance)"
        why = (
            f"judged by their range, {where}; reflectance gives the same numbers; "
            "give units= to override"
        )
        return convert(kind, why)
    if declared is not None and declared.assumed and declared.kind in _ABSORBANCE_LIKE:
        meta["units"] = "absorbance"
        meta["units_source"] = declared.source
        return data
    meta["units"] = "unknown (taken as absorbance)"
    meta["units_source"] = (
        f"not stated in the file ({declared.source})" if declared is not None else "not stated in the file"
    )
    return data
