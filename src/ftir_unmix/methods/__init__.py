"""Unmixing methods: a registry from name to method.

A method is a generator function that receives the prepared data
(:class:`MethodInput`: scaled pixels, band weights of the loss, the
background basis, the resolved configuration, the stop flag), yields
:class:`~ftir_unmix.run.Progress` events and returns a :class:`MethodOutput`
(maps, spectra in the scaled units, loss history, its own run-record
entries). :func:`ftir_unmix.run.iter_unmix` does everything around it
(checks, band weights, scaling, the run record, the result), so a new method
is one module plus one :func:`register` call::

    from ftir_unmix.methods import Method, MethodOutput, register

    def _mean_spectrum(inp):
        a = np.ones((inp.config.k, *inp.shape)) / inp.config.k
        e = np.repeat(np.asarray(inp.pixels).mean(0)[:, None], inp.config.k, axis=1)
        return MethodOutput(abundances=a, endmembers=e)
        yield  # a generator, even when it reports no progress

    register(Method("mean", "every endmember the mean spectrum", _mean_spectrum))

The command line's ``--method``, the Unmix panel's method choice and
:class:`~ftir_unmix.UnmixConfig` take their choices from :func:`available`.
"""

from __future__ import annotations

from .base import LOSSES, Loss, Method, MethodInput, MethodOutput, Progress, StopFlag, relay, should_stop

__all__ = ["LOSSES", "Loss", "Method", "MethodInput", "MethodOutput", "Progress", "StopFlag", "available", "get",
           "register", "relay", "should_stop", "unregister"]

_REGISTRY: dict[str, Method] = {}


def register(method: Method, *, replace: bool = False) -> Method:
    """Add a method to the registry (``replace=True`` to redefine a name)."""
    if method.name in _REGISTRY and not replace:
        raise ValueError(f"a method named {method.name!r} is already registered")
    _REGISTRY[method.name] = method
    return method


def unregister(name: str) -> None:
    """Remove a method (tests register temporary ones)."""
    _REGISTRY.pop(name, None)


def available() -> list[str]:
    """The registered method names, built-in ones first."""
    return list(_REGISTRY)


def get(name: str) -> Method:
    """The method registered under ``name``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"no method {name!r}; available: {', '.join(_REGISTRY)}") from None


register(Method("cnn", "FTIR-unmixer: CNN autoencoder, band-weighted spectral angle (Pande et al. 2026)",
                "ftir_unmix.methods.cnn:run_cnn",
                uses=frozenset({"cnn", "protocol", "background", "known"}), iterative=True, k_rule="count"))
register(Method("nmf", "nonnegative matrix factorisation (scikit-learn), abundances summing to one",
                "ftir_unmix.methods.classical:run_nmf"))
register(Method("vca-fcls", "vertex component analysis + fully constrained least squares",
                "ftir_unmix.methods.classical:run_vca_fcls"))
