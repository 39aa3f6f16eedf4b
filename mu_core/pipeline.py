"""Orchestration shared by the CLI and the dashboard: baselines and scored models of an experiment."""
from __future__ import annotations

from dataclasses import dataclass

import torch.nn as nn

from mu_core.baselines import get_baseline
from mu_core.evaluation import Evaluation, evaluate, model_metrics
from mu_core.experiment import Experiment
from mu_core.results import model_result
from mu_core.training import CancelFlag, ProgressFn


@dataclass
class Scored:
    """A model with its evaluation (per-sample outputs) and its result dict (design.md section 8)."""

    name: str
    model: nn.Module
    evaluation: Evaluation
    result: dict

    @property
    def metrics(self) -> dict:
        return self.result["metrics"]


def score_baselines(exp: Experiment, progress: ProgressFn | None = None, cancel: CancelFlag | None = None,
                    notes: list[str] | None = None) -> dict[str, Scored]:
    """Train or load Retrained and Original, evaluate both; the Original's metrics include its gap to Retrained."""
    baselines = {name: get_baseline(exp, name, progress, cancel) for name in ("retrained", "original")}
    if notes is not None:
        notes.extend(n for b in baselines.values() for n in b.notes)
    retrain_seconds = baselines["retrained"].seconds
    scored: dict[str, Scored] = {}
    for name in ("retrained", "original"):
        b = baselines[name]
        ev = evaluate(b.model, exp.dataset, exp.splits, exp.device, exp.image_size)
        retrained = scored["retrained"].metrics if name == "original" else None
        metrics = model_metrics(ev, exp.dataset, retrained)
        hparams = {"recipe": exp.recipe.to_dict(), "trained_on": b.meta["trained_on"]}
        scored[name] = Scored(name, b.model, ev, model_result(name, hparams, exp.seed, b.seconds, retrain_seconds,
                                                              metrics))
    return {"original": scored["original"], "retrained": scored["retrained"]}
