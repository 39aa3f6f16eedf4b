"""The registry of unlearning methods: one module per method, each exporting `METHOD`."""
from __future__ import annotations

import importlib

from mu_core.errors import MUError
from mu_core.methods.base import HParam, Method, UnlearnContext

# Module names, in the order methods are listed in the CLI and the dashboard.
MODULES = ("finetune", "cf_k", "neggrad", "adv_neggrad", "unsir", "scrub", "ssd", "bad_teacher",
           "bad_teacher_sim", "contrastive", "gisa", "piu_fr", "random_labels", "salun")


def _load() -> dict[str, Method]:
    registry = {}
    for module in MODULES:
        try:
            method = importlib.import_module(f"mu_core.methods.{module}").METHOD
        except ModuleNotFoundError as e:
            if e.name != f"mu_core.methods.{module}":
                raise
            continue
        registry[method.name] = method
    return registry


REGISTRY: dict[str, Method] = _load()


def get_method(name: str) -> Method:
    if name not in REGISTRY:
        raise MUError(f"Unknown method {name!r}; available: {', '.join(REGISTRY)}.")
    return REGISTRY[name]


__all__ = ["HParam", "Method", "UnlearnContext", "REGISTRY", "get_method"]
