"""npe2 sample data: a seeded synthetic paint cross-section."""

from __future__ import annotations

from typing import Any

from ._layers import cube_layer_tuple

__all__ = ["cross_section"]

#: Size of the sample: big enough to show layers and aggregates, small enough
#: that an unmixing run on a laptop CPU takes seconds.
SAMPLE_SHAPE = (64, 96)
SAMPLE_SEED = 7


def cross_section() -> list[tuple[Any, dict[str, Any], str]]:
    """A 64×96-pixel synthetic ATR-µFTIR cross-section (838 bands, 650–4000 cm⁻¹).

    Six materials (embedding resin, drying oil, lead white, zinc soap,
    calcium oxalate, animal glue) in a layered stratigraphy, with CO₂ and
    water-vapour residuals, spikes, baseline and contact variation; the
    generation parameters are in ``metadata["source_metadata"]["parameters"]``.

    Returns
    -------
    list of LayerDataTuple
    """
    from ..synthetic import cross_section as make

    sample = make(*SAMPLE_SHAPE, seed=SAMPLE_SEED)
    return [cube_layer_tuple(sample.cube, name="synthetic cross-section")]
