"""The CNN autoencoder's structure, as DESIGN.md states it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ftir_unmix.methods.cnn.model import FTIRUnmixer, inverse_softplus


def test_layers_as_in_the_paper():
    m = FTIRUnmixer(30, 4)
    assert (m.conv1.in_channels, m.conv1.out_channels, m.conv1.kernel_size) == (30, 48, (3, 3))
    assert (m.conv2.out_channels, m.conv2.kernel_size) == (4, (1, 1))
    assert m.bn1.num_features == 48 and m.bn2.num_features == 4
    assert m.act.negative_slope == 0.01 and m.drop.p == 0.2
    assert isinstance(m.drop, torch.nn.Dropout2d)
    assert m.softmax_scale == 3.5
    assert m.decoder_logits.shape == (30, 4, 5, 5)


def test_abundances_on_simplex_and_shapes():
    torch.manual_seed(0)
    m = FTIRUnmixer(12, 3).eval()
    x = torch.rand(2, 12, 5, 5)
    x_hat, a = m(x)
    assert x_hat.shape == (2, 12, 5, 5) and a.shape == (2, 3, 5, 5)
    assert torch.allclose(a.sum(1), torch.ones(2, 5, 5), atol=1e-6)
    assert (a >= 0).all() and (m.decoder_kernel() > 0).all()


def test_endmembers_are_kernel_sums_and_decoder_is_linear_conv():
    torch.manual_seed(1)
    m = FTIRUnmixer(7, 2)
    w = m.decoder_kernel()
    assert torch.allclose(m.endmembers(), w.sum((2, 3)))
    # A constant abundance field far from the border reconstructs Ê a exactly.
    a = torch.zeros(1, 2, 9, 9)
    a[:, 0] = 0.25
    a[:, 1] = 0.75
    x_hat = m.decode(a)[0, :, 4, 4]
    assert torch.allclose(x_hat, m.endmembers() @ torch.tensor([0.25, 0.75]), atol=1e-6)


def test_softmax_scale_sharpens():
    torch.manual_seed(2)
    x = torch.rand(1, 6, 5, 5)
    soft = FTIRUnmixer(6, 3, softmax_scale=0.5).eval()
    sharp = FTIRUnmixer(6, 3, softmax_scale=20.0).eval()
    sharp.load_state_dict(soft.state_dict())
    assert sharp.abundances(x).max() > soft.abundances(x).max()


def test_warm_start_sets_endmembers():
    e = np.random.default_rng(0).random((10, 3)) + 0.1
    m = FTIRUnmixer(10, 3)
    m.init_decoder(e, centre=0.6)
    # each of the 25 kernel positions carries a 1e-6 floor (softplus never reaches 0)
    np.testing.assert_allclose(m.endmembers().detach().numpy(), e, rtol=1e-4, atol=25e-6)
    y = torch.tensor([1e-6, 0.3, 5.0, 40.0])
    assert torch.allclose(torch.nn.functional.softplus(inverse_softplus(y)), y, rtol=1e-5)


def test_bad_arguments():
    with pytest.raises(ValueError):
        FTIRUnmixer(10, 0)
    with pytest.raises(ValueError):
        FTIRUnmixer(10, 2, patch_size=4)
