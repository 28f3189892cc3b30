"""An endmember spent on drifting water vapour: told by its narrow lines, mended by a spare (issue 12)."""

from __future__ import annotations

import numpy as np
import pytest

from ftir_unmix import unmix
from ftir_unmix.cube import make_cube
from ftir_unmix.metrics import evaluate
from ftir_unmix.preprocess import ATMOSPHERE_LINE_SHARE, narrow_line_share
from ftir_unmix.scenes import CASES, make_scene
from ftir_unmix.scenes._artefacts import builtin_atmosphere
from ftir_unmix.trust import doubts


def _bands(wn, centres, width=25.0):
    return sum(np.exp(-0.5 * ((wn - c) / width) ** 2) for c in centres)


def test_narrow_lines_tell_water_vapour_from_material_spectra():
    spectra = {}
    for case in CASES:  # every material of the scene family, as its scenes build it
        scene = make_scene(case, 0, height=8, width=8)
        spectra.update(zip(scene.names, scene.endmembers.T, strict=True))
    axis = scene.wavenumbers
    shares = dict(zip(spectra, narrow_line_share(np.stack(list(spectra.values()), 1), axis), strict=True))
    assert len(shares) >= 12 and max(shares.values()) < 0.6 * ATMOSPHERE_LINE_SHARE, shares
    co2, water = builtin_atmosphere(axis)
    vapour = narrow_line_share(water[:, None], axis)[0]
    assert vapour > 1.5 * ATMOSPHERE_LINE_SHARE
    # half a material and half vapour (by norm) is still told; the share does not depend on the scale
    mix = spectra["calcite"] / np.linalg.norm(spectra["calcite"]) + water / np.linalg.norm(water)
    assert narrow_line_share(np.stack([mix, 7.0 * mix], 1), axis) == pytest.approx(
        [narrow_line_share(mix[:, None], axis)[0]] * 2)
    assert narrow_line_share(mix[:, None], axis)[0] > ATMOSPHERE_LINE_SHARE


@pytest.fixture(scope="module")
def vapour_scene():
    """Three materials mixed everywhere, and water vapour drifting from −0.5 to 1.5 times a
    strong amount: the first run spends an endmember on the vapour and loses a material."""
    wn = np.arange(700.0, 3800.0, 4.0)
    truth = np.stack([_bands(wn, [1000, 1700]), _bands(wn, [1400, 2900]), _bands(wn, [1100, 3300])], 1)
    _, water = builtin_atmosphere(wn)
    rng = np.random.default_rng(0)
    h = w = 20
    a = rng.dirichlet([0.7] * 3, size=h * w)
    amount = rng.uniform(-0.3, 1.0, size=h * w)
    x = a @ truth.T + 4.0 * amount[:, None] * water[None, :] + 0.003 * rng.standard_normal((h * w, len(wn)))
    return make_cube(x.reshape(h, w, -1).astype(np.float32), wn), truth, a.T.reshape(3, h, w)


def test_an_endmember_of_water_vapour_trains_the_run_again_with_a_spare(vapour_scene, one_torch_thread):
    cube, truth, abundances = vapour_scene
    opts = dict(epochs=60, warmup_steps=10, device="cpu", restarts=1, seed=0)
    first = unmix(cube, 3, spare_when_needed=False, **opts)
    lines = narrow_line_share(first.endmembers, cube.wavenumbers)
    assert lines.max() > ATMOSPHERE_LINE_SHARE  # the first run's vapour endmember
    lost = evaluate(truth, abundances, first.endmembers, first.abundances)
    assert max(lost["per_endmember_sad_deg"]) > 20.0
    worst = int(np.argmax(lines))  # the trust record says so, and the user is told to doubt it
    np.testing.assert_allclose([t["narrow_lines"] for t in first.parameters["trust"]], lines, rtol=1e-5)
    said = doubts(first.parameters["trust"], ["EM1", "EM2", "EM3"])
    assert "drifting water vapour" in said[f"EM{worst + 1}"]

    r = unmix(cube, 3, **opts)
    spare = r.parameters["spare_endmembers"]
    assert spare["reason"] == (f"EM{worst + 1} of the first run was atmospheric lines "
                               f"({lines[worst]:.0%} of it narrower than 4 cm⁻¹)")
    np.testing.assert_allclose(spare["first_run"]["narrow_line_share"], lines)
    assert spare["trained_k"] == 4 and len(spare["dropped"]) == 1
    # the spare took the vapour and was dropped; the three materials are back
    assert narrow_line_share(r.endmembers, cube.wavenumbers).max() < ATMOSPHERE_LINE_SHARE
    mended = evaluate(truth, abundances, r.endmembers, r.abundances)
    assert max(mended["per_endmember_sad_deg"]) < 12.0, mended["per_endmember_sad_deg"]
