"""The registry of unlearning methods: one module per method, each exporting `METHOD`."""
from __future__ import annotations

import importlib

from mu_core.errors import MUError
from mu_core.methods.base import HParam, Method, UnlearnContext

# Module names, in the order methods are listed in the CLI and the dashboard; the last is the baseline that every
# method must beat (retraining from scratch, cut to a compute budget).
MODULES = ("finetune", "cf_k", "neggrad", "adv_neggrad", "unsir", "scrub", "ssd", "bad_teacher",
           "bad_teacher_sim", "contrastive", "gisa", "piu_fr", "random_labels", "salun", "retrain_budget")


REGISTRY: dict[str, Method] = {
    method.name: method for method in (importlib.import_module(f"mu_core.methods.{m}").METHOD for m in MODULES)}


def get_method(name: str) -> Method:
    if name not in REGISTRY:
        raise MUError(f"Unknown method {name!r}; available: {', '.join(REGISTRY)}.")
    return REGISTRY[name]


__all__ = ["HParam", "Method", "UnlearnContext", "REGISTRY", "get_method"]
