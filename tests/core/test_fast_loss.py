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


def _trainer(h: int, w: int, max_pixels: int) -> FastTrainer:
    rng = np.random.default_rng(1)
    b, k = 40, 3
    # Tiles that differ in how hard they are: some carry strong noise.
    x = rng.random((h * w, 4)) @ rng.random((4, b))
    x[: h * w // 3] += rng.normal(0, 0.3, (h * w // 3, b))
    cfg = UnmixConfig(k=k, reduced_rank=8, max_pixels_per_step=max_pixels, epochs=60).resolved()
    torch.manual_seed(0)
    return FastTrainer(FTIRUnmixer(b, k, in_channels=8), np.abs(x).astype(np.float32), (h, w), np.ones(b), cfg,
                       torch.device("cpu"), torch.Generator().manual_seed(0))


def test_states_are_judged_by_the_steps_own_loss_when_a_step_sees_the_whole_image():
    trainer = _trainer(12, 16, 8192)
    assert trainer.detail["judged_over_steps"] == 1.0
    for value, _ in zip(trainer.steps(lambda: False), range(20)):
        assert trainer.judged == value


def test_states_are_judged_by_a_running_mean_over_tiles_on_a_big_image():
    trainer = _trainer(48, 64, 256)  # 3072 pixels in tiles of 16×16: 12 tiles cover the image
    span = trainer.detail["judged_over_steps"]
    assert span == pytest.approx(12.0)
    values, judged = [], []
    for value, _ in zip(trainer.steps(lambda: False), range(40)):
        values.append(value)
        judged.append(trainer.judged)
    keep = 1 - 2 / (span + 1)
    weights = keep ** np.arange(len(values))[::-1]
    assert judged[0] == values[0]
    assert judged[-1] == pytest.approx(float(weights @ values / weights.sum()), rel=1e-9)
    # The tile-to-tile noise is what the mean takes out.
    assert np.std(np.diff(judged[10:])) < 0.5 * np.std(np.diff(values[10:]))
    trainer.restart()  # a new phase judges its own steps only
    first = next(trainer.steps(lambda: False))
    assert trainer.judged == first
