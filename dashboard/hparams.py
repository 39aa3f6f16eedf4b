"""Inputs generated from a method's declared hyperparameters (mu_core.methods.HParam): sliders for numbers (a
log-spaced slider for log-scale ones), a toggle for booleans, a choice box for choices, a text box for lists of
whole numbers."""
from __future__ import annotations

import math
from typing import Any

import streamlit as st

from mu_core.methods import HParam, Method

LOG_MANTISSAS = (1.0, 2.0, 5.0)


def log_grid(low: float, high: float, default: float) -> list[float]:
    """1-2-5 steps per decade from `low` to `high` (both included), plus the default."""
    values = {low, high, default}
    for exponent in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        for mantissa in LOG_MANTISSAS:
            value = float(f"{mantissa * 10.0 ** exponent:.6g}")
            if low <= value <= high:
                values.add(value)
    return sorted(values)


def _decimals(step: float) -> int:
    return max(0, -math.floor(math.log10(step))) if step < 1 else 0


def hparam_input(h: HParam, default: Any, key: str) -> Any:
    """One input widget for `h`, starting at `default`; returns its value."""
    label = h.name.replace("_", " ")
    if h.type == "bool":
        return st.toggle(label, value=bool(default), help=h.help, key=key)
    if h.type == "choice":
        return st.selectbox(label, h.choices, index=h.choices.index(default), help=h.help, key=key)
    if h.type == "ints":  # validated (and parsed) by mu_core.run_spec when the run is launched
        return st.text_input(label, ",".join(str(v) for v in default), help=h.help + " (e.g. 3,5,9)", key=key)
    if h.type == "int":
        return st.slider(label, int(h.min), int(h.max), int(default), step=int(h.step or 1), help=h.help, key=key)
    if h.log:
        return st.select_slider(label, options=log_grid(h.min, h.max, default), value=default,
                                format_func=lambda v: f"{v:g}", help=h.help + " (log scale)", key=key)
    step = h.step or (h.max - h.min) / 100
    return st.slider(label, float(h.min), float(h.max), float(default), step=float(step),
                     format=f"%.{_decimals(step)}f", help=h.help, key=key)


def hparam_inputs(method: Method, defaults: dict[str, Any], key_prefix: str, columns: int = 2) -> dict[str, Any]:
    """Inputs for every hyperparameter of `method`, in `columns` columns; returns {name: value}."""
    cols = st.columns(columns)
    values = {}
    for i, h in enumerate(method.hparams):
        with cols[i % columns]:
            values[h.name] = hparam_input(h, defaults[h.name], f"{key_prefix}.{h.name}")
    return values


def reset(key_prefix: str) -> None:
    """Forget the inputs under `key_prefix` (a button callback), so that they start again from the defaults."""
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith(key_prefix + ".")]:
        del st.session_state[key]
