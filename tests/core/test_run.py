"""The training generator: protocols, reproducibility, cancellation, the result."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

from ftir_unmix import Progress, UnmixConfig, iter_unmix, load_result, run_to_end, unmix
from ftir_unmix.methods.cnn import resolve_device

TINY = dict(epochs=8, seed=1, device="cpu")


def _check_result(result, cube, k):
    h, w, b = cube.shape
    assert result.abundances.shape == (k, h, w) and result.abundances.dtype == np.float32
    assert result.endmembers.shape == (b, k) and (result.endmembers >= 0).all()
    np.testing.assert_allclose(result.abundances.sum(0), 1.0, atol=1e-4)
    assert (result.abundances >= 0).all()
    np.testing.assert_array_equal(result.wavenumbers, cube.wavenumbers)
    assert result.weights.shape == (b,)


@pytest.mark.parametrize("protocol", ["fast", "paper"])
def test_generator_yields_progress_then_returns_result(small_section, protocol):
    cube = small_section.cube
    extra = dict(n_patches=128, batch_size=32) if protocol == "paper" else {}
    gen = iter_unmix(cube, UnmixConfig(k=4, protocol=protocol, **TINY, **extra))
    events = []
    result = run_to_end(gen, events.append)
    assert all(isinstance(e, Progress) for e in events)
    assert events[0].phase == "prepare" and events[-1].phase == "infer"
    train = [e for e in events if e.phase == "train" and e.loss is not None]
    # fast: up to half as many refinement steps again (UnmixConfig.refine)
    assert train and train[-1].step == len(result.loss_history) <= (8 if protocol == "paper" else 12)
    assert train[-1].endmembers.shape == (cube.n_bands, 4)
    _check_result(result, cube, 4)
    assert result.parameters["protocol"] == protocol
    assert result.parameters["device"] == "cpu"
    assert {"weights_s", "train_s", "infer_s", "total_s"} <= set(result.timings)
    assert np.isfinite(result.loss_history).all()


def test_paper_protocol_defaults_are_the_papers():
    cfg = UnmixConfig(protocol="paper").resolved()
    assert (cfg.init, UnmixConfig().resolved().init) == ("random", "auto")
    assert (cfg.n_patches, cfg.batch_size, cfg.lr, cfg.epochs, cfg.patch_size) == (20_000, 64, 0.005, 500, 5)
    assert (cfg.n_filters, cfg.dropout, cfg.softmax_scale) == (48, 0.2, 3.5)
    assert (cfg.sharpness, cfg.w_min, cfg.eps) == (2.0, 0.05, 1e-8)
    assert (cfg.gamma_rough, cfg.tau) == (0.0, 5.0)  # the paper: 0.75 and 3, see docs/method.md


@pytest.mark.parametrize("protocol", ["fast", "paper"])
def test_same_seed_same_result_bit_for_bit(small_section, protocol):
    opts = dict(protocol=protocol, n_patches=96, batch_size=32, **TINY)
    a = unmix(small_section.cube, 3, **opts)
    b = unmix(small_section.cube, 3, **opts)
    np.testing.assert_array_equal(a.abundances, b.abundances)
    np.testing.assert_array_equal(a.endmembers, b.endmembers)
    np.testing.assert_array_equal(a.loss_history, b.loss_history)
    c = unmix(small_section.cube, 3, **(opts | {"seed": 2}))
    assert not np.array_equal(a.endmembers, c.endmembers)


def _blas_threads() -> list[int]:
    from threadpoolctl import threadpool_info

    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_threads_bound_torch_and_blas_during_the_run_only(small_section):
    """``threads`` holds numpy's BLAS too (its sums decide the warm start), and the record
    says what was in force."""
    from threadpoolctl import threadpool_limits

    seen = []

    def on_event(event):
        if event.phase == "train":
            seen.append((torch.get_num_threads(), *_blas_threads()))

    with threadpool_limits(limits=2, user_api="blas"):  # a known count to come back to
        torch_before = torch.get_num_threads()
        result = unmix(small_section.cube, 3, threads=1, callback=on_event, **TINY)
        assert seen and set(seen) == {(1,) * len(seen[0])}
        assert result.parameters["threads_used"] == {"torch": 1, "blas": 1}
        assert (torch.get_num_threads(), set(_blas_threads())) == (torch_before, {2})
        free = unmix(small_section.cube, 3, **TINY)
        assert free.parameters["threads_used"] == {"torch": torch_before, "blas": 2}


def test_stop_returns_best_result_so_far(small_section):
    stop = threading.Event()
    stopped_at = []

    def on_event(event):
        if event.phase == "train" and event.step >= 3 and not stop.is_set():
            stop.set()
            stopped_at.append(event.step)

    result = unmix(small_section.cube, 4, epochs=500, patience=500, stop=stop, callback=on_event,
                   device="cpu")
    assert result.cancelled
    # the loop sees the flag before its next step
    assert len(result.loss_history) == stopped_at[0]
    assert result.parameters["stopped_by"] == "cancel"
    _check_result(result, small_section.cube, 4)


def test_result_keeps_every_parameter_and_round_trips(small_section, tmp_path):
    cube = small_section.cube
    result = unmix(cube, 4, loss="sad", forced_ranges=[(2280, 2400)], **TINY)
    assert np.all(result.weights == 1.0)  # SAD: unit weights in the loss
    params = result.parameters
    for key in ("k", "loss", "protocol", "lr", "seed", "softmax_scale", "gamma_rough", "gamma_flat",
                "tau", "sharpness", "w_min", "scaling", "init", "forced_ranges", "preprocessing"):
        assert key in params
    forced = (cube.wavenumbers >= 2280) & (cube.wavenumbers <= 2400)
    assert np.all(result.diagnostics["weight"][forced] == 0.05)
    loaded = load_result(result.save(tmp_path / "run"))
    for name in ("abundances", "endmembers", "weights", "wavenumbers", "loss_history"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(result, name))
    assert loaded.parameters == result.parameters and loaded.names == result.names
    np.testing.assert_array_equal(loaded.diagnostics["d_corr"], result.diagnostics["d_corr"])


def test_given_weights_are_used(small_section):
    b = small_section.cube.n_bands
    w = np.linspace(0.1, 1.0, b)
    result = unmix(small_section.cube, 3, weights=w, **TINY)
    np.testing.assert_allclose(result.weights, w)
    assert result.parameters["preprocessing"]["band_weights"] == "given"
    with pytest.raises(ValueError, match="shape"):
        unmix(small_section.cube, 3, weights=w[:-1], **TINY)


@pytest.mark.parametrize("method", ["nmf", "vca-fcls"])
def test_baselines_behind_the_same_api(small_section, method):
    result = unmix(small_section.cube, 4, method=method, seed=0)
    _check_result(result, small_section.cube, 4)
    assert result.parameters["method"] == method and len(result.loss_history) == 0


@pytest.mark.parametrize("bad,match", [(dict(k=250), "at most the number of bands"),
                                       (dict(k=1), r"in \[2, 256\]"), (dict(k=3, loss="mse"), "loss"),
                                       (dict(k=3, protocol="slow"), "protocol"),
                                       (dict(k=3, epochs=0), "epochs")])
def test_bad_parameters_are_refused(small_section, bad, match):
    with pytest.raises(ValueError, match=match):
        unmix(small_section.cube, **bad)


def test_unknown_option_is_refused(small_section):
    with pytest.raises(TypeError, match="learning_rate"):
        unmix(small_section.cube, 3, learning_rate=0.1)


def test_device_choice():
    assert resolve_device("cpu").type == "cpu"
    expected = "cuda" if torch.cuda.is_available() else None
    if expected is None:
        with pytest.raises(ValueError, match="no CUDA"):
            resolve_device("cuda")
        assert resolve_device("auto").type in ("cpu", "mps")
    else:
        assert resolve_device("auto").type == "cuda"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (none on this machine)")
def test_cuda_path(small_section):
    result = unmix(small_section.cube, 4, epochs=20, device="cuda")
    assert result.parameters["device"].startswith("cuda")
    _check_result(result, small_section.cube, 4)
