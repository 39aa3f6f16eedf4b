"""Orchestration shared by the CLI and the dashboard: baselines and scored models of an experiment."""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch
import torch.nn as nn

from mu_core.baselines import get_baseline
from mu_core.errors import Diverged
from mu_core.evaluation import Evaluation, evaluate, model_metrics
from mu_core.experiment import Experiment
from mu_core.methods import UnlearnContext, get_method
from mu_core.models import clone
from mu_core.results import model_result
from mu_core.training import CancelFlag, ProgressFn, Tracker, seed_everything


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
                                                              metrics, exp.original_source()))
    return {"original": scored["original"], "retrained": scored["retrained"]}


def run_method(exp: Experiment, method_name: str, overrides: dict, baselines: dict[str, Scored],
               progress: ProgressFn | None = None, cancel: CancelFlag | None = None) -> Scored:
    """Run one unlearning method on a copy of the Original (never mutated), evaluate it beside the baselines.
    Raises Cancelled or Diverged (nothing is returned or stored) when the run does not finish cleanly."""
    method = get_method(method_name)
    hparams = method.resolve(overrides, exp.dataset.name, exp.splits.scenario)
    original = baselines["original"].model
    model, teacher = clone(original).to(exp.device).train(), clone(original).to(exp.device).eval()
    teacher.requires_grad_(False)
    generator = seed_everything(exp.seed)
    ctx = UnlearnContext(exp, model, teacher, generator, Tracker(1, progress, cancel, method.title))
    started = time.perf_counter()
    method.run(ctx, hparams)
    seconds = time.perf_counter() - started
    if not all(torch.isfinite(p).all() for p in model.state_dict().values() if p.is_floating_point()):
        raise Diverged(f"{method.title} produced non-finite weights; nothing was stored.")
    model.eval()
    ev = evaluate(model, exp.dataset, exp.splits, exp.device, exp.image_size)
    metrics = model_metrics(ev, exp.dataset, baselines["retrained"].metrics)
    result = model_result(method.name, hparams, exp.seed, seconds, baselines["retrained"].result["seconds"], metrics,
                          exp.original_source())
    return Scored(method.name, model, ev, result)
