"""The Unmix panel's method choice follows the registry; its controls follow the configuration."""

from __future__ import annotations

import numpy as np
import pytest

from ftir_unmix import UnmixConfig
from ftir_unmix.config import parameter_rule
from ftir_unmix.methods import Method, MethodOutput, register, unregister
from ftir_unmix.napari._layers import is_abundance_layer

PLUGIN = "napari-ftir-unmix"


def _first_pixel(inp):
    k = inp.config.k
    e = np.repeat(inp.pixels[:1].T, k, axis=1)
    return MethodOutput(abundances=np.full((k, *inp.shape), 1.0 / k), endmembers=e)
    yield


@pytest.fixture
def registered():
    register(Method("first-pixel", "every endmember the first pixel", _first_pixel))
    yield "first-pixel"
    unregister("first-pixel")


def test_a_registered_method_runs_from_the_panel(viewer, cube_layer, registered, wait_idle):
    _dock, w = viewer.window.add_plugin_dock_widget(PLUGIN, "Unmix")
    assert registered in w.method.choices
    w.layer.value, w.k.value = cube_layer, 3
    w.method.value = registered
    # a method that reads neither the CNN, the protocol nor the background greys those out
    assert not w.loss.enabled and not w.epochs.enabled and not w.baseline.enabled and not w.restarts.enabled
    assert w.k.enabled and w.tau.enabled and w.method.tooltip == "every endmember the first pixel"
    w.run.clicked()
    wait_idle(w)
    assert w.result.parameters["method"] == registered
    maps = [lay for lay in viewer.layers if is_abundance_layer(lay)]
    assert len(maps) == 3 and np.allclose(maps[0].data, 1 / 3)
    w.method.value = "cnn"
    assert w.loss.enabled and w.epochs.enabled and w.baseline.enabled and w.restarts.enabled


def test_controls_agree_with_the_configuration(viewer, cube_layer):
    """Every control named after a parameter shows its default and stays within its rule."""
    _dock, w = viewer.window.add_plugin_dock_widget(PLUGIN, "Unmix")
    defaults = UnmixConfig().resolved()
    checked = []
    for name in ("method", "k", "loss", "protocol", "baseline", "epochs", "lr", "softmax_scale", "restarts",
                 "seed", "device", "gamma_rough", "gamma_flat", "tau", "sharpness", "w_min"):
        control, rule = getattr(w, name), parameter_rule(name)
        assert control.value == getattr(defaults, name), name
        if rule.kind == "choice":
            assert set(control.choices) <= set(rule.options), name
        else:
            low_ok = control.min > rule.low if rule.low_open else control.min >= rule.low
            assert low_ok and control.max <= rule.high, (name, control.min, control.max)
        checked.append(name)
    assert len(checked) == 16
    assert w.config() == UnmixConfig(epochs=defaults.epochs)  # the panel's defaults are the engine's
    w.restarts.value = 1  # a control the run reads
    assert w.config().restarts == 1
