"""Water vapour lines in a spectrum: how much of it they are.

Water vapour absorbs in rotational lines as narrow as the instrument's resolution (about
4 cm⁻¹), around its bending band (1250–2050 cm⁻¹) and its stretching bands (3400–4000
cm⁻¹); the bands of condensed materials are wider (10 cm⁻¹ and more). What a spectrum
loses in those ranges when smoothed over a few cm⁻¹ is therefore mostly water vapour.
Counting only those ranges keeps all of the vapour's share and about two thirds of white
noise's, which is spread over every band (a band with 30 % white noise: 0.20 over the whole
axis, 0.14 in the ranges). As a share of the spectrum's norm (:func:`narrow_line_share`,
4 cm⁻¹ sampling): at most 0.06 for the material spectra of the scene family, at most 0.11
for 34 measured reference spectra (median 0.05), 0.22–0.35 for measured and modelled water
vapour alone; a run on aggregates-k6 seed 9049 spent an endmember on drifting vapour and
merged calcite into lead white to pay for it (docs/benchmarks.md §0). The band weights only
down-weight the lines' centres; their wings and the bands between them keep full weight,
so an image whose vapour drifts can still buy an endmember for it. CO₂ is not counted: its
lines lie outside the ranges, and at this resolution its band is one broad envelope that
the band weights take out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.ndimage import gaussian_filter1d

__all__ = ["ATMOSPHERE_COLUMN", "ATMOSPHERE_DOMINANCE", "ATMOSPHERE_LINE_SHARE", "CO2_MIN_WIDTH_CM", "CO2_RANGES",
           "LINE_WIDTH_CM", "WATER_RANGES", "AtmosphereEstimate", "axis_step", "effective_width",
           "estimate_atmosphere", "narrow_line_share", "narrow_lines"]

#: Lines narrower than this (the Gaussian smoothing's standard deviation, cm⁻¹) count as atmosphere.
LINE_WIDTH_CM = 4.0
#: Where water vapour's rotational lines lie (cm⁻¹).
WATER_RANGES = ((1250.0, 2050.0), (3400.0, 4000.0))
#: Where CO₂ absorbs (cm⁻¹): its asymmetric stretch and its bend.
CO2_RANGES = ((2250.0, 2400.0), (610.0, 720.0))
#: The part of :data:`CO2_RANGES` where condensed materials rarely absorb: its amounts are read there.
CO2_STRETCH = (2250.0, 2400.0)
#: An atmospheric component is taken as found when the leading singular value of what the
#: materials do not explain is this many times the next one. Measured on the scene family
#: (tuning seeds 0–2, 32×128 and 64×256 px, docs/method.md): 1.0–1.9 without an atmosphere,
#: 3.6–15 for water vapour and 5–140 for CO₂ with one. Measured again at stop 71 without an
#: atmosphere (seeds 0–4, both sizes, 80 scenes): water vapour at most 1.79, but CO₂ up to 4.6 at
#: 32×128 (nopure-k6 seeds 2 and 4, aggregates-k6 seed 4), so a small clean image can get a false
#: CO₂ term. Every one of those was a single-band spike (stop 72), which :data:`CO2_MIN_WIDTH_CM` now
#: keeps out. On the blind scenes water vapour leads by only 1.6–8.1; a bar of 2 for it failed its
#: fresh test (docs/benchmarks.md, stop 71).
ATMOSPHERE_DOMINANCE = 3.0
#: A CO₂ component is taken only when its stretching band spreads over at least this width
#: (cm⁻¹, :func:`effective_width`): the band's P and R branches make an envelope 40–55 cm⁻¹ wide
#: at this measure, while a detector spike is one band. Measured (stop 72): 41–54 cm⁻¹ for every
#: CO₂ found in the scene family, the blind scenes and the in-repository generator; 4 cm⁻¹ (one
#: band) for each of the seven false CO₂ terms of the family's small clean images.
CO2_MIN_WIDTH_CM = 16.0
#: Prefix of the estimated spectra among a result's per-band diagnostics.
ATMOSPHERE_COLUMN = "atmosphere_"
#: Blocks of pixels the estimate needs per component that represents the materials.
BLOCKS_PER_COMPONENT = 8
#: Above this share of its norm in narrow lines a spectrum is water vapour, not a material: above
#: every material spectrum measured (0.11 at most), below water vapour alone (see above).
ATMOSPHERE_LINE_SHARE = 0.2


def axis_step(wavenumbers: np.ndarray) -> float:
    """The spectral axis' typical step, in its units (the median spacing, whichever way the
    axis runs; 1 for a single band): how a width or a move given in cm⁻¹ becomes bands."""
    wn = np.asarray(wavenumbers, dtype=np.float64)
    return float(np.median(np.abs(np.diff(wn)))) if wn.size > 1 else 1.0


def effective_width(spectrum: np.ndarray, wavenumbers: np.ndarray) -> float:
    """How many cm⁻¹ a spectrum spreads over: its participation ratio ``(Σx²)² / Σx⁴`` (the
    number of bands an equally high flat spectrum with the same norms would need) times the
    axis step. One band for a spike; about a band's full width for a smooth band.

    Examples
    --------
    >>> wn = np.arange(2250.0, 2400.0, 4.0)
    >>> spike = (wn == 2330.0).astype(float)
    >>> band = np.exp(-0.5 * ((wn - 2350) / 15) ** 2)
    >>> round(effective_width(spike, wn), 1), round(effective_width(band, wn), 1)
    (4.0, 37.6)
    """
    x = np.asarray(spectrum, dtype=np.float64) ** 2
    return float(x.sum() ** 2 / max(float((x ** 2).sum()), 1e-300)) * axis_step(wavenumbers)


def narrow_lines(spectra: np.ndarray, wavenumbers: np.ndarray) -> np.ndarray:
    """The part of each spectrum (columns of ``spectra``, (B, K)) narrower than :data:`LINE_WIDTH_CM`:
    the spectrum minus its Gaussian smoothing along the band axis."""
    e = np.asarray(spectra, dtype=np.float64)
    return e - gaussian_filter1d(e, LINE_WIDTH_CM / max(axis_step(wavenumbers), 1e-12), axis=0, mode="nearest")


def narrow_line_share(spectra: np.ndarray, wavenumbers: np.ndarray) -> np.ndarray:
    """Per spectrum (columns of ``spectra``), the norm of its :func:`narrow_lines` in
    :data:`WATER_RANGES` over the spectrum's whole norm.

    Examples
    --------
    >>> wn = np.arange(650.0, 4000.0, 4.0)
    >>> band = np.exp(-0.5 * ((wn - 1700) / 12) ** 2)              # a carbonyl band
    >>> lines = np.where(np.arange(wn.size) % 2 == 0, 1.0, 0.0) * (np.abs(wn - 3750) < 200)
    >>> np.round(narrow_line_share(np.stack([band, lines], axis=1), wn), 2)
    array([0.05, 0.7 ])
    """
    e = np.asarray(spectra, dtype=np.float64)
    wn = np.asarray(wavenumbers, dtype=np.float64)
    lines = narrow_lines(e, wn)[_in_ranges(wn, WATER_RANGES)]
    return np.linalg.norm(lines, axis=0) / np.maximum(np.linalg.norm(e, axis=0), 1e-30)


def _in_ranges(wn: np.ndarray, ranges: tuple[tuple[float, float], ...]) -> np.ndarray:
    inside = np.zeros(wn.shape, dtype=bool)
    for lo, hi in ranges:
        inside |= (wn >= lo) & (wn <= hi)
    return inside


@dataclass(frozen=True)
class AtmosphereEstimate:
    """The atmosphere's spectra as estimated from one image (:func:`estimate_atmosphere`).

    Attributes
    ----------
    spectra : ndarray (B, m)
        One column per component found (``names``), zero outside its ranges; ``m`` may be 0.
    names : tuple of str
        ``"water vapour"``, ``"CO2"``: the components found.
    dominance : dict
        Per component looked for, its leading singular value over the next one
        (found when at least :data:`ATMOSPHERE_DOMINANCE`).
    width_cm : dict
        For a CO₂ component that dominates, how wide its stretching band is
        (:func:`effective_width`; found when at least :data:`CO2_MIN_WIDTH_CM`).
    """

    spectra: np.ndarray
    names: tuple[str, ...] = ()
    dominance: dict[str, float] = field(default_factory=dict)
    width_cm: dict[str, float] = field(default_factory=dict)

    def record(self) -> dict:
        """What the run record keeps: the components found and the evidence for each."""
        return {"found": list(self.names), "dominance": {k: round(v, 2) for k, v in self.dominance.items()},
                "width_cm": {k: round(v, 1) for k, v in self.width_cm.items()}}

    def columns(self) -> dict[str, np.ndarray]:
        """The spectra by column name (:data:`ATMOSPHERE_COLUMN` + name), as a result's diagnostics keep
        them (saved with it, written to ``band_weights.csv``, part of its baseline basis)."""
        return {ATMOSPHERE_COLUMN + name.replace(" ", "_"): self.spectra[:, i] for i, name in enumerate(self.names)}


def _block_means(data: np.ndarray, block: int) -> np.ndarray:
    """Means over ``block``×``block`` pixels, (blocks, B) float64; one row of blocks read at a time."""
    h, w, n_bands = data.shape
    hb, wb = max(h // block, 1), max(w // block, 1)
    bh, bw = h // hb, w // wb
    out = np.empty((hb, wb, n_bands))
    for i in range(hb):
        rows = np.asarray(data[i * bh:(i + 1) * bh, :wb * bw], dtype=np.float64)
        out[i] = rows.reshape(bh, wb, bw, n_bands).mean(axis=(0, 2))
    return out.reshape(hb * wb, n_bands)


def estimate_atmosphere(data: np.ndarray, wavenumbers: np.ndarray, k: int) -> AtmosphereEstimate:
    """Estimate the spectra of drifting water vapour and CO₂ from the image itself.

    An absorbance image carries what the background measurement did not cancel: water
    vapour and CO₂ whose amounts drift across the acquisition. Their spectra are the same
    in every pixel; only the amounts change, independently of the materials. The estimate
    uses that:

    1. the image is averaged over blocks of 4×4 pixels (the atmosphere drifts slowly; the
       noise falls by 4; smaller blocks where there would be fewer than 8 per component of
       step 2, and no estimate where single pixels are too few);
    2. the materials (and the baseline) are represented by the leading ``2k + 10``
       principal components of the bands where no atmosphere absorbs; what they predict
       is removed from the rest, so that what is left in the atmosphere's ranges
       drifts independently of the materials;
    3. water vapour: the leading component of that remainder's narrow lines
       (:func:`narrow_lines`, in :data:`WATER_RANGES`) gives each block's amount; CO₂:
       the leading component of the remainder at 2250–2400 cm⁻¹;
    4. each spectrum is the regression of the remainder on those amounts, over the whole
       of its ranges, so it keeps the broad envelope a vapour spectrum has under its lines.

    A component counts as found only when its leading singular value is at least
    :data:`ATMOSPHERE_DOMINANCE` times the next one (noise and material residues have
    no dominant direction), water vapour only when the spectrum is mostly narrow lines
    (:data:`ATMOSPHERE_LINE_SHARE`), and CO₂ only when its stretching band is wider than a
    spike (:data:`CO2_MIN_WIDTH_CM`: a single-band spike in a few pixels of a small image
    can lead that range's remainder). On the scene family (64×256 px, tuning seeds) the
    vapour spectrum came out 4–13° from the truth at normal and at 4× strength.

    Parameters
    ----------
    data : ndarray (H, W, B)
        Absorbance image (may be memory-mapped; read once, block by block).
    wavenumbers : ndarray (B,)
    k : int
        Number of materials the run unmixes (sets how many components represent them).

    Returns
    -------
    AtmosphereEstimate
    """
    wn = np.asarray(wavenumbers, dtype=np.float64)
    water, co2 = _in_ranges(wn, WATER_RANGES), _in_ranges(wn, CO2_RANGES)
    stretch = _in_ranges(wn, (CO2_STRETCH,))
    other = ~water & ~co2
    h, w, _ = data.shape
    rank = min(2 * int(k) + 10, int(other.sum()) - 1)
    blocks = [b for b in (4, 2, 1) if (h // b) * (w // b) >= BLOCKS_PER_COMPONENT * rank]
    if not blocks or rank < 1 or not water.any() and not stretch.any():
        # too few pixels to tell the atmosphere from the materials, or none of its bands
        return AtmosphereEstimate(np.zeros((wn.size, 0)))
    pixels = _block_means(data, blocks[0])  # coarse blocks, but enough of them for the materials' components
    n = len(pixels)
    centred = pixels[:, other] - pixels[:, other].mean(axis=0)
    u = np.linalg.svd(centred, full_matrices=False)[0][:, :rank]
    t = np.column_stack([np.full(n, 1.0 / np.sqrt(n)), u])  # orthonormal: the materials, the baseline
    dominance: dict[str, float] = {}

    def unexplained(x: np.ndarray) -> np.ndarray:
        return x - t @ (t.T @ x)

    def component(name: str, seen: np.ndarray, ranges: np.ndarray) -> np.ndarray | None:
        """The spectrum over ``ranges`` of what leads in ``seen`` once the materials are removed;
        None when nothing there dominates (or there are fewer than two bands)."""
        if seen.shape[1] < 2:
            return None
        left = unexplained(seen)
        _, s, vt = np.linalg.svd(left, full_matrices=False)
        dominance[name] = float(s[0] / max(s[1], 1e-30))
        if dominance[name] < ATMOSPHERE_DOMINANCE:
            return None
        amounts = left @ vt[0]
        spectrum = np.zeros(wn.size)
        spectrum[ranges] = unexplained(pixels[:, ranges]).T @ amounts / max(float(amounts @ amounts), 1e-30)
        # absorbance lines point up (the amounts' sign is arbitrary)
        return spectrum if spectrum.max() >= -spectrum.min() else -spectrum

    found: dict[str, np.ndarray] = {}
    vapour = component("water vapour", narrow_lines(pixels.T, wn).T[:, water], water)
    if vapour is not None and narrow_line_share(vapour[:, None], wn)[0] >= ATMOSPHERE_LINE_SHARE:
        found["water vapour"] = vapour  # mostly narrow lines, as water vapour is
    carbon_dioxide = component("CO2", pixels[:, stretch], co2)
    width: dict[str, float] = {}
    if carbon_dioxide is not None:
        width["CO2"] = effective_width(carbon_dioxide[stretch], wn[stretch])
        if width["CO2"] >= CO2_MIN_WIDTH_CM:
            found["CO2"] = carbon_dioxide  # a band, not a spike
    spectra = np.column_stack(list(found.values())) if found else np.zeros((wn.size, 0))
    return AtmosphereEstimate(spectra, tuple(found), dominance, width)
