"""The named cases of the scene family and the scene builder."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np

from ..cube import Cube, make_cube
from ..metrics import spectral_angles
from . import _artefacts as art
from . import _data
from ._bands import DEFAULT_BANDS, MATERIALS, material_variants, wavenumber_axis
from ._fields import (
    COVERAGE_THRESHOLD,
    add_aggregates,
    add_crust,
    add_spots,
    blend,
    cap_simplex,
    coverage,
    dirichlet_fields,
    layer_memberships,
    mix_recipes,
    smooth_field,
)

__all__ = [
    "Layer", "Minor", "Aggregates", "Variability", "Artefacts", "SceneCase", "Scene", "CASES",
    "make_scene",
]


@dataclass(frozen=True)
class Layer:
    """One layer of a stratigraphy.

    Attributes
    ----------
    recipe : tuple of (material, share)
        Mean composition; shares are normalised to sum to one.
    thickness : float
        Relative thickness (drawn ±25 % per seed).
    contrast : float
        Standard deviation of the per-pixel log-share fluctuations (0: uniform
        mixture; 2 or more: grains close to pure).
    grain : float
        Correlation length of those fluctuations (pixels).
    """

    recipe: tuple[tuple[str, float], ...]
    thickness: float
    contrast: float = 1.0
    grain: float = 2.0


@dataclass(frozen=True)
class Minor:
    """A minor material covering a small share of the image.

    Attributes
    ----------
    material : str
        Must not occur in any layer recipe.
    kind : {"spots", "crust"}
        Small round spots of a few pixels, or a crust 1–2 px thick just below
        the sample surface (the first layer boundary).
    coverage : (lo, hi)
        Share of pixels where its abundance is at least
        :data:`~ftir_unmix.scenes._fields.COVERAGE_THRESHOLD`.
    layers : tuple of int
        Spots: the layers their centres may fall in (all when empty).
    """

    material: str
    kind: str
    coverage: tuple[float, float]
    layers: tuple[int, ...] = ()


@dataclass(frozen=True)
class Aggregates:
    """Mixed aggregates (e.g. metal-soap masses) inside one layer.

    Attributes
    ----------
    material : str
        The aggregate's material.
    count : int
        Number of aggregates in a 64×128 image (scaled by area, at least 1).
    radius : (lo, hi)
        Mean radius range (pixels at 64 rows; scaled with the height).
    core : (lo, hi)
        Range of the aggregate material's fraction in the core: below one, the
        aggregate stays mixed with the surrounding paint.
    layer : int
        The layer the centres fall in.
    rim_material : str or None
        A material enriched in a ring around each aggregate.
    rim_fraction : float
        Its fraction at the ring's crest.
    """

    material: str
    count: int
    radius: tuple[float, float]
    core: tuple[float, float]
    layer: int
    rim_material: str | None = None
    rim_fraction: float = 0.3


@dataclass(frozen=True)
class Variability:
    """Pixel-wise variability of the endmembers.

    Attributes
    ----------
    contact : (lo, hi)
        Range of the ATR contact factor (multiplies the whole pixel spectrum).
    shift : float
        Largest band displacement (cm⁻¹); each band follows with its own gain.
    width : float
        Largest relative broadening/narrowing (0.1: widths in [0.9, 1.1]×).
    scale : float
        Correlation length (pixels at 64 rows) of the shift and width fields.
    """

    contact: tuple[float, float] = (0.75, 1.2)
    shift: float = 2.0
    width: float = 0.1
    scale: float = 10.0


@dataclass(frozen=True)
class Artefacts:
    """Strengths of the artefacts.

    Attributes
    ----------
    atmosphere : float
        Typical CO₂ amount (template maximum) relative to the clean data's
        99th percentile; water vapour gets ``water_ratio`` times that.
    water_ratio : float
    atmosphere_mode : {"raster", "tiles"}
        How the amount drifts over the image.
    baseline : float
        Baseline scale relative to the clean 99th percentile.
    spike_fraction : float
        Share of pixels with one single-band spike.
    spike_amplitude : float
        Spike size relative to the clean 99th percentile.
    snr_db : float
        Clean-signal power over noise power, in dB.
    edge_noise : float
        How much louder the noise gets at the ends of the range.
    """

    atmosphere: float = 0.08
    water_ratio: float = 0.6
    atmosphere_mode: str = "raster"
    baseline: float = 0.08
    spike_fraction: float = 0.002
    spike_amplitude: float = 1.0
    snr_db: float = 35.0
    edge_noise: float = 2.0


@dataclass(frozen=True)
class SceneCase:
    """A named case of the scene family.

    Attributes
    ----------
    name : str
    stresses : str
        What the case tests, in one sentence.
    materials : tuple of str
        Names from :data:`ftir_unmix.scenes.MATERIALS`; K = their number.
    layout : {"layers", "fields"}
        A stratigraphy of :class:`Layer` (row 0 is the top), or smooth
        mixtures everywhere (softmax of ``log α`` plus smooth random fields).
    layers : tuple of Layer
        For ``"layers"``; layer 0 is the top one.
    alpha : tuple of float
        For ``"fields"``: mean shares of the non-minor materials, in order.
    field_contrast, field_scale : float
        For ``"fields"``: log-share fluctuation and its correlation length.
    caps : (lo, hi) or None
        No pure pixels: each material's abundance is capped at a level drawn
        in this range (within [0.4, 0.7]) everywhere.
    minors : tuple of Minor
    aggregates : Aggregates or None
    variability : Variability
    artefacts : Artefacts
    waviness, roughness : float
        Boundary undulation and roughness amplitudes (pixels at 64 rows).
    diffuse : (lo, hi)
        Range of interface widths (pixels).
    height, width, bands : int
        Default size.
    """

    name: str
    stresses: str
    materials: tuple[str, ...]
    layout: str
    layers: tuple[Layer, ...] = ()
    alpha: tuple[float, ...] = ()
    field_contrast: float = 1.5
    field_scale: float = 6.0
    caps: tuple[float, float] | None = None
    minors: tuple[Minor, ...] = ()
    aggregates: Aggregates | None = None
    variability: Variability = field(default_factory=Variability)
    artefacts: Artefacts = field(default_factory=Artefacts)
    waviness: float = 3.0
    roughness: float = 0.8
    diffuse: tuple[float, float] = (0.4, 2.0)
    height: int = 64
    width: int = 128
    bands: int = DEFAULT_BANDS

    def __post_init__(self) -> None:
        unknown = [m for m in self.materials if m not in MATERIALS]
        if unknown:
            raise ValueError(f"{self.name}: unknown materials {unknown}")
        if len(set(self.materials)) != len(self.materials):
            raise ValueError(f"{self.name}: a material is listed twice")
        if self.layout not in ("layers", "fields"):
            raise ValueError(f"{self.name}: layout must be 'layers' or 'fields'")
        used = {m for layer in self.layers for m, _ in layer.recipe}
        if not used <= set(self.materials):
            raise ValueError(f"{self.name}: recipes use materials not listed: {used - set(self.materials)}")
        for minor in self.minors:
            if minor.material in used or minor.material not in self.materials:
                raise ValueError(f"{self.name}: minor {minor.material!r} must be listed and occur in no recipe")
            if minor.kind not in ("spots", "crust"):
                raise ValueError(f"{self.name}: minor kind must be 'spots' or 'crust'")
            if minor.kind == "crust" and self.layout != "layers":
                raise ValueError(f"{self.name}: a crust needs a layered layout")
        if self.layout == "fields" and len(self.alpha) != len(self.base_materials):
            raise ValueError(f"{self.name}: alpha needs one share per non-minor material")
        if self.caps is not None and not 0.4 <= self.caps[0] <= self.caps[1] <= 0.7:
            raise ValueError(f"{self.name}: caps must lie within [0.4, 0.7]")

    @property
    def k(self) -> int:
        """Number of materials."""
        return len(self.materials)

    @property
    def base_materials(self) -> tuple[str, ...]:
        """Materials that are not minors."""
        minor = {m.material for m in self.minors}
        return tuple(m for m in self.materials if m not in minor)


@dataclass(frozen=True)
class Scene:
    """A synthetic ATR-µFTIR scene with its ground truth.

    Attributes
    ----------
    cube : Cube
        The observed image (float32, ascending wavenumbers) with variability and artefacts.
    endmembers : ndarray, shape (B, K), float64
        True pure-material absorbance spectra (before pixel-wise variability).
    abundances : ndarray, shape (K, H, W), float64
        True abundances, on the simplex.
    names : list of str
        Material names, in the order of the columns/maps.
    case : str
    seed : int
    info : dict
        JSON-ready facts: ``sources`` per material, ``shared_data``,
        ``atmosphere_source``, ``max_abundance``, ``coverage`` (share of
        pixels ≥ ``coverage_threshold``), ``pure_share`` (≥ 0.95),
        ``caps``, ``minors``, ``contact_range``, ``noise_sigma``,
        ``spikes`` (row, column, band), ``min_pair_angle_deg``, ...
    parts : dict or None
        With ``make_scene(..., parts=True)``: the additive components,
        ``mixed`` (variability and contact, no artefacts), ``atmosphere``,
        ``baseline``, ``noise`` (float32, (H, W, B)) and ``contact`` (H, W).
    """

    cube: Cube
    endmembers: np.ndarray
    abundances: np.ndarray
    names: list[str]
    case: str
    seed: int
    info: dict[str, Any]
    parts: dict[str, np.ndarray] | None = None

    @property
    def k(self) -> int:
        """Number of materials."""
        return len(self.names)

    @property
    def wavenumbers(self) -> np.ndarray:
        """The band centres (cm⁻¹, ascending)."""
        return self.cube.wavenumbers


def _l(recipe: dict[str, float], thickness: float, contrast: float = 1.0, grain: float = 2.0) -> Layer:
    return Layer(tuple(recipe.items()), thickness, contrast, grain)


_EMB, _VARN, _LW, _OIL = "embedding resin", "natural resin", "lead white", "drying oil"

#: The named cases.
CASES: dict[str, SceneCase] = {c.name: c for c in (
    SceneCase(
        name="small-k3",
        stresses="three materials, almost every pixel a mixture (few near-pure pixels), mild artefacts",
        materials=("calcite", "animal glue", _OIL),
        layout="fields", alpha=(0.45, 0.3, 0.25), field_contrast=1.3, field_scale=7.0,
    ),
    SceneCase(
        name="nopure-k4",
        stresses="no pure pixels: every material capped at 0.45–0.65 everywhere (smooth mixtures)",
        materials=(_LW, _OIL, "calcium oxalate", "kaolinite clay"),
        layout="fields", alpha=(0.3, 0.3, 0.2, 0.2), field_contrast=2.5, field_scale=6.0,
        caps=(0.45, 0.65),
    ),
    SceneCase(
        name="nopure-k6",
        stresses="no pure pixels in a layered section: every material capped at 0.4–0.6",
        materials=(_VARN, _LW, _OIL, "prussian blue", "gypsum", "animal glue"),
        layout="layers",
        layers=(
            _l({_VARN: 0.55, _OIL: 0.3, _LW: 0.15}, 1.0, 1.5),
            _l({"prussian blue": 0.35, _LW: 0.35, _OIL: 0.3}, 1.2, 2.0),
            _l({_LW: 0.55, _OIL: 0.35, "gypsum": 0.1}, 1.5, 2.0),
            _l({"gypsum": 0.55, "animal glue": 0.4, _LW: 0.05}, 1.5, 2.0),
        ),
        caps=(0.4, 0.6),
    ),
    SceneCase(
        name="minor-spot-k5",
        stresses="a minor pigment (ultramarine) only in small spots of a few pixels, 1–2 % of the image",
        materials=(_EMB, _LW, _OIL, "calcite", "ultramarine"),
        layout="layers",
        layers=(
            _l({_EMB: 1.0}, 0.8),
            _l({_LW: 0.6, _OIL: 0.4}, 1.4, 1.2),
            _l({"calcite": 0.6, _OIL: 0.25, _LW: 0.15}, 1.6, 1.2),
        ),
        minors=(Minor("ultramarine", "spots", (0.01, 0.02), layers=(1, 2)),),
    ),
    SceneCase(
        name="minor-crust-k5",
        stresses="a thin calcium-oxalate crust 1–2 px thick on the surface, 1–3 % of the image",
        materials=(_EMB, "calcium oxalate", _VARN, _LW, _OIL),
        layout="layers",
        layers=(
            _l({_EMB: 1.0}, 0.9),
            _l({_VARN: 0.85, _OIL: 0.15}, 0.35, 0.5),
            _l({_LW: 0.6, _OIL: 0.4}, 1.4, 1.2),
            _l({_LW: 0.35, _OIL: 0.65}, 1.2, 1.0),
        ),
        minors=(Minor("calcium oxalate", "crust", (0.01, 0.03)),),
    ),
    SceneCase(
        name="layered-k8-var",
        stresses="eight materials in six layers with strong variability (±6 cm⁻¹, ±30 % widths, contact 0.45–1.4) "
                 "and tile-wise atmosphere",
        materials=(_EMB, _VARN, _LW, _OIL, "calcite", "animal glue", "gypsum", "kaolinite clay"),
        layout="layers",
        layers=(
            _l({_EMB: 1.0}, 0.7),
            _l({_VARN: 0.85, _OIL: 0.15}, 0.4, 0.5),
            _l({_LW: 0.55, _OIL: 0.35, "kaolinite clay": 0.1}, 1.0, 1.5),
            _l({"kaolinite clay": 0.45, _LW: 0.15, _OIL: 0.4}, 1.0, 1.5),
            _l({"calcite": 0.55, "animal glue": 0.35, "gypsum": 0.1}, 1.0, 1.5),
            _l({"gypsum": 0.6, "animal glue": 0.4}, 1.0, 1.5),
        ),
        variability=Variability(contact=(0.45, 1.4), shift=6.0, width=0.3, scale=8.0),
        artefacts=Artefacts(atmosphere_mode="tiles", atmosphere=0.12, baseline=0.12),
        waviness=4.0, roughness=1.2,
    ),
    SceneCase(
        name="aggregates-k6",
        stresses="lead-soap aggregates mixed with the surrounding paint, with lead-white-rich rims",
        materials=(_EMB, _LW, _OIL, "lead soap", "calcite", "animal glue"),
        layout="layers",
        layers=(
            _l({_EMB: 1.0}, 0.7),
            _l({_LW: 0.55, _OIL: 0.4, "lead soap": 0.05}, 2.2, 1.2),
            _l({"calcite": 0.6, "animal glue": 0.4}, 1.1, 1.2),
        ),
        aggregates=Aggregates("lead soap", count=6, radius=(2.5, 6.0), core=(0.55, 0.85), layer=1,
                              rim_material=_LW, rim_fraction=0.35),
    ),
    SceneCase(
        name="mixed-k12",
        stresses="twelve materials: layers, a crust, minor spots and aggregates together",
        materials=(_EMB, "calcium oxalate", _VARN, _LW, _OIL, "lead soap", "prussian blue", "ultramarine",
                   "kaolinite clay", "calcite", "gypsum", "animal glue"),
        layout="layers",
        layers=(
            _l({_EMB: 1.0}, 0.6),
            _l({_VARN: 0.8, _OIL: 0.2}, 0.35, 0.5),
            _l({"prussian blue": 0.25, _LW: 0.45, _OIL: 0.3}, 0.9, 1.5),
            _l({_LW: 0.5, _OIL: 0.35, "kaolinite clay": 0.1, "lead soap": 0.05}, 1.3, 1.5),
            _l({"calcite": 0.4, "gypsum": 0.25, "animal glue": 0.35}, 1.1, 1.5),
        ),
        minors=(Minor("calcium oxalate", "crust", (0.01, 0.03)),
                Minor("ultramarine", "spots", (0.01, 0.03), layers=(2, 3))),
        aggregates=Aggregates("lead soap", count=4, radius=(2.5, 5.0), core=(0.55, 0.85), layer=3),
        variability=Variability(shift=3.0, width=0.15),
    ),
)}


def _rng(seed: int, *keys: str) -> np.random.Generator:
    """A generator determined by the seed and names (stable across processes)."""
    return np.random.default_rng([int(seed)] + [zlib.crc32(k.encode()) for k in keys])


def _layout(case: SceneCase, seed: int, height: int, width: int) -> tuple[np.ndarray, dict[str, Any]]:
    """True abundances (K, H, W) of a case and facts about them."""
    rng = _rng(seed, case.name, "layout")
    k = case.k
    index = {m: i for i, m in enumerate(case.materials)}
    info: dict[str, Any] = {}
    memb = None
    surface = None
    size = height / 64.0
    if case.layout == "layers":
        thick = (np.array([layer.thickness for layer in case.layers])
                 * np.exp(0.25 * rng.standard_normal(len(case.layers))))
        memb, bounds = layer_memberships(rng, height, width, thick, waviness=case.waviness * size,
                                         roughness=case.roughness * size, diffuse=case.diffuse)
        recipes = np.zeros((len(case.layers), k))
        for j, layer in enumerate(case.layers):
            for m, share in layer.recipe:
                recipes[j, index[m]] = share
            recipes[j] /= recipes[j].sum()
        a = mix_recipes(rng, memb, recipes, contrast=np.array([layer.contrast for layer in case.layers]),
                        grain=np.array([layer.grain * size for layer in case.layers]))
        surface = bounds[0]
        info["layer_boundaries_mean_row"] = [float(b.mean()) for b in bounds]
    else:
        base = [index[m] for m in case.base_materials]
        sub = dirichlet_fields(rng, len(base), height, width, alpha=np.asarray(case.alpha, dtype=np.float64),
                               contrast=case.field_contrast, scale=case.field_scale * size)
        a = np.zeros((k, height, width))
        a[base] = sub
    if case.aggregates is not None:
        agg = case.aggregates
        assert memb is not None, "aggregates need a layered layout"
        count = max(1, int(round(agg.count * height * width / (64 * 128))))
        allowed = memb[agg.layer] > 0.8
        body, rim = add_aggregates(rng, allowed, count, radius=(agg.radius[0] * size, agg.radius[1] * size),
                                   core=agg.core)
        if agg.rim_material is not None:
            a = blend(a, index[agg.rim_material], agg.rim_fraction * rim)
        a = blend(a, index[agg.material], body)
        info["aggregates"] = {"material": agg.material, "count": count,
                              "share_in_core": float(np.mean(body >= 0.5 * agg.core[0]))}
    minors: dict[str, Any] = {}
    for minor in case.minors:
        m = index[minor.material]
        if minor.kind == "spots":
            if memb is not None and minor.layers:
                allowed = memb[list(minor.layers)].sum(axis=0) > 0.6
            else:
                allowed = np.ones((height, width), dtype=bool)
            f = add_spots(rng, allowed, minor.coverage)
        else:
            assert surface is not None
            f = add_crust(rng, surface, height, minor.coverage)
        a = blend(a, m, f)
        minors[minor.material] = {"kind": minor.kind, "target": list(minor.coverage), "coverage": coverage(f)}
    info["minors"] = minors
    if case.caps is not None:
        caps = rng.uniform(*case.caps, k)
        a = cap_simplex(a, caps, soft=True)
        info["caps"] = {m: float(c) for m, c in zip(case.materials, caps)}
    else:
        info["caps"] = None
    a = np.clip(a, 0.0, None)
    a /= a.sum(axis=0, keepdims=True)
    return a, info


@lru_cache(maxsize=48)
def _variants(name: str, seed: int, case: str, n_bands: int, shift: float, width: float,
              root: str | None) -> tuple[np.ndarray, str]:
    """Cached :func:`material_variants` of one material of one scene (read-only result).

    ``root`` (the shared-data folder in use) is part of the key only so that
    changing :data:`~ftir_unmix.scenes._data.SHARED_DATA` is never answered
    from the cache.
    """
    n_s = 7 if shift > 0 else 1
    n_w = 5 if width > 0 else 1
    v, src = material_variants(MATERIALS[name], wavenumber_axis(n_bands), _rng(seed, case, "spectrum", name),
                               shifts=np.linspace(-shift, shift, n_s),
                               widths=np.linspace(1.0 - width, 1.0 + width, n_w))
    v.setflags(write=False)
    return v, src


def _positions(values: np.ndarray, lo: float, hi: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Node index and fraction of ``values`` on ``n`` evenly spaced nodes over [lo, hi]."""
    if n == 1:
        return np.zeros(values.shape, dtype=np.intp), np.zeros(values.shape)
    u = np.clip((values - lo) / (hi - lo), 0.0, 1.0) * (n - 1)
    i = np.minimum(np.floor(u).astype(np.intp), n - 2)
    return i, u - i


