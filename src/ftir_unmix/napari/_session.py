"""State shared by the panels of one viewer (no Qt here).

The band-weight parameters are shown in both the Unmix and the Band weights
panel; both edit the same :class:`WeightParams`. Everything else the panels
share lives on the layers (metadata), so it survives closing a panel.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, fields
from typing import Any

from psygnal import Signal, evented

from ..config import UnmixConfig
from ..parameters import WEIGHT_RULES

__all__ = ["Session", "WeightParams", "get_session", "typed_weight_param"]

_DEFAULTS = UnmixConfig()


@evented
@dataclass
class WeightParams:
    """The parameters of the band-reliability weights (see :func:`ftir_unmix.band_weights`)."""

    gamma_rough: float = _DEFAULTS.gamma_rough
    gamma_flat: float = _DEFAULTS.gamma_flat
    tau: float = _DEFAULTS.tau
    sharpness: float = _DEFAULTS.sharpness
    w_min: float = _DEFAULTS.w_min
    corr_floor: float = _DEFAULTS.corr_floor
    corr_model: str = _DEFAULTS.corr_model

    def as_dict(self) -> dict[str, float | str]:
        """The parameters by name."""
        return {f.name: typed_weight_param(f.name, getattr(self, f.name)) for f in fields(self)}


def typed_weight_param(name: str, value: Any) -> float | str:
    """A weight parameter as the engine takes it: a choice as text, anything else a float."""
    return str(value) if WEIGHT_RULES[name].kind == "choice" else float(value)


WEIGHT_PARAM_NAMES: tuple[str, ...] = tuple(f.name for f in fields(WeightParams))


class Session:
    """Per-viewer shared state.

    Attributes
    ----------
    weight_params : WeightParams
        Evented band-weight parameters; ``weight_params.events`` emits on change.
    forced_ranges_changed : Signal
        Emitted with the cube layer whose hand-forced ranges were edited.
    """

    forced_ranges_changed = Signal(object)

    def __init__(self) -> None:
        self.weight_params = WeightParams()


_SESSIONS: weakref.WeakKeyDictionary[Any, Session] = weakref.WeakKeyDictionary()


def get_session(viewer: Any) -> Session:
    """The :class:`Session` of a viewer (created on first use, dropped with the viewer)."""
    session = _SESSIONS.get(viewer)
    if session is None:
        session = Session()
        _SESSIONS[viewer] = session
    return session
