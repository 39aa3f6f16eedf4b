"""Orchestration shared by the CLI and the dashboard: baselines and scored models of an experiment."""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

import torch
import torch.nn as nn

from mu_core.baselines import baseline_flops, get_baseline
from mu_core.compute import compute_ratio, count_flops
from mu_core.errors import Cancelled, Diverged
from mu_core.evaluation import Evaluation, evaluate, model_metrics, with_gap
from mu_core.experiment import Experiment
from mu_core.methods import UnlearnContext
from mu_core.models import clone, weights_sha256
from mu_core.results import ModelResult
from mu_core.run_model import weights_bytes
from mu_core.run_spec import RunSpec
from mu_core.store import WEIGHTS, RunStore
from mu_core.training import CancelFlag, ProgressFn, Tracker, seed_everything
from mu_core.verdict import basic_verdict, identity_metrics


@dataclass
class Scored:
    """A model with its evaluation (per-sample outputs) and its result."""

    name: str
    model: nn.Module
    evaluation: Evaluation
    result: ModelResult

    @property
    def metrics(self) -> Mapping[str, Any]:
        return self.result.metrics


def score_baselines(exp: Experiment, progress: ProgressFn | None = None, cancel: CancelFlag | None = None,
                    notes: list[str] | None = None) -> dict[str, Scored]:
    """Train or load Retrained and Original, evaluate both (a model just trained keeps the evaluation and metrics it
    was stored with: each baseline is evaluated once); the Original's metrics include its gap to Retrained."""
    baselines = {name: get_baseline(exp, name, progress, cancel) for name in ("retrained", "original")}
    if notes is not None:
        notes.extend(n for b in baselines.values() for n in b.notes)
    retrain_seconds = baselines["retrained"].seconds
    flops = {name: baseline_flops(exp, b) for name, b in baselines.items()}
    scored: dict[str, Scored] = {}
    for name in ("retrained", "original"):
        b = baselines[name]
        ev = b.evaluation or evaluate(b.model, exp.dataset, exp.splits, exp.device, exp.image_size)
        retrained = scored["retrained"].metrics if name == "original" else None
        own = b.metrics if b.metrics is not None else model_metrics(ev, exp.dataset)
        metrics = {**with_gap(own, retrained),
                   **evidence_metrics(exp, ev, flops[name], flops["retrained"])}
        hparams = {"recipe": exp.recipe.to_dict(), "trained_on": b.meta["trained_on"]}
        scored[name] = Scored(name, b.model, ev, ModelResult.measured(name, hparams, exp.seed, b.seconds,
                                                                      retrain_seconds, metrics, exp.original_source()))
    original = scored["original"]
    original.result = original.result.with_verdict(run_verdict(exp, original.evaluation, original.result, scored))
    return {"original": original, "retrained": scored["retrained"]}


def evidence_metrics(exp: Experiment, ev: Evaluation, flops: int | None, retrained_flops: int | None) -> dict:
    """The evidence metrics that one evaluation gives (registry keys): identity in the features (person
    scenarios), FLOPs and compute ratio. Unknown values are None, never NaN."""
    identity = {k: (v if np.isfinite(v) else None) for k, v in
                identity_metrics(ev, exp.dataset, exp.splits.scenario).items()}
    return {**identity, "flops": flops, "compute_ratio": compute_ratio(flops, retrained_flops)}


def run_verdict(exp: Experiment, ev: Evaluation, result: ModelResult, baselines: dict[str, Scored]) -> dict:
    """The basic-level verdict of a model (an unlearned one, or the Original as if it were one)."""
    cost = {"compute_ratio": result.metrics.get("compute_ratio"), "time_ratio": result.time_ratio}
    return basic_verdict(baselines["original"].evaluation, baselines["retrained"].evaluation, ev, exp.dataset,
                         exp.splits.scenario, cost).to_dict()


