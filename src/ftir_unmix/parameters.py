"""What every parameter accepts: one rule per parameter, used by the API, the CLI and the GUI.

A :class:`Rule` states a parameter's type and range; :meth:`Rule.check`
returns the value normalised (``int``/``float``) or raises
:class:`TypeError` (wrong type) or :class:`~ftir_unmix.errors.ParameterError`
(out of range), both naming the parameter and what it accepts. NaN and
infinities are never accepted.

>>> WEIGHT_RULES["tau"].check("tau", 2.5)
2.5
>>> WEIGHT_RULES["tau"].check("tau", float("nan"))
Traceback (most recent call last):
...
ftir_unmix.errors.ParameterError: tau: must be a finite number in [0, 1000]; got nan
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import ParameterError

__all__ = ["CORR_MODELS", "Rule", "WEIGHT_RULES", "PAPER_WEIGHT_DEFAULTS", "check_weight_params"]


def _fmt(v: float) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


@dataclass(frozen=True)
class Rule:
    """The values one parameter accepts.

    Attributes
    ----------
    kind : {"int", "float", "bool", "choice"}
    low, high : float or None
        Bounds (``None``: unbounded on that side).
    low_open, high_open : bool
        Whether a bound itself is excluded.
    choices : tuple of str, or a callable returning them
        The allowed values of a ``"choice"`` (a callable for a registry that
        may grow, such as the methods).
    optional : bool
        ``None`` is accepted (it stands for "the protocol's default").
    odd : bool
        Integers only: the value must be odd.
    """

    kind: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[str, ...] | Callable[[], Sequence[str]] = ()
    optional: bool = False
    odd: bool = False

    @property
    def options(self) -> tuple[str, ...]:
        """The allowed values of a ``"choice"`` now."""
        return tuple(self.choices() if callable(self.choices) else self.choices)

    def describe(self) -> str:
        """What the rule accepts, in words (``"a finite number in (0, 1]"``)."""
        if self.kind == "choice":
            return "one of " + ", ".join(self.options)
        if self.kind == "bool":
            return "true or false"
        what = "an odd integer" if self.odd else ("an integer" if self.kind == "int" else "a finite number")
        if self.low is not None and self.high is not None:
            what += (f" in {'(' if self.low_open else '['}{_fmt(self.low)}, "
                     f"{_fmt(self.high)}{')' if self.high_open else ']'}")
        elif self.low is not None:
            what += f" {'>' if self.low_open else '≥'} {_fmt(self.low)}"
        elif self.high is not None:
            what += f" {'<' if self.high_open else '≤'} {_fmt(self.high)}"
        return what + (" (or left out for the default)" if self.optional else "")

    def check(self, name: str, value: Any) -> Any:
        """``value`` normalised to the rule's type, or an error naming ``name``.

        Raises
        ------
        TypeError
            Wrong type (a string for a number, a float for an integer, a bool
            for a number).
        ParameterError
            Out of range, not finite, not among the choices.
        """
        if value is None and self.optional:
            return None
        if self.kind == "choice":
            if not isinstance(value, str):
                raise TypeError(f"{name} must be a string ({self.describe()}); got {type(value).__name__}")
            if value not in self.options:
                raise ParameterError(name, f"must be {self.describe()}; got {value!r}")
            return value
        if self.kind == "bool":
            if not isinstance(value, (bool, numbers.Integral)) or value not in (0, 1):
                raise TypeError(f"{name} must be true or false; got {value!r}")
            return bool(value)
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{name} must be {self.describe()}; got {type(value).__name__} {value!r}")
        if self.kind == "int":
            if not isinstance(value, numbers.Integral):
                raise TypeError(f"{name} must be {self.describe()}; got {type(value).__name__} {value!r}")
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise ParameterError(name, f"must be {self.describe()}; got {value}")
        too_low = self.low is not None and (value <= self.low if self.low_open else value < self.low)
        too_high = self.high is not None and (value >= self.high if self.high_open else value > self.high)
        if too_low or too_high or (self.odd and value % 2 != 1):
            raise ParameterError(name, f"must be {self.describe()}; got {value}")
        return value


#: How the neighbour-correlation deficit of a band is measured: ``"pairs"`` (the
#: paper) takes the worse of its correlations with the two adjacent bands;
#: ``"neighbours"`` (ours) the share of it that two bands on each side do not
#: predict, so a narrow band that shifts from pixel to pixel is not taken for noise.
CORR_MODELS: tuple[str, ...] = ("pairs", "neighbours")

#: The band-weight parameters (Pande et al. 2026, Sec. II-E).
WEIGHT_RULES: dict[str, Rule] = {
    "gamma_rough": Rule("float", 0.0, 100.0),
    "gamma_flat": Rule("float", 0.0, 100.0),
    "tau": Rule("float", 0.0, 1000.0),
    "sharpness": Rule("float", 0.0, 100.0, low_open=True),
    "w_min": Rule("float", 0.0, 1.0),
    "corr_floor": Rule("float", 0.0, 1.0),
    "corr_model": Rule("choice", choices=CORR_MODELS),
    "eps": Rule("float", 0.0, 1e-2, low_open=True),
}

#: The paper's band-weight defaults (the contract of :func:`ftir_unmix.band_weights`).
#: ``gamma_flat``: the paper gives no value and the authors' code leaves the
#: term out; 0 reproduces that (docs/method.md). ``corr_floor`` and ``corr_model``
#: are ours, not the paper's: 0 (no floor) and ``"pairs"`` reproduce the paper.
#: Unmixing runs use ``gamma_rough = 0``, ``tau = 5`` and a floor instead
#: (:class:`ftir_unmix.UnmixConfig`).
PAPER_WEIGHT_DEFAULTS: dict[str, float | str] = {
    "gamma_rough": 0.75, "gamma_flat": 0.0, "tau": 3.0, "sharpness": 2.0, "w_min": 0.05,
    "corr_floor": 0.0, "corr_model": "pairs", "eps": 1e-8,
}


def check_weight_params(**params: Any) -> dict[str, float | str]:
    """The band-weight parameters checked by :data:`WEIGHT_RULES` (unknown names refused)."""
    unknown = set(params) - set(WEIGHT_RULES)
    if unknown:
        raise TypeError(f"unknown band-weight parameter(s): {', '.join(sorted(unknown))}")
    return {name: WEIGHT_RULES[name].check(name, value) for name, value in params.items()}
