"""SAD / WSAD properties."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ftir_unmix.methods.cnn.losses import sad, wsad


def _rand(*shape, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).random(shape)).double()


def test_known_angles():
    x = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    y = torch.tensor([[0.0, 1.0], [2.0, 2.0]])
    angles = sad(x, y, reduction="none")
    np.testing.assert_allclose(angles.numpy(), [np.pi / 2, 0.0], atol=1e-3)


def test_wsad_with_unit_weights_equals_sad():
    x, y = _rand(50, 30), _rand(50, 30, seed=1)
    assert torch.allclose(wsad(x, y, torch.ones(30)), sad(x, y))


def test_wsad_by_hand():
    x = torch.tensor([[1.0, 2.0, 3.0]], dtype=torch.float64)
    y = torch.tensor([[3.0, 1.0, 0.5]], dtype=torch.float64)
    w = torch.tensor([1.0, 0.5, 0.1], dtype=torch.float64)
    wx, wy = (w * x).numpy()[0], (w * y).numpy()[0]
    expected = np.arccos(wx @ wy / (np.linalg.norm(wx) * np.linalg.norm(wy) + 1e-8))
    assert float(wsad(x, y, w)) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("a,b", [(3.0, 1.0), (1.0, 0.01), (250.0, 7.5)])
def test_wsad_invariant_to_positive_scaling(a, b):
    x, y = _rand(40, 25) + 0.1, _rand(40, 25, seed=2) + 0.1
    w = _rand(25, seed=3)
    assert float(wsad(a * x, b * y, w)) == pytest.approx(float(wsad(x, y, w)), rel=1e-6)


def test_bands_on_channel_axis_of_images():
    x, y = _rand(2, 7, 5, 5), _rand(2, 7, 5, 5, seed=4)
    flat = wsad(x.permute(0, 2, 3, 1).reshape(-1, 7), y.permute(0, 2, 3, 1).reshape(-1, 7))
    assert float(wsad(x, y, dim=1)) == pytest.approx(float(flat), rel=1e-12)


def test_gradients_finite_at_perfect_reconstruction():
    x = _rand(10, 20)
    y = x.clone().requires_grad_(True)
    loss = wsad(x, y, _rand(20, seed=5))
    loss.backward()
    assert torch.isfinite(y.grad).all()
    assert float(loss) < 1e-3
    z = (3 * x).clone().requires_grad_(True)  # parallel, scaled
    sad(x, z).backward()
    assert torch.isfinite(z.grad).all()


def test_zero_weights_ignore_bands():
    x, y = _rand(5, 6), _rand(5, 6, seed=6)
    y2 = y.clone()
    y2[:, 2] += 100.0
    w = torch.ones(6, dtype=torch.float64)
    w[2] = 0.0
    assert float(wsad(x, y, w)) == pytest.approx(float(wsad(x, y2, w)))
