"""The fast protocol's reduced-space WSAD equals the full-band WSAD."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ftir_unmix import UnmixConfig
from ftir_unmix.methods.cnn.losses import wsad
from ftir_unmix.methods.cnn.model import FTIRUnmixer
from ftir_unmix.methods.cnn.protocols import FastTrainer


@pytest.mark.parametrize("weighted", [False, True])
def test_reduced_loss_matches_full_band_loss(weighted):
    rng = np.random.default_rng(0)
    h, w, b, k = 9, 11, 60, 3
    # Data of rank 5 (inside the subspace) plus nothing else: the reduction is exact.
    x = (rng.random((h * w, 5)) @ rng.random((5, b))).reshape(h, w, b).astype(np.float32)
    weights = rng.uniform(0.05, 1.0, b) if weighted else np.ones(b)
    cfg = UnmixConfig(k=k, reduced_rank=8).resolved()
    torch.manual_seed(0)
    model = FTIRUnmixer(b, k, in_channels=8)
    trainer = FastTrainer(model, x.reshape(h * w, b), (h, w), weights, cfg, torch.device("cpu"),
                          torch.Generator().manual_seed(0))
    model.eval()
    with torch.no_grad():
        reduced = trainer.loss(slice(0, h), slice(0, w))
        a = model.abundances(trainer.z[None])
        x_hat = model.decode(a)
        full = wsad(torch.from_numpy(np.moveaxis(x, -1, 0))[None], x_hat,
                    torch.as_tensor(weights, dtype=torch.float32), dim=1)
    assert float(reduced) == pytest.approx(float(full), rel=1e-4, abs=1e-5)