def run_method(exp: Experiment, spec: RunSpec, baselines: dict[str, Scored], progress: ProgressFn | None = None,
               cancel: CancelFlag | None = None, unlearn_seed: int | None = None) -> Scored:
    """Run the method of `spec` with its hyperparameters on a copy of the Original (never mutated), evaluate it
    beside the baselines (as `score_baselines` gives them: nothing is reloaded or scored again). `unlearn_seed`
    seeds the run's randomness (default: the experiment's seed; the reference bank runs a method with several).
    Raises Cancelled or Diverged (nothing is returned or stored) when the run does not finish cleanly."""
    spec.check_fits(exp)
    method = spec.method
    original = baselines["original"].model
    model, teacher = clone(original).to(exp.device).train(), clone(original).to(exp.device).eval()
    teacher.requires_grad_(False)
    generator = seed_everything(exp.seed if unlearn_seed is None else unlearn_seed)
    ctx = UnlearnContext(exp, model, teacher, generator, Tracker(1, progress, cancel, method.title))
    started = time.perf_counter()
    with count_flops() as flops:
        method.apply(ctx, dict(spec.hparams))
    seconds = time.perf_counter() - started
    if not all(torch.isfinite(p).all() for p in model.state_dict().values() if p.is_floating_point()):
        raise Diverged(f"{method.title} produced non-finite weights; nothing was stored.")
    model.eval()
    ev = evaluate(model, exp.dataset, exp.splits, exp.device, exp.image_size)
    metrics = {**model_metrics(ev, exp.dataset, baselines["retrained"].metrics),
               **evidence_metrics(exp, ev, flops.total, baselines["retrained"].metrics.get("flops"))}
    result = ModelResult.measured(method.name, spec.hparams, exp.seed, seconds, baselines["retrained"].result.seconds,
                                  metrics, exp.original_source())
    return Scored(method.name, model, ev, result.with_verdict(run_verdict(exp, ev, result, baselines)))


def audit_record(exp: Experiment, scored: Scored, original: nn.Module, run_id: str) -> dict:
    """What was asked to be forgotten (sample ids and image hashes), how, and with what evidence: the verdict
    says whether it was (the "forgotten" list names the request, not the outcome)."""
    ds, forget = exp.dataset, exp.splits.forget
    return {
        "run_id": run_id, "dataset": ds.name, "dataset_fingerprint": ds.fingerprint(),
        "scenario": exp.splits.scenario, "forget": exp.splits.forget_spec,
        "forgotten": [{"sample_id": ds.sample_ids[i], "identity": ds.identity_names[ds.identities[i]],
                       "image_sha256": hashlib.sha256(
                           np.ascontiguousarray(ds.load_image(int(i))).tobytes()).hexdigest()}
                      for i in forget],
        "method": scored.result.method, "hparams": dict(scored.result.hparams), "seed": exp.seed,
        "original_fingerprint": exp.fingerprint("original"),
        "weights_sha256_before": weights_sha256(original), "weights_sha256_after": weights_sha256(scored.model),
        "metrics": dict(scored.metrics), "verdict": scored.result.verdict,
        "seconds": scored.result.seconds, "time_ratio": scored.result.time_ratio,
        "device": str(exp.device),
    }


def outputs_arrays(ev: Evaluation) -> dict[str, np.ndarray]:
    """Per-sample outputs of every split, flattened for an .npz artifact."""
    return {f"{split}.{field}": getattr(out, field) for split, out in ev.splits.items()
            for field in ("indices", "loss", "confidence", "pred", "correct")}


def execute_run(exp: Experiment, spec: RunSpec, baselines: dict[str, Scored], store: RunStore,
                progress: ProgressFn | None = None, cancel: CancelFlag | None = None) -> tuple[str, Scored]:
    """Run a method and persist it: the run row exists from the start; a cancelled or diverged run is recorded
    with its status and message and nothing else; a finished one with its result, audit, per-sample outputs and
    weights."""
    run_id = store.start(exp.dataset.name, exp.splits.scenario, exp.splits.forget_spec, exp.seed, spec.method.name,
                         dict(spec.hparams))
    try:
        scored = run_method(exp, spec, baselines, progress, cancel)
    except Cancelled as e:
        store.fail(run_id, "cancelled", str(e))
        raise
    except KeyboardInterrupt:
        store.fail(run_id, "cancelled", "Cancelled with Ctrl-C; nothing was stored.")
        raise
    except BaseException as e:
        store.fail(run_id, "failed", str(e) or type(e).__name__)
        raise
    store.finish(run_id, scored.result, audit_record(exp, scored, baselines["original"].model, run_id),
                 outputs_arrays(scored.evaluation), {WEIGHTS: weights_bytes(scored.model)})
    return run_id, scored
