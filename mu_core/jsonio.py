"""JSON that every reader accepts: NaN and infinities become null (Python's json writes bare `NaN`, which
`JSON.parse` and strict parsers reject), numpy scalars and arrays become numbers and lists."""
from __future__ import annotations

import json
import math
from typing import Any

import numpy as np


def clean(value: Any) -> Any:
    """A copy of `value` made of dicts, lists, strings, finite floats, ints, bools and None (a typed record such
    as a ModelResult through its `to_dict`)."""
    if hasattr(value, "to_dict"):
        return clean(value.to_dict())
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return [clean(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def dumps(value: Any, indent: int | None = None) -> str:
    """Strict JSON text of `value` (see `clean`); raises if anything is left that JSON cannot hold."""
    return json.dumps(clean(value), indent=indent, allow_nan=False)