def make_scene(case: str, seed: int, *, height: int | None = None, width: int | None = None,
               bands: int | None = None, parts: bool = False, atmosphere_scale: float = 1.0) -> Scene:
    """Build one scene of the family, deterministically from ``(case, seed)``.

    Parameters
    ----------
    case : str
        A key of :data:`CASES`.
    seed : int
        Tune on :data:`~ftir_unmix.scenes.TUNING_SEEDS`, report on
        :data:`~ftir_unmix.scenes.REPORT_SEEDS`.
    height, width : int, optional
        Image size (default the case's, 64×128). Lengths scale with the height.
    bands : int, optional
        Number of bands over 650–4000 cm⁻¹ (default 838, about 4 cm⁻¹).
    parts : bool
        Keep the additive components in :attr:`Scene.parts` (memory ×5).
    atmosphere_scale : float
        Multiplies the case's atmosphere (CO₂ and water vapour drifting over the image): a
        stress test of a purge that drifts more than the case assumes (1: the case's).

    Returns
    -------
    Scene

    Raises
    ------
    KeyError
        Unknown case.

    Examples
    --------
    >>> scene = make_scene("small-k3", 0, height=16, width=24, bands=120)
    >>> scene.cube.shape, scene.endmembers.shape, scene.abundances.shape
    ((16, 24, 120), (120, 3), (3, 16, 24))
    """
    if case not in CASES:
        raise KeyError(f"unknown scene case {case!r}; known: {', '.join(CASES)}")
    spec = CASES[case]
    h = int(height or spec.height)
    w = int(width or spec.width)
    n_bands = int(bands or spec.bands)
    if h < 4 or w < 4:
        raise ValueError(f"a scene needs at least 4×4 pixels, got {h}×{w}")
    axis = wavenumber_axis(n_bands)
    k = spec.k
    var = spec.variability
    art_p = spec.artefacts
    if atmosphere_scale != 1.0:
        art_p = replace(art_p, atmosphere=art_p.atmosphere * float(atmosphere_scale))
    size = h / 64.0

    # Spectra: a grid of (shift, width) variants per material; the middle one is the truth.
    n_s = 7 if var.shift > 0 else 1
    n_w = 5 if var.width > 0 else 1
    variants = []
    sources: dict[str, str] = {}
    root = _data.shared_data_dir()
    for name in spec.materials:
        v, src = _variants(name, int(seed), case, n_bands, var.shift, var.width,
                           None if root is None else str(root))
        variants.append(v)
        sources[name] = src
    endmembers = np.stack([v[n_s // 2, n_w // 2] for v in variants], axis=1).copy()

    abundances, info = _layout(spec, seed, h, w)

    # Mixing with pixel-wise variability and contact.
    rng_var = _rng(seed, case, "variability")
    contact = art.contact_map(rng_var, (h, w), *var.contact)
    n = h * w
    mixed = np.zeros((n, n_bands), dtype=np.float32)
    for m in range(k):
        amount = (abundances[m] * contact).ravel()
        sel = np.flatnonzero(amount > 1e-7)
        f_shift = 0.8 * smooth_field(rng_var, (h, w), var.scale * size) + 0.6 * smooth_field(rng_var, (h, w), 1.0)
        f_width = 0.8 * smooth_field(rng_var, (h, w), var.scale * size) + 0.6 * smooth_field(rng_var, (h, w), 1.0)
        d = var.shift * np.clip(f_shift.ravel()[sel] / 2.0, -1.0, 1.0)
        s = 1.0 + var.width * np.clip(f_width.ravel()[sel] / 2.0, -1.0, 1.0)
        i_s, t_s = _positions(d, -var.shift, var.shift, n_s)
        i_w, t_w = _positions(s, 1.0 - var.width, 1.0 + var.width, n_w)
        table = variants[m].reshape(n_s * n_w, n_bands).astype(np.float32)
        for ds, ws in ((0, 1.0 - t_s), (1, t_s)):
            if n_s == 1 and ds == 1:
                continue
            for dw, ww in ((0, 1.0 - t_w), (1, t_w)):
                if n_w == 1 and dw == 1:
                    continue
                weight = (amount[sel] * ws * ww).astype(np.float32)
                mixed[sel] += weight[:, None] * table[(i_s + ds) * n_w + (i_w + dw)]
    mixed = mixed.reshape(h, w, n_bands)
    ref = float(np.percentile(mixed, 99))

    # Artefacts.
    rng_atm = _rng(seed, case, "atmosphere")
    co2, water, atm_source = art.atmosphere_templates(axis, rng_atm)
    amt_co2 = art.atmosphere_amounts(rng_atm, (h, w), mode=art_p.atmosphere_mode)
    amt_h2o = art.atmosphere_amounts(rng_atm, (h, w), mode=art_p.atmosphere_mode)
    atmosphere = (art_p.atmosphere * ref) * (amt_co2[..., None] * co2.astype(np.float32)
                                             + art_p.water_ratio * amt_h2o[..., None] * water.astype(np.float32))
    atmosphere = atmosphere.astype(np.float32)
    baseline = (art_p.baseline * ref) * art.baseline_cube(_rng(seed, case, "baseline"), (h, w), axis)
    rng_noise = _rng(seed, case, "noise")
    sigma = float(np.sqrt(np.mean(mixed.astype(np.float64) ** 2) / 10.0 ** (art_p.snr_db / 10.0)))
    profile = art.noise_profile(axis, art_p.edge_noise).astype(np.float32)
    noise = rng_noise.standard_normal((h, w, n_bands), dtype=np.float32) * (sigma * profile)
    data = mixed + atmosphere + baseline + noise
    spikes = art.add_spikes(_rng(seed, case, "spikes"), data, art_p.spike_fraction, art_p.spike_amplitude, ref)

    angles = spectral_angles(endmembers, endmembers)
    off = angles[~np.eye(k, dtype=bool)]
    flat = abundances.reshape(k, -1)
    info.update({
        "case": case,
        "seed": int(seed),
        "stresses": spec.stresses,
        "shape": [h, w, n_bands],
        "wavenumber_step": float(axis[1] - axis[0]),
        "shared_data": None if root is None else str(root),
        "sources": sources,
        "measured_used": any(src != "built-in bands" for src in sources.values()),
        "atmosphere_source": atm_source,
        "coverage_threshold": COVERAGE_THRESHOLD,
        "max_abundance": {m: float(flat[i].max()) for i, m in enumerate(spec.materials)},
        "mean_abundance": {m: float(flat[i].mean()) for i, m in enumerate(spec.materials)},
        "coverage": {m: float(np.mean(flat[i] >= COVERAGE_THRESHOLD)) for i, m in enumerate(spec.materials)},
        "pure_share": {m: float(np.mean(flat[i] >= 0.95)) for i, m in enumerate(spec.materials)},
        "contact_range": [float(contact.min()), float(contact.max())],
        "shift_cm": var.shift,
        "width_frac": var.width,
        "reference_absorbance": ref,
        "noise_sigma": sigma,
        "snr_db": art_p.snr_db,
        "atmosphere_strength": art_p.atmosphere,
        "spikes": spikes.tolist(),
        "min_pair_angle_deg": float(off.min()) if off.size else None,
    })
    cube = make_cube(data, axis, metadata={"format": "synthetic-scene", "path": None,
                                           "scene": {"case": case, "seed": int(seed)}})
    kept = None
    if parts:
        kept = {"mixed": mixed, "atmosphere": atmosphere, "baseline": baseline, "noise": noise,
                "contact": contact}
    return Scene(cube=cube, endmembers=endmembers, abundances=abundances, names=list(spec.materials),
                 case=case, seed=int(seed), info=info, parts=kept)
