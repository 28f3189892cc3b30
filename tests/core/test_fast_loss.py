"""The fast protocol's reduced-space WSAD equals the full-band WSAD."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ftir_unmix import UnmixConfig
from ftir_unmix.methods.cnn.losses import wsad
from ftir_unmix.methods.cnn.model import FTIRUnmixer
from ftir_unmix.methods.cnn.neighbourhoods import neighbourhoods, quadratic_form
from ftir_unmix.methods.cnn.protocols import FastTrainer


def _exact_case(weights: np.ndarray, seed: int) -> tuple[np.ndarray, FTIRUnmixer, FastTrainer]:
    """Data of rank 4 (inside the loss's subspace, so the reduction is exact), 8×10 pixels."""
    rng = np.random.default_rng(seed)
    h, w, b = 8, 10, weights.size
    x = (rng.random((h * w, 4)) @ rng.random((4, b))).reshape(h, w, b).astype(np.float32)
    cfg = UnmixConfig(k=3, reduced_rank=8).resolved()
    torch.manual_seed(0)
    model = FTIRUnmixer(b, 3, in_channels=8)
    trainer = FastTrainer(model, x.reshape(h * w, b), (h, w), weights, cfg, torch.device("cpu"),
                          torch.Generator().manual_seed(0))
    model.eval()
    return x, model, trainer


def _full_band_loss(x: np.ndarray, model: FTIRUnmixer, trainer: FastTrainer, weights: np.ndarray) -> torch.Tensor:
    x_hat = model.decode(model.abundances(trainer.z[None]))
    return wsad(torch.from_numpy(np.moveaxis(x, -1, 0))[None], x_hat, torch.as_tensor(weights, dtype=torch.float32),
                dim=1)


@pytest.mark.parametrize("weighted", [False, True])
def test_reduced_loss_matches_full_band_loss(weighted):
    weights = np.random.default_rng(0).uniform(0.05, 1.0, 60) if weighted else np.ones(60)
    x, model, trainer = _exact_case(weights, 0)
    with torch.no_grad():
        reduced = trainer.loss(slice(0, x.shape[0]), slice(0, x.shape[1]))
        full = _full_band_loss(x, model, trainer, weights)
    assert float(reduced) == pytest.approx(float(full), rel=1e-4, abs=1e-5)


def test_reduced_loss_has_the_full_band_loss_gradient():
    weights = np.random.default_rng(2).uniform(0.05, 1.0, 50)
    x, model, trainer = _exact_case(weights, 2)

    def gradients(loss: torch.Tensor) -> list[torch.Tensor]:
        return torch.autograd.grad(loss, [model.decoder_logits, model.conv1.weight])

    reduced = gradients(trainer.loss(slice(0, x.shape[0]), slice(0, x.shape[1])))
    full = gradients(_full_band_loss(x, model, trainer, weights))
    for r, f in zip(reduced, full):
        assert float((r - f).norm() / f.norm()) < 2e-3


@pytest.mark.parametrize("p", [3, 5])
def test_neighbourhoods_are_unfold(p):
    a = torch.rand(4, 7, 9, dtype=torch.float64, requires_grad=True)
    assert torch.equal(neighbourhoods(a, p), torch.nn.functional.unfold(a[None], p, padding=p // 2)[0])
    torch.autograd.gradcheck(lambda t: neighbourhoods(t, p), (a,))


def test_quadratic_form_and_its_gradients():
    gen = torch.Generator().manual_seed(0)
    r = torch.rand(12, 6, dtype=torch.float64, generator=gen, requires_grad=True)
    x = torch.rand(6, 20, dtype=torch.float64, generator=gen, requires_grad=True)
    weights = torch.rand(20, dtype=torch.float64, generator=gen)
    ours = quadratic_form(r.T @ r, x)
    plain = (x * ((r.T @ r) @ x)).sum(0)
    assert torch.allclose(ours, plain, rtol=1e-12)
    for a, b in zip(torch.autograd.grad((ours * weights).sum(), [r, x]),
                    torch.autograd.grad((plain * weights).sum(), [r, x])):
        assert torch.allclose(a, b, rtol=1e-10)
    torch.autograd.gradcheck(lambda rr, xx: quadratic_form(rr.T @ rr, xx), (r, x))


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
